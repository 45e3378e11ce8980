"""Action masks (env/masks.py, rl.policy.masked) for every algorithm with Discrete actions: read from the env's
action_masks() (or a Dict observation's "action_mask" key), honoured in acting (training and evaluation), in the
loss and in predict(obs, action_masks=...). MaskedChoice raises on an invalid action, so a mask ignored
anywhere ends the run."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from derl_core.env.masks import ActionMasksToObservation, MaskedChoice
from derl_core.run.agent import load
from derl_core.testing import invoke, resume_matches_uninterrupted

ENV = "derl_core.env.masks:MaskedChoice-v0"
SHORT = {"ppo": {"total_steps": 256, "num_envs": 2, "nsteps": 32, "num_epochs": 2},
         "a2c": {"total_steps": 200, "num_envs": 2},
         "dqn": {"total_steps": 320, "learning_starts": 64, "train_every": 32, "gradient_steps": 4, "batch_size": 16},
         "qrdqn": {"total_steps": 320, "learning_starts": 64, "train_every": 32, "gradient_steps": 4,
                   "batch_size": 16, "n_quantiles": 5}}


def args(alg, logdir, extra=()):
    return [alg, "--env-id", ENV, "--logdir", logdir, *extra,
            *[part for k, v in SHORT[alg].items() for part in ("--" + k.replace("_", "-"), v)]]


@pytest.mark.parametrize("alg", sorted(SHORT))
def test_no_invalid_action_in_training_evaluation_or_predict(alg, tmp_path):
    result = invoke(args(alg, tmp_path / "r"))
    assert result.exit_code == 0, result.stderr   # the strict env raised on no step
    assert invoke(["eval", tmp_path / "r", "--episodes", 2]).exit_code == 0
    agent = load(str(tmp_path / "r"))
    rng = np.random.default_rng(0)
    for _ in range(20):
        masks = np.zeros((8, 16), bool)
        for row in masks:
            row[rng.choice(16, 2, replace=False)] = True
        actions = agent.predict(rng.random((8, 16)).astype(np.float32), deterministic=False, action_masks=masks)
        assert masks[np.arange(8), actions].all()
    one = np.zeros(16, bool)
    one[5] = True
    assert int(agent.predict(np.zeros(16, np.float32), action_masks=one)) == 5
    assert 0 <= int(agent.predict(np.zeros(16, np.float32))) < 16   # no masks given: every action allowed


def test_the_env_raises_when_masks_are_not_used(tmp_path):
    """The same env with its action_masks() hidden: the first invalid action ends the run (so the test above
    would fail if any path ignored the masks)."""
    result = invoke(args("dqn", tmp_path / "r", ["--env-kwargs", '{"masks": false}']))
    assert result.exit_code != 0 and "invalid action" in result.stderr


@pytest.mark.parametrize("alg", ["ppo", "dqn"])
def test_a_masked_run_resumes_exactly(alg, tmp_path):
    resume_matches_uninterrupted(alg, ENV, SHORT[alg], tmp_path)


def test_the_loss_sees_the_masks():
    """evaluate(): an invalid action has (log-)probability ~0, the entropy is at most log(valid actions)."""
    from derl_core.rl.policy import actor_critic_policy
    env = ActionMasksToObservation(MaskedChoice())
    venv = type("V", (), {"single_observation_space": env.observation_space,
                          "single_action_space": env.action_space})()
    policy = actor_critic_policy(venv)
    mask = np.zeros((4, 16), np.int8)
    mask[:, :3] = 1
    obs = {"observation": torch.rand(4, 16), "action_mask": torch.as_tensor(mask)}
    ev = policy.evaluate(obs, torch.tensor([0, 1, 2, 9]))
    assert ev.log_prob[3] < -1e6 and torch.all(ev.log_prob[:3] > -10)
    assert torch.all(ev.entropy <= math.log(3) + 1e-5)


def test_multidiscrete_masks_split_per_dimension():
    from derl_core.rl.policy import ActorCriticPolicy
    model = type("M", (), {"action_nvec": (3, 2)})()
    policy = ActorCriticPolicy.__new__(ActorCriticPolicy)
    policy.model = model
    mask = torch.tensor([[0, 1, 0, 1, 0]])   # dimension 0: only 1; dimension 1: only 0
    dist = policy.distribution(torch.zeros(1, 5), {"action_mask": mask})
    for _ in range(10):
        assert dist.sample().tolist() == [[1, 0]]


def test_a_dict_env_with_its_own_action_mask_key_is_masked_too(tmp_path):
    class Keyed(gym.Wrapper):
        """MaskedChoice whose observations carry the mask themselves (no action_masks())."""
        def __init__(self):
            inner = MaskedChoice(masks=False)
            super().__init__(inner)
            self.observation_space = gym.spaces.Dict({"target": inner.observation_space,
                                                      "action_mask": gym.spaces.MultiBinary(16)})

        def reset(self, *, seed=None, options=None):
            obs, info = self.env.reset(seed=seed, options=options)
            return {"target": obs, "action_mask": self.env.allowed.astype(np.int8)}, info

        def step(self, action):
            obs, *rest = self.env.step(action)
            return ({"target": obs, "action_mask": self.env.allowed.astype(np.int8)}, *rest)
    gym.register("KeyedMaskedChoice-v0", entry_point=Keyed)
    from derl_core.run.api import train
    train("ppo", "KeyedMaskedChoice-v0", logdir=str(tmp_path / "r"), seed=0, **SHORT["ppo"])   # raises if ignored
