"""TD3: the delay, target smoothing, DDPG as its special case, actions within the env's bounds."""
import gymnasium as gym
import numpy as np
import torch

from derl_core import Every, TwinQ, train
from derl_core.testing import invoke, read_metrics
from derl_td3.td3 import Actor, TD3Policy


def test_every_runs_a_step_on_every_nth_call():
    step = Every(3, lambda: "ran")
    assert [step.due() for _ in range(7)] == [True, False, False, True, False, False, True]
    again = Every(3, None)
    again.load_state_dict(step.state_dict())
    assert again.due() == step.due()


def test_the_actor_moves_every_policy_delay_critic_steps(tmp_path):
    """With --policy-delay 2 the actor's optimizer steps on every second critic step (the first included)."""
    run = train("td3", "Pendulum-v1", total_steps=20, learning_starts=16, batch_size=8, net_arch="8",
                policy_delay=2, logdir=str(tmp_path / "r"))
    from derl_core.run import checkpoint as ckpt
    _, state = ckpt.newest_intact(run)
    alg = state["alg"]
    n = alg["actor_delay"]["count"]   # gradient steps taken (one per env step after the warm-up)
    assert n >= 4 and alg["target_delay"]["count"] == n
    actor_steps = {int(s["step"]) for s in alg["actor_optimizer"]["state"].values()}
    critic_steps = {int(s["step"]) for s in alg["critic_optimizer"]["state"].values()}
    assert actor_steps == {(n + 1) // 2} and critic_steps == {n}


def test_ddpg_is_td3_with_its_additions_off(tmp_path):
    run = train("td3", "Pendulum-v1", total_steps=300, learning_starts=100, net_arch="16", twin=False,
                policy_delay=1, policy_noise=0.0, logdir=str(tmp_path / "r"))
    names = {k for row in read_metrics(run) for k in row}
    assert "losses/qf1_loss" in names and "losses/qf2_loss" not in names
    assert TwinQ(3, 1, (8,), n=1)(torch.zeros(5, 3), torch.zeros(5, 1)).shape == (1, 5)


def test_actions_are_within_the_bounds_and_random_during_warmup():
    space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 10.0], np.float32))
    clock = {"t": 0}
    policy = TD3Policy(Actor(3, 2, (16,)), space, 100, 0.5, lambda: clock["t"], seed=0)
    warm = policy.act(np.zeros((500, 3), np.float32)).actions
    assert warm.min(0)[0] < -1.5 and warm.max(0)[1] > 9
    clock["t"] = 200
    acts = policy.act(np.random.randn(200, 3).astype(np.float32)).actions
    assert ((acts >= space.low) & (acts <= space.high)).all() and acts.dtype == np.float32
    det = policy.act(np.zeros((2, 3), np.float32), deterministic=True).actions
    assert np.allclose(det[0], det[1])


def test_discrete_actions_are_one_line(tmp_path):
    result = invoke(["td3", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r"])
    assert result.exit_code == 2 and "td3 cannot handle Discrete actions" in result.stderr
    assert "algorithms that can: a2c, dqn, ppo" in result.stderr
