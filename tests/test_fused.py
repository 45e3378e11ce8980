"""The fast paths are the plain ones, to the bit: each is checked here against the straightforward code it
replaced (same actions, same losses, same gradients for the same seed)."""
import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from derl_core.rl.alg import CopyTarget, clip_grad_norm, soft_update
from derl_core.rl.models import MLP, mlp
from derl_core.rl.policy import actor_critic_policy, to_numpy
from derl_core.rl.rollout import EnvRunner, RolloutBatch
from derl_core.rl.spaces import env_actions, tree_map, tree_set, tree_stack


def test_mlp_forward_is_the_sequential_forward():
    torch.manual_seed(0)
    fast = mlp([5, 32, 32, 3], nn.Tanh, nn.ReLU)
    plain = nn.Sequential(*fast)
    assert isinstance(fast, MLP) and list(fast.state_dict()) == list(plain.state_dict())
    x = torch.randn(17, 5)
    assert torch.equal(fast(x), plain(x))


def reference_ppo_loss(policy, batch, clip, value_coef, entropy_coef, normalize=True):
    """PPOLoss before the fast path: max of the negated surrogates, the entropy always in the graph."""
    new = policy.evaluate(batch.observations, batch.actions)
    log_ratio = new.log_prob - batch.log_prob
    ratio = log_ratio.exp()
    adv = batch.advantages
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    value_loss = 0.5 * (new.values - batch.value_targets).pow(2).mean()
    return policy_loss + value_coef * value_loss - entropy_coef * new.entropy.mean()


@pytest.mark.parametrize("entropy_coef", [0.0, 0.01])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_ppo_loss_and_gradients_equal_the_plain_loss(env_id, entropy_coef):
    from derl_ppo.ppo import PPOLoss
    env = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * 2)
    torch.manual_seed(1)
    policy = actor_critic_policy(env, shared=False)
    twin = copy.deepcopy(policy)
    loss = PPOLoss(policy, lambda step: 0.2, 0.5, entropy_coef, clip_value_loss=False)
    gen = torch.Generator().manual_seed(2)
    obs_dim = env.single_observation_space.shape[0]
    for _ in range(3):   # new batches, and the same batch again (the cached rollout terms)
        n = 64
        actions = (torch.randint(0, 2, (n,), generator=gen) if env_id == "CartPole-v1"
                   else torch.randn(n, 1, generator=gen))
        batch = RolloutBatch(torch.randn(n, obs_dim, generator=gen), actions, torch.randn(n, generator=gen) - 1,
                             torch.randn(n, generator=gen), torch.randn(n, generator=gen),
                             torch.randn(n, generator=gen))
        for _ in range(2):
            for p in list(policy.model.parameters()) + list(twin.model.parameters()):
                p.grad = None
            fast, _ = loss(batch)
            plain = reference_ppo_loss(twin, batch, 0.2, 0.5, entropy_coef)
            fast.backward()
            plain.backward()
            assert torch.equal(fast, plain)
            for a, b in zip(policy.model.parameters(), twin.model.parameters()):
                assert torch.equal(a.grad, b.grad)


def test_clip_grad_norm_is_torchs():
    torch.manual_seed(3)
    nets = [mlp([4, 64, 64, 2]) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.randn(32, 4)
    for net in nets:
        (net(x) ** 2).sum().mul(100).backward()
    ours = clip_grad_norm(list(nets[0].parameters()), 0.5)
    theirs = torch.nn.utils.clip_grad_norm_(list(nets[1].parameters()), 0.5)
    assert torch.equal(ours, theirs) and ours > 0.5   # it clipped
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a.grad, b.grad)


def test_soft_update_and_target_copy_equal_the_per_parameter_ops():
    torch.manual_seed(4)
    source, target = mlp([3, 16, 1]), mlp([3, 16, 1])
    plain = copy.deepcopy(target)
    soft_update(target, source, 0.005)
    with torch.no_grad():
        for t, s in zip(plain.parameters(), source.parameters()):
            t.lerp_(s, 0.005)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), plain.parameters()))
    model = nn.BatchNorm1d(3)   # buffers too: a state-dict copy
    model(torch.randn(8, 3))
    other = nn.BatchNorm1d(3)
    CopyTarget(model, other, every=1)(None, {})
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


def test_one_transfer_packing_is_exact():
    actions = torch.tensor([[3, 0], [1, 2]])
    log_prob, values = torch.randn(2), torch.randn(2)
    box = torch.randn(2, 3, dtype=torch.float32)
    for tensors in ((actions, log_prob, values), (box, log_prob, values)):
        packed, plain = to_numpy(*tensors, pack=True), to_numpy(*tensors, pack=False)
        for a, b in zip(packed, plain):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def plain_collect(runner, nsteps):
    """EnvRunner's collection before it wrote in place: lists of steps, stacked at the end."""
    steps = []
    for _ in range(nsteps):
        pred = runner.policy.act(runner.obs)
        next_obs, rewards, terminated, truncated, infos = runner.env.step(env_actions(runner.action_space,
                                                                                     pred.actions))
        real_next = next_obs
        if "_final_obs" in infos and infos["_final_obs"].any():
            real_next = tree_map(np.copy, next_obs)
            for i in np.flatnonzero(infos["_final_obs"]):
                tree_set(real_next, i, infos["final_obs"][i])
        steps.append((runner.obs, pred, rewards, terminated, truncated, real_next))
        runner.obs = next_obs
    obs, preds, rewards, terminated, truncated, real_next = zip(*steps)
    return dict(observations=tree_stack(obs), actions=np.stack([p.actions for p in preds]),
                rewards=np.stack(rewards), terminated=np.stack(terminated), truncated=np.stack(truncated),
                next_observations=tree_stack(real_next), log_prob=np.stack([p.log_prob for p in preds]),
                values=np.stack([p.values for p in preds]))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_in_place_rollouts_equal_stacked_ones(env_id):
    """Episodes end inside the rollouts (CartPole terminates, Pendulum truncates at 200)."""
    def make():
        env = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * 3,
                                       autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        torch.manual_seed(5)
        return EnvRunner(env, actor_critic_policy(env), nsteps=250, seed=6)
    fast, plain = make(), make()
    torch.manual_seed(7)
    got = [fast.collect() for _ in range(2)]
    fast_latest = fast.obs
    torch.manual_seed(7)
    plain.reset()
    want = [plain_collect(plain, 250) for _ in range(2)]
    assert sum(int(r.terminated.sum() + r.truncated.sum()) for r in got) > 0
    for g, w in zip(got, want):
        for name, value in w.items():
            mine = getattr(g, name)
            assert mine.dtype == value.dtype and np.array_equal(mine, value), name
    assert np.array_equal(fast_latest, plain.obs) and np.array_equal(got[-1].latest_observations, plain.obs)


def test_compile_trains_checkpoints_and_loads_like_a_plain_run(tmp_path):
    """--compile compiles the networks in place: the checkpoint's keys are the plain run's, and the run loads,
    predicts and resumes."""
    from derl_core import load, train
    from derl_core.run import checkpoint as ckpt
    common = dict(total_steps=512, num_envs=2, nsteps=64, num_epochs=1, seed=1, checkpoint_every=256)
    plain = train("ppo", "CartPole-v1", logdir=str(tmp_path / "plain"), **common)
    compiled = train("ppo", "CartPole-v1", logdir=str(tmp_path / "compiled"), compile=True, **common)
    a = ckpt.load(ckpt.list_checkpoints(plain)[-1])["alg"]["model"]
    b = ckpt.load(ckpt.list_checkpoints(compiled)[-1])["alg"]["model"]
    assert list(a) == list(b) and not any("_orig_mod" in k for k in b)
    agent = load(compiled)
    assert int(agent.predict(np.zeros(4, np.float32), deterministic=True)) in (0, 1)
