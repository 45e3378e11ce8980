"""--model module:callable: your own torch module, checked against its algorithm's contract before training,
recorded by name (never pickled) and rebuilt by resume, load/predict and export."""
import json

import numpy as np
import pytest
import torch

from derl_core import load, train

from .conftest import run_derl


@pytest.mark.parametrize("alg, env_id, fn", [("ppo", "CartPole-v1", "actor_critic"),
                                             ("a2c", "Pendulum-v1", "actor_critic"),
                                             ("dqn", "CartPole-v1", "q_network")])
def test_your_module_trains_saves_loads_predicts_and_exports(tmp_path, alg, env_id, fn):
    extra = {"learning_starts": 64, "train_every": 16, "gradient_steps": 1} if alg == "dqn" else {}
    run = train(alg, env_id, total_steps=256, model=f"tests.own_models:{fn}", net_arch="24", seed=0,
                logdir=str(tmp_path / "r"), **extra)
    assert json.load(open(tmp_path / "r" / "config.json"))["hyperparameters"]["model"] == f"tests.own_models:{fn}"
    agent = load(run)
    net = getattr(agent.policy.model, "net", agent.policy.model)
    assert type(net).__name__ in ("TwoHeads", "Sequential")   # the module the callable built, not derl's
    assert [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)][0] in (24, 32)
    obs = np.zeros(agent.observation_space.shape, agent.observation_space.dtype)
    assert agent.predict(obs) in agent.action_space
    res = run_derl(["resume", run, "--total-steps", "512"])
    assert res.returncode == 0, res.stderr
    res = run_derl(["export", run, "--out", tmp_path / "p.onnx"])
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("fn, says", [("no_values", "breaks the contract"), ("not_a_module", "not a torch.nn.Module"),
                                      ("missing", "cannot import it")])
def test_a_module_that_breaks_the_contract_is_one_line_before_training(tmp_path, fn, says):
    res = run_derl(["ppo", "--env-id", "CartPole-v1", "--model", f"tests.own_models:{fn}", "--logdir", tmp_path / "r"])
    assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "r" / "metrics.jsonl").exists()


def test_a_malformed_path_is_refused_before_the_run_directory(tmp_path):
    res = run_derl(["ppo", "--env-id", "CartPole-v1", "--model", "not a path", "--logdir", tmp_path / "r"])
    assert res.returncode == 2 and "--model must be auto or module:callable" in res.stderr
    assert not (tmp_path / "r").exists()
