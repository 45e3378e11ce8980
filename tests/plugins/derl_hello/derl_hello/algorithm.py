"""A random policy through derl's own EnvRunner and Alg: no learning, no parameters."""
import numpy as np

from derl_core import Alg, EnvRunner, Factory, Policy, PolicyStep


class RandomPolicy(Policy):
    def __init__(self, action_space):
        super().__init__(model=None)
        self.action_space = action_space

    def act(self, obs, deterministic=False):
        return PolicyStep(np.array([self.action_space.sample() for _ in range(len(obs))]))


class Collect:
    """A data source that collects and yields nothing to learn from."""

    def __init__(self, runner):
        self.runner = runner

    def batches(self):
        self.runner.collect()
        yield from ()


class HelloFactory(Factory):
    def build(self, env):
        env.single_action_space.seed(self.seed)
        self.get("total_steps")
        runner = EnvRunner(env, RandomPolicy(env.single_action_space), self.get("nsteps"), seed=self.seed,
                           summary=self.summary)
        return Alg(runner, Collect(runner), [], self.summary)
