"""The GPU study's results beside the original study's published figures for
the A10G (g5) and T4 (g4dn), with the ratio to each, and the batch-1 points
with their launch-bound flag: the tables of docs/h200-study.md.

    python3 benchmarks/study/against_the_study.py results/gpu_study results/gpu_study_rest
"""

from __future__ import annotations

import argparse
import math
import sys

from infermeter import load_results

# The original study's figures (inferences/s, one client, its Python timing loop), as published.
PUBLISHED = {
    ("bert-base-squad2", 32): {"fp32": {"A10G": 723, "T4": 154}, "mixed": {"A10G": 870, "T4": 410}},
    ("resnet50", 32): {"fp32": {"A10G": 941, "T4": 397}, "mixed": {"A10G": 1533, "T4": 851}},
    ("bert-base-squad2", 1): {"fp32": {"A10G": 160, "T4": 116}, "mixed": {"A10G": 137, "T4": 102}},
    ("resnet50", 1): {"fp32": {"A10G": 202, "T4": 164}},
}


def fmt(value: float, spec: str = ".0f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="results folders of the study's sweeps")
    args = p.parse_args()
    frame = load_results(*args.results)
    ok = frame[(frame["status"] == "ok") & (frame["load"] == "closed")]
    print("| model | batch | precision | A10G /s | T4 /s | runner | threads | this GPU /s | x A10G | x T4 | "
          "launch-bound |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (model, batch), by_precision in PUBLISHED.items():
        for precision, published in by_precision.items():
            rows = ok[(ok["model"] == model) & (ok["batch_size"] == batch) & (ok["precision"] == precision)]
            if rows.empty:
                print(f"| {model} | {batch} | {precision} | {published['A10G']} | {published['T4']} | "
                      "not measured | | | | | |")
                continue
            for runner, group in rows.groupby("runner"):
                one = group[group["threads"] == 1]
                row = (one if not one.empty else group).iloc[0]
                result = row["result"]
                bound = (result.to_dict()["measurement"].get("launch_bound") or {}).get("launch_bound")
                rate = row["inferences_per_s"]
                print(f"| {model} | {batch} | {precision} | {published['A10G']} | {published['T4']} | {runner} | "
                      f"{row['threads']} | {fmt(rate)} | {fmt(rate / published['A10G'], '.1f')} | "
                      f"{fmt(rate / published['T4'], '.1f')} | {'yes' if bound else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
