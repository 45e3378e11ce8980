import numpy as np

from derl_core.rl.rollout import Rollout, gae


class FixedValues:
    """values(obs) = obs[..., 0]: lets the test pick every bootstrap value."""

    def values(self, obs):
        return np.asarray(obs, dtype=np.float32)[..., 0]


def hand_gae(rewards, values, next_values, dones, gamma, lam):
    adv, gae = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] - values[t]
        gae = delta + gamma * lam * (1 - dones[t]) * gae
        adv[t] = gae
    return adv


def test_gae_truncated_bootstraps_terminated_does_not():
    gamma, lam = 0.9, 0.8
    # one env, 5 steps: step 1 truncated (real last obs has value 7), step 3 terminated (its obs value 100
    # must be ignored); latest obs has value 4.
    rewards = np.array([[1.0], [2.0], [0.5], [1.0], [3.0]], dtype=np.float32)
    values = np.array([[0.5], [1.0], [2.0], [1.5], [0.2]], dtype=np.float32)
    terminated = np.array([[False], [False], [False], [True], [False]])
    truncated = np.array([[False], [True], [False], [False], [False]])
    next_obs = np.zeros((5, 1, 1), dtype=np.float32)
    next_obs[1, 0, 0] = 7.0
    next_obs[3, 0, 0] = 100.0
    rollout = Rollout(np.zeros((5, 1, 1), np.float32), np.zeros((5, 1)), rewards, terminated, truncated, next_obs,
                      np.array([[4.0]], dtype=np.float32), values=values)
    advantages, targets = gae(rollout, FixedValues().values, gamma, lam)
    out = {"advantages": advantages, "value_targets": targets}
    # by hand: next values are V(s_{t+1}) inside an episode, 7 at the truncation, 0 at termination, 4 at the end
    next_values = [1.0, 7.0, 1.5, 0.0, 4.0]
    dones = [0, 1, 0, 1, 0]
    expected = hand_gae(rewards[:, 0], values[:, 0], next_values, dones, gamma, lam)
    np.testing.assert_allclose(out["advantages"][:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(out["value_targets"][:, 0], np.array(expected) + values[:, 0], rtol=1e-6)
    # spot-check one number fully by hand: step 1 is truncated: delta = 2 + 0.9*7 - 1 = 7.3, no carry-over
    assert abs(out["advantages"][1, 0] - 7.3) < 1e-5
    # step 3 terminated: delta = 1 + 0 - 1.5 = -0.5
    assert abs(out["advantages"][3, 0] - (-0.5)) < 1e-6


def test_gae_lambda_one_is_nstep_return():
    gamma = 0.5
    rewards = np.array([[1.0], [1.0], [1.0]], dtype=np.float32)
    values = np.zeros((3, 1), dtype=np.float32)
    f = np.zeros((3, 1), dtype=bool)
    rollout = Rollout(np.zeros((3, 1, 1), np.float32), np.zeros((3, 1)), rewards, f, f,
                      np.zeros((3, 1, 1), np.float32), np.array([[8.0]], dtype=np.float32), values=values)
    _, targets = gae(rollout, FixedValues().values, gamma, 1.0)
    out = {"value_targets": targets}
    # 1 + .5 + .25 + .125 * 8
    assert abs(out["value_targets"][0, 0] - 2.75) < 1e-6
