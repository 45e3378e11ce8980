"""Experience replay: a storage (uniform or prioritized) and the EnvRunner wrapper that fills and samples it.

Layout: one ring of rows per env, so every env's episodes are stored in order. A row holds one observation
and what followed it (action, reward, terminated, truncated). When an episode ends, an extra *final row*
holds its real last observation (to bootstrap a truncated episode from); final rows are never sampled.

Frame-stacked observations (`frame_stack` K > 1: Atari's 4, or --frame-stack) are stored one frame per row
(the newest, obs[-1]) and stacks are rebuilt at sampling time from the rows before, zero-filled before the
episode's first row, just as the env's FrameStackObservation(padding_type="zero") does at reset: ~7.1 GB for
1M Atari transitions instead of ~56 GB. Dict and Tuple observations are stored per key (`spaces.leaves`), each
in its own dtype (uint8 images stay uint8), under the same rules. n-step returns are computed at sampling time, cut at episode ends (terminated: no bootstrap;
truncated: bootstrap from the final row's observation).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from .policy import as_tensor
from .rollout import EnvRunner, Rollout
from .schedules import Constant, Schedule
from .spaces import flatten, leaves, unflatten


@dataclass
class ReplayBatch:
    """Sampled transitions with n-step returns: numpy from ReplayStorage.sample, torch from ExperienceReplay."""
    observations: object
    actions: object
    rewards: object          # n-step discounted returns
    discounts: object        # gamma^L, 0 where the episode terminated within the window
    next_observations: object
    indices: object          # rows in the storage (prioritized replay updates their priorities)
    weights: object = None   # importance-sampling weights (prioritized replay only)

    def to(self, device) -> "ReplayBatch":
        return ReplayBatch(*(None if getattr(self, f.name) is None else as_tensor(getattr(self, f.name), device)
                             for f in fields(self)))


def flatten_step(space, observations, t: int) -> dict:
    """{path: leaf[t]} of a rollout's observation tree (arrays shaped (steps, num_envs, ...))."""
    return {path: leaf[t] for path, leaf in flatten(space, observations).items()}


class SumTree:
    """A binary tree of priority sums over `capacity` leaves, updated and searched with numpy."""

    def __init__(self, capacity: int):
        self.size = 1 << max(int(capacity) - 1, 1).bit_length()
        self.tree = np.zeros(2 * self.size)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, indices) -> np.ndarray:
        return self.tree[np.asarray(indices) + self.size]

    def update(self, indices, priorities):
        idx = np.asarray(indices, dtype=np.int64) + self.size
        self.tree[idx] = priorities
        tree = self.tree
        for _ in range(self.size.bit_length() - 1):   # one level up at a time; repeated parents are harmless
            idx = idx >> 1
            tree[idx] = tree[2 * idx] + tree[2 * idx + 1]

    def find(self, values) -> np.ndarray:
        """Leaf index for each prefix-sum value in [0, total)."""
        values = np.array(values, dtype=np.float64)
        idx = np.ones(len(values), dtype=np.int64)
        while idx[0] < self.size:
            left = self.tree[2 * idx]
            right = values >= left
            values = np.where(right, values - left, values)
            idx = 2 * idx + right
        return idx - self.size


class ReplayStorage:
    def __init__(self, capacity: int, num_envs: int, observation_space, action_space, nstep: int = 1,
                 gamma: float = 0.99, prioritized: bool = False, alpha: float = 0.6, seed=None,
                 frame_stack: int = 1, her=None):
        self.N, self.T = num_envs, max(int(capacity) // num_envs, nstep + 8)
        self.space, self.stack = observation_space, max(int(frame_stack), 1)
        N, T = self.N, self.T
        # {path: (N, T, *frame shape)} per observation leaf; zeros: pages are touched only when written
        self.frames = {path: np.zeros((N, T, *(leaf.shape[1:] if self.stack > 1 else leaf.shape)), leaf.dtype)
                       for path, leaf in leaves(observation_space)}
        self.actions = np.zeros((N, T, *action_space.shape), action_space.dtype)
        self.rewards = np.zeros((N, T), np.float32)
        self.terminated = np.zeros((N, T), bool)
        self.truncated = np.zeros((N, T), bool)
        self.final = np.zeros((N, T), bool)
        self.ep_step = np.zeros((N, T), np.int32)
        self.head = np.zeros(N, np.int64)
        self.count = np.zeros(N, np.int64)
        self.cur_step = np.zeros(N, np.int32)
        self.nstep, self.gamma = nstep, gamma
        self.prioritized, self.alpha = prioritized, alpha
        self.rng = np.random.default_rng(seed)
        self.her = her   # rl.her.HindsightRelabel or None; it needs where each finished episode's final row is
        if her is not None:
            self.ep_end = np.full((N, T), -1, np.int64)
        if prioritized:
            self.tree = SumTree(N * T)
            self.activated = np.zeros((N, T), bool)
            self.max_priority = 1.0

    def __len__(self):
        return int(self.count.sum())

    # ---------------------------------------------------------------- writing
    def _frame(self, flat: dict) -> dict:
        """{path: what a row stores} from {path: observation leaf}: the newest frame of a stack."""
        return {path: leaf[:, -1] if self.stack > 1 else leaf for path, leaf in flat.items()}

    def _write(self, envs, frames, actions, rewards, terminated, truncated, final):
        pos = self.head[envs]
        for path, leaf in frames.items():
            self.frames[path][envs, pos] = leaf
        self.actions[envs, pos] = actions
        self.rewards[envs, pos] = rewards
        self.terminated[envs, pos] = terminated
        self.truncated[envs, pos] = truncated
        self.final[envs, pos] = final
        self.ep_step[envs, pos] = self.cur_step[envs]
        if self.her is not None:   # a finished episode's rows point to its final row; a new row to none yet
            self.ep_end[envs, pos] = -1
            if final:
                for e, p, length in zip(np.atleast_1d(envs), np.atleast_1d(pos), np.atleast_1d(self.cur_step[envs])):
                    self.ep_end[e, (p - np.arange(length + 1)) % self.T] = p
        self.cur_step[envs] = 0 if final else self.cur_step[envs] + 1
        if self.prioritized:
            self.activated[envs, pos] = False
            self._written.append(envs * self.T + pos)
        self.head[envs] = (pos + 1) % self.T
        self.count[envs] = np.minimum(self.count[envs] + 1, self.T)

    def add(self, rollout: Rollout):
        """Adds a rollout of arrays shaped (steps, num_envs, ...) from EnvRunner, in order."""
        all_envs = np.arange(self.N)
        self._written = []
        for t in range(len(rollout.rewards)):
            term, trunc = rollout.terminated[t], rollout.truncated[t]
            self._write(all_envs, self._frame(flatten_step(self.space, rollout.observations, t)), rollout.actions[t],
                        rollout.rewards[t], term, trunc, False)
            done = np.flatnonzero(term | trunc)
            if len(done):
                nxt = {path: leaf[done] for path, leaf in self._frame(
                    flatten_step(self.space, rollout.next_observations, t)).items()}
                self._write(done, nxt, 0, 0.0, False, False, True)
        if self.prioritized:   # overwritten rows leave the tree; completed ones enter it
            self.tree.update(np.concatenate(self._written), 0.0)
            self._activate(min(len(rollout.rewards) * 2 + self.nstep + 2, self.T))

    def _activate(self, window: int):
        """Newly complete rows (their n-step window is written) enter the tree at the running max priority."""
        envs = np.repeat(np.arange(self.N), window)
        back = np.tile(np.arange(1, window + 1), self.N)
        rows = (self.head[envs] - back) % self.T
        ok = self.valid(envs, rows) & ~self.activated[envs, rows]
        if ok.any():
            envs, rows = envs[ok], rows[ok]
            self.activated[envs, rows] = True
            self.tree.update(envs * self.T + rows, self.max_priority ** self.alpha)

    # ---------------------------------------------------------------- reading
    def _order(self, envs, rows):
        """Position of each row in its env's ring: 0 is the oldest row still stored."""
        start = (self.head[envs] - self.count[envs]) % self.T
        return (rows - start) % self.T

    def _lookahead(self, envs, rows, k):
        """Steps L until the row to bootstrap from (<= nstep) and whether that window is fully written."""
        count = self.count[envs]
        ended = np.zeros(len(rows), bool)
        L = np.full(len(rows), self.nstep)
        written = np.ones(len(rows), bool)
        for j in range(self.nstep):
            r = (rows + j) % self.T
            inside = k + j < count
            written &= inside | ended
            d = (self.terminated[envs, r] | self.truncated[envs, r]) & ~ended & inside
            L = np.where(d, j + 1, L)
            ended |= d
        return L, written & (k + L < count)

    def valid(self, envs, rows) -> np.ndarray:
        k = self._order(envs, rows)
        ok = (k < self.count[envs]) & ~self.final[envs, rows]
        ok &= k >= np.minimum(self.ep_step[envs, rows], self.stack - 1)   # the stack's frames are stored
        return ok & self._lookahead(envs, rows, k)[1]

    def stacked(self, envs, rows):
        """The observations (a tree, as the env gives them) at these rows, stacks rebuilt."""
        out = {}
        steps = self.ep_step[envs, rows] if self.stack > 1 else None
        for path, frames in self.frames.items():
            if self.stack == 1:
                out[path] = frames[envs, rows]
                continue
            leaf = out[path] = np.zeros((len(rows), self.stack, *frames.shape[2:]), frames.dtype)
            for j in range(self.stack):
                back = self.stack - 1 - j
                keep = steps >= back
                leaf[keep, j] = frames[envs[keep], (rows[keep] - back) % self.T]
        return unflatten(self.space, out)

    def gather(self, envs, rows) -> dict:
        k = self._order(envs, rows)
        L, _ = self._lookahead(envs, rows, k)
        returns = np.zeros(len(rows), np.float32)
        for j in range(self.nstep):
            returns += np.where(j < L, self.gamma ** j * self.rewards[envs, (rows + j) % self.T], 0.0)
        last = (rows + L - 1) % self.T
        discounts = (self.gamma ** L) * ~self.terminated[envs, last]
        nxt = (rows + L) % self.T
        batch = ReplayBatch(self.stacked(envs, rows), self.actions[envs, rows], returns,
                            discounts.astype(np.float32), self.stacked(envs, nxt), envs * self.T + rows)
        return batch if self.her is None else self.her.relabel(self, envs, rows, batch, L)

    def sample(self, batch_size: int, beta: float = 0.4) -> ReplayBatch:
        envs = np.zeros(batch_size, np.int64)
        rows = np.zeros(batch_size, np.int64)
        probs = np.zeros(batch_size)
        todo = np.arange(batch_size)
        for _ in range(1000):   # rows that cannot be sampled (yet) are drawn again
            if self.prioritized:
                e, r, p = self._sample_prioritized(len(todo))
                probs[todo] = p
            else:
                e = self.rng.integers(self.N, size=len(todo))
                start = (self.head[e] - self.count[e]) % self.T
                r = (start + (self.rng.random(len(todo)) * self.count[e]).astype(np.int64)) % self.T
            envs[todo], rows[todo] = e, r
            ok = self.valid(e, r)
            if self.prioritized and not ok.all():   # made stale by the ring wrapping: out of the tree
                self.tree.update(e[~ok] * self.T + r[~ok], 0.0)
            todo = todo[~ok]
            if len(todo) == 0:
                break
        else:
            raise RuntimeError("replay has no valid transition to sample yet")
        batch = self.gather(envs, rows)
        if self.prioritized:
            weights = (len(self) * probs) ** (-beta)
            batch.weights = (weights / weights.max()).astype(np.float32)
        return batch

    def _sample_prioritized(self, batch_size):
        total = self.tree.total
        if total <= 0:
            raise RuntimeError("replay has no valid transition to sample yet")
        bounds = np.linspace(0.0, total, batch_size + 1)
        values = self.rng.uniform(bounds[:-1], bounds[1:])
        leaves = self.tree.find(np.minimum(values, np.nextafter(total, 0)))
        leaves = np.minimum(leaves, self.N * self.T - 1)
        return leaves // self.T, leaves % self.T, self.tree.get(leaves) / total

    def update_priorities(self, indices, td_errors, epsilon: float = 1e-6):
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + epsilon
        # a NaN loss is caught by the Alg at the end of the update phase; until then keep the tree valid
        priorities = np.where(np.isfinite(priorities), priorities, self.max_priority)
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(indices, priorities ** self.alpha)

    # ---------------------------------------------------------------- checkpoints (optional: big)
    _ROWS = ("actions", "rewards", "terminated", "truncated", "final", "ep_step")   # (N, T, ...)
    _PER_ENV = ("head", "count", "cur_step")

    def arrays(self) -> dict:
        """Every array of the replay's state by its checkpoint name: observation leaves as "frames" (a plain
        space, as before Dict observations) or "frames/<path>"."""
        out = {("frames" if path == "" else f"frames/{path}"): a for path, a in self.frames.items()}
        out.update((name, getattr(self, name)) for name in self._ROWS + self._PER_ENV)
        if self.her is not None:
            out["ep_end"] = self.ep_end
        return out

    @property
    def nbytes(self) -> int:
        """What the replay's state takes in a checkpoint."""
        arrays = list(self.arrays().values())
        if self.prioritized:
            arrays += [self.tree.tree, self.activated]
        return sum(a.nbytes for a in arrays)

    def state_dict(self) -> dict:
        """Only the rows written so far ([:, :count.max()]): a young replay makes a small checkpoint."""
        filled = int(self.count.max())
        state = {name: torch.from_numpy(np.ascontiguousarray(a if name in self._PER_ENV else a[:, :filled]))
                 for name, a in self.arrays().items()}
        state["rng"] = self.rng.bit_generator.state
        if self.prioritized:
            state.update(tree=torch.from_numpy(self.tree.tree), activated=torch.from_numpy(self.activated),
                         max_priority=self.max_priority)
        return state

    def load_state_dict(self, state: dict):
        filled = state["rewards"].shape[1]
        if filled > self.T:
            raise ValueError(f"the checkpoint's replay holds {filled} rows per env, this one has room for {self.T}")
        for name, array in self.arrays().items():
            if name not in self._PER_ENV:
                array[:, filled:] = 0
                array = array[:, :filled]
            array[...] = state[name].numpy()
        self.rng.bit_generator.state = state["rng"]
        if self.prioritized:
            self.tree.tree[...] = state["tree"].numpy()
            self.activated[...] = state["activated"].numpy()
            self.max_priority = float(state["max_priority"])


class ExperienceReplay:
    """What replay algorithms train on, per rollout: collect -> add to `storage` -> once `learning_starts` env
    steps are taken, `gradient_steps` sampled batches (none before: the Alg still sees the clock move)."""

    def __init__(self, runner: EnvRunner, storage: ReplayStorage, batch_size: int, learning_starts: int,
                 gradient_steps: int = 1, beta: Schedule | float = 0.4, device="cpu"):
        self.runner, self.storage, self.batch_size, self.learning_starts = runner, storage, batch_size, learning_starts
        self.gradient_steps = gradient_steps
        self.beta = beta if isinstance(beta, Schedule) else Constant(beta)
        self.device = torch.device(device)
        # a row can be sampled once its n-step lookahead is stored: every env needs nstep + 1 rows first
        # (--learning-starts 1 sampled an empty choice and crashed)
        self.min_fill = min(max(learning_starts, storage.N * (storage.nstep + 1)), storage.N * storage.T)

    def batches(self):
        self.storage.add(self.runner.collect())
        # before learning_starts, and after a resume whose checkpoint left the replay out, refill first
        if self.runner.step_count < self.learning_starts or len(self.storage) < self.min_fill:
            return
        for _ in range(self.gradient_steps):
            yield self.storage.sample(self.batch_size, self.beta(self.runner.step_count)).to(self.device)
