#!/usr/bin/env bash
# Base training as whole processes, twp beside PyTorch (bench/lenet5_process_torch.py, the same
# training written the usual PyTorch way), started cold from the shell as a user would, alternated
# twp, PyTorch, twp, PyTorch... so that both see the same machine. Scenarios (comma-separated):
#   epoch      one epoch and one test-set scoring (--training_epochs 1 --num_runs 1
#              --snapshots_per_epoch 1), each side `repeats` times: medians and the ratio;
#   busy       the same while one other busy process (a shell loop) holds one of the cores, and
#              twp's busy/alone time ratio;
#   pair       two twp processes at once against one alone: their combined images/s over one's;
#   reference  the reference project's own example, --training_epochs 2 --num_runs 2
#              --snapshots_per_epoch 20 (84 test-set scorings), once each side (minutes for PyTorch).
# twp runs with its defaults (all cores, its thread tuner on); PyTorch with 2 torch threads and
# OPENBLAS_NUM_THREADS=1. Prints one JSON object.
#   usage: bench/run_bench_process.sh [scenarios, default epoch,busy,pair] [repeats, default 2]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
scenarios=",${1:-epoch,busy,pair},"
repeats="${2:-2}"
threads="$(nproc)"
"$root/tools/setup-deps.sh" --bench > /dev/null
[[ -x "$root/build/twp" ]] || "$root/tools/build.sh"
"$root/tools/fetch-data.sh" > /dev/null
work="$(mktemp -d)"
hog=""
cleanup() { [[ -n "$hog" ]] && kill "$hog" 2> /dev/null; rm -rf "$work"; }
trap cleanup EXIT

# seconds of one whole process: twp|torch epochs runs snapshots_per_epoch
run_once() {
    local side="$1" epochs="$2" runs="$3" per_epoch="$4" dir
    dir="$(mktemp -d -p "$work")"
    local start end
    start="$(date +%s.%N)"
    if [[ "$side" == twp ]]; then
        "$root/build/twp" --mode train_base --training_epochs "$epochs" --num_runs "$runs" \
            --snapshots_per_epoch "$per_epoch" --data_dir "$root/data/mnist" --snapshot_dir "$dir" \
            > "$dir/log.txt" 2>&1 || { cat "$dir/log.txt" >&2; exit 1; }
    else
        OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/lenet5_process_torch.py" --data_dir "$root/data/mnist" \
            --out_dir "$dir" --epochs "$epochs" --runs "$runs" --snapshots_per_epoch "$per_epoch" \
            --threads "$threads" > "$dir/log.txt" 2>&1 || { cat "$dir/log.txt" >&2; exit 1; }
    fi
    end="$(date +%s.%N)"
    rm -rf "$dir"
    echo "$start $end" | awk '{printf "%.3f", $2 - $1}'
}

# "twp_times torch_times" (space-separated lists) of `repeats` alternated pairs
alternate() {
    local twp_times="" torch_times=""
    for ((i = 0; i < repeats; ++i)); do
        twp_times+="$(run_once twp "$@") "
        torch_times+="$(run_once torch "$@") "
    done
    echo "${twp_times% },${torch_times% }"
}

results="{}"
add() { results="$(/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r[sys.argv[2]]=json.loads(sys.argv[3]); print(json.dumps(r))' "$results" "$1" "$2")"; }
pair_json() {  # name "twp list,torch list"
    /usr/bin/python3 - "$2" <<'PY'
import json, statistics, sys
twp, torch = ([float(v) for v in side.split()] for side in sys.argv[1].split(","))
print(json.dumps({"twp_seconds": twp, "pytorch_seconds": torch,
                  "twp_median_s": statistics.median(twp), "pytorch_median_s": statistics.median(torch),
                  "ratio_pytorch_time_over_twp_time": round(statistics.median(torch) / statistics.median(twp), 2)}))
PY
}

if [[ "$scenarios" == *,epoch,* || "$scenarios" == *,busy,* ]]; then
    alone="$(alternate 1 1 1)"
    add epoch "$(pair_json epoch "$alone")"
fi
if [[ "$scenarios" == *,busy,* ]]; then
    bash -c 'while :; do :; done' &
    hog=$!
    sleep 1
    busy="$(alternate 1 1 1)"
    kill "$hog"; wait "$hog" 2> /dev/null || true; hog=""
    add busy "$(pair_json busy "$busy")"
    add busy_slowdown "$(/usr/bin/python3 -c 'import json,statistics,sys; a=[float(v) for v in sys.argv[1].split(",")[0].split()]; b=[float(v) for v in sys.argv[2].split(",")[0].split()]; print(json.dumps({"twp_busy_over_alone": round(statistics.median(b)/statistics.median(a), 2)}))' "$alone" "$busy")"
fi
if [[ "$scenarios" == *,pair,* ]]; then
    one="$(run_once twp 1 1 1)"
    start="$(date +%s.%N)"
    run_once twp 1 1 1 > "$work/first" &
    first=$!
    run_once twp 1 1 1 > "$work/second"
    wait "$first"
    both="$(echo "$start $(date +%s.%N)" | awk '{printf "%.3f", $2 - $1}')"
    add pair "$(/usr/bin/python3 -c 'import json,sys; one,both=float(sys.argv[1]),float(sys.argv[2]); print(json.dumps({"one_process_s": one, "two_processes_s": both, "combined_throughput_over_one": round(2*one/both, 2)}))' "$one" "$both")"
fi
if [[ "$scenarios" == *,reference,* ]]; then
    saved="$repeats"; repeats=1
    add reference "$(pair_json reference "$(alternate 2 2 20)")"
    repeats="$saved"
fi
/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), indent=2))' "$results"
