# Everything a fresh machine needs: `make demo` and `make test` each set up the venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP  := $(VENV)/.derl-installed

.PHONY: setup demo test bench bench-learning bench-dqn-ablation bench-sac-ablation bench-ppo-ablation bench-breakout-ablation clean

setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch: the local CPU wheel when no torch is present; an existing (e.g. CUDA) torch is kept.
$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "torch==2.13.0"
	touch $@

$(STAMP): pyproject.toml $(PLUGINS) $(VENV)/.torch
	$(PY) -m pip install --quiet -e ".[atari,mujoco,pybullet,dev,ray,export,tune,track]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	@# EnvPool (the default Atari/MuJoCo backend where installed) has wheels for some platforms only: a machine
	@# without one keeps the gymnasium backend, and the EnvPool tests say they were skipped.
	$(PY) -m pip install --quiet -e ".[envpool]" || echo "note: EnvPool cannot be installed here; derl uses gymnasium"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/derl ppo --env-id CartPole-v1 --logdir runs/demo-cartpole-ppo-$$(date +%Y%m%d-%H%M%S)

# two workers, a test file each (module fixtures built once): 651 s here, where one worker took over 15 minutes
test: $(STAMP)
	$(PY) -m pytest -q -x -n 2 --dist loadfile --durations=10

bench: $(STAMP)
	$(PY) bench/run.py

# learning beside SB3 at published budgets, 5 seeds, rliable intervals: bench/results/learning.md and PNGs.
# Many hours on 2 cores: each finished run is stored, and the next invocation continues (--max-minutes M).
bench-learning: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/learning.py

# DQN's extensions one at a time on CartPole-v1, 5 seeds, resumable: bench/results/dqn_ablation.md
bench-dqn-ablation: $(STAMP)
	$(PY) bench/dqn_ablation.py --seeds 5 --parallel 2

# The suspects of a gap to SB3 one at a time, 5 seeds, resumable: bench/results/ablation-CASE.md
bench-sac-ablation: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/ablation.py --case sac-halfcheetah --parallel 2

bench-ppo-ablation: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/ablation.py --case ppo-hopper --parallel 2

bench-breakout-ablation: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/ablation.py --case ppo-breakout --parallel 2

clean:
	rm -rf $(VENV) runs build
