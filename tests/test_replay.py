import gymnasium as gym
import numpy as np
import pytest

from derl_core.rl.replay import ReplayStorage, SumTree
from derl_core.rl.rollout import Rollout


def test_sum_tree_sampling_frequencies_match_priorities():
    tree = SumTree(5)
    priorities = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    tree.update(np.arange(5), priorities)
    assert tree.total == 10.0
    rng = np.random.default_rng(0)
    n = 200_000
    leaves = tree.find(rng.uniform(0, tree.total, n))
    freq = np.bincount(leaves, minlength=5) / n
    np.testing.assert_allclose(freq, priorities / 10.0, atol=0.005)
    assert freq[2] == 0.0   # zero priority is never drawn
    # chi-square against the expected counts (4 degrees of freedom minus the empty cell: 3; p=0.001 at 16.3)
    expected = priorities[[0, 1, 3, 4]] / 10.0 * n
    chi2 = (((np.bincount(leaves, minlength=5)[[0, 1, 3, 4]] - expected) ** 2) / expected).sum()
    assert chi2 < 16.3


def test_sum_tree_update_changes_totals():
    tree = SumTree(8)
    tree.update([0, 1, 2], [1.0, 1.0, 1.0])
    tree.update([1], [5.0])
    assert tree.total == 7.0
    assert list(tree.find([0.5, 1.5, 5.9, 6.5])) == [0, 1, 1, 2]


def vector_space(dim=1):
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)


def rollout_from(obs_seq, rewards, terminated, truncated, final_obs):
    """One env: obs_seq[t] is the observation before step t; final_obs[t] the real next obs where done."""
    T = len(rewards)
    obs = np.array(obs_seq[:T], dtype=np.float32).reshape(T, 1, -1)
    nxt = np.array(obs_seq[1:T + 1], dtype=np.float32).reshape(T, 1, -1).copy()
    for t, o in final_obs.items():
        nxt[t, 0] = o
    return Rollout(obs, np.zeros((T, 1), np.int64), np.array(rewards, np.float32).reshape(T, 1),
                   np.array(terminated).reshape(T, 1), np.array(truncated).reshape(T, 1), nxt, nxt[-1])


def test_nstep_targets_across_terminated_and_truncated_ends():
    gamma = 0.5
    s = ReplayStorage(100, 1, vector_space(), gym.spaces.Discrete(2), nstep=3, gamma=gamma)
    # episode A: obs 0,1,2 then terminated at step 2 (final obs 99)
    # episode B: obs 10,11 then truncated at step 4 (final obs 77)
    # episode C: obs 20,21,22,23 ...
    obs = [0, 1, 2, 10, 11, 20, 21, 22, 23, 24]
    rewards = [1, 2, 4, 1, 3, 1, 1, 1, 1]
    term = [0, 0, 1, 0, 0, 0, 0, 0, 0]
    trunc = [0, 0, 0, 0, 1, 0, 0, 0, 0]
    s.add(rollout_from(obs, rewards, np.array(term, bool), np.array(trunc, bool), {2: [99.0], 4: [77.0]}))
    rows_by_obs = {float(s.frames[""][0, r, 0]): r for r in range(len(s)) if not s.final[0, r]}
    envs = np.zeros(1, np.int64)

    def check(o, ret, disc, next_obs):
        b = s.gather(envs, np.array([rows_by_obs[o]]))
        assert s.valid(envs, np.array([rows_by_obs[o]]))[0]
        assert b.rewards[0] == pytest.approx(ret)
        assert b.discounts[0] == pytest.approx(disc)
        assert b.next_observations[0, 0] == next_obs

    check(0, 1 + 0.5 * 2 + 0.25 * 4, 0.0, 99.0)       # reaches the termination: no bootstrap
    check(1, 2 + 0.5 * 4, 0.0, 99.0)
    check(2, 4, 0.0, 99.0)
    check(10, 1 + 0.5 * 3, 0.25, 77.0)               # truncated after 2 steps: bootstrap from 77 with gamma^2
    check(11, 3, 0.5, 77.0)
    check(20, 1 + 0.5 + 0.25, 0.125, 23.0)           # a full 3-step window
    # the last rows' windows are not written yet: never sampled
    assert not s.valid(envs, np.array([rows_by_obs[22]]))[0]
    assert not s.final[0, rows_by_obs[0]]
    batch = s.sample(64)
    assert set(batch.observations[:, 0]) <= {0, 1, 2, 10, 11, 20, 21}


def test_prioritized_insertion_at_max_priority_and_importance_weights():
    s = ReplayStorage(64, 1, vector_space(), gym.spaces.Discrete(2), nstep=1, prioritized=True, alpha=0.5,
                      seed=0)
    T = 10
    obs = list(range(T + 1))
    s.add(rollout_from(obs, [0] * T, np.zeros(T, bool), np.zeros(T, bool), {}))
    live = np.flatnonzero(s.tree.tree[s.tree.size:s.tree.size + 64] > 0)
    assert len(live) == T - 1 and np.allclose(s.tree.get(live), 1.0)   # max priority (1) ** alpha
    s.update_priorities([live[0]], [3.0])            # |td| = 3 -> priority 3 ** 0.5, new max 3
    assert s.tree.get([live[0]])[0] == pytest.approx(np.sqrt(3.0 + 1e-6))
    s.add(rollout_from([T, T + 1], [0], np.zeros(1, bool), np.zeros(1, bool), {}))
    newest = s.head[0] - 2                           # the row whose 1-step window just completed
    assert s.tree.get([newest])[0] == pytest.approx(np.sqrt(3.0 + 1e-6))
    batch = s.sample(8, beta=0.4)
    probs = s.tree.get(batch.indices) / s.tree.total
    w = (len(s) * probs) ** -0.4
    np.testing.assert_allclose(batch.weights, w / w.max(), rtol=1e-5)
    assert batch.weights.max() == pytest.approx(1.0)


@pytest.mark.parametrize("as_dict", [False, True])
def test_frame_stack_never_mixes_episodes_and_matches_the_env(as_dict):
    """Stacks rebuilt from single frames equal the env's own zero-padded stacks, across episode ends; with
    Dict observations (an image key and a Discrete key, each stored in its own dtype) too."""
    from derl_core.rl.policy import PolicyStep
    from derl_core.rl.rollout import EnvRunner

    class Random:
        def __init__(self, n):
            self.rng = np.random.default_rng(0)
            self.n = n

        def act(self, obs):
            return PolicyStep(self.rng.integers(self.n, size=len(obs["image"] if as_dict else obs)))

    # CartPole rendered as frames would be slow; a tiny image env keeps this exact and fast.
    image = gym.spaces.Box(0, 255, (6, 5), np.uint8)

    class Blink(gym.Env):
        observation_space = (gym.spaces.Dict({"image": image, "t": gym.spaces.Discrete(256)}) if as_dict
                             else image)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t, self.ep = 0, getattr(self, "ep", 0) + 1
            return self._obs(), {}

        def _obs(self):
            frame = np.full((6, 5), (self.ep * 40 + self.t) % 256, np.uint8)
            return {"image": frame, "t": (self.ep * 40 + self.t) % 256} if as_dict else frame

        def step(self, action):
            self.t += 1
            end = self.t >= 3 + self.ep % 4
            return self._obs(), 1.0, end and self.ep % 2 == 0, end and self.ep % 2 == 1, {}

    def make_one():
        return gym.wrappers.FrameStackObservation(gym.wrappers.RecordEpisodeStatistics(Blink()), 4,
                                                  padding_type="zero")
    venv = gym.vector.SyncVectorEnv([make_one, make_one], autoreset_mode="SameStep")
    storage = ReplayStorage(40, 2, venv.single_observation_space, venv.single_action_space, nstep=2,
                            gamma=0.9, frame_stack=4)
    runner = EnvRunner(venv, Random(2), nsteps=7, seed=0)
    seen = []
    for _ in range(12):    # wraps the ring (20 rows per env) several times
        rollout = runner.collect()
        storage.add(rollout)
        seen.append(rollout)
    # every valid row's rebuilt stack must equal an observation the env really produced
    image_of = (lambda obs: obs["image"]) if as_dict else (lambda obs: obs)
    real = {image_of(r.observations)[t, i].tobytes() for r in seen for t in range(7) for i in range(2)}
    real |= {image_of(r.next_observations)[t, i].tobytes() for r in seen for t in range(7) for i in range(2)}
    envs, rows = np.meshgrid(np.arange(2), np.arange(storage.T), indexing="ij")
    envs, rows = envs.ravel(), rows.ravel()
    ok = storage.valid(envs, rows)
    assert ok.sum() > 20
    batch = storage.gather(envs[ok], rows[ok])
    if as_dict:   # the Discrete key's stack is the image's values, in its own dtype
        assert storage.frames["t"].dtype == np.int64 and storage.frames["image"].dtype == np.uint8
        np.testing.assert_array_equal(batch.observations["t"], batch.observations["image"][:, :, 0, 0])
    for stack in np.concatenate([image_of(batch.observations), image_of(batch.next_observations)]):
        assert stack.tobytes() in real
        # frames of one stack come from one episode: values of non-zero frames increase by 1
        vals = [int(f[0, 0]) for f in stack if f.any()]
        assert all(b - a == 1 for a, b in zip(vals, vals[1:]))
    venv.close()


def test_atari_replay_stores_one_frame_per_row():
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    s = ReplayStorage(1000, 1, space, gym.spaces.Discrete(4), frame_stack=4)
    assert s.stack == 4 and s.frames[""].shape == (1, 1000, 84, 84)
    # an image that is not a stack (channels-first RGB) is stored whole: its channels are not frames
    rgb = ReplayStorage(1000, 1, gym.spaces.Box(0, 255, (3, 84, 84), np.uint8), gym.spaces.Discrete(4))
    assert rgb.stack == 1 and rgb.frames[""].shape == (1, 1000, 3, 84, 84)


@pytest.mark.parametrize("alg, env_id, extra", [("sac", "Pendulum-v1", []), ("dqn", "CartPole-v1", ["--nstep", "3", "--gradient-steps", "1"])])
def test_learning_starts_below_the_n_step_lookahead_waits_for_a_sampleable_row(alg, env_id, extra, tmp_path):
    """--learning-starts 1: the first update waits until each env holds nstep + 1 rows (it crashed sampling)."""
    from derl_core.testing import invoke
    result = invoke([alg, "--env-id", env_id, "--total-steps", 64, "--learning-starts", 1, "--train-every", 1,
                     "--logdir", tmp_path / "r", *extra])
    assert result.exit_code == 0, result.output
