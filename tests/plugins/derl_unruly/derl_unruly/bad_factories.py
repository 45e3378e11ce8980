"""Algorithms whose Factory is wrong in each way a plugin author can get it wrong."""
from derl_core import Alg, EnvRunner, Factory, Policy, PolicyStep, hookimpl
from derl_core.spec import AlgorithmSpec, hp

import numpy as np


class Random(Policy):
    def act(self, obs, deterministic=False):
        return PolicyStep(np.zeros(len(obs), dtype=np.int64))


class Collect:
    """A data source that collects and yields nothing to learn from."""

    def __init__(self, runner):
        self.runner = runner

    def batches(self):
        self.runner.collect()
        yield from ()


class Reads(Factory):
    """Reads the names in READ; a subclass changes READ."""
    READ = ("learning_rate",)

    def build(self, env):
        for name in self.READ:
            self.get(name)
        runner = EnvRunner(env, Random(None), 8, seed=self.seed, summary=self.summary)
        return Alg(runner, Collect(runner), [], self.summary)


class ReadsUndeclared(Reads):
    READ = ("learning_rate", "momentum")


class LeavesUnread(Reads):
    READ = ()


RUN = [hp("num_envs", int, "envs", 1), hp("total_steps", int, "steps", 100),
       hp("learning_rate", float, "lr", 1.0)]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec("nowhere", "its factory path is wrong", "derl_unruly.no_such_module:Factory", RUN, api_version=2))
    register(AlgorithmSpec("undeclared", "reads a hyperparameter it did not declare",
                           "derl_unruly.bad_factories:ReadsUndeclared", RUN, api_version=2))
    register(AlgorithmSpec("unread", "declares a hyperparameter it never reads",
                           "derl_unruly.bad_factories:LeavesUnread", RUN, api_version=2))
