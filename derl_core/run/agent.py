"""`load(RUN_DIR)`: a trained policy in your hands, as SB3's `model.predict`.

    from derl_core import load
    agent = load("runs/my-run")                  # the newest intact checkpoint
    action = agent.predict(obs)                  # one observation -> one action in the env's action space
    actions = agent.predict(batch_of_obs)        # or a batch

The run's observation normalisation (MuJoCo, PyBullet) is applied inside `predict`, with the statistics the
checkpoint holds; actions are clipped to a Box's bounds, as `derl eval` does. Observations are what the run's
env family hands the policy: for Atari, the preprocessed 4x84x84 stack (make the env with
`derl_core.env.make(env_id, training=False)` to get them)."""
from __future__ import annotations

import os

import numpy as np

from .. import env as envs
from ..plugins import registry as default_registry
from ..rl.spaces import batch_size_of, env_actions, kind, tree_map
from ..spec import ACTION_MASK as MASK
from . import rundir
from .build import close_env
from .evaluate import restore_policy


class Agent:
    def __init__(self, policy, observation_space, action_space, normalizers: list, config: dict,
                 checkpoint: str):
        self.policy, self.observation_space, self.action_space = policy, observation_space, action_space
        self.normalizers, self.config, self.checkpoint = normalizers, config, checkpoint

    def normalize(self, obs):
        for normalizer in self.normalizers:
            obs = normalizer.normalize(obs)
        return obs

    def predict(self, obs, deterministic: bool = True, action_masks=None) -> np.ndarray:
        """Actions for one observation (shaped as the observation space; for Dict spaces a dict) or a batch.
        `action_masks` (a bool per action, or a batch of them) for a run whose env had masks (env/masks.py):
        `obs` is then the env's own observation, the masks are joined to it as in training; without
        `action_masks`, a Dict observation's own "action_mask" key is used, and none means every action."""
        space = self.observation_space
        if kind(space) == "Dict" and MASK in space.spaces:
            if set(space.spaces) == {"observation", MASK} and not (isinstance(obs, dict) and "observation" in obs):
                obs = {"observation": obs}
            obs = dict(obs)
            if action_masks is not None:
                obs[MASK] = np.asarray(action_masks, dtype=np.int8)
            elif MASK not in obs:   # every action allowed, for one observation or a batch of them
                rest = type(space)({k: s for k, s in space.spaces.items() if k != MASK})
                rows = batch_size_of(rest, {k: np.asarray(obs[k]) for k in rest.spaces})
                obs[MASK] = np.ones(((rows,) if rows is not None else ()) + space.spaces[MASK].shape, np.int8)
        elif action_masks is not None:
            raise ValueError("predict(action_masks=...): this run's env gave no action masks")
        if isinstance(obs, dict) and kind(self.observation_space) == "Dict":   # --obs-keys: only the run's keys
            obs = {key: obs[key] for key in self.observation_space.spaces}
        obs = tree_map(np.asarray, obs)
        single = batch_size_of(self.observation_space, obs) is None
        batch = self.normalize(tree_map(lambda leaf: leaf[None], obs) if single else obs)
        actions = env_actions(self.action_space, self.policy.act(batch, deterministic).actions)
        return actions[0] if single else actions


def load(run_dir: str, checkpoint: str | None = None, registry=None) -> Agent:
    """The run's policy from its newest intact checkpoint, or from the checkpoint file `checkpoint`."""
    registry = registry or default_registry()
    record = rundir.read_run(run_dir)
    record.validate(registry, os.path.join(run_dir, rundir.CONFIG))
    alg, venv, path = restore_policy(registry, run_dir, record, checkpoint, purpose="load")
    try:
        normalizers = [obj for obj in envs.state_objects(venv).values() if hasattr(obj, "normalize")]
        return Agent(alg.policy, venv.single_observation_space, venv.single_action_space, normalizers,
                     record.to_json(), path)
    finally:
        close_env(venv)
