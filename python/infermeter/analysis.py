"""Knee of throughput against batch size, latency SLAs, and the cheapest
configuration that meets one."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from kneed import KneeLocator

from infermeter.frame import WHOLE, measured, series_label
from infermeter.sla import Sla, parse_sla
from infermeter.units import format_duration_ms

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
        """Copies of the best point's run that carry the target load: servers
        when it held a whole instance, else devices (GPUs, NeuronCores)."""
        if self.best is None or not self.target_load:
            return None
        return math.ceil(self.target_load / self.best["inferences_per_s"])

    def instances(self) -> int | None:
        """Whole instances those copies need, packed onto shared instances."""
        n = self.servers()
        return None if n is None else math.ceil(n * self.best["share"] - 1e-9)

    def __str__(self) -> str:
        if self.best is None:
            return f"no measured point meets {self.sla}"
        b = self.best
        whole = b["priced_as"] == WHOLE
        priced = f"${b['share_price_per_hour']:.4f}/hour" + ("" if whole else
                                                               f", {b['priced_as']} of ${b['price_per_hour']:.4f}")
        lines = [f"cheapest point meeting {self.sla}: {b['instance']} {b['model']} {b['variant']} {b['precision']} "
                 f"batch {b['batch_size']}, {b['threads']} client thread(s)",
                 f"  {b['inferences_per_s']:.1f} inferences/s, p{self.sla.percentile:g} "
                 f"{format_duration_ms(b['sla_latency_ms'])}, ${b['cost_per_million']:.4f} per million inferences "
                 f"({priced})"]
        if self.target_load:
            n = self.servers()
            if whole:
                lines.append(f"  for {self.target_load:g} inferences/s: {n} server(s), "
                             f"${n * b['price_per_hour']:.2f}/hour")
            else:
                m = self.instances()
                lines.append(f"  for {self.target_load:g} inferences/s: {n} x ({b['priced_as']}) on {m} "
                             f"{b['instance']}, ${n * b['share_price_per_hour']:.2f}/hour for the devices used "
                             f"(${m * b['price_per_hour']:.2f}/hour for {m} whole instance(s))")
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
