"""derl tune, tried as a user would (issue 19): PPO on CartPole-v1, 2 searched hyperparameters, 8 trials, 2 in
parallel; interrupted with Ctrl-C (SIGINT) once 3 trials have finished, then `derl resume`. The study's
results.md / results.json and figures are copied to bench/results/tune-ppo-cartpole/ with the commit and what
the interruption showed. Never in CI.

    python bench/tune_cartpole.py [--logdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "tune-ppo-cartpole")
DERL = os.path.join(os.path.dirname(sys.executable), "derl")
COMMAND = ["tune", "ppo", "--env-id", "CartPole-v1", "--trials", "8", "--parallel", "2",
           "--search", "learning-rate=log:1e-5:3e-2", "--search", "nsteps=choice:16,32,64,128",
           "--total-steps", "60000", "--eval-every", "5000", "--eval-episodes", "10"]


def states(tune_dir: str) -> dict:
    db = os.path.join(tune_dir, "study.db")
    if not os.path.exists(db):
        return {}
    with sqlite3.connect(db, timeout=30) as con:
        return dict(con.execute("select number, state from trials").fetchall())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logdir", default=os.path.join("runs", "tune-ppo-cartpole"))
    args = ap.parse_args()
    tune = args.logdir
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    log = {"commit": commit, "command": "derl " + " ".join(COMMAND + ["--logdir", tune])}
    if not os.path.exists(tune):
        # SIGINT restored to its default: a shell's background job starts with it ignored, and so would derl
        proc = subprocess.Popen([DERL, *COMMAND, "--logdir", tune], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while proc.poll() is None and sum(s in ("COMPLETE", "PRUNED") for s in states(tune).values()) < 3:
            time.sleep(1)
        log["before_interrupt"] = states(tune)
        proc.send_signal(signal.SIGINT)   # Ctrl-C
        out, _ = proc.communicate()
        log["interrupted_exit_code"] = proc.returncode
        if proc.returncode != 130:
            raise SystemExit(f"derl tune was not interrupted (exit code {proc.returncode})")
        log["interrupted_output_tail"] = out.strip().splitlines()[-2:]
        print(out[-600:])
    started = time.time()
    result = subprocess.run([DERL, "resume", tune], capture_output=True, text=True)
    print(result.stdout[-3000:], result.stderr[-2000:])
    log["resume_exit_code"] = result.returncode
    log["resume_seconds"] = round(time.time() - started)
    log["after_resume"] = states(tune)
    os.makedirs(OUT, exist_ok=True)
    for name in ("results.md", "results.json", "optimization-history.png", "param-importances.png", "tune.json"):
        if os.path.exists(os.path.join(tune, name)):
            shutil.copy(os.path.join(tune, name), os.path.join(OUT, name))
    with open(os.path.join(OUT, "session.json"), "w") as f:
        json.dump(log, f, indent=2)
    print(json.dumps(log, indent=2))


if __name__ == "__main__":
    main()
