"""Alg uses an EnvRunner and performs updates; the loss lives in an AlgLoss; Trainer steps an optimizer."""
from __future__ import annotations

import math

import torch

from .schedules import Constant, Schedule


class NonFiniteError(RuntimeError):
    """A loss term or a parameter became NaN or inf."""


class AlgLoss:
    """`loss(batch)` returns (scalar loss tensor, {summary name: detached tensor or float})."""

    def __call__(self, batch):
        raise NotImplementedError


class Trainer:
    """Sets the scheduled learning rate, backpropagates, clips the global grad norm, steps, checks."""

    def __init__(self, optimizer: torch.optim.Optimizer, lr: Schedule | float,
                 max_grad_norm: float | None = None, prefix: str = ""):
        self.optimizer = optimizer
        self.lr = lr if isinstance(lr, Schedule) else Constant(lr)
        self.max_grad_norm = max_grad_norm
        self.prefix = prefix
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def step(self, loss: torch.Tensor, stats: dict, step_count: int) -> dict:
        stats = {key: float(value.detach() if isinstance(value, torch.Tensor) else value)
                 for key, value in stats.items()}
        if not torch.isfinite(loss):
            bad = [key for key, value in stats.items() if not math.isfinite(value)] or ["the total loss"]
            raise NonFiniteError(f"{self.prefix}loss is not finite at step {step_count} ({', '.join(bad)})")
        lr = self.lr(step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
            stats["losses/grad_norm"] = float(norm)
        self.optimizer.step()
        stats[f"charts/{self.prefix}learning_rate"] = lr
        return stats


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
        if self.count % self.every == 0:
            self.target.load_state_dict(self.model.state_dict())

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class _Done(Exception):
    pass


class _Counters:
    def __init__(self, alg):
        self.alg = alg

    def state_dict(self):
        return {"num_updates": self.alg.num_updates}

    def load_state_dict(self, state):
        self.alg.num_updates = int(state["num_updates"])


class Alg:
    """Pulls batches from the runner and updates until `total_steps` env steps.

    The one extension point for updates, on-policy and off-policy alike: `steps`, a list of (AlgLoss, Trainer)
    pairs applied in order to each batch (A2C/PPO: one; SAC: critic, actor, temperature), then the
    `after_update` callables `fn(batch, stats) -> dict | None` (DQN: priorities and the target copy; SAC: the
    Polyak average). A loss may leave per-sample values in the batch dict for a later step or callback
    (DQN's "td_errors", SAC's "new_log_prob"). `trainer, loss` is shorthand for `steps=[(loss, trainer)]`.

    `checkpointables` names the objects a checkpoint needs beyond what the core finds itself (the runner,
    its policy's RNG, stateful runner and env wrappers: `runners.state_objects`): modules, optimizers, the
    replay (optional: big), ... each with state_dict() / load_state_dict().
    """

    def __init__(self, runner, trainer: Trainer | None = None, loss: AlgLoss | None = None, summary=None,
                 checkpointables: dict | None = None, steps: list | None = None, after_update=()):
        from .runners import state_objects
        self.runner, self.summary = runner, summary
        self.steps = list(steps) if steps is not None else ([(loss, trainer)] if loss is not None else [])
        self.after_update = list(after_update)
        self.num_updates = 0
        self.checkpointables = dict(checkpointables or {})
        self.checkpointables.setdefault("alg", _Counters(self))
        for name, obj in state_objects(runner).items():
            if not any(obj is known for known in self.checkpointables.values()):
                self.checkpointables.setdefault(name, obj)

    @property
    def step_count(self) -> int:
        return self.runner.step_count

    @property
    def policy(self):
        """The policy acting in the env (the EnvRunner's)."""
        return self.runner.unwrapped.policy

    def update(self, batch) -> dict:
        stats = {}
        for loss_fn, trainer in self.steps:
            loss, loss_stats = loss_fn(batch)
            stats.update(trainer.step(loss, loss_stats, self.step_count))
        for fn in self.after_update:
            stats.update(fn(batch, stats) or {})
        return stats

    def learn(self, total_steps: int):
        """Trains until the runner has taken at least `total_steps` env steps, finishing the updates of the
        last rollout: it stops at the runner's next clean point (before a rollout)."""
        runner = self.runner.unwrapped

        def stop(r):
            if r.step_count >= total_steps:
                raise _Done

        runner.hooks.append(stop)
        last = self.step_count
        try:
            for batch in self.runner.run():
                self.num_updates += batch is not None
                stats = self.update(batch) if batch is not None else None
                if self.summary is not None and stats:
                    self.summary.record(stats)
                step = self.step_count
                if step != last and self.summary is not None:
                    last = step
                    self.summary.step(step)
        except _Done:
            pass
        finally:
            runner.hooks.remove(stop)

    def state_dict(self) -> dict:
        return {name: obj.state_dict() for name, obj in self.checkpointables.items()}

    OPTIONAL = ("replay",)   # state a checkpoint may leave out (it is big); the Alg then refills it

    def load_state_dict(self, state: dict):
        for name, obj in self.checkpointables.items():
            if name in state:
                obj.load_state_dict(state[name])
            elif name not in self.OPTIONAL:
                raise KeyError(f"checkpoint has no state for '{name}'")
