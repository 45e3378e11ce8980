"""Experience from Ray actors: `--workers N [--envs-per-worker M] [--ray-address ADDR]`.

RemoteEnvs stands where a vector env stands (spaces, num_envs, state_dict, close), but its envs live in N Ray
actors (EnvWorker), each with a vector env built by the same env family code and a CPU copy of the policy.
The EnvRunner asks it for whole rollouts (`collect`) instead of stepping it: the learner puts the policy's
weights in Ray's object store once per rollout (one `ray.put`, read by every worker), every worker collects
`nsteps` with them, and the rollouts are concatenated along the env axis. The algorithms cannot tell.

Collection is synchronous for every algorithm: each rollout is collected with the newest weights (policy lag
0), which keeps PPO/A2C on-policy and makes a seeded run deterministic for a fixed number of workers. A worker
that dies is restarted by Ray (max_restarts=-1); its rollout is collected again by the restarted actor (its
envs start new episodes), and the restarts are counted in charts/worker_restarts. A worker Ray restarted
between two calls answers the next one with `Restarted` (it has no policy), which is counted the same way.
If workers keep dying, or the cluster goes away, collection raises EnvError: the run stops with a checkpoint
and the resume command.
Ray runs without a dashboard, on loopback when derl starts it, its log lines kept off the terminal; its
session logs are copied into the run directory (ray-logs/) when the run ends.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
import time

from dataclasses import fields

import numpy as np

from ..errors import BadInput, first_line
from ..rl.spaces import tree_map
from ..rl.rollout import Clock, EnvError, EnvRunner, Rollout

MAX_RESTARTS_PER_ROLLOUT = 3
# A sweep's run and a tune's trial are Ray tasks that train from (or continue) their run directories: when the
# process or the node running one dies (a node leaves the cluster, a worker is killed), Ray runs it again on a
# node that is left, and it continues from its last checkpoint. Their own errors are not retried (Ray's
# default retry_exceptions=False): those are reported as failed.
TASK_RETRIES = 3
RESTART_TIMEOUT = 120.0   # seconds Ray may take to bring a dead worker back


def start_ray(address: str | None, num_cpus: int | None = None):
    """Joins `address`, or starts a local Ray sized to the machine; returns the temp dir derl made (or None)."""
    try:
        import ray
    except ImportError:
        raise BadInput("--workers needs Ray: pip install 'derl[ray]'") from None
    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray starts its workers at nice 15: beside any other busy process their torch thread pools then wait on a
    # starved thread at every op (a PPO trial ran 7x slower, a matmul loop 200x). derl's workers are the work.
    os.environ.setdefault("RAY_worker_niceness", "0")
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR", configure_logging=True,
                  ignore_reinit_error=True)
    temp = None
    if address:
        kwargs["address"] = address
    else:
        temp = tempfile.mkdtemp(prefix="derl-ray-")   # short: Ray's socket paths must stay under 108 bytes
        kwargs.update(num_cpus=num_cpus or os.cpu_count(), _temp_dir=temp, _node_ip_address="127.0.0.1")
    try:
        ray.init(**kwargs)
    except Exception as exc:
        raise BadInput(f"cannot start or join Ray ({'--ray-address ' + address if address else 'local'}): "
                       f"{type(exc).__name__}: {first_line(exc, None)}") from None
    return temp


def stop_ray(temp: str | None, logdir: str | None):
    """Stops a Ray that derl started (`temp`: its directory), its session logs copied into `logdir/ray-logs`."""
    if temp is None:
        return
    import ray
    logs = os.path.join(temp, "session_latest", "logs")
    if logdir and os.path.isdir(logs):
        # into a directory made fresh here, never into one that exists (it could be a link out of the run)
        dest = os.path.join(logdir, "ray-logs")
        if os.path.lexists(dest):
            dest = os.path.join(logdir, f"ray-logs-{int(time.time() * 1000)}")
        try:
            shutil.copytree(logs, dest, symlinks=False, ignore_dangling_symlinks=True)
        except OSError:
            pass   # the logs are a convenience; a run is not failed for them
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


class Restarted(RuntimeError):
    """Raised by a worker that Ray restarted before it was asked anything (a kill between two calls): it has
    fresh envs and no policy, so the call it got is answered the way a dead actor's is, by a counted restart."""


def _was_restarted(exc) -> bool:
    return isinstance(exc, Restarted) or isinstance(getattr(exc, "cause", None), Restarted)


class _Episodes:
    """A Summary stand-in inside a worker: keeps (return, length, step) of the episodes that end."""

    def __init__(self):
        self.rows = []

    def episode(self, ret, length, step):
        self.rows.append((ret, length, step))


def _worker_class():
    import ray

    @ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=0.5)
    class EnvWorker:
        """A vector env (the family's own stack) and a CPU copy of the policy, collecting rollouts."""

        def __init__(self, env_id, num_envs, seed, index, options, threads=1):
            import torch

            from .. import env as envs
            torch.set_num_threads(threads)
            ctx = ray.get_runtime_context()
            self.restarted = ctx.was_current_actor_reconstructed
            self.seed = seed + index * num_envs
            if self.restarted:   # new episodes, from another seed than the ones the dead worker used
                self.seed += 7919 * (1 + int(time.time()) % 1000)
            torch.manual_seed(self.seed + 1_000_003)
            self.venv = envs.make(env_id, num_envs, seed=self.seed, **options)
            self.runner = None

        def info(self):
            return {"observation_space": self.venv.single_observation_space,
                    "action_space": self.venv.single_action_space, "frame_stack": self.venv.frame_stack,
                    "node": ray.get_runtime_context().get_node_id()}

        def set_policy(self, policy):
            if hasattr(policy, "rng"):
                policy.rng = np.random.default_rng(self.seed)
            clock = getattr(policy, "clock", None)
            clock = clock if isinstance(clock, Clock) else Clock()
            self.episodes = _Episodes()
            self.runner = EnvRunner(self.venv, policy, 1, seed=self.seed, summary=self.episodes, clock=clock)

        def _holds_policy(self):
            if self.runner is None:
                raise Restarted("no policy: this worker was restarted since the policy was sent")

        def collect(self, weights, step, nsteps):
            self._holds_policy()
            self.runner.policy.model.load_state_dict(weights)
            self.runner.step_count = step
            if self.runner.obs is None:
                self.runner.reset()
            self.episodes.rows = []
            rollout = self.runner.collect(nsteps)
            per_step = self.venv.num_envs
            episodes = [(r, n, (s - step) // per_step) for r, n, s in self.episodes.rows]
            return rollout, episodes

        def env_state(self, policy_sent=False):
            if policy_sent:
                self._holds_policy()
            from ..env import state_objects
            return {name: obj.state_dict() for name, obj in state_objects(self.venv).items()}

        def load_env_state(self, state):
            from ..env import state_objects
            for name, obj in state_objects(self.venv).items():
                if name in state:
                    obj.load_state_dict(state[name])

    return EnvWorker


class RemoteEnvs:
    remote = True   # EnvRunner.collect hands whole rollouts to `collect`

    def __init__(self, env_id: str, workers: int, envs_per_worker: int, seed: int, address: str | None = None,
                 **options):
        import ray
        self._temp = start_ray(address)
        worker = _worker_class()
        self.workers = [worker.remote(env_id, envs_per_worker, seed, i, options) for i in range(workers)]
        try:
            infos = ray.get([w.info.remote() for w in self.workers])
        except Exception as exc:
            self.close()
            raise BadInput(f"the Ray env workers could not start: {type(exc).__name__}: "
                           f"{first_line(exc, None)}") from None
        self.single_observation_space = infos[0]["observation_space"]
        self.single_action_space = infos[0]["action_space"]
        self.frame_stack = infos[0]["frame_stack"]
        self.num_envs = workers * envs_per_worker
        self.nodes = sorted({info.get("node") for info in infos})   # the Ray nodes the workers run on
        if address:   # a cluster: say where the experience comes from
            print(f"derl: {workers} Ray env workers on {len(self.nodes)} node(s) of {address}", flush=True)
        self.restarts = 0
        self.on_restart = None   # called with the new count at each restart, wherever it is found (the runner
        #                          records it: a kill found while a checkpoint is written is counted there too)
        self.timing = {"broadcast": 0.0, "gather": 0.0, "rollouts": 0}
        self._policy_sent = None
        self._policy_ref = None
        self.unwrapped = self

    def _send_policy(self, policy):
        """A CPU copy of the policy (its model, schedules, clock) to every worker, through one object."""
        import ray
        import torch
        local = copy.deepcopy(policy)
        if getattr(local, "model", None) is not None:
            local.model = local.model.to("cpu")
        if hasattr(local, "device"):
            local.device = torch.device("cpu")
        self._policy_ref = ray.put(local)
        ray.get([w.set_policy.remote(self._policy_ref) for w in self.workers])
        self._policy_sent = policy

    def collect(self, policy, step: int, nsteps: int):
        """One rollout of `nsteps` from every worker with the policy's current weights: (rollout shaped
        (nsteps, num_envs, ...), [(return, length, k)] for the episodes that ended at the rollout's k-th step)."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError, RaySystemError, RayTaskError

        if self._policy_sent is not policy:
            self._send_policy(policy)
        t = time.perf_counter()
        weights = ray.put({k: v.detach().cpu() for k, v in policy.model.state_dict().items()})
        self.timing["broadcast"] += time.perf_counter() - t
        t = time.perf_counter()
        results = [None] * len(self.workers)
        pending = {i: w.collect.remote(weights, step, nsteps) for i, w in enumerate(self.workers)}
        tries = {i: 0 for i in pending}
        while pending:
            i, ref = next(iter(pending.items()))
            try:
                results[i] = ray.get(ref)
                del pending[i]
            except (RayActorError, ActorUnavailableError, RaySystemError, ConnectionError, RayTaskError) as exc:
                if isinstance(exc, RayTaskError) and not _was_restarted(exc):
                    raise
                tries[i] += 1
                self._restarted()
                if tries[i] > MAX_RESTARTS_PER_ROLLOUT:
                    raise EnvError(f"Ray env worker {i} failed {tries[i]} times in one rollout "
                                   f"({type(exc).__name__})") from None
                self._revive(i)   # the restarted actor needs the policy again, then collects the rollout anew
                pending[i] = self.workers[i].collect.remote(weights, step, nsteps)
        self.timing["gather"] += time.perf_counter() - t
        self.timing["rollouts"] += 1
        parts = [r[0] for r in results]
        joined = {f.name: None if getattr(parts[0], f.name) is None else
                  tree_map(lambda *xs, axis=0 if f.name == "latest_observations" else 1: np.concatenate(xs, axis),
                           *[getattr(p, f.name) for p in parts])
                  for f in fields(Rollout)}
        return Rollout(**joined), [episode for _, eps in results for episode in eps]

    def _restarted(self):
        self.restarts += 1
        if self.on_restart is not None:
            self.on_restart(self.restarts)

    def _revive(self, i: int, timeout: float = RESTART_TIMEOUT):
        """Waits for Ray to restart worker i, and gives it the policy again."""
        import ray

        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                worker = self.workers[i]   # before any policy was sent (a step-0 checkpoint): alive is enough
                call = worker.info.remote() if self._policy_ref is None else worker.set_policy.remote(self._policy_ref)
                ray.get(call, timeout=timeout)
                return
            except Exception as exc:   # ActorUnavailableError while it restarts, RayActorError, ...
                last = exc
                time.sleep(0.5)
        raise EnvError(f"Ray env worker {i} was not restarted within {timeout:.0f} s "
                       f"({type(last).__name__})") from None

    # ---- state: the workers' env wrappers (normalisation statistics)
    def state_dict(self) -> dict:
        """Each worker's env state; a worker killed since its last rollout is revived first (a checkpoint at
        the clean point after the kill would otherwise meet an actor that is still restarting)."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError
        states = []
        for i, worker in enumerate(self.workers):
            for attempt in range(MAX_RESTARTS_PER_ROLLOUT + 1):
                try:
                    states.append(ray.get(worker.env_state.remote(self._policy_ref is not None)))
                    break
                except (RayActorError, ActorUnavailableError, RayTaskError) as exc:
                    if isinstance(exc, RayTaskError) and not _was_restarted(exc):
                        raise
                    if attempt == MAX_RESTARTS_PER_ROLLOUT:
                        raise EnvError(f"Ray env worker {i} failed while derl saved a checkpoint "
                                       f"({type(exc).__name__})") from None
                    self._restarted()
                    self._revive(i)
        return {"workers": states}

    def load_state_dict(self, state: dict):
        import ray
        ray.get([w.load_env_state.remote(s) for w, s in zip(self.workers, state["workers"])])

    def close(self, logdir: str | None = None, **kwargs):
        try:
            import ray
            for w in self.workers:
                ray.kill(w)
        except Exception:
            pass
        stop_ray(self._temp, logdir)
        self._temp = None
