"""Your own env (module:EnvId, --env-kwargs, a constructor without render_mode), the spaces that used to end
in a traceback, and the trained policy in your hands (load / predict)."""
import re

import gymnasium as gym
import numpy as np
import pytest

from derl_core.testing import invoke, read_metrics

from .conftest import ROOT, run_derl

WITH_TESTS = {"PYTHONPATH": ROOT}   # a fresh derl process finds tests.own_envs only through the recorded id


def returns(run) -> list:
    return [r["charts/episodic_return"] for r in read_metrics(run) if "charts/episodic_return" in r]


def one_line_exit_2(result):
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("derl: error:"), \
        (result.stderr, result.exception)
    return lines[0]


DQN_SHORT = ["--learning-starts", 500, "--epsilon-steps", 3000]   # classic's 16k-step exploration is for 100k


@pytest.mark.parametrize("alg, extra", [("ppo", []), ("dqn", DQN_SHORT)])
def test_own_env_by_module_id_with_discrete_start_learns_resumes_and_evaluates(alg, extra, tmp_path):
    """Discrete(3, start=-1) actions (the env asserts each is valid); a kwarg; no render_mode in __init__."""
    run = tmp_path / "r"
    args = [alg, "--env-id", "tests.own_envs:Choose-v0", "--env-kwargs", '{"length": 5}', "--total-steps", 6000,
            "--logdir", run, *extra]
    assert invoke(args).exit_code == 0
    got = returns(run)
    assert max(got) <= 5 and np.mean(got[-20:]) >= 4.5, got[-20:]   # random: 5/3; the kwarg made episodes 5 long
    # a fresh process, the module imported by nobody but derl (from the id config.json recorded)
    assert run_derl(["resume", run, "--total-steps", 7000], WITH_TESTS).returncode == 0
    out = run_derl(["eval", run, "--episodes", 2, "--deterministic"], WITH_TESTS)
    assert out.returncode == 0 and "mean return 5.0" in out.stdout, out.stdout + out.stderr


def test_ppo_learns_box_actions_on_asymmetric_bounds(tmp_path):
    """Box [10, 20], best action 17: a Gaussian centred at 0 would be clipped to 10 for ever (-7 an episode)."""
    run = tmp_path / "r"
    assert invoke(["ppo", "--env-id", "tests.own_envs:Interval-v0", "--total-steps", 20000, "--logdir", run]
                  ).exit_code == 0
    got = returns(run)
    assert np.mean(got[-20:]) > -1.0, got[-20:]   # random uniform actions: about -2.9


@pytest.mark.parametrize("alg, steps, extra", [("ppo", 20000, []), ("dqn", 12000, DQN_SHORT)])
def test_frozenlake_discrete_observations_reach_return_1(alg, steps, extra, tmp_path):
    run = tmp_path / "r"
    assert invoke([alg, "--env-id", "FrozenLake-v1", "--env-kwargs", '{"is_slippery": false}', "--total-steps",
                   steps, "--logdir", run, *extra]).exit_code == 0
    result = invoke(["eval", run, "--episodes", 3, "--deterministic"])
    assert result.exit_code == 0 and "mean return 1.0" in result.stdout, result.stdout


def test_taxi_trains_with_dqn(tmp_path):
    assert invoke(["dqn", "--env-id", "Taxi-v4", "--total-steps", 3000, "--learning-starts", 500, "--logdir",
                   tmp_path / "r"]).exit_code == 0
    line = one_line_exit_2(invoke(["dqn", "--env-id", "Taxi-v3", "--logdir", tmp_path / "s"]))
    assert "Taxi-v4" in line and not (tmp_path / "s").exists()


@pytest.mark.parametrize("env_id, kwargs, message", [
    ("no_such_module_xyz:Thing-v0", None, "cannot import module 'no_such_module_xyz'"),
    ("tests.own_envs:Missing-v0", None, "unknown env id 'tests.own_envs:Missing-v0'"),
    ("tests.own_envs:Choose-v0", "{not json", "--env-kwargs must be a JSON object"),
    ("tests.own_envs:Choose-v0", "[1, 2]", "--env-kwargs must be a JSON object"),
    ("tests.own_envs:Choose-v0", '{"colour": "red"}', "cannot make env 'tests.own_envs:Choose-v0' with --env-kwargs"),
    ("CartPole-v1", '{"sutton_barto_reward": "yes please", "bogus": 1}', "with --env-kwargs"),
])
def test_bad_env_ids_and_kwargs_are_one_line_and_write_nothing(env_id, kwargs, message, tmp_path):
    args = ["ppo", "--env-id", env_id, "--logdir", tmp_path / "r"] + (["--env-kwargs", kwargs] if kwargs else [])
    line = one_line_exit_2(invoke(args))
    assert message in line, line
    assert not (tmp_path / "r").exists()


def play(agent, env_id, seed, episodes=2, **kwargs) -> list:
    env, out = gym.make(env_id, **kwargs), []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed if k == 0 else None)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.predict(obs))
            total, done = total + reward, terminated or truncated
        out.append(total)
    return out


@pytest.mark.parametrize("env_id, steps", [("CartPole-v1", 3000), ("Hopper-v5", 4096)])
def test_load_predict_takes_the_actions_derl_eval_takes(env_id, steps, tmp_path):
    """On a raw gymnasium env, load(...).predict (normalisation of MuJoCo observations inside) plays the
    episodes `derl eval --deterministic` plays on derl's own env stack: the same returns."""
    from derl_core import load
    run = tmp_path / "r"
    assert invoke(["ppo", "--env-id", env_id, "--total-steps", steps, "--logdir", run, "--seed", 4]).exit_code == 0
    result = invoke(["eval", run, "--episodes", 2, "--deterministic"])
    assert result.exit_code == 0
    evaluated = [float(x) for x in re.findall(r"episode \d+: return (-?[\d.]+)", result.stdout)]
    agent = load(str(run))
    assert agent.action_space == gym.make(env_id).action_space and agent.config["env_id"] == env_id
    mine = play(agent, env_id, seed=4 + 10_000)
    np.testing.assert_allclose(mine, evaluated, atol=0.05)   # eval prints one decimal
    batch = np.stack([agent.observation_space.sample() for _ in range(5)])
    assert agent.predict(batch).shape[0] == 5 and agent.predict(batch[0]).shape == agent.action_space.shape


DQN_FAST = [*DQN_SHORT, "--gradient-steps", 32]


@pytest.mark.parametrize("env, alg, steps, floor, extra", [
    ("DictCue-v0", "ppo", 3000, 8.0, []),                          # Dict with a Discrete key (random: 5)
    ("DictCue-v0", "dqn", 3000, 8.0, DQN_FAST),                    # ... kept per key in the replay
    ("PixelCue-v0", "ppo", 1536, 8.0, ["--frame-stack", 2]),       # channels-last images, small CNN, stacked
    ("MultiCue-v0", "ppo", 4000, 7.0, []),                         # Discrete obs, MultiDiscrete acts (random: 4.2)
    ("BitsCue-v0", "a2c", 6000, 7.0, []),                          # MultiBinary actions (random: 5)
])
def test_every_space_kind_learns_resumes_and_evaluates_from_its_module_id(env, alg, steps, floor, extra, tmp_path):
    run, env_id = tmp_path / "r", f"tests.own_envs:{env}"
    assert invoke([alg, "--env-id", env_id, "--total-steps", steps, "--logdir", run, *extra]).exit_code == 0
    got = returns(run)
    assert np.mean(got[-20:]) >= floor, got[-20:]
    # a fresh process imports the module from the id config.json recorded; the run goes on from its checkpoint
    done = run_derl(["resume", run, "--total-steps", steps + 512], WITH_TESTS)
    assert done.returncode == 0, done.stderr
    assert max(r["step"] for r in read_metrics(run)) > steps
    result = invoke(["eval", run, "--episodes", 3, "--deterministic"])
    assert result.exit_code == 0
    assert float(re.search(r"mean return (-?[\d.]+)", result.stdout).group(1)) >= floor, result.stdout


# what each algorithm handles, written out here independently of the plugins' declarations
HANDLES = {
    "ppo": ({"Box", "Image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"},
            {"Box", "Discrete", "MultiDiscrete", "MultiBinary"}),
    "a2c": ({"Box", "Image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"},
            {"Box", "Discrete", "MultiDiscrete", "MultiBinary"}),
    "dqn": ({"Box", "Image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"}, {"Discrete"}),
    "sac": ({"Box", "Image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"}, {"Box"}),
}
for _alg, _like in (("td3", "sac"), ("tqc", "sac"), ("crossq", "sac"), ("qrdqn", "dqn")):   # derl's other algorithms
    HANDLES[_alg] = HANDLES[_like]
OBS_KINDS = ["Box", "Image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple", "Text", "Sequence",
             "DictWithText"]
ACT_KINDS = ["Box", "Discrete", "MultiDiscrete", "MultiBinary", "Text", "Tuple"]
KIND_NAME = {"Image": "Box", "DictWithText": "Text"}   # the kind a message names


def test_every_algorithm_and_space_kind_trains_or_is_refused_in_one_line(tmp_path):
    """Generated over algorithm x observation kind x action kind: a pair the algorithm handles trains (a few
    steps); any other is one line naming the space's kind and the algorithms that handle it, exit 2, and
    nothing written — never "the plugin failed to build"."""
    from hypothesis import given, settings, strategies as st

    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None, database=None)
    @given(st.sampled_from(sorted(HANDLES)), st.sampled_from(OBS_KINDS), st.sampled_from(ACT_KINDS))
    def check(alg, obs, act):
        run = tmp_path / f"r{next(counter)}"
        args = [alg, "--env-id", "tests.own_envs:AnySpaces-v0", "--env-kwargs", f'{{"obs": "{obs}", "act": "{act}"}}',
                "--total-steps", 64, "--num-envs", 1, "--logdir", run]
        if alg in ("dqn", "sac", "td3", "tqc", "crossq", "qrdqn"):
            args += ["--learning-starts", 32, "--batch-size", 8, "--buffer-size", 1000, "--train-every", 16,
                     "--gradient-steps", 1]
        else:
            args += ["--nsteps", 16]
        result = invoke(args)
        obs_ok, act_ok = obs in HANDLES[alg][0], act in HANDLES[alg][1]
        if obs_ok and act_ok:
            assert result.exit_code == 0, (alg, obs, act, result.stderr)
            return
        line = one_line_exit_2(result)
        named = "Dict" if obs == "DictWithText" and "Dict" not in HANDLES[alg][0] else KIND_NAME.get(obs, obs)
        what = f"{named} observations" if not obs_ok else f"{act} actions"
        assert f"{alg} cannot handle {what}" in line and "plugin failed" not in line, line
        able = sorted(a for a, (o, k) in HANDLES.items() if a != alg and (o if not obs_ok else k) >=
                      ({obs} if not obs_ok else {act}))
        assert (f"algorithms that can: {', '.join(able)}" if able else "no installed algorithm can") in line, line
        assert not run.exists()
    check()


def test_env_wrapper_is_applied_recorded_and_checked(tmp_path):
    run = tmp_path / "r"
    args = ["ppo", "--env-id", "tests.own_envs:Choose-v0", "--env-kwargs", '{"length": 5}', "--total-steps", 4000]
    assert invoke([*args, "--env-wrapper", "tests.own_envs:Negate", "--logdir", run]).exit_code == 0
    got = returns(run)
    assert np.mean(got[-20:]) < 0.5, got[-20:]   # it learned to avoid the env's reward: the wrapper was on
    import json
    assert json.loads((run / "config.json").read_text())["run"]["env_wrapper"] == "tests.own_envs:Negate"
    assert "mean return" in invoke(["eval", run, "--episodes", 1]).stdout   # eval builds it again
    for bad, message in (("nocolon", "must be module:callable"), ("no_such_mod_q:W", "cannot load it"),
                         ("tests.own_envs:NOPE", "cannot load it")):
        line = one_line_exit_2(invoke([*args, "--env-wrapper", bad, "--logdir", tmp_path / "s"]))
        assert message in line and not (tmp_path / "s").exists(), line


def test_a_key_no_encoder_takes_is_dropped_with_obs_keys(tmp_path):
    """A Dict with one key derl cannot encode (a Text mission): the refusal names --obs-keys and the keys to
    keep; with them the run trains, records them, and load().predict drops the key from what it is given."""
    import json
    from derl_core import load
    from .conftest import run_derl
    res = run_derl(["ppo", "--env-id", "tests.own_envs:MissionCue-v0", "--total-steps", "256", "--logdir",
                    tmp_path / "refused"])
    assert res.returncode == 2 and "--obs-keys cue,noise" in res.stderr and "Text observations (key 'mission')" \
        in res.stderr, res.stderr
    res = run_derl(["ppo", "--env-id", "tests.own_envs:MissionCue-v0", "--obs-keys", "cue,noise", "--total-steps",
                    "256", "--logdir", tmp_path / "r"])
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "r" / "config.json").read_text())["run"]["obs_keys"] == "cue,noise"
    agent = load(str(tmp_path / "r"))
    assert sorted(agent.observation_space.spaces) == ["cue", "noise"]
    full = {"cue": 1, "noise": np.zeros(2, np.float32), "mission": "pick the cue"}
    assert agent.action_space.contains(agent.predict(full))
    res = run_derl(["ppo", "--env-id", "tests.own_envs:MissionCue-v0", "--obs-keys", "cue,goal", "--total-steps",
                    "256", "--logdir", tmp_path / "bad"])
    assert res.returncode == 2 and "no key 'goal'" in res.stderr and len(res.stderr.strip().splitlines()) == 1
