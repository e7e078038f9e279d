"""Knee of throughput against batch size, latency SLAs, and the cheapest
configuration that meets one."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from kneed import KneeLocator

from infermeter.frame import measured, series_label
from infermeter.sla import Sla, parse_sla

def knee_batch(batch_sizes, throughputs) -> int | None:
    """The batch size where throughput stops rising steeply (kneed's Kneedle on
    the concave, increasing curve); None with fewer than three points or no knee."""
    pairs = sorted(zip(batch_sizes, throughputs))
    if len(pairs) < 3:
        return None
    x, y = zip(*pairs)
    knee = KneeLocator(list(x), list(y), curve="concave", direction="increasing").knee
    return None if knee is None else int(knee)


def knees(frame: pd.DataFrame) -> dict[str, int | None]:
    """Knee batch size of each series (instance, model, variant, precision, threads)."""
    ok = measured(frame)
    return {label: knee_batch(group["batch_size"], group["inferences_per_s"])
            for label, group in ok.groupby(ok.apply(series_label, axis=1), sort=False)}


@dataclass
class Recommendation:
    sla: Sla
    candidates: pd.DataFrame  # points meeting the SLA, cheapest first
    target_load: float | None = None

    @property
    def best(self):
        return None if self.candidates.empty else self.candidates.iloc[0]

    def servers(self) -> int | None:
        if self.best is None or not self.target_load:
            return None
        return math.ceil(self.target_load / self.best["inferences_per_s"])

    def __str__(self) -> str:
        if self.best is None:
            return f"no measured point meets {self.sla}"
        b = self.best
        lines = [f"cheapest point meeting {self.sla}: {b['instance']} {b['model']} {b['variant']} {b['precision']} "
                 f"batch {b['batch_size']}, {b['threads']} client thread(s)",
                 f"  {b['inferences_per_s']:.1f} inferences/s, p{self.sla.percentile:g} {b['sla_latency_ms']:.3f} ms, "
                 f"${b['cost_per_million']:.4f} per million inferences (${b['price_per_hour']:.4f}/hour)"]
        if self.target_load:
            n = self.servers()
            lines.append(f"  for {self.target_load:g} inferences/s: {n} server(s), ${n * b['price_per_hour']:.2f}/hour")
        return "\n".join(lines)


def recommend(frame: pd.DataFrame, sla: Sla | str, min_throughput: float | None = None,
              target_load: float | None = None) -> Recommendation:
    """Points that meet `sla` (and `min_throughput`, inferences/s per server),
    cheapest per million inferences first. Points without a price cannot be
    ranked and are left out."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    ok = measured(frame)
    ok = ok[ok["cost_per_million"].notna()].copy()
    if ok.empty and not measured(frame).empty:
        raise ValueError("no measured point has an instance to price it: give the sweep an `instance:` "
                         "or run it with --instance")
    ok["sla_latency_ms"] = [sla.latency_ms(r) for r in ok["result"]]
    meets = ok[[sla.met_by(r) for r in ok["result"]]]
    if min_throughput:
        meets = meets[meets["inferences_per_s"] >= min_throughput]
    return Recommendation(sla, meets.sort_values(["cost_per_million", "sla_latency_ms"]), target_load)
