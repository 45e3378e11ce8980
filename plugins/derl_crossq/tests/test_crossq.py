import torch

from derl_core.testing import check_plugin


def test_crossq_keeps_derls_contract(tmp_path):
    check_plugin("crossq", "Pendulum-v1", {"total_steps": 450, "learning_starts": 100, "net_arch": "32,32",
                                           "critic_arch": "64,64"}, tmp_path,
                 summaries={"losses/qf1_loss", "losses/actor_loss"}, learns=False)


def test_batch_renorm_is_batch_norm_in_warmup_and_corrects_towards_running_stats_after():
    from derl_crossq.crossq import BatchRenorm
    torch.manual_seed(0)
    x = torch.randn(64, 3) * 4 + 2
    bn = BatchRenorm(3, momentum=1.0, warmup=1)
    plain = bn(x)   # first update: plain batch norm, running stats := the batch's (momentum 1)
    assert torch.allclose(plain.mean(0), torch.zeros(3), atol=1e-5) and torch.allclose(plain.std(0, unbiased=False),
                                                                                          torch.ones(3), atol=1e-2)
    y = torch.randn(64, 3) * 8 - 2   # a batch unlike the running statistics: r, d correct it back towards them
    out = bn.train()(y)
    expected = (y - bn.running_mean * 0 - y.mean(0)) / (y.var(0, unbiased=False) + bn.eps).sqrt()
    assert not torch.allclose(out, expected, atol=1e-3)
    bn.eval()
    assert torch.allclose(bn(y), (y - bn.running_mean) / (bn.running_var + bn.eps).sqrt(), atol=1e-5)


def test_the_critic_sees_states_and_next_states_in_one_forward(monkeypatch):
    """CrossQ's joint forward: the critic is called once per critic step, on 2B rows."""
    from derl_core.rl.replay import ReplayBatch
    from derl_crossq.crossq import CrossQLoss, RenormQ
    critic = RenormQ(3, 1, (8,))
    calls = []
    original = critic.forward

    def spy(obs, actions):
        calls.append(len(actions))
        return original(obs, actions)
    critic.forward = spy

    class Policy:
        class model:
            @staticmethod
            def sample(obs):
                return torch.zeros(len(obs), 1), torch.zeros(len(obs))

        @staticmethod
        def unscale(a):
            return a
    loss = CrossQLoss(Policy, critic, None, torch.tensor(0.0), -1.0)
    batch = ReplayBatch(torch.randn(5, 3), torch.zeros(5, 1), torch.ones(5), torch.ones(5), torch.randn(5, 3), None)
    loss.critic_loss(batch)
    assert calls == [10]
