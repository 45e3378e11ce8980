"""Factory builds the EnvRunner, then the Alg, and refuses keyword arguments it did not use."""
from __future__ import annotations

_MISSING = object()
RUN_KEYS = ("num_envs", "total_steps", "normalize_env")   # the core's: a plugin reads them only if it needs them


class Factory:
    """Subclasses implement `make_runner(env)` and `make_alg(runner)`, reading hyperparameters with
    `self.get(name)`. `make` raises ValueError naming every keyword argument nobody read.

    A Factory keeps what it builds as its own attributes (`self.policy`, `self.storage`, ...): make_alg takes
    them from there, never from inside the runner. `self.clock` is the run's Clock: give it to the EnvRunner
    and to whatever depends on time (policies with a warm-up or exploration schedule, annealed losses)."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self._used = set()
        self.device, self.seed, self.summary, self.clock = "cpu", None, None, None

    def get(self, name, default=_MISSING):
        self._used.add(name)
        if name in self.kwargs:
            return self.kwargs[name]
        if default is _MISSING:
            raise KeyError(f"{type(self).__name__} needs keyword argument '{name}'")
        return default

    def make_runner(self, env):
        raise NotImplementedError

    def make_alg(self, runner):
        raise NotImplementedError

    def make(self, env, device="cpu", seed=None, summary=None):
        from .runners import Clock
        self.device, self.seed, self.summary, self.clock = device, seed, summary, Clock()
        self._used.clear()
        num_envs = self.kwargs.get("num_envs")
        if num_envs is not None and num_envs != env.num_envs:
            raise ValueError(f"num_envs={num_envs} but the env has {env.num_envs}")
        alg = self.make_alg(self.make_runner(env))
        self._used.update(RUN_KEYS)   # num_envs (the env has it), total_steps (Alg.learn), normalize_env (env.make)
        unused = sorted(set(self.kwargs) - self._used)
        if unused:
            raise ValueError(f"{type(self).__name__} did not use keyword arguments: {', '.join(unused)}")
        return alg
