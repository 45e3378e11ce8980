"""Generated spaces x every algorithm (derl_core.testing.observation_spaces / action_spaces / space_contract):
for each installed algorithm of derl's, a generated pair of spaces either trains a couple of updates, saves,
resumes and predicts, or is refused before training in one line naming the space and the algorithms that can.
A new algorithm joins by one entry in test_contract.ALGORITHMS (the same tiny budgets)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derl_core.plugins import registry

from derl_core.testing import action_spaces, observation_spaces, space_contract

from .test_contract import ALGORITHMS, installed

TINY = {"ppo": {"total_steps": 64, "num_envs": 2, "nsteps": 16},
        "a2c": {"total_steps": 40, "num_envs": 2},
        "dqn": {"total_steps": 64, "learning_starts": 16, "train_every": 16, "gradient_steps": 1, "batch_size": 8,
                "buffer_size": 256},
        "sac": {"total_steps": 48, "learning_starts": 16, "batch_size": 8, "buffer_size": 256, "net_arch": "16"},
        "qrdqn": {"total_steps": 64, "learning_starts": 16, "train_every": 16, "gradient_steps": 1, "batch_size": 8,
                  "buffer_size": 256, "n_quantiles": 3},
        "tqc": {"total_steps": 48, "learning_starts": 16, "batch_size": 8, "buffer_size": 256, "net_arch": "16",
                "n_critics": 2, "n_quantiles": 3, "top_quantiles_to_drop": 1},
        "crossq": {"total_steps": 48, "learning_starts": 16, "batch_size": 8, "buffer_size": 256, "net_arch": "16",
                   "critic_arch": "16"},
        "td3": {"total_steps": 48, "learning_starts": 16, "batch_size": 8, "buffer_size": 256, "net_arch": "16"}}


def test_every_algorithm_has_tiny_settings():
    assert set(installed()) <= set(TINY), f"add these to TINY: {set(installed()) - set(TINY)}"


def declared(strategy, kinds):
    """Half the draws from the kinds an algorithm declares (SAC takes Box actions only: uniform draws would
    almost always be refusals), half from everything."""
    return st.one_of(strategy, strategy.filter(lambda space: type(space).__name__ in kinds))


@pytest.mark.parametrize("alg", installed())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_spaces(alg, data, tmp_path_factory):
    spec = registry().algorithm(alg)
    observation = data.draw(declared(observation_spaces(), spec.observation_spaces), "observation space")
    action = data.draw(declared(action_spaces(), spec.action_spaces), "action space")
    logdir = tmp_path_factory.mktemp(alg) / "run"
    outcome = space_contract(alg, TINY[alg], observation, action, logdir)
    assert outcome in ("trained", "refused")


# --------------------------------------------------------------------------------------- the encoding rule
@settings(max_examples=150, deadline=None)
@given(space=observation_spaces(max_depth=0))
def test_the_encoding_rule(space):
    """docs/your-env.md's rule, whatever the dtype: a uint8 Box of rank 3 or 4 is an image (a CNN, divided by
    --image-scale); every other Box (integer, bool, float16/64, and uint8 of rank 0-2) is flattened to float32
    with its values as they are; Discrete and MultiDiscrete are one-hot (counted from `start`); MultiBinary
    is its 0/1 values."""
    import numpy as np
    import torch
    from derl_core.rl.models import NatureCNN, make_torso
    from derl_core.rl.spaces import kind
    if kind(space) not in ("Box", "Discrete", "MultiDiscrete", "MultiBinary"):
        return
    if kind(space) == "Box" and not (np.issubdtype(space.dtype, np.number) or space.dtype == np.bool_):
        return
    space.seed(0)
    obs = np.stack([np.asarray(space.sample()) for _ in range(2)])
    enc = make_torso(space, hidden=())   # the encoding alone, no hidden layer
    image = kind(space) == "Box" and space.dtype == np.uint8 and len(space.shape) in (3, 4)
    if image:
        assert isinstance(enc, NatureCNN)
        return
    out = enc(torch.as_tensor(obs))
    assert out.dtype == torch.float32 and out.shape[0] == 2
    if kind(space) in ("Box", "MultiBinary"):
        expected = obs.reshape(2, -1).astype(np.float32)
        assert np.array_equal(out.numpy(), expected, equal_nan=True)   # no scaling, whatever the dtype
    elif kind(space) == "Discrete":
        assert np.array_equal(out.numpy().argmax(1), obs - space.start) and np.all(out.numpy().sum(1) == 1)
    else:
        nvec = space.nvec.ravel()
        assert out.shape[1] == nvec.sum() and np.all(out.numpy().sum(1) == len(nvec))
