"""`derl export RUN --out policy.onnx` (or `policy.pt`, TorchScript): the deterministic policy as one module,
observations in, env actions out, with the run's observation normalisation and the action mapping (Box
bounds, Discrete `start`) inside — what `load(RUN).predict(obs)` computes, with no derl at the other end.

    import onnxruntime; s = onnxruntime.InferenceSession("policy.onnx")
    actions = s.run(None, {"obs": batch_of_observations})[0]
    import torch; m = torch.jit.load("policy.pt"); actions = m(torch.as_tensor(batch_of_observations))

Observations are one array per batch (Box, Discrete, MultiDiscrete, MultiBinary spaces): Dict and Tuple
observations are refused (ONNX has no dict inputs; use `load` from Python)."""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..errors import BadInput, first_line
from ..rl.spaces import kind
from . import rundir
from .agent import Agent, load

SUFFIXES = (".onnx", ".pt")


class Deployed(nn.Module):
    """Observations (a batch, the env's dtype) -> env actions, in torch ops only."""

    def __init__(self, agent: Agent):
        super().__init__()
        self.model, self.policy = agent.policy.model, agent.policy
        affines = [a for a in (n.affine() for n in agent.normalizers) if a is not None]   # None: obs left as is
        if len(affines) > 1:
            raise BadInput("export: the run has more than one observation normaliser")
        self.normalized = bool(affines)
        mean, std, clip = affines[0] if affines else (0.0, 1.0, 0.0)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))
        self.clip = float(clip)
        space = agent.action_space
        self.kind, self.shape = kind(space), tuple(space.shape or ())
        if self.kind == "Box":
            self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))
        start = np.asarray(getattr(space, "start", 0), np.int64)
        self.register_buffer("start", torch.as_tensor(start))
        self.shift = bool(start.any())

    def forward(self, obs):
        if self.normalized:
            obs = ((obs.float() - self.mean) / self.std).clamp(-self.clip, self.clip)
        elif obs.dtype == torch.float64:
            obs = obs.float()
        actions = self.policy.deterministic(obs)
        if self.kind == "Box":
            return torch.minimum(torch.maximum(actions, self.low), self.high)
        if self.shift:
            actions = actions + self.start
        if self.kind == "MultiBinary":
            actions = actions.reshape(-1, *self.shape)
        return actions


def module(agent: Agent) -> Deployed:
    if kind(agent.observation_space) in ("Dict", "Tuple"):
        raise BadInput(f"derl export takes single-array observations; {kind(agent.observation_space)} "
                       "observations cannot be exported yet (use derl_core.load from Python)")
    return Deployed(agent).eval()


INPUT_DTYPES = ("auto", "float32", "float64", "native")


def input_dtype(space, choice: str = "auto") -> np.dtype:
    """--input-dtype: the dtype the exported graph takes. auto: float32 for float observation spaces (float16,
    float32, float64: what TensorRT, ONNX Runtime Web and Core ML want; cast inside the graph), the space's own
    dtype otherwise (uint8 images stay uint8); native: the space's dtype; float32 / float64: that."""
    if choice not in INPUT_DTYPES:
        raise BadInput(f"--input-dtype must be one of {', '.join(INPUT_DTYPES)}, got {choice!r}")
    native = np.dtype(space.dtype)
    if choice == "native":
        return native
    if choice == "auto":
        return np.dtype(np.float32) if native.kind == "f" else native
    return np.dtype(choice)


def example(agent: Agent, batch: int = 2, dtype=None) -> torch.Tensor:
    space = agent.observation_space
    space.seed(0)
    x = np.stack([np.asarray(space.sample()) for _ in range(batch)])
    return torch.as_tensor(x if dtype is None else x.astype(dtype))


def export(run_dir: str, out: str, checkpoint: str | None = None, registry=None, echo=print,
           dtype: str = "auto") -> str:
    """Writes the run's policy to `out` (.onnx or .pt), a file that must not exist yet, taking observations of
    `dtype` (--input-dtype)."""
    if dtype not in INPUT_DTYPES:
        raise BadInput(f"--input-dtype must be one of {', '.join(INPUT_DTYPES)}, got {dtype!r}")
    with rundir.output(out, "--out", SUFFIXES) as tmp:
        agent, taken = _export(run_dir, tmp, checkpoint, registry, dtype)
    echo(f"exported {run_dir} ({os.path.basename(agent.checkpoint)}) to {out}: observations "
         f"{agent.observation_space} in (as {taken}), {agent.action_space} actions out")
    return out


def _export(run_dir: str, out: str, checkpoint, registry, dtype: str = "auto") -> tuple:
    agent = load(run_dir, checkpoint, registry)
    deployed = module(agent)
    taken = input_dtype(agent.observation_space, dtype)
    x = example(agent, dtype=taken)
    try:
        with torch.no_grad():
            if out.lower().endswith(".onnx"):
                _onnx(deployed, x, out)
            else:
                torch.jit.trace(deployed, x, check_trace=False).save(out)
    except NotImplementedError:
        raise BadInput(f"the {agent.config['algorithm']} plugin's policy has no deterministic() "
                       "method: it cannot be exported") from None
    return agent, taken


def _onnx(deployed, x, out: str):
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise BadInput("ONNX export needs the export extra: pip install 'derl[export]'") from None
    try:   # the TorchScript-based exporter: the dynamo one needs onnxscript
        torch.onnx.export(deployed, (x,), out, input_names=["obs"], output_names=["actions"],
                          dynamic_axes={"obs": {0: "batch"}, "actions": {0: "batch"}}, dynamo=False)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise BadInput(f"ONNX export failed: {type(exc).__name__}: {first_line(exc, 200)}") from None
