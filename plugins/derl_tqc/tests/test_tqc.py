import numpy as np
import torch

from derl_core.testing import check_plugin, invoke


def test_tqc_keeps_derls_contract(tmp_path):
    check_plugin("tqc", "Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32",
                                        "n_critics": 2, "n_quantiles": 5}, tmp_path,
                 summaries={"losses/critic_loss", "losses/actor_loss"}, learns=False)


def test_the_target_drops_the_top_quantiles_of_the_pooled_critics():
    """Two target critics of 4 quantiles, 1 dropped each: the target's atoms are the 6 smallest of the 8,
    plus the reward (gamma 1, no entropy term)."""
    from derl_core.rl.replay import ReplayBatch
    from derl_tqc.tqc import QuantileCritics, TQCLoss

    class Fixed(torch.nn.Module):
        n, quantiles = 2, 4

        def forward(self, obs, actions):
            return torch.tensor([[[1.0, 2.0, 3.0, 40.0], [0.5, 5.0, 6.0, 50.0]]]).expand(len(obs), 2, 4)

    class Policy:
        class model:
            @staticmethod
            def sample(obs):
                return torch.zeros(len(obs), 1), torch.zeros(len(obs))

        @staticmethod
        def unscale(a):
            return a
    critic = QuantileCritics(1, 1, (8,), 4, 2)
    loss = TQCLoss(Policy, critic, Fixed(), torch.tensor(-30.0), -1.0, drop=1)
    assert loss.keep == 6
    seen = {}
    import derl_tqc.tqc as tqc
    original = tqc.quantile_huber

    def spy(current, targets, kappa=1.0):
        seen["targets"] = targets
        return original(current, targets, kappa)
    tqc.quantile_huber = spy
    try:
        batch = ReplayBatch(torch.zeros(3, 1), torch.zeros(3, 1), torch.ones(3), torch.ones(3), torch.zeros(3, 1),
                            None)
        loss.critic_loss(batch)
    finally:
        tqc.quantile_huber = original
    assert torch.allclose(seen["targets"][0], 1 + torch.tensor([0.5, 1.0, 2.0, 3.0, 5.0, 6.0]), atol=1e-4)


def test_dropping_every_quantile_is_one_line():
    result = invoke(["tqc", "--env-id", "Pendulum-v1", "--n-quantiles", 3, "--top-quantiles-to-drop", 3])
    assert result.exit_code == 2 and "leaves no quantile" in result.stderr, result.stderr
