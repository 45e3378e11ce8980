"""Factory builds a run's EnvRunner, then its Alg, and refuses keyword arguments it did not read."""
from __future__ import annotations

from .rollout import Clock

_MISSING = object()
# the core's: a plugin reads them only if it needs them (num_envs: the env has it; total_steps: Alg.learn;
# the normalisation switches: env.make)
RUN_KEYS = ("num_envs", "total_steps", "normalize_obs", "normalize_reward", "clip_obs", "clip_reward")


class Factory:
    """Subclasses implement `build(env) -> Alg`, written top to bottom (policy, EnvRunner, data source,
    losses and optimizers, Alg), reading hyperparameters with `self.get(name)`. `make` raises ValueError
    naming every keyword argument nobody read.

    `self.device`, `self.seed`, `self.summary` and `self.clock` (the run's Clock: give it to the EnvRunner and
    to whatever depends on time: warm-ups, exploration schedules, annealed losses) are set before `build`."""

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

    def model_options(self) -> dict:
        """The core's model options among this Factory's hyperparameters (derl_core.model_options), as
        keyword arguments of actor_critic_policy / make_torso; each counts as read."""
        from ..model_options import NAMES, resolved
        present = {name: self.get(name) for name in NAMES if name in self.kwargs}
        return resolved(present)

    def her(self, env):
        """The hindsight relabelling `--her` asks for (rl.her.HindsightRelabel, for ReplayStorage(her=...)), or
        None: off, or an algorithm without the HER options (model_options.her_hyperparameters). ValueError for
        an env that is not a goal env."""
        for name in ("her", "her_goals", "her_strategy"):
            if name in self.kwargs:
                self.get(name)
        if not self.kwargs.get("her"):
            return None
        from .her import HindsightRelabel
        return HindsightRelabel.for_env(env, self.get("her_goals"), self.get("her_strategy"))

    def build(self, env):
        raise NotImplementedError

    def make(self, env, device="cpu", seed=None, summary=None):
        self.device, self.seed, self.summary, self.clock = device, seed, summary, Clock()
        self._used.clear()
        num_envs = self.kwargs.get("num_envs")
        if num_envs is not None and num_envs != env.num_envs:
            raise ValueError(f"num_envs={num_envs} but the env has {env.num_envs}")
        alg = self.build(env)
        self._used.update(RUN_KEYS)
        unused = sorted(set(self.kwargs) - self._used)
        if unused:
            raise ValueError(f"{type(self).__name__} did not use keyword arguments: {', '.join(unused)}")
        return alg
