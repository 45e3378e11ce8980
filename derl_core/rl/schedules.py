"""Schedules read the EnvRunner's step count: the one clock for annealing and summaries."""
from __future__ import annotations


class Schedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError


class Constant(Schedule):
    def __init__(self, value: float):
        self.value = value

    def __call__(self, step):
        return self.value

    def __repr__(self):
        return f"Constant({self.value})"


class Linear(Schedule):
    """`start` at step 0, `end` at step `nsteps`, `end` afterwards."""

    def __init__(self, start: float, end: float, nsteps: int):
        self.start, self.end, self.nsteps = start, end, max(int(nsteps), 1)

    def __call__(self, step):
        frac = min(step / self.nsteps, 1.0)
        return self.start + frac * (self.end - self.start)

    def __repr__(self):
        return f"Linear({self.start} -> {self.end} over {self.nsteps})"


def linear_or_constant(value: float, anneal: bool, nsteps: int, end: float = 0.0) -> Schedule:
    return Linear(value, end, nsteps) if anneal else Constant(value)
