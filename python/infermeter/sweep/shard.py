"""Deterministic, balanced shards of a sweep's grid for job arrays: point i
of the grid belongs to shard i mod N, so shard sizes differ by at most one
and every shard gets a mix of models and batch sizes."""

from __future__ import annotations

import re

from infermeter.sweep.grid import Point


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N (I as AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX counts, from 0)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not int(match[1]) < int(match[2]):
        raise ValueError(f"--shard takes I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return int(match[1]), int(match[2])


def shard(points: list[Point], index: int, count: int) -> list[Point]:
    return points[index::count]
