"""The research workflow around a run: derl tune (Optuna on Ray), --track (W&B, offline here), --capture-video,
TensorBoard's HParams dashboard and metrics.csv."""
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from derl_core.testing import invoke, read_metrics

from .conftest import DERL
from .test_your_env import one_line_exit_2

TINY = ["--total-steps", 2048, "--nsteps", 64, "--num-envs", 2, "--threads", 1]   # threads fixed: runs compared


def events(run_dir) -> list:
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader as Loader
    out = []
    for path in sorted(glob.glob(os.path.join(str(run_dir), "events.out.tfevents.*"))):
        out += list(Loader(path).Load())
    return out


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One PPO run with everything on: W&B offline, videos every 10 episodes, evaluations."""
    run = tmp_path_factory.mktemp("tracked") / "r"
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    result = subprocess.run([DERL, "ppo", "--env-id", "CartPole-v1", *map(str, TINY), "--logdir", str(run),
                             "--track", "--wandb-project", "derl-tests", "--capture-video", "--video-every", "10",
                             "--eval-every", "1024", "--eval-episodes", "2"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def test_metrics_csv_holds_the_same_numbers_as_metrics_jsonl(tracked):
    rows = read_metrics(tracked)
    expected = [(r["step"], k, float(v)) for r in rows for k, v in r.items() if k != "step"]
    with open(tracked / "metrics.csv") as f:
        got = [(int(r["step"]), r["metric"], float(r["value"])) for r in csv.DictReader(f)]
    assert got == expected and len(got) > 50


def test_the_hparams_dashboard_gets_the_hyperparameters_and_the_metrics_it_shows(tracked):
    from tensorboard.plugins.hparams import plugin_data_pb2
    found = {}
    for event in events(tracked):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                found[data.WhichOneof("data")] = data
    assert {"experiment", "session_start_info"} <= set(found)
    start = found["session_start_info"].session_start_info.hparams
    assert start["learning_rate"].number_value == pytest.approx(1e-3) and start["env_id"].string_value == "CartPole-v1"
    shown = {m.name.tag for m in found["experiment"].experiment.metric_infos}
    assert shown == {"charts/episodic_return", "charts/eval_return"}
    logged = {v.tag for e in events(tracked) for v in e.summary.value}
    assert shown <= logged   # the dashboard's metrics are real scalars of the run


def test_capture_video_writes_videos_of_training_episodes_to_the_run_and_tensorboard(tracked):
    videos = sorted(os.listdir(tracked / "videos"))
    assert videos and all(v.startswith("episode-") and v.endswith(".mp4") for v in videos)
    episodes = [int(v.split("-")[1]) for v in videos]
    assert episodes == sorted(episodes) and len(set(e // 10 for e in episodes)) == len(episodes)
    gifs = [v for e in events(tracked) for v in e.summary.value if v.tag == "videos/training"]
    assert len(gifs) == len(videos) and gifs[0].image.encoded_image_string[:6] in (b"GIF89a", b"GIF87a")


def test_an_offline_wandb_run_holds_the_config_the_scalars_and_the_videos(tracked):
    from .wandb_records import config_of, history_of
    config = config_of(tracked)
    assert config["algorithm"] == "ppo" and config["env_id"] == "CartPole-v1" and config["nsteps"] == 64
    assert config["run/capture_video"] is True
    history = history_of(tracked)
    returns = [r["charts/episodic_return"] for r in history if "charts/episodic_return" in r]
    ours = [r["charts/episodic_return"] for r in read_metrics(tracked) if "charts/episodic_return" in r]
    assert returns == ours   # every scalar, CleanRL's names, against global_step
    assert any("charts/eval_return" in r for r in history) and any("losses/value_loss" in r for r in history)
    assert all("global_step" in r for r in history)
    videos = [r for r in history if r.get("videos/training/_type") == "video-file"]
    assert len(videos) == len(os.listdir(tracked / "videos"))
    assert glob.glob(str(tracked / "wandb" / "offline-run-*" / "files" / "media" / "videos" / "**" / "*.mp4"),
                     recursive=True)


def test_videos_and_tracking_do_not_change_what_is_learned(tracked, tmp_path):
    plain = tmp_path / "plain"   # a fresh process as the tracked run had (torch's threads as derl sets them)
    result = subprocess.run([DERL, "ppo", "--env-id", "CartPole-v1", *map(str, TINY), "--logdir", str(plain),
                             "--eval-every", "1024", "--eval-episodes", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_metrics(plain) == read_metrics(tracked)


def test_track_without_wandb_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)   # import wandb raises ImportError
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r", "--track"])
    assert "pip install 'derl[track]'" in one_line_exit_2(result)
    assert not (tmp_path / "r").exists()
    assert "needs --track" in one_line_exit_2(invoke(["ppo", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r",
                                                      "--wandb-project", "p"]))
    assert "needs --capture-video" in one_line_exit_2(invoke(["ppo", "--env-id", "CartPole-v1", "--logdir",
                                                              tmp_path / "r", "--video-every", "3"]))
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------- derl tune
GOOD = ["tune", "ppo", "--env-id", "CartPole-v1", "--trials", "2"]
bad_search = st.one_of(
    st.sampled_from(["learning-rate=log:0:1e-2", "learning-rate=log:1e-2:1e-4", "learning-rate=int:1:3",
                     "nsteps=float:1:3", "nsteps=int:8:8", "nsteps=choice:64", "nsteps=choice:64,abc",
                     "learning-rate=uniform:-1:1", "nsteps=int:0:64", "no-such=int:1:3", "learning-rate=beta:1:2",
                     "learning-rate", "=log:1:2", "nsteps=int:1", "gamma=float:0.5:1.5", "nsteps=int:1:2:3",
                     "anneal-lr=int:0:1", "anneal-lr=choice:true,maybe"]),
    st.builds(lambda name, kind, a, b: f"{name}={kind}:{a}:{b}",
              st.sampled_from(["learning-rate", "nsteps", "gamma", "clip-range"]), st.sampled_from(["int", "float",
                                                                                                   "log"]),
              st.sampled_from(["-5", "0", "x", "1e400", ""]), st.sampled_from(["-1", "0", "nan", "y"])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(search=bad_search)
def test_a_bad_search_is_one_line_exit_2_and_nothing_is_written(search, tmp_path):
    where = tmp_path / "t"
    result = invoke([*GOOD, "--search", search, "--logdir", where])
    assert "--search" in one_line_exit_2(result)
    assert not where.exists()


@pytest.mark.parametrize("extra, says", [
    ([], "--search"),
    (["--search", "learning-rate=log:1e-4:1e-2", "--search", "learning-rate=log:1e-3:1e-2"], "twice"),
    (["--search", "nsteps=int:8:64", "--nsteps", "64"], "both fixed and searched"),
    (["--search", "nsteps=int:8:64", "--workers", "2"], "not an option of a tune"),
    (["--search", "nsteps=int:8:64", "--trials", "0"], "--trials"),
    (["--search", "nsteps=int:8:64", "--set", "nosuch=3"], "unknown option --nosuch"),
    (["--search", "nsteps=int:1:64", "--num-envs", "1", "--num-minibatches", "4"], "nsteps=1"),   # an extreme
])
def test_tune_refusals(extra, says, tmp_path):
    line = one_line_exit_2(invoke([*GOOD, "--logdir", tmp_path / "t", *extra]))
    assert says in line, line
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("url", ["bogus://derl:s3cret@db.example/study", "sqlite://derl:s3cret@/no/such/dir/x.db",
                                 "postgresql+nosuchdriver://u:s3cret@localhost:1/x"])
def test_a_bad_storage_url_is_one_line_that_does_not_print_its_password(url, tmp_path):
    line = one_line_exit_2(invoke([*GOOD, "--search", "nsteps=int:8:64", "--storage", url,
                                   "--logdir", tmp_path / "t"]))
    assert "--storage" in line and "s3cret" not in line and "***@" in line, line
    assert not (tmp_path / "t").exists()


password = st.text(st.characters(blacklist_characters="@/:", blacklist_categories=("Cs", "Z", "Cc")), max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=password.map(lambda p: "s3cret" + p))
def test_tune_json_never_keeps_the_storage_password_and_resume_takes_it_from_the_environment(secret, tmp_path,
                                                                                            monkeypatch):
    """A --storage URL's password reaches the study (this invocation's, then DERL_TUNE_STORAGE's on resume) but
    never tune.json or a printed line; a resume without it is one line, exit 2. Optuna and Ray are stood in for
    (a database with a password login is not on a CI machine): what is checked is the URL each is handed."""
    from derl_core import tune
    url = f"postgresql://derl:{secret}@db.example:5432/study"
    opened, ran = [], []
    monkeypatch.setattr(tune, "open_study", lambda u, plan, create=False: opened.append(u))
    monkeypatch.setattr(tune, "_execute", lambda *args: ran.append(args[-1]) or 0)
    monkeypatch.delenv(tune.STORAGE_ENV, raising=False)
    where = tmp_path / f"t{len(os.listdir(tmp_path))}"
    result = invoke([*GOOD, "--search", "nsteps=int:8:64", "--storage", url, "--logdir", where])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert opened == [url] and ran == [url]   # the study is opened with the password
    kept = (where / "tune.json").read_text()
    assert secret not in kept and secret not in result.stdout and "derl:***@db.example" in kept
    line = one_line_exit_2(invoke(["resume", where]))   # tune.json alone cannot reconnect
    assert tune.STORAGE_ENV in line and secret not in line
    monkeypatch.setenv(tune.STORAGE_ENV, url.replace("db.example", "elsewhere"))   # another database: refused
    assert tune.STORAGE_ENV in one_line_exit_2(invoke(["resume", where]))
    monkeypatch.setenv(tune.STORAGE_ENV, url)
    result = invoke(["resume", where])
    assert result.exit_code == 0 and ran == [url, url], (result.stderr, result.exception)


@pytest.mark.slow
def test_tune_prunes_survives_ctrl_c_and_resumes_the_same_study(tmp_path):
    """4 trials, one at a time (so the outcome is reproducible): interrupted while the second trial trains,
    resumed: the first trial's run is not touched again, the second continues, the study ends with 4 trials,
    at least one pruned, and the results, the best command and the figures are written."""
    tune = tmp_path / "t"
    args = [DERL, "tune", "ppo", "--env-id", "CartPole-v1", "--trials", "4", "--parallel", "1",
            "--startup-trials", "1", "--search", "learning-rate=log:1e-6:3e-2", "--search", "nsteps=choice:32,64",
            "--total-steps", "3072", "--eval-every", "512", "--eval-episodes", "2", "--checkpoint-every", "512",
            "--logdir", str(tune)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,   # SIGINT as a terminal has it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    second = tune / "trial-0001__seed=1"
    deadline = time.time() + 240
    def started():   # the second trial has a checkpoint past step 0
        return [p for p in glob.glob(str(second / "checkpoints" / "ckpt_*.pt")) if not p.endswith("_000000000000.pt")]
    while not started() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert started() and proc.poll() is None, proc.communicate()
    first = (tune / "trial-0000__seed=1" / "metrics.jsonl").read_text()
    first_checkpoints = sorted(os.listdir(tune / "trial-0000__seed=1" / "checkpoints"))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out[-1000:], err[-2000:])
    assert f"derl resume {tune}" in out
    result = subprocess.run([DERL, "resume", str(tune)], capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tune / "trial-0000__seed=1" / "metrics.jsonl").read_text() == first
    assert sorted(os.listdir(tune / "trial-0000__seed=1" / "checkpoints")) == first_checkpoints
    results = json.loads((tune / "results.json").read_text())
    assert sorted(r["trial"] for r in results["trials"]) == [0, 1, 2, 3]   # no trial run twice, none lost
    states = [r["state"] for r in results["trials"]]
    assert set(states) <= {"complete", "pruned"} and "pruned" in states, states
    pruned = [r for r in results["trials"] if r["state"] == "pruned"]
    steps = max(row["step"] for row in read_metrics(tune / pruned[0]["runs"][0]))
    assert steps < 3072   # a pruned trial stops early
    params = [json.dumps(r["params"], sort_keys=True) for r in results["trials"]]
    assert len(set(params)) == len(params), params   # the resumed sampler does not draw the first points again
    best = results["best"]
    assert best["command"].startswith("derl ppo --env-id CartPole-v1") and "--learning-rate" in best["command"]
    assert (tune / "optimization-history.png").stat().st_size > 1000
    assert "| 1 |" in (tune / "results.md").read_text()
    # the zoo's tune -> train loop: the best trial as a preset file, trained from in one command
    preset = json.loads((tune / "preset.json").read_text())
    assert preset["algorithm"] == "ppo" and preset["hyperparameters"]["learning_rate"] == best["params"]["learning_rate"]
    again = tmp_path / "again"
    result = subprocess.run([DERL, "ppo", "--env-id", "CartPole-v1", "--preset", str(tune / "preset.json"),
                             "--total-steps", "512", "--nsteps", "32", "--logdir", str(again)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((again / "config.json").read_text())
    assert config["hyperparameters"]["learning_rate"] == best["params"]["learning_rate"]
    assert config["sources"]["learning_rate"] == "preset" and config["sources"]["total_steps"] == "flag"


def test_videos_leave_an_epsilon_greedy_policy_s_own_random_numbers_alone(tmp_path):
    """DQN's policy draws epsilon and random actions from its own generator: a video episode must not use it."""
    args = ["dqn", "--env-id", "CartPole-v1", "--total-steps", 1500, "--threads", 1, "--learning-starts", 200, "--epsilon-steps",
            1000, "--train-every", 50, "--gradient-steps", 5]
    assert invoke([*args, "--logdir", tmp_path / "plain"]).exit_code == 0
    assert invoke([*args, "--logdir", tmp_path / "video", "--capture-video", "--video-every", 5]).exit_code == 0
    assert len(os.listdir(tmp_path / "video" / "videos")) >= 3
    assert read_metrics(tmp_path / "video") == read_metrics(tmp_path / "plain")


def test_a_resumed_tracked_run_continues_the_same_wandb_run(tmp_path):
    run = tmp_path / "r"
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    first = subprocess.run([DERL, "ppo", "--env-id", "CartPole-v1", "--total-steps", "1024", "--track", "--logdir",
                            str(run)], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    run_id = (run / "wandb-id").read_text().strip()
    again = subprocess.run([DERL, "resume", str(run), "--total-steps", "2048"], capture_output=True, text=True,
                           env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (run / "wandb-id").read_text().strip() == run_id
    offline = sorted(glob.glob(str(run / "wandb" / "offline-run-*")))
    assert len(offline) == 2 and all(p.endswith(run_id) for p in offline)
