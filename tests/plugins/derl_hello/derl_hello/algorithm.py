"""A random policy through derl's own EnvRunner and Alg: no learning, no parameters."""
import numpy as np

from derl_core import Alg, EnvRunner, Factory, Policy


class RandomPolicy(Policy):
    def __init__(self, action_space):
        super().__init__(model=None)
        self.action_space = action_space

    def act(self, obs, training=False):
        return {"actions": np.array([self.action_space.sample() for _ in range(len(obs))])}


class HelloAlg(Alg):
    def update(self, batch):
        return {}


class HelloFactory(Factory):
    def make_runner(self, env):
        env.single_action_space.seed(self.seed)
        return EnvRunner(env, RandomPolicy(env.single_action_space), self.get("nsteps"), seed=self.seed,
                         summary=self.summary)

    def make_alg(self, runner):
        self.get("total_steps")
        return HelloAlg(runner, None, None, self.summary)
