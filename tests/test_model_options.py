"""Model options (derl_core.model_options): each reaches the module, defaults build today's networks, bad
values get one line and exit 2 before any run directory exists."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from derl_core import config
from derl_core.plugins import registry
from derl_core.rl.models import NatureCNN, make_torso
from derl_core.run.record import RunRecord, resolve_options

from .conftest import run_derl


def build(alg, env_id, **overrides):
    reg = registry()
    spec, family = reg.algorithm(alg), reg.family_for(env_id)
    hparams = config.resolve(spec, reg.defaults_chain(family.name), {k: str(v) for k, v in overrides.items()})
    from derl_core.spec import load_object
    env = gym.vector.SyncVectorEnv([lambda: gym.wrappers.RecordEpisodeStatistics(gym.make(env_id))]
                                   * hparams["num_envs"], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    return load_object(spec.factory)(**hparams).make(env, seed=0), env


def linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("alg", ["ppo", "a2c"])
def test_options_reach_the_module(alg):
    alg_, _ = build(alg, "Pendulum-v1", net_arch="32,16", critic_arch="8", activation="relu", ortho_init="false",
                    log_std_init=-2)
    model = alg_.policy.model
    assert [m.out_features for m in linears(model.actor_torso)] == [32, 16]
    assert [m.out_features for m in linears(model.critic_torso)] == [8]
    assert any(isinstance(m, nn.ReLU) for m in model.modules()) and not any(isinstance(m, nn.Tanh)
                                                                           for m in model.modules())
    assert torch.equal(model.log_std.detach(), torch.full((1,), -2.0))
    assert model.policy_head.bias.abs().sum() > 0   # torch's default init: orthogonal init zeroes biases


def test_defaults_are_todays_network():
    alg_, _ = build("ppo", "CartPole-v1")
    model = alg_.policy.model
    assert [m.out_features for m in linears(model.actor_torso)] == [64, 64]
    assert all(isinstance(m, nn.Tanh) for m in model.actor_torso if not isinstance(m, nn.Linear))
    assert model.policy_head.bias.abs().sum() == 0   # orthogonal, biases zero


def test_head_gains():
    torch.manual_seed(0)
    a, _ = build("ppo", "CartPole-v1", policy_init_gain=1.0)
    b, _ = build("ppo", "CartPole-v1")
    assert a.policy.model.policy_head.weight.abs().mean() > 10 * b.policy.model.policy_head.weight.abs().mean()


@pytest.mark.parametrize("raw, scale", [("auto", 255.0), ("none", None), ("10", 10.0)])
def test_image_scale(raw, scale):
    from derl_core.model_options import parse_image_scale
    space = gym.spaces.Box(0, 255, (7, 7, 3), np.uint8)   # MiniGrid's ImgObsWrapper: small integer codes
    torso = make_torso(space, None, image_scale=parse_image_scale(raw))
    assert isinstance(torso, NatureCNN) and torso.scale == scale
    x = torch.full((2, 7, 7, 3), 5, dtype=torch.uint8)
    torch.manual_seed(1)
    ref = make_torso(space, None, image_scale=None)
    ref.load_state_dict(torso.state_dict())
    out, raw_out = torso(x), ref(x)
    assert torch.equal(out, raw_out) == (scale is None)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float16, np.bool_])
def test_integer_and_half_vectors_are_encoded_as_floats(dtype):
    """A 1-D uint8 Box (MiniGrid's FlatObsWrapper) crashed the plain-vector path (Byte input to a Linear)."""
    space = gym.spaces.Box(0, 1 if dtype is np.bool_ else 100, (6,), dtype)
    torso = make_torso(space, (8,))
    out = torso(torch.as_tensor(np.stack([space.sample() for _ in range(3)])))
    assert out.shape == (3, 8) and out.dtype == torch.float32


@pytest.mark.parametrize("flag, value, says", [
    ("--net-arch", "0", "--net-arch sizes"), ("--net-arch", "64,x", "--net-arch must be sizes"),
    ("--critic-arch", "-3", "--critic-arch"), ("--activation", "swish", "--activation must be one of"),
    ("--image-scale", "-1", "--image-scale"), ("--image-scale", "pixels", "--image-scale"),
])
def test_bad_options_one_line_exit_2_no_run_dir(tmp_path, flag, value, says):
    res = run_derl(["ppo", "--env-id", "CartPole-v1", flag, value, "--logdir", tmp_path / "run"])
    assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "run").exists()


def test_records_made_before_the_options_still_validate():
    """config.json and checkpoints of runs made before the model options hold none: their defaults apply."""
    reg = registry()
    spec = reg.algorithm("ppo")
    from derl_core.model_options import NAMES
    hparams = config.resolve(spec, reg.defaults_chain("classic"), {})
    old = {k: v for k, v in hparams.items() if k not in NAMES}
    record = RunRecord("ppo", "CartPole-v1", 1, old, resolve_options({}), "classic")
    record.validate(reg)
    assert record.hyperparameters == hparams
    from derl_core.run import checkpoint as ckpt
    saved = ckpt.fingerprint(RunRecord("ppo", "CartPole-v1", 1, old))
    assert ckpt.differences(saved, ckpt.fingerprint(record)) == []


def test_dqn_options_reach_the_q_network():
    alg_, _ = build("dqn", "CartPole-v1", net_arch="32", activation="elu", ortho_init="true")
    model = alg_.policy.model
    assert [m.out_features for m in linears(model.torso)] == [32]
    assert any(isinstance(m, nn.ELU) for m in model.modules())
    assert model.advantage.bias.abs().sum() == 0   # orthogonal init zeroes biases
    default, _ = build("dqn", "CartPole-v1")
    assert [m.out_features for m in linears(default.policy.model.torso)] == [256, 256]


def test_sac_options_reach_actor_and_critics():
    alg_, _ = build("sac", "Pendulum-v1", net_arch="64", critic_arch="16,16", activation="silu")
    actor, critic = alg_.checkpointables["actor"], alg_.checkpointables["critic"]
    assert [m.out_features for m in linears(actor.body)] == [64]
    assert [m.out_features for m in linears(critic.q1)] == [16, 16, 1]
    assert any(isinstance(m, nn.SiLU) for m in critic.modules())


def test_each_algorithm_offers_only_the_options_its_networks_have():
    reg = registry()
    names = {alg: {h.name for h in reg.algorithm(alg).hyperparameters} for alg in ("dqn", "sac")}
    assert "log_std_init" not in names["dqn"] and "critic_arch" not in names["dqn"] and "image_scale" in names["dqn"]
    assert "log_std_init" not in names["sac"] and "hidden_size" not in names["sac"]


def test_sac_records_with_hidden_size_validate_as_net_arch():
    reg = registry()
    spec = reg.algorithm("sac")
    now = config.resolve(spec, reg.defaults_chain("classic"), {"net_arch": "128,128"})
    old = {k: v for k, v in now.items() if k not in ("net_arch", "critic_arch", "activation", "ortho_init")}
    old["hidden_size"] = 128
    record = RunRecord("sac", "Pendulum-v1", 1, old, resolve_options({}), "classic")
    record.validate(reg)
    assert record.hyperparameters == now


@pytest.mark.parametrize("arch, side", [("impala", 64), ("small", 84), ("nature", 84), ("impala", 7)])
def test_encoder_choice(arch, side):
    space = gym.spaces.Box(0, 255, (side, side, 3), np.uint8)
    torso = make_torso(space, None, encoder=arch)
    assert torso.arch == arch and torso.out_features == (256 if arch == "impala" else 512)
    out = torso(torch.as_tensor(np.stack([space.sample() for _ in range(2)])))
    assert out.shape == (2, torso.out_features)
    if arch == "impala":
        assert sum(isinstance(m, nn.MaxPool2d) for m in torso.modules()) == 3


def test_nature_encoder_on_small_images_is_one_line(tmp_path):
    """MiniGrid-sized images are too small for the Nature CNN's 8x8 stride-4 layer."""
    res = run_derl(["ppo", "--env-id", "tests.own_envs:PixelCue-v0", "--encoder", "nature", "--total-steps",
                    "256", "--logdir", tmp_path / "r"])
    assert res.returncode == 2 and "--encoder nature needs images of at least 36" in res.stderr, res.stderr
