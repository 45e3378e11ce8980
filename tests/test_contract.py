"""derl's own algorithms pass the contract kit (derl_core.testing.check_plugin) that third-party plugins run
from their own tests. A new algorithm of derl's is added by one line in ALGORITHMS: name: (env id for a
short run, overrides that keep it short, summary names it must write). Algorithms of other installed
distributions are theirs to test: their presence never fails this suite."""
import pytest

from derl_core.plugins import OWN, registry
from derl_core.testing import check_plugin

ALGORITHMS = {
    "ppo": ("CartPole-v1", {"total_steps": 512, "num_envs": 2},
            {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl", "losses/clipfrac",
             "losses/explained_variance", "charts/learning_rate"}),
    "a2c": ("CartPole-v1", {"total_steps": 400, "num_envs": 2},
            {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/explained_variance",
             "charts/learning_rate"}),
    "dqn": ("CartPole-v1", {"total_steps": 500, "learning_starts": 100, "train_every": 4, "gradient_steps": 1},
            {"losses/td_loss", "losses/q_values", "charts/epsilon", "charts/per_beta"}),
    "sac": ("Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32"},
            {"losses/qf1_loss", "losses/qf2_loss", "losses/actor_loss", "losses/alpha", "losses/alpha_loss"}),
    "td3": ("Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32"},
            {"losses/qf1_loss", "losses/qf2_loss", "losses/actor_loss", "charts/actor_learning_rate"}),
    "tqc": ("Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32", "n_critics": 2,
                            "n_quantiles": 5},
            {"losses/critic_loss", "losses/actor_loss", "losses/alpha", "losses/alpha_loss"}),
    "crossq": ("Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32",
                               "critic_arch": "64,64"},
               {"losses/qf1_loss", "losses/qf2_loss", "losses/actor_loss", "losses/alpha"}),
    "qrdqn": ("CartPole-v1", {"total_steps": 500, "learning_starts": 100, "train_every": 4, "gradient_steps": 1},
              {"losses/quantile_loss", "losses/q_values", "charts/epsilon", "charts/per_beta"}),
}


def own() -> list:
    return sorted(name for name, spec in registry().algorithms.items() if spec.distribution in OWN)


def installed():
    return [name for name in ALGORITHMS if name in own()]


def test_every_algorithm_of_derl_has_a_contract_entry():
    missing = set(own()) - set(ALGORITHMS)
    assert not missing, f"add these to ALGORITHMS: {missing}"


@pytest.mark.parametrize("alg", installed())
def test_contract(alg, tmp_path):
    env_id, overrides, names = ALGORITHMS[alg]
    check_plugin(alg, env_id, overrides, tmp_path, summaries=names)


@pytest.mark.parametrize("alg", installed())
def test_help_lists_every_hyperparameter(alg):
    from derl_core.testing import invoke
    result = invoke([alg, "-h"])
    assert result.exit_code == 0
    for hp in registry().algorithm(alg).hyperparameters:
        assert hp.flag in result.stdout
