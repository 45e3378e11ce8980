"""`from derl_core import train`: a run from Python with the command line's names.

    from derl_core import train
    run_dir = train("ppo", "CartPole-v1", logdir="runs/cp", total_steps=50_000, learning_rate=3e-4,
                    eval_every=10_000, stop_at_return=475, callbacks=[my_callback])

Keyword arguments are the algorithm's hyperparameters and the run options of `derl ALG -h`, in snake_case
(`--learning-rate` is `learning_rate`), each checked as on the command line (`env_kwargs` may be a dict). A callback is called after
every update as `callback(step, metrics)` (metrics: that update's losses and statistics, tensors or
floats) and stops the run by returning True: it stops at a clean point and saves a checkpoint."""
from __future__ import annotations

import difflib

from ..errors import BadInput
from ..plugins import registry as default_registry
from .record import OPTIONS
from .session import train as train_run

OWN = ("logdir", "seed", "device", "envs_per_worker")   # run options train_run takes as arguments


def train(algorithm: str, env_id: str, *, callbacks=(), progress: bool = False, registry=None, **kwargs) -> str:
    """Trains a new run and returns its directory (see the module's docstring)."""
    registry = registry or default_registry()
    spec = registry.algorithm(algorithm)
    names = {hp.name for hp in spec.hyperparameters}
    hparams = {k: v for k, v in kwargs.items() if k in names}
    own = {k: v for k, v in kwargs.items() if k in OWN}
    options = {k: v for k, v in kwargs.items() if k not in names and k not in OWN and k in OPTIONS}
    unknown = sorted(set(kwargs) - set(hparams) - set(own) - set(options))
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(names | set(OPTIONS)), n=1)
        raise BadInput(f"train(): {algorithm} has no hyperparameter or run option '{unknown[0]}'"
                       f"{f' (did you mean {close[0]!r}?)' if close else ''}")
    if isinstance(options.get("env_kwargs"), dict):   # Python's own form of --env-kwargs' JSON object
        import json
        options["env_kwargs"] = json.dumps(options["env_kwargs"])
    for name, cb in enumerate(callbacks):
        if not callable(cb):
            raise BadInput(f"train(): callbacks[{name}] is not callable")
    return train_run(registry, algorithm, env_id, hparams, callbacks=callbacks, progress=progress,
                     **own, **options)
