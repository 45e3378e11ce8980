from derl_core.testing import check_plugin, learning_run


def test_foo_keeps_derls_contract(tmp_path):
    check_plugin("foo", "CartPole-v1", {"total_steps": 1024, "num_envs": 2, "nsteps": 32}, tmp_path,
                 summaries={"losses/policy_loss", "losses/value_loss"})


def test_foo_learns_cartpole(tmp_path):
    returns = learning_run("foo", "CartPole-v1", tmp_path / "r", total_steps=30_000)
    assert sum(returns[-10:]) / 10 > 2 * sum(returns[:10]) / 10, returns


def test_foo_ships_an_image_encoder_that_ppo_trains_resumes_and_predicts_with(tmp_path):
    import json

    import gymnasium as gym
    import numpy as np

    from derl_core.run.agent import load
    from derl_core.run.api import train
    from derl_core.run.session import resume
    from derl_core.plugins import registry
    from derl_core.testing import invoke, spaces_env_id
    listed = json.loads(invoke(["list", "--json"]).stdout)
    assert {"name": "foo-tiny", "distribution": "derl-foo",
            "summary": "two 3x3 convolutions of 16 channels (tutorial)"} in listed["encoders"]
    space = gym.spaces.Box(0, 255, (12, 12, 3), np.uint8)
    env_id = spaces_env_id(space, gym.spaces.Discrete(3))
    run = tmp_path / "r"
    train("ppo", env_id, logdir=str(run), seed=0, total_steps=64, num_envs=2, nsteps=16, encoder="foo-tiny")
    resume(registry(), str(run), total_steps=96, progress=False, echo=lambda *a: None)
    agent = load(str(run))
    convs = [m for m in agent.policy.model.modules() if type(m).__name__ == "Conv2d"]
    assert convs and all(c.out_channels == 16 and c.kernel_size == (3, 3) for c in convs)   # foo-tiny's, not derl's
    action = agent.predict(space.sample())
    assert gym.spaces.Discrete(3).contains(int(np.asarray(action)))
