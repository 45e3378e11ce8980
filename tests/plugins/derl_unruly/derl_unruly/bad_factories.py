"""Algorithms whose Factory is wrong in each way a plugin author can get it wrong."""
from derl_core import Alg, EnvRunner, Factory, Policy, hookimpl
from derl_core.spec import AlgorithmSpec, hp

import numpy as np


class Random(Policy):
    def act(self, obs, training=False):
        return {"actions": np.zeros(len(obs), dtype=np.int64)}


class NoUpdate(Alg):
    def update(self, batch):
        return {}


class Reads(Factory):
    """Reads the names in READ; a subclass changes READ."""
    READ = ("learning_rate",)

    def make_runner(self, env):
        for name in self.READ:
            self.get(name)
        return EnvRunner(env, Random(None), 8, seed=self.seed, summary=self.summary)

    def make_alg(self, runner):
        return NoUpdate(runner, None, None, self.summary)


class ReadsUndeclared(Reads):
    READ = ("learning_rate", "momentum")


class LeavesUnread(Reads):
    READ = ()


RUN = [hp("num_envs", int, "envs", 1), hp("total_steps", int, "steps", 100),
       hp("learning_rate", float, "lr", 1.0)]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec("nowhere", "its factory path is wrong", "derl_unruly.no_such_module:Factory", RUN))
    register(AlgorithmSpec("undeclared", "reads a hyperparameter it did not declare",
                           "derl_unruly.bad_factories:ReadsUndeclared", RUN))
    register(AlgorithmSpec("unread", "declares a hyperparameter it never reads",
                           "derl_unruly.bad_factories:LeavesUnread", RUN))
