"""EnvRunner collects rollouts and counts env steps; wrappers compose; transforms are steps you chain.

A rollout is a dict of numpy arrays shaped (nsteps, num_envs, ...):
  observations, actions, rewards, terminated, truncated, next_observations (the real s_{t+1}: the final
  observation where an episode ended), and whatever the policy returned (log_prob, values, ...);
plus latest_observations (num_envs, ...) to bootstrap from.
"""
from __future__ import annotations

import numpy as np
import torch

from .policy import as_tensor


class EnvError(RuntimeError):
    """An env (or its worker process) failed while stepping."""


def describe_env_failure(env, exc) -> str:
    import signal
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


class EnvRunner:
    """Steps a gymnasium vector env (autoreset_mode SAME_STEP) with a policy, `nsteps` at a time."""

    def __init__(self, env, policy, nsteps: int, seed: int | None = None, summary=None, clock: Clock = None):
        self.env, self.policy, self.nsteps = env, policy, nsteps
        self.seed, self.summary = seed, summary
        self.clock = clock if clock is not None else Clock()
        self.obs = None
        self.hooks = []   # callables hook(runner) run before each rollout: a clean point (checkpoints, stop)
        self.step_hooks = []   # callables hook(runner) run after each env step (an interrupt acts at once)
        space = env.single_action_space
        # Gaussian policies sample unbounded actions: the env gets them clipped, the loss the raw ones.
        self._bounds = (space.low, space.high) if type(space).__name__ == "Box" else None
        # env worker processes step while the learner acts: one torch thread during collection (more would
        # fight the workers for the cores), the learner's own count during updates (the workers then wait)
        self.collect_threads = 1 if len(getattr(getattr(env, "unwrapped", env), "processes", ())) > 1 else None

    @property
    def step_count(self) -> int:
        return self.clock.value

    @step_count.setter
    def step_count(self, value: int):
        self.clock.value = value

    @property
    def num_envs(self) -> int:
        return self.env.num_envs

    @property
    def unwrapped(self):
        """The innermost runner: this one."""
        return self

    def reset(self):
        if getattr(self.env, "remote", False):   # the Ray workers hold (and reset) their own envs
            self.obs = ()
            return
        self.obs, _ = self.env.reset(seed=self.seed)
        self.env.action_space.seed(self.seed)

    def get_next_actions(self, obs) -> dict:
        return self.policy.act(obs)

    def run(self):
        if self.obs is None:
            self.reset()
        while True:
            for hook in list(self.hooks):
                hook(self)
            yield self.collect(self.nsteps)

    def collect(self, nsteps: int) -> dict:
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

    def _collect(self, nsteps: int) -> dict:
        steps = []
        for _ in range(nsteps):
            pred = self.get_next_actions(self.obs)
            actions = pred["actions"]
            if self._bounds is not None:
                actions = np.clip(actions, *self._bounds)
            try:
                next_obs, rewards, terminated, truncated, infos = self.env.step(actions)
            except Exception as exc:
                raise EnvError(describe_env_failure(self.env, exc)) from exc
            self.step_count += self.num_envs
            for hook in self.step_hooks:
                hook(self)
            real_next = next_obs
            if "_final_obs" in infos and infos["_final_obs"].any():
                real_next = next_obs.copy()
                for i in np.flatnonzero(infos["_final_obs"]):
                    real_next[i] = infos["final_obs"][i]
                self._record_episodes(infos.get("final_info", {}))
            steps.append(dict(pred, observations=self.obs, rewards=rewards, terminated=terminated,
                              truncated=truncated, next_observations=real_next))
            self.obs = next_obs
        rollout = {key: np.stack([s[key] for s in steps]) for key in steps[0]}
        rollout["latest_observations"] = self.obs
        return rollout

    def _collect_remote(self, nsteps: int) -> dict:
        start, restarts = self.step_count, self.env.restarts
        rollout, episodes = self.env.collect(self.policy, start, nsteps)
        self.step_count += nsteps * self.num_envs
        if self.summary is not None:
            for ret, length, k in sorted(episodes, key=lambda e: e[2]):
                self.summary.episode(float(ret), int(length), start + k * self.num_envs)
            if self.env.restarts != restarts:
                self.summary.scalar("charts/worker_restarts", self.env.restarts, self.step_count)
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


class EnvRunnerWrapper:
    """Wraps a runner and changes what `run()` yields. It offers the runner interface (`run`, `step_count`,
    `num_envs`, `unwrapped`) and nothing else of the runner it wraps: no attribute is forwarded. A wrapper
    that holds state defines state_dict()/load_state_dict(); the core checkpoints it (see `state_objects`)."""

    def __init__(self, runner):
        self.runner = runner

    @property
    def unwrapped(self):
        return self.runner.unwrapped

    @property
    def step_count(self) -> int:
        return self.runner.unwrapped.step_count

    @property
    def num_envs(self) -> int:
        return self.runner.unwrapped.num_envs

    def run(self):
        return self.runner.run()


def state_objects(runner) -> dict:
    """Everything in a runner chain that holds state, by a stable name: the EnvRunner ("runner"), its policy
    ("policy", when it has state_dict: RNGs), each stateful runner wrapper ("runner_<class>"), and each
    stateful env wrapper ("env_<class>": normalisation statistics). The Alg adds these to its checkpointables,
    so a plugin never has to remember them."""
    from .env import state_objects as env_state_objects
    out, node = {}, runner
    while isinstance(node, EnvRunnerWrapper):
        if hasattr(node, "state_dict") and hasattr(node, "load_state_dict"):
            out[f"runner_{type(node).__name__.lower()}"] = node
        node = node.runner
    out["runner"] = node
    if hasattr(node.policy, "state_dict") and hasattr(node.policy, "load_state_dict"):
        out["policy"] = node.policy
    out.update(env_state_objects(node.env))
    return out


class TransformInteractions(EnvRunnerWrapper):
    """Applies callables `rollout -> rollout` in order to each rollout."""

    def __init__(self, runner, transforms):
        super().__init__(runner)
        self.transforms = list(transforms)

    def run(self):
        for rollout in self.runner.run():
            for transform in self.transforms:
                rollout = transform(rollout)
            yield rollout


class GAE:
    """Generalised advantage estimation (Schulman et al. 2016).

    A terminated step does not bootstrap; a truncated one bootstraps from V(its real last observation).
    λ = 1 gives n-step returns (A2C).
    """

    def __init__(self, policy, gamma: float, lambda_: float):
        self.policy, self.gamma, self.lambda_ = policy, gamma, lambda_

    def __call__(self, rollout: dict) -> dict:
        values, rewards = rollout["values"], rollout["rewards"].astype(np.float32)
        terminated, truncated = rollout["terminated"], rollout["truncated"]
        next_values = np.empty_like(values)
        next_values[:-1] = values[1:]
        next_values[-1] = self.policy.values(rollout["latest_observations"])
        if truncated.any():
            idx = np.nonzero(truncated)
            next_values[idx] = self.policy.values(rollout["next_observations"][idx])
        next_values[terminated] = 0.0
        done = terminated | truncated
        advantages = np.empty_like(values)
        gae = np.zeros_like(values[0])
        deltas = rewards + self.gamma * next_values - values
        discounts = (self.gamma * self.lambda_) * (~done)
        for t in reversed(range(len(values))):
            gae = deltas[t] + discounts[t] * gae
            advantages[t] = gae
        rollout["advantages"] = advantages
        rollout["value_targets"] = advantages + values
        return rollout


SAMPLE_KEYS = ("observations", "actions", "log_prob", "values", "advantages", "value_targets")


class MergeTimeBatch:
    """(T, N, ...) -> (T*N, ...) torch tensors for the keys a loss needs."""

    def __init__(self, device="cpu", keys=SAMPLE_KEYS):
        self.device, self.keys = torch.device(device), keys

    def __call__(self, rollout: dict) -> dict:
        out = {}
        for key in self.keys:
            if key in rollout:
                v = rollout[key]
                out[key] = as_tensor(v.reshape(-1, *v.shape[2:]), self.device)
        return out


class IterateWithMinibatches(EnvRunnerWrapper):
    """Yields `num_minibatches` shuffled minibatches of each merged rollout, `num_epochs` times."""

    def __init__(self, runner, num_epochs: int, num_minibatches: int):
        super().__init__(runner)
        self.num_epochs, self.num_minibatches = num_epochs, num_minibatches

    def run(self):
        for batch in self.runner.run():
            size = len(next(iter(batch.values())))
            mb = size // self.num_minibatches
            for _ in range(self.num_epochs):
                perm = torch.randperm(size)
                for start in range(0, mb * self.num_minibatches, mb):
                    idx = perm[start:start + mb]
                    yield {key: value[idx] for key, value in batch.items()}
