"""Deterministic, balanced shards of a sweep's grid for job arrays: point i
of the grid belongs to shard i mod N, so shard sizes differ by at most one
and every shard gets a mix of models and batch sizes."""

from __future__ import annotations

import re

from infermeter.sweep.grid import Point


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N (I as AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX counts, from 0)."""
    # Signs are matched so that '-1/4' is told what is wrong with it, not just that it is malformed.
    match = re.fullmatch(r"\s*([+-]?\d+)\s*/\s*([+-]?\d+)\s*", text)
    if not match:
        problem = "not two whole numbers I/N"
    else:
        index, count = int(match[1]), int(match[2])
        if count < 1:
            problem = f"the shard count {count} must be at least 1"
        elif index < 0:
            problem = f"the shard index {index} is negative: shards count from 0"
        elif index >= count:
            problem = f"the shard index {index} must be below the shard count {count} (shards count from 0)"
        else:
            return index, count
    raise ValueError(f"--shard {text!r}: {problem}; it takes I/N with 0 <= I < N (e.g. 0/4 is the first of 4)")


def shard(points: list[Point], index: int, count: int) -> list[Point]:
    return points[index::count]
