#!/usr/bin/env bash
# One short GPU check: PPO Breakout (EnvPool), PPO HalfCheetah and SAC HalfCheetah on --device cuda, without
# and with --compile, steps/s beside LeanRL's published H100 figures (PPO Atari 6.8k, SAC 725, PPO MuJoCo 1.8k
# env steps/s; ../shared/reference/anchors.md). On a machine without CUDA it says so and exits 0.
#     bash bench/gpu.sh [STEPS_SCALE]   (1 = the default budgets below; 0.5 halves them)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
SCALE=${1:-1}
DEVICE=${DEVICE:-cuda}   # DEVICE=cpu runs the same script on the CPU (a dry run of it, e.g. with a scale of 0.02)
DERL="$(dirname "$PY")/derl"
if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu.sh: no CUDA device here (torch.cuda.is_available() is False): skipping the CUDA runs"
    exit 0
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0) if '$DEVICE' == 'cuda' else 'cpu', '| torch', torch.__version__)"
OUT=${OUT:-$(mktemp -d)}
steps() { "$PY" -c "print(int($1 * $SCALE))"; }
# case: algorithm env-id steps LeanRL's figure, extra flags
run() {
    local name=$1 alg=$2 env=$3 n=$4 lean=$5; shift 5
    for compile in false true; do
        local dir="$OUT/$name-compile-$compile"
        local start end
        start=$(date +%s.%N)
        if "$DERL" "$alg" --env-id "$env" --total-steps "$n" --device "$DEVICE" --compile "$compile" \
               --logdir "$dir" --checkpoint-every 100000000 --preset none "$@" > "$dir.log" 2>&1; then
            end=$(date +%s.%N)
            "$PY" - "$dir" "$start" "$end" "$name" "$compile" "$lean" <<'PYEOF'
import json, sys
d, start, end, name, compile, lean = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
sps = [r["charts/SPS"] for r in rows if "charts/SPS" in r]
last = max(r["step"] for r in rows)
wall = float(end) - float(start)
print(f"{name:<16} compile={compile:<5} {last} steps in {wall:6.1f} s: {last / wall:7.0f} steps/s overall"
      f"{f', {sps[-1]:.0f} steps/s at the end' if sps else ''}  (LeanRL H100: {lean} steps/s)")
PYEOF
        else
            echo "$name compile=$compile FAILED: $(tail -1 "$dir.log")"
        fi
    done
}
run ppo-breakout    ppo BreakoutNoFrameskip-v4 "$(steps 200000)" 6800 --env-backend envpool
run ppo-halfcheetah ppo HalfCheetah-v5         "$(steps 102400)" 1800
run sac-halfcheetah sac HalfCheetah-v5         "$(steps 20000)"  725  --learning-starts "$(steps 5000)"
echo "logs and runs: $OUT"
