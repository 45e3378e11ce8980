"""Alg pulls batches from its data source and updates with its losses; Trainer steps one optimizer.

An update phase is everything learned from one rollout (PPO: epochs x minibatches; DQN/SAC: gradient_steps
sampled batches). Stats stay tensors through a phase: the host waits for the device once per phase, when
finiteness is checked, never per gradient step (LeanRL's rule).
"""
from __future__ import annotations

from typing import Callable, Iterable, Protocol

import torch

from .rollout import EnvRunner, state_objects
from .schedules import Constant, Schedule


class NonFiniteError(RuntimeError):
    """A loss term or a parameter became NaN or inf."""


class AlgLoss(Protocol):
    """A loss: `loss(batch, extras) -> (scalar loss tensor, stats)`. Stats named "group/name" are summaries
    (tensors or floats); names without a "/" are extras, handed to the later steps of the same update as
    `extras` and to the after_update callbacks (SAC's actor returns "new_log_prob" for the temperature step,
    DQN's loss "td_errors" for the priorities). Any callable of that shape is one (SAC's three objectives are
    methods of one object)."""

    def __call__(self, batch, extras: dict) -> tuple[torch.Tensor, dict]:
        ...


class DataSource(Protocol):
    """Where an Alg's batches come from: `batches()` collects one rollout and yields what to update on
    (OnPolicyData, ExperienceReplay)."""

    def batches(self) -> Iterable:
        ...


class Trainer:
    """Sets the scheduled learning rate, backpropagates, clips the global grad norm, steps. No host sync:
    the loss is kept (detached) for the Alg's finiteness check at the end of the phase."""

    def __init__(self, optimizer: torch.optim.Optimizer, lr: Schedule | float,
                 max_grad_norm: float | None = None, prefix: str = ""):
        self.optimizer = optimizer
        self.lr = lr if isinstance(lr, Schedule) else Constant(lr)
        self.max_grad_norm = max_grad_norm
        self.prefix = prefix
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def step(self, loss: torch.Tensor, stats: dict, step_count: int) -> dict:
        lr = self.lr(step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stats = dict(stats)
        if self.max_grad_norm:
            stats["losses/grad_norm"] = clip_grad_norm(self.params, self.max_grad_norm)
        self.optimizer.step()
        stats[f"charts/{self.prefix}learning_rate"] = lr
        stats[f"{self.prefix}loss"] = loss.detach()   # checked for finiteness by the Alg, not logged
        return stats


def clip_grad_norm(params: list, max_norm: float) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_'s foreach path, op for op (the same result to the bit), for the usual
    case of one device and dtype: without its grouping of tensors by device and dtype, a third of its cost on
    a small network (PPO CartPole: ~130 -> ~60 us a step). Other cases go to torch's function."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    first = grads[0]
    if (first.device.type not in ("cpu", "cuda") or first.is_sparse
            or any(g.device != first.device or g.dtype != first.dtype or g.is_sparse for g in grads)):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(float(max_norm) / (total + 1e-6), max=1.0))
    return total


def check_finite(modules: dict, step_count: int):
    for name, module in modules.items():
        for pname, p in module.named_parameters():
            if not torch.isfinite(p).all():
                raise NonFiniteError(f"parameter {name}.{pname} is not finite at step {step_count}")


class CopyTarget:
    """An after_update callback: copies `model` into `target` every `every` gradient steps. It counts its
    calls, so it has state: list it in the Alg's checkpointables (DQN, derl-minidqn)."""

    def __init__(self, model: torch.nn.Module, target: torch.nn.Module, every: int):
        self.model, self.target, self.every, self.count = model, target, every, 0

    def __call__(self, batch, stats):
        self.count += 1
        if self.count % self.every == 0:   # every tensor of the state (noisy layers' buffers too), in one op
            torch._foreach_copy_(list(self.target.state_dict().values()), list(self.model.state_dict().values()))

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class Every:
    """A delayed step or callback: wraps a loss (an Alg step) or an after_update callback so that it runs on
    every `every`-th gradient step only (TD3's policy delay: the actor and the target networks). It counts its
    calls, so it has state: list it in the Alg's checkpointables."""

    def __init__(self, every: int, fn):
        self.every, self.fn, self.count = int(every), fn, 0

    def due(self) -> bool:
        self.count += 1
        return (self.count - 1) % self.every == 0

    def __call__(self, *args):
        return self.fn(*args)

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class PolyakUpdate:
    """An after_update callback: target <- (1 - tau) target + tau source after each gradient step (SAC, TD3;
    wrapped in Every for a delay). `report()` -> extra stats to return (SAC's temperature)."""

    def __init__(self, target: torch.nn.Module, source: torch.nn.Module, tau: float, report=None):
        self.target, self.source, self.tau, self.report = target, source, tau, report

    def __call__(self, batch, stats):
        soft_update(self.target, self.source, self.tau)
        return self.report() if self.report is not None else None


class DelayedCallback(Every):
    """Every for an after_update callback: called on every `every`-th gradient step only."""

    def __call__(self, batch, stats):
        return self.fn(batch, stats) if self.due() else None


@torch.no_grad()
def soft_update(target: torch.nn.Module, source: torch.nn.Module, tau: float):
    """Polyak averaging, target <- (1 - tau) target + tau source, as one fused in-place op over every
    parameter (torch._foreach_lerp_: the same arithmetic as a lerp_ per parameter, one dispatch)."""
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


class _Counters:
    def __init__(self, alg):
        self.alg = alg

    def state_dict(self):
        return {"num_updates": self.alg.num_updates}

    def load_state_dict(self, state):
        self.alg.num_updates = int(state["num_updates"])


LOSS_KEYS = "loss"   # stats ending in this are the Trainers' total losses: checked, not logged


class Alg:
    """Learns until `total_steps` env steps: at each clean point of the runner, one rollout's batches from
    `data`, each updated by the `steps` — (AlgLoss, Trainer) pairs in order (A2C/PPO: one; SAC: critic, actor,
    temperature) — then the `after_update` callables `fn(batch, stats) -> dict | None` (DQN: priorities and
    the target copy; SAC: Polyak). A loss returns its extras in its stats (SAC's "new_log_prob", DQN's
    "td_errors"): names without a "/" are passed on to later steps and callbacks, not logged.

    `checkpointables` names what a checkpoint needs beyond what the core finds itself (the runner, its
    policy's RNG, stateful env wrappers: `rollout.state_objects`; a data source with state): modules, optimizers, the replay
    (optional: big), ... each with state_dict() / load_state_dict().
    """

    OPTIONAL = ("replay",)   # state a checkpoint may leave out (it is big); the Alg then refills it

    def __init__(self, runner: EnvRunner, data: DataSource, steps: list, summary=None,
                 checkpointables: dict | None = None, after_update: Iterable[Callable] = ()):
        self.runner, self.data, self.summary = runner, data, summary
        self.steps = list(steps)
        self.after_update = list(after_update)
        self.callbacks = []   # fn(step, metrics) -> True to stop, after each update phase (the train() API)
        self.num_updates = 0
        self.checkpointables = dict(checkpointables or {})
        self.checkpointables.setdefault("alg", _Counters(self))
        found = state_objects(runner)
        if hasattr(data, "state_dict") and hasattr(data, "load_state_dict"):
            found["data"] = data   # a data source holding state between rollouts (unfinished episodes)
        for name, obj in found.items():
            if not any(obj is known for known in self.checkpointables.values()):
                self.checkpointables.setdefault(name, obj)

    @property
    def step_count(self) -> int:
        return self.runner.step_count

    @property
    def policy(self):
        """The policy acting in the env (the EnvRunner's)."""
        return self.runner.policy

    def update(self, batch) -> dict:
        stats = {}
        for loss_fn, trainer in self.steps:
            if isinstance(loss_fn, Every) and not loss_fn.due():   # a delayed step (TD3's actor)
                continue
            loss, loss_stats = loss_fn(batch, {k: v for k, v in stats.items() if "/" not in k})
            stats.update(trainer.step(loss, loss_stats, self.step_count))
        for fn in self.after_update:
            stats.update(fn(batch, stats) or {})
        return stats

    def update_phase(self) -> dict:
        """Updates on every batch of one rollout; returns the phase's mean stats (tensors). One host sync:
        the finiteness check of every loss of the phase."""
        sums, counts, losses = {}, {}, []
        for batch in self.data.batches():
            self.num_updates += 1
            for key, value in self.update(batch).items():
                if "/" not in key:
                    if key.endswith(LOSS_KEYS):
                        losses.append((key, value))
                    continue
                sums[key] = sums[key] + value if key in sums else value
                counts[key] = counts.get(key, 0) + 1
        if losses:
            finite = torch.stack([v.float() for _, v in losses]).isfinite()
            if not bool(finite.all()):
                bad = sorted({k for (k, _), ok in zip(losses, finite.tolist()) if not ok})
                raise NonFiniteError(f"{', '.join(bad)} is not finite at step {self.step_count}")
        return {key: total / counts[key] for key, total in sums.items()}

    def learn(self, total_steps: int):
        """Trains until the runner has taken at least `total_steps` env steps, finishing the updates of the
        last rollout, or until a callback asks to stop; it stops at a clean point (before a rollout)."""
        stop = False
        while True:
            self.runner.clean_point()
            if stop or self.step_count >= total_steps:
                return
            stats = self.update_phase()
            if self.summary is not None:
                if stats:
                    self.summary.record(stats)
                self.summary.step(self.step_count)
            stop = any([bool(callback(self.step_count, stats)) for callback in self.callbacks])

    def state_dict(self) -> dict:
        return {name: obj.state_dict() for name, obj in self.checkpointables.items()}

    def load_state_dict(self, state: dict):
        for name, obj in self.checkpointables.items():
            if name in state:
                obj.load_state_dict(state[name])
            elif name not in self.OPTIONAL:
                raise KeyError(f"checkpoint has no state for '{name}'")
