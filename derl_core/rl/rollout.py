"""Rollouts: the EnvRunner steps a vector env and counts env steps (the one clock); `OnPolicyData` turns each
rollout into minibatches for actor-critic losses, in one screen: collect -> GAE -> flatten -> minibatches.

A `Rollout` holds numpy arrays shaped (nsteps, num_envs, ...); `next_observations` is the real s_{t+1} (the
final observation where an episode ended), `latest_observations` (num_envs, ...) what to bootstrap from.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, fields

import numpy as np
import torch

from ..env import state_objects as env_state_objects
from .policy import as_tensor
from .spaces import env_actions, tree_map, tree_set


class EnvError(RuntimeError):
    """An env (or its worker process) failed while stepping."""


def describe_env_failure(env, exc) -> str:
    base = getattr(env, "unwrapped", env)
    dead = []
    for i, proc in enumerate(getattr(base, "processes", [])):
        proc.join(timeout=0.5)   # a worker that just died is reaped, so its exit code is known
        if proc.exitcode is not None:
            how = (f"killed by {signal.Signals(-proc.exitcode).name}" if proc.exitcode < 0
                   else f"exit code {proc.exitcode}")
            dead.append(f"worker {i} (pid {proc.pid}) died, {how}")
    who = "; ".join(dead) if dead else "an env raised"
    detail = str(exc).strip().splitlines()
    return (f"env {getattr(env, 'env_id', '?')}: {who} ({type(exc).__name__}"
            f"{': ' + detail[-1] if detail else ''})")


class Clock:
    """The one clock: env steps taken. The EnvRunner advances it; policies, losses and schedules that depend
    on time read it by calling it. A Factory makes one (`self.clock`) and hands it to both."""

    def __init__(self, value: int = 0):
        self.value = value

    def __call__(self) -> int:
        return self.value


@dataclass
class Rollout:
    """One rollout from EnvRunner.collect, arrays shaped (nsteps, num_envs, ...)."""
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_observations: np.ndarray   # the real s_{t+1}: the final observation where an episode ended
    latest_observations: np.ndarray  # (num_envs, ...): the observations after the last step
    log_prob: np.ndarray | None = None   # what the policy's PolicyStep carried
    values: np.ndarray | None = None


@dataclass
class RolloutBatch:
    """A flattened rollout (or a minibatch of one) as torch tensors: what actor-critic losses read."""
    observations: torch.Tensor
    actions: torch.Tensor
    log_prob: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    value_targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.actions)

    def __getitem__(self, idx) -> "RolloutBatch":
        return RolloutBatch(*(tree_map(lambda x: x[idx], getattr(self, f.name)) for f in fields(self)))


class EnvRunner:
    """Steps a gymnasium vector env (autoreset_mode SAME_STEP) with a policy, `nsteps` at a time.

    `hooks` run at each clean point (`clean_point()`, called by the Alg before every rollout: checkpoints,
    evaluation); `step_hooks` after each env step (a signal acts within one step)."""

    def __init__(self, env, policy, nsteps: int, seed: int | None = None, summary=None, clock: Clock = None):
        self.env, self.policy, self.nsteps = env, policy, nsteps
        self.seed, self.summary = seed, summary
        self.clock = clock if clock is not None else Clock()
        self.obs = None
        self.hooks = []
        self.step_hooks = []
        self.action_space = env.single_action_space
        # env worker processes step while the learner acts: one torch thread during collection (more would
        # fight the workers for the cores), the learner's own count during updates (the workers then wait)
        self.collect_threads = 1 if len(getattr(getattr(env, "unwrapped", env), "processes", ())) > 1 else None
        if getattr(env, "remote", False) and summary is not None:   # Ray workers: each restart is a scalar
            env.on_restart = lambda count: summary.scalar("charts/worker_restarts", count, self.step_count)

    @property
    def step_count(self) -> int:
        return self.clock.value

    @step_count.setter
    def step_count(self, value: int):
        self.clock.value = value

    @property
    def num_envs(self) -> int:
        return self.env.num_envs

    def reset(self):
        if getattr(self.env, "remote", False):   # the Ray workers hold (and reset) their own envs
            self.obs = ()
            return
        self.obs, _ = self.env.reset(seed=self.seed)
        self.env.action_space.seed(self.seed)

    def clean_point(self):
        """The moment before a rollout, when the previous one is fully consumed: a checkpoint here resumes
        exactly."""
        if self.obs is None:
            self.reset()
        for hook in list(self.hooks):
            hook(self)

    def collect(self, nsteps: int | None = None) -> Rollout:
        nsteps = self.nsteps if nsteps is None else nsteps
        if self.obs is None:
            self.reset()
        if getattr(self.env, "remote", False):   # envs in Ray actors (distributed.RemoteEnvs): whole rollouts
            return self._collect_remote(nsteps)
        if self.collect_threads is None:
            return self._collect(nsteps)
        learner_threads = torch.get_num_threads()
        torch.set_num_threads(self.collect_threads)
        try:
            return self._collect(nsteps)
        finally:
            torch.set_num_threads(learner_threads)

    def _collect(self, nsteps: int) -> Rollout:
        """Each step written in place into arrays allocated at the rollout's first step (a rollout's arrays
        are its own: a plugin may keep them)."""
        out = None
        for t in range(nsteps):
            pred = self.policy.act(self.obs)
            actions = env_actions(self.action_space, pred.actions)
            try:
                next_obs, rewards, terminated, truncated, infos = self.env.step(actions)
            except Exception as exc:
                raise EnvError(describe_env_failure(self.env, exc)) from exc
            self.step_count += self.num_envs
            for hook in self.step_hooks:
                hook(self)
            if out is None:
                out = _allocate(nsteps, self.obs, pred, rewards, terminated, truncated)
            put = (lambda dst, src: dst.__setitem__(t, src))
            tree_map(put, out.observations, self.obs)
            tree_map(put, out.next_observations, next_obs)
            for name, value in (("actions", pred.actions), ("rewards", rewards), ("terminated", terminated),
                                ("truncated", truncated), ("log_prob", pred.log_prob), ("values", pred.values)):
                if value is not None:
                    getattr(out, name)[t] = value
            if "_final_obs" in infos and infos["_final_obs"].any():   # the real s_{t+1} where an episode ended
                row = tree_map(lambda x: x[t], out.next_observations)
                for i in np.flatnonzero(infos["_final_obs"]):
                    tree_set(row, i, infos["final_obs"][i])
                self._record_episodes(infos.get("final_info", {}))
            self.obs = next_obs
        out.latest_observations = self.obs
        return out

    def _collect_remote(self, nsteps: int) -> Rollout:
        start = self.step_count
        rollout, episodes = self.env.collect(self.policy, start, nsteps)
        self.step_count += nsteps * self.num_envs
        if self.summary is not None:
            for ret, length, k in sorted(episodes, key=lambda e: e[2]):
                self.summary.episode(float(ret), int(length), start + k * self.num_envs)
        for hook in self.step_hooks:   # signals: acted on after the rollout the workers were collecting
            hook(self)
        return rollout

    def _record_episodes(self, final_info: dict):
        if self.summary is None or "episode" not in final_info:
            return
        ep, mask = final_info["episode"], final_info["_episode"]
        for i in np.flatnonzero(mask):
            self.summary.episode(float(ep["r"][i]), int(ep["l"][i]), self.step_count)

    # ---- checkpointable state
    def state_dict(self) -> dict:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict):
        self.step_count = int(state["step_count"])


def _allocate(nsteps: int, obs, pred, rewards, terminated, truncated) -> Rollout:
    """Empty (nsteps, num_envs, ...) arrays for a rollout, shaped and typed as its first step's values."""
    empty = (lambda x: None if x is None else np.empty((nsteps, *np.shape(x)), np.asarray(x).dtype))
    return Rollout(tree_map(empty, obs), empty(pred.actions), empty(rewards), empty(terminated),
                   empty(truncated), tree_map(empty, obs), None, empty(pred.log_prob), empty(pred.values))


def state_objects(runner: EnvRunner) -> dict:
    """What a run's acting side holds as state, by a stable name: the EnvRunner ("runner"), its policy
    ("policy", when it has state_dict: RNGs) and each stateful env wrapper ("env_<class>": normalisation
    statistics). The Alg adds these to its checkpointables, so a plugin never has to remember them."""
    out = {"runner": runner}
    if hasattr(runner.policy, "state_dict") and hasattr(runner.policy, "load_state_dict"):
        out["policy"] = runner.policy
    out.update(env_state_objects(runner.env))
    return out


def gae(rollout: Rollout, values_fn, gamma: float, lambda_: float) -> tuple:
    """Generalised advantage estimation (Schulman et al. 2016): (advantages, value targets), both (T, N).

    A terminated step does not bootstrap; a truncated one bootstraps from V(its real last observation).
    λ = 1 gives n-step returns (A2C). `values_fn(obs) -> numpy values`.
    """
    values, rewards = rollout.values, rollout.rewards.astype(np.float32)
    terminated, truncated = rollout.terminated, rollout.truncated
    next_values = np.empty_like(values)
    next_values[:-1] = values[1:]
    next_values[-1] = values_fn(rollout.latest_observations)
    if truncated.any():
        idx = np.nonzero(truncated)
        next_values[idx] = values_fn(tree_map(lambda x: x[idx], rollout.next_observations))
    next_values[terminated] = 0.0
    done = terminated | truncated
    advantages = np.empty_like(values)
    running = np.zeros_like(values[0])
    deltas = rewards + gamma * next_values - values
    discounts = (gamma * lambda_) * (~done)
    for t in reversed(range(len(values))):
        running = deltas[t] + discounts[t] * running
        advantages[t] = running
    return advantages, advantages + values


def explained_variance(values: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - Var(targets - values) / Var(targets), a tensor (NaN where the targets do not vary)."""
    var = targets.var()
    return torch.where(var == 0, torch.nan, 1 - (targets - values).var() / var)


class OnPolicyData:
    """What actor-critic algorithms train on, per rollout: collect -> GAE -> flatten (T*N) to torch ->
    `num_epochs` passes of `num_minibatches` shuffled minibatches (A2C: 1 x 1, the whole rollout)."""

    def __init__(self, runner: EnvRunner, policy, gamma: float, lambda_: float, num_epochs: int = 1,
                 num_minibatches: int = 1, device="cpu"):
        self.runner, self.policy, self.gamma, self.lambda_ = runner, policy, gamma, lambda_
        self.num_epochs, self.num_minibatches = num_epochs, num_minibatches
        self.device = torch.device(device)

    def batches(self):
        rollout = self.runner.collect()
        advantages, targets = gae(rollout, self.policy.values, self.gamma, self.lambda_)
        flat = (lambda x: as_tensor(tree_map(lambda a: a.reshape(-1, *a.shape[2:]), x), self.device))
        batch = RolloutBatch(flat(rollout.observations), flat(rollout.actions), flat(rollout.log_prob),
                             flat(rollout.values), flat(advantages), flat(targets))
        size = len(batch)
        mb = size // self.num_minibatches
        for _ in range(self.num_epochs):
            if self.num_minibatches == 1:
                yield batch
                continue
            perm = torch.randperm(size)
            for start in range(0, mb * self.num_minibatches, mb):
                yield batch[perm[start:start + mb]]
