#!/usr/bin/env bash
# Reproduces the GPU study of docs/h200-study.md, one phase at a time; every phase resumes where an earlier,
# interrupted run of it stopped. RESULTS (default results/) holds one folder per sweep.
#   benchmarks/study/run_study.sh study       # torchscript and cuda-graph over the g5_vs_g4dn grid
#   benchmarks/study/run_study.sh rest        # what the first run of `study` left, at 1 and 4 threads
#   benchmarks/study/run_study.sh rate        # BERT-base's highest rate meeting p95<10ms, open loop
#   benchmarks/study/run_study.sh aoti        # AOTInductor packages, fp16
#   benchmarks/study/run_study.sh sweep-time  # the statistical stop against the fixed 10 s rule
#   benchmarks/study/run_study.sh report      # tables and figures of all three sweeps
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=${RESULTS:-results}

sweep() {  # sweep NAME: run, or continue, one of this folder's sweeps
  local resume=()
  [ -f "$results/$1/results.jsonl" ] && resume=(--resume)
  python3 -m infermeter sweep "$here/$1.yaml" -o "$results/$1" --quiet "${resume[@]}"
}

case "${1:-}" in
  study) sweep gpu_study ;;
  rest) sweep gpu_study_rest ;;
  rate) sweep gpu_study_rate ;;
  aoti) sweep gpu_study_aoti ;;
  sweep-time)
    python3 "$here/../sweep_time.py" --device cuda:0 --ci-results "$results/gpu_study" --max-duration 20 --sample "${SAMPLE:-8}" \
      --out "$results/sweep_time" ;;
  report)
    python3 -m infermeter report "$results/gpu_study" "$results/gpu_study_rest" "$results/gpu_study_aoti" \
      "$results/gpu_study_rate" \
      -o "$results/gpu_study_report" ;;
  *) echo "usage: $0 study|rest|rate|aoti|sweep-time|report" >&2; exit 2 ;;
esac
