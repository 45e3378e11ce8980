"""The trained policy in your hands and training from Python: train() with callbacks and --stop-at-return,
best.pt with --eval-every, derl eval --env-id, and derl export (ONNX, TorchScript) equal to predict."""
import numpy as np
import pytest
import torch

from derl_core.testing import invoke, read_metrics

from .test_your_env import one_line_exit_2


def test_train_from_python_with_cli_names_and_a_callback_that_stops(tmp_path):
    from derl_core import BadInput, train
    seen = []

    def stop_at_4096(step, metrics):
        seen.append((step, set(metrics)))
        return step >= 4096

    run = train("ppo", "CartPole-v1", logdir=str(tmp_path / "r"), total_steps=50_000, learning_rate=1e-3,
                seed=3, callbacks=[stop_at_4096], keep_checkpoints=5)
    assert [s for s, _ in seen] == list(range(256, 4096 + 1, 256))   # after every update, then stopped
    assert "losses/value_loss" in seen[-1][1]
    assert max(r["step"] for r in read_metrics(run)) == 4096
    assert (tmp_path / "r" / "checkpoints" / "ckpt_000000004096.pt").exists()   # a checkpoint where it stopped
    with pytest.raises(BadInput, match="no hyperparameter or run option 'learning_rat'.*'learning_rate'"):
        train("ppo", "CartPole-v1", logdir=str(tmp_path / "s"), learning_rat=1e-3)
    with pytest.raises(BadInput, match="--learning-rate"):
        train("ppo", "CartPole-v1", logdir=str(tmp_path / "s"), learning_rate="fast")
    assert not (tmp_path / "s").exists()


def test_stop_at_return_keeps_best_and_eval_uses_it(tmp_path):
    run = tmp_path / "r"
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 60_000, "--stop-at-return", 150,
                     "--eval-every", 2048, "--eval-episodes", 3, "--logdir", run])
    assert result.exit_code == 0 and "reached --stop-at-return 150" in result.stdout, result.stdout
    evals = [r["charts/eval_return"] for r in read_metrics(run) if "charts/eval_return" in r]
    assert evals[-1] >= 150 and max(r["step"] for r in read_metrics(run)) < 60_000
    from derl_core.run import checkpoint as ckpt
    best = ckpt.load(str(run / "checkpoints" / "best.pt"))
    assert best["eval_return"] == max(evals)
    out = invoke(["eval", run, "--checkpoint", "best", "--episodes", 2, "--deterministic"])
    assert out.exit_code == 0 and "(best.pt)" in out.stdout
    from derl_core import load
    assert load(str(run), checkpoint="best").checkpoint.endswith("best.pt")
    # a run without evaluations has no best.pt: one line
    assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 512, "--logdir", tmp_path / "n"]).exit_code == 0
    assert "has no best.pt" in one_line_exit_2(invoke(["eval", tmp_path / "n", "--checkpoint", "best"]))


def test_eval_on_another_env_with_the_same_spaces(tmp_path):
    run = tmp_path / "r"
    assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 512, "--logdir", run]).exit_code == 0
    out = invoke(["eval", run, "--env-id", "CartPole-v0", "--episodes", 2])
    assert out.exit_code == 0 and "on CartPole-v0 (trained on CartPole-v1)" in out.stdout
    out = invoke(["eval", run, "--env-kwargs", '{"sutton_barto_reward": true}', "--episodes", 2])
    assert out.exit_code == 0
    assert "observation space" in one_line_exit_2(invoke(["eval", run, "--env-id", "Acrobot-v1"]))
    assert "unknown env id" in one_line_exit_2(invoke(["eval", run, "--env-id", "NoSuchEnv-v9"]))


def observations(agent, n=16):
    space = agent.observation_space
    space.seed(5)
    return np.stack([np.asarray(space.sample()) for _ in range(n)])


@pytest.mark.parametrize("alg, env_id, args", [
    ("ppo", "Hopper-v5", ["--total-steps", 512, "--nsteps", 256, "--num-minibatches", 4]),   # normalised
    ("ppo", "BreakoutNoFrameskip-v4", ["--total-steps", 64, "--num-envs", 1, "--nsteps", 32]),  # uint8 frames
    ("dqn", "tests.own_envs:Choose-v0", ["--total-steps", 600, "--learning-starts", 300]),    # Discrete(start=-1)
    ("sac", "Pendulum-v1", ["--total-steps", 300, "--learning-starts", 200]),
    ("ppo", "tests.own_envs:BitsCue-v0", ["--total-steps", 256]),                            # MultiBinary
])
def test_onnx_and_torchscript_exports_equal_predict(alg, env_id, args, tmp_path):
    import onnxruntime
    from derl_core import load
    run = tmp_path / "r"
    assert invoke([alg, "--env-id", env_id, "--logdir", run, *args]).exit_code == 0
    agent = load(str(run))
    obs = observations(agent)
    if obs.dtype == np.float64 or obs.dtype == np.float32:
        obs = obs.clip(-5, 5)   # Box(-inf, inf) samples are huge
    expected = agent.predict(obs)
    from derl_core.run.export import input_dtype
    native = np.dtype(agent.observation_space.dtype)
    for dtype in ("auto", "native"):   # auto: float32 in for float spaces (float64 MuJoCo too), cast inside
        taken = input_dtype(agent.observation_space, dtype)
        assert taken == (np.float32 if dtype == "auto" and native.kind == "f" else native)
        feed = obs.astype(taken)
        for suffix in ("onnx", "pt"):
            out = tmp_path / f"policy-{dtype}.{suffix}"
            result = invoke(["export", run, "--out", out, "--input-dtype", dtype])
            assert result.exit_code == 0, result.stderr
            if suffix == "onnx":
                session = onnxruntime.InferenceSession(str(out))
                got = session.run(None, {"obs": feed})[0]
                if dtype == "auto" and native.kind == "f":
                    assert session.get_inputs()[0].type == "tensor(float)"
            else:
                with torch.no_grad():
                    got = torch.jit.load(str(out))(torch.as_tensor(feed)).numpy()
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, atol=1e-5)
            assert "already exists" in one_line_exit_2(invoke(["export", run, "--out", out]))   # never overwritten
    assert "--input-dtype must be one of" in one_line_exit_2(invoke(["export", run, "--out", tmp_path / "x.onnx",
                                                                     "--input-dtype", "int4"]))
    assert "must end in .onnx or .pt" in one_line_exit_2(invoke(["export", run, "--out", tmp_path / "p.zip"]))


def test_dict_observations_are_not_exported_but_load_predicts_them(tmp_path):
    from derl_core import load
    run = tmp_path / "r"
    assert invoke(["ppo", "--env-id", "tests.own_envs:DictCue-v0", "--total-steps", 256, "--logdir", run]).exit_code == 0
    agent = load(str(run))
    one = agent.observation_space.sample()
    assert agent.action_space.contains(agent.predict(one))
    batch = {k: np.stack([agent.observation_space.sample()[k] for _ in range(3)]) for k in ("cue", "noise")}
    assert agent.predict(batch).shape == (3,)
    assert "Dict observations cannot be exported" in one_line_exit_2(
        invoke(["export", run, "--out", tmp_path / "p.onnx"]))
    assert not (tmp_path / "p.onnx").exists()
