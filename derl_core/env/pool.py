"""The EnvPool backend: EnvPool's C++ env pool behind the same vector-env interface as the gymnasium stack.

A family module opts in with `envpool_task(env_id, training) -> PoolTask | None`. What the runner sees is the
gymnasium backend's semantics, not EnvPool's:
- autoreset SAME_STEP: EnvPool resets an ended env on its *next* step (ignoring the action); here the ended envs
  are stepped once more at once, so the ending step returns the next episode's first observation and the real
  last one goes to infos["final_obs"];
- frames are stacked here, zero-padded at each episode start (EnvPool repeats the first frame);
- episode statistics in infos["final_info"]["episode"] (RecordEpisodeStatistics' layout): raw rewards, summed
  over whole games when training ends an episode at each lost life;
- seeds: env i gets seed + i; `reset(seed=)` (which EnvPool ignores) makes a new pool with that seed."""
from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ..errors import BadInput
from ..machine import machine_cores


@dataclass
class PoolTask:
    task_id: str                  # EnvPool's name, e.g. "Breakout-v5", "HalfCheetah-v5"
    config: dict = field(default_factory=dict)   # envpool.make keyword arguments
    stack: int = 0                # frames to stack here (0: observations as EnvPool gives them)
    whole_games: bool = False     # episodes end at each lost life; statistics are kept per game
    fire_on_life_loss: bool = False   # evaluation: press FIRE after a lost life (as the gymnasium stack does)
    # training with EnvPool's own episodic_life off: here a lost life ends the episode, and `life_start` (not
    # empty) is stepped after it and `game_start` after a game's reset, hidden from the learner (the gymnasium
    # stack's and SB3's EpisodicLifeEnv and FireResetEnv: NOOP, FIRE, RIGHT; FIRE, RIGHT)
    game_start: tuple = ()
    life_start: tuple = ()


def available() -> bool:
    try:
        import envpool  # noqa: F401
    except Exception:   # not installed, or a wheel that does not load here
        return False
    return True


def has_task(task_id: str) -> bool:
    import envpool
    return task_id in envpool.list_all_envs()


class PoolVectorEnv(gym.vector.VectorEnv):
    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, task: PoolTask, num_envs: int, seed: int | None):
        self.task, self.num_envs = task, num_envs
        self.ids = np.arange(num_envs, dtype=np.int32)
        self.pool, self.seed = None, None
        self._make(0 if seed is None else seed)
        space = self.pool.observation_space
        if task.stack:
            space = gym.spaces.Box(0, 255, (task.stack, *space.shape[1:]), np.uint8)
        action_space = self.pool.action_space
        if isinstance(action_space, gym.spaces.Box):   # float32, as gymnasium's (EnvPool says float64)
            action_space = gym.spaces.Box(action_space.low, action_space.high, action_space.shape, np.float32)
        self.single_observation_space, self.single_action_space = space, action_space
        self.observation_space = gym.vector.utils.batch_space(space, num_envs)
        self.action_space = gym.vector.utils.batch_space(action_space, num_envs)
        self.frames = np.zeros((num_envs, *space.shape), space.dtype) if task.stack else None
        self.returns, self.lengths = np.zeros(num_envs), np.zeros(num_envs, np.int64)
        self.lives = np.zeros(num_envs, np.int64)

    def _make(self, seed: int):
        import envpool
        if self.pool is not None:
            self.pool.close()
        self.pool = envpool.make(self.task.task_id, env_type="gymnasium", num_envs=self.num_envs, seed=seed,
                                 num_threads=min(self.num_envs, machine_cores()), **self.task.config)
        self.seed = seed

    def _observe(self, obs, ids=None):
        """EnvPool's observations of all envs (ids None: one step on) or of envs `ids` (first observations of
        new episodes: their stacks restart) onto the frame stacks; returns the stacked observations."""
        if not self.task.stack:
            return obs
        if ids is None:
            self.frames[:, :-1] = self.frames[:, 1:]
            self.frames[:, -1] = obs[:, -1]
            return self.frames.copy()
        self.frames[ids] = 0
        self.frames[ids, -1] = obs[:, -1]
        return self.frames[ids].copy()

    def reset(self, *, seed: int | None = None, options=None):
        if seed is not None and seed != self.seed:
            self._make(seed)
        obs, info = self.pool.reset()
        self.returns[:], self.lengths[:] = 0, 0
        self.lives[:] = info.get("lives", 0)
        if self.task.game_start:
            obs = self._start(self.ids, self.task.game_start, obs)
        return self._observe(obs, self.ids), {}

    def _start(self, ids, actions, obs):
        """Steps envs `ids` through `actions`, hidden from the learner; they count in the game's score and length
        (the gymnasium stack's statistics sit below its reset wrappers). Returns their last observations."""
        obs, going, kind = obs.copy(), np.ones(ids.size, bool), self.pool.action_space.dtype
        for action in actions:
            at = np.flatnonzero(going)
            out = self.pool.step(np.full(at.size, action, kind), ids[at])
            obs[at], self.lives[ids[at]] = out[0], out[4]["lives"]
            self.returns[ids[at]] += out[4]["reward"]
            self.lengths[ids[at]] += 1
            over = at[out[2] | out[3]]
            if over.size:   # the step cap reached meanwhile: a new game, its statistics lost as the gymnasium
                going[over] = False   # stack's are (they end inside its reset)
                self.returns[ids[over]], self.lengths[ids[over]] = 0, 0
                obs[over] = self._new_game(ids[over])
        return obs

    def _new_game(self, ids):
        """EnvPool's reset of the ended envs `ids` (their next step, whose action it ignores), then the task's
        `game_start`; returns their first observations."""
        first = self.pool.step(np.zeros(ids.size, self.pool.action_space.dtype), ids)
        if "lives" in first[4]:
            self.lives[ids] = first[4]["lives"]
        return self._start(ids, self.task.game_start, first[0]) if self.task.game_start else first[0]

    def step(self, actions):
        actions = np.asarray(actions, self.pool.action_space.dtype)
        obs, rewards, terminated, truncated, info = self.pool.step(actions, self.ids)
        rewards, terminated, truncated = rewards.astype(np.float64), terminated.copy(), truncated.copy()
        self.returns += info["reward"] if self.task.whole_games else rewards
        self.lengths += 1
        if self.task.fire_on_life_loss:
            lost = np.flatnonzero((info["lives"] < self.lives) & ~terminated & ~truncated)
            if lost.size:
                more = self.pool.step(np.ones(lost.size, actions.dtype), lost.astype(np.int32))
                obs[lost], rewards[lost] = more[0], rewards[lost] + more[1]
                terminated[lost], truncated[lost] = more[2], more[3]
                self.returns[lost] += more[1]
                info["lives"][lost], info["terminated"][lost] = more[4]["lives"], more[4]["terminated"]
        if self.task.life_start:   # a lost life ends the learner's episode; the game goes on
            terminated |= info["lives"] < self.lives
        self.lives[:] = info["lives"] if "lives" in info else 0
        raw, obs = obs, self._observe(obs)
        done = terminated | truncated
        if not done.any():
            return obs, rewards, terminated, truncated, {}
        ended = np.flatnonzero(done)
        final_obs = np.zeros_like(obs)
        final_obs[ended] = obs[ended]
        over = done & (info["terminated"].astype(bool) | truncated) if self.task.whole_games else done
        episode = {"r": self.returns.copy(), "l": self.lengths.copy(), "t": np.zeros(self.num_envs)}
        self.returns[over], self.lengths[over] = 0, 0
        if self.task.life_start:
            lost = np.flatnonzero(done & ~over).astype(np.int32)
            if lost.size:
                obs[lost] = self._observe(self._start(lost, self.task.life_start, raw[lost]), lost)
            ended = np.flatnonzero(over)
        if ended.size:
            obs[ended] = self._observe(self._new_game(ended.astype(np.int32)), ended)
        infos = {"final_obs": final_obs, "_final_obs": done,
                 "final_info": {"episode": episode, "_episode": over}}
        return obs, rewards, terminated, truncated, infos

    def close_extras(self, **kwargs):
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def make(task: PoolTask, num_envs: int, seed: int | None) -> PoolVectorEnv:
    try:
        return PoolVectorEnv(task, num_envs, seed)
    except Exception as exc:
        raise BadInput(f"EnvPool cannot make '{task.task_id}': {type(exc).__name__}: {exc}") from None
