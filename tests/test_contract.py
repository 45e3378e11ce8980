"""Contract tests run over every algorithm plugin. A new plugin is added by one line in ALGORITHMS:
name: (env id for a short run, overrides that keep it short, summary names it must write)."""
import pytest

from derl_core.plugins import registry
from derl_core.testing import factory_refuses_unused, read_metrics, smoke

CHARTS = {"charts/episodic_return", "charts/episodic_length"}
ALGORITHMS = {
    "ppo": ("CartPole-v1", {"total_steps": 512, "num_envs": 2},
            {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl", "losses/clipfrac",
             "losses/explained_variance", "charts/learning_rate"}),
    "a2c": ("CartPole-v1", {"total_steps": 400, "num_envs": 2},
            {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/explained_variance",
             "charts/learning_rate"}),
    "dqn": ("CartPole-v1", {"total_steps": 500, "learning_starts": 100, "train_every": 4, "gradient_steps": 1},
            {"losses/td_loss", "losses/q_values", "charts/epsilon", "charts/per_beta"}),
    "sac": ("Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "hidden_size": 32},
            {"losses/qf1_loss", "losses/qf2_loss", "losses/actor_loss", "losses/alpha", "losses/alpha_loss"}),
}


def installed():
    return [name for name in ALGORITHMS if name in registry().algorithms]


def test_every_installed_algorithm_has_a_contract_entry():
    missing = set(registry().algorithms) - set(ALGORITHMS) - {"hello"}
    assert not missing, f"add these to ALGORITHMS: {missing}"


@pytest.mark.parametrize("alg", installed())
def test_runs_and_writes_its_summaries(alg, tmp_path):
    env_id, overrides, names = ALGORITHMS[alg]
    assert CHARTS | names <= smoke(alg, env_id, overrides, tmp_path / "run")


@pytest.mark.parametrize("alg", installed())
def test_factory_refuses_unused_arguments(alg):
    env_id, overrides, _ = ALGORITHMS[alg]
    factory_refuses_unused(alg, env_id, overrides)


@pytest.mark.parametrize("alg", installed())
def test_same_seed_same_metrics(alg, tmp_path):
    env_id, overrides, _ = ALGORITHMS[alg]
    smoke(alg, env_id, overrides, tmp_path / "a")
    smoke(alg, env_id, overrides, tmp_path / "b")
    assert (tmp_path / "a" / "metrics.jsonl").read_bytes() == (tmp_path / "b" / "metrics.jsonl").read_bytes()
    assert read_metrics(tmp_path / "a")


@pytest.mark.parametrize("alg", installed())
def test_help_lists_every_hyperparameter(alg):
    from derl_core.testing import invoke
    result = invoke([alg, "-h"])
    assert result.exit_code == 0
    for hp in registry().algorithm(alg).hyperparameters:
        assert hp.flag in result.stdout
