"""Knee of throughput against batch size, latency SLAs, and the cheapest
configuration that meets one, with the fleet that carries a target load."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from kneed import KneeLocator

from infermeter.cost import cost_per_million
from infermeter.frame import SETUP_COLUMNS, WHOLE, capacity_points, curve_label, measured
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
    """Knee batch size of each series (instance, model, variant, precision,
    threads), of closed-loop peaks and of find-rate answers apart."""
    ok = capacity_points(frame)
    if ok.empty:
        return {}
    return {label: knee_batch(group["batch_size"], group["inferences_per_s"])
            for label, group in ok.groupby(ok.apply(curve_label, axis=1), sort=False)}


# Where a configuration's SLA-meeting inferences/s per server comes from.
CLOSED_PEAK, FOUND_RATE, RATE_POINT = "closed-loop peak", "find-rate", "open-loop rate"
# From this percentile up, queueing decides the latency a busy server shows.
TAIL_PERCENTILE = 90
# What identifies a configuration across results files: its points differ only in load.
CONFIGURATION = ["instance", "device", *SETUP_COLUMNS]


@dataclass
class Recommendation:
    sla: Sla
    candidates: pd.DataFrame  # one row per configuration meeting the SLA, cheapest first
    target_load: float | None = None
    unstated: int = 0  # points with too few samples to state the SLA's percentile

    @property
    def best(self):
        return None if self.candidates.empty else self.candidates.iloc[0]

    def servers(self) -> int | None:
        """Copies of the best configuration that carry the target load, each
        at its SLA-meeting rate: servers when it held a whole instance, else
        devices (GPUs, NeuronCores)."""
        if self.best is None or not self.target_load:
            return None
        return math.ceil(self.target_load / self.best["server_inferences_per_s"])

    def instances(self) -> int | None:
        """Whole instances those copies need, packed onto shared instances."""
        n = self.servers()
        return None if n is None else math.ceil(n * self.best["share"] - 1e-9)

    def warnings(self) -> list[str]:
        b = self.best
        if b is None or b["server_basis"] != CLOSED_PEAK or self.sla.percentile < TAIL_PERCENTILE:
            return []
        return [f"warning: sized from a closed-loop peak. A closed loop keeps every server 100% busy and never "
                f"queues a request, so its p{self.sla.percentile:g} leaves out the queueing delay that a fleet at "
                "that utilisation would add: the fleet is too small for the SLA. Measure the rate that meets it "
                "with `load: open` and `find_rate: true` in the sweep."]

    def _basis(self) -> str:
        b = self.best
        if b["server_basis"] == CLOSED_PEAK:
            return "the closed-loop peak, at 100% utilisation"
        rate = f"{b['offered_rate']:.1f} requests/s x batch {b['batch_size']}"
        if b["server_basis"] == FOUND_RATE:
            return f"the highest open-loop rate meeting the SLA that find_rate found ({rate})"
        return f"the highest sustained open-loop rate measured that meets the SLA ({rate})"

    def __str__(self) -> str:
        unstated = ([f"{self.unstated} point(s) had too few samples to state p{self.sla.percentile:g} and were not "
                     "counted as meeting the SLA"] if self.unstated else [])
        if self.best is None:
            return "\n".join([f"no measured point meets {self.sla}", *unstated])
        b = self.best
        whole = b["priced_as"] == WHOLE
        priced = f"${b['share_price_per_hour']:.4f}/hour" + ("" if whole else
                                                               f", {b['priced_as']} of ${b['price_per_hour']:.4f}")
        lines = [f"cheapest point meeting {self.sla}: {b['instance']} {b['model']} {b['variant']} {b['precision']} "
                 f"batch {b['batch_size']}, {b['threads']} client thread(s)",
                 f"  {b['server_inferences_per_s']:.1f} inferences/s, p{self.sla.percentile:g} "
                 f"{format_duration_ms(b['sla_latency_ms'])}, ${b['server_cost_per_million']:.4f} per million "
                 f"inferences ({priced})",
                 f"  per server: {self._basis()}"]
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
        return "\n".join(lines + unstated + self.warnings())


def _per_server(group: pd.DataFrame) -> tuple[object, float, str] | None:
    """(point, inferences/s per server, basis) of one configuration: with
    open-loop results, the highest offered rate that met the SLA (a find-rate
    answer or a rates point), x batch; with closed-loop results only, the
    peak. None when nothing met the SLA."""
    open_loop = group[group["load"] == "open"]
    if not open_loop.empty:
        meeting = open_loop[open_loop["meets"]]
        if meeting.empty:
            return None
        best = meeting.loc[meeting["offered_rate"].idxmax()]
        return best, best["offered_rate"] * best["batch_size"], FOUND_RATE if best["find_rate"] else RATE_POINT
    meeting = group[group["meets"]]
    if meeting.empty:
        return None
    best = meeting.loc[meeting["inferences_per_s"].idxmax()]
    return best, best["inferences_per_s"], CLOSED_PEAK


def recommend(frame: pd.DataFrame, sla: Sla | str, min_throughput: float | None = None,
              target_load: float | None = None) -> Recommendation:
    """Configurations that meet `sla` (and `min_throughput`, inferences/s per
    server), cheapest per million inferences at their SLA-meeting rate first.
    A configuration with open-loop results is judged by them: response time
    at an offered rate it sustained. Points without a price cannot be ranked
    and are left out; points with too few samples to state the percentile do
    not meet the SLA."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    ok = measured(frame)
    priced = ok[ok["cost_per_million"].notna()].copy()
    if priced.empty and not ok.empty:
        raise ValueError("no measured point has an instance to price it: give the sweep an `instance:` "
                         "or run it with --instance")
    priced["sla_latency_ms"] = [sla.latency_ms(r) for r in priced["result"]]
    priced["meets"] = [sla.met_by(r) and (load == "closed" or bool(sustained))
                       for r, load, sustained in zip(priced["result"], priced["load"], priced["sustained"])]
    chosen, per_server, basis = [], [], []
    for _, group in priced.groupby(CONFIGURATION, sort=False, dropna=False):
        found = _per_server(group)
        if found is not None:
            chosen.append(found[0].name)
            per_server.append(found[1])
            basis.append(found[2])
    candidates = priced.loc[chosen].assign(server_inferences_per_s=per_server, server_basis=basis)
    candidates["server_cost_per_million"] = [cost_per_million(t, price) for t, price in zip(
        candidates["server_inferences_per_s"], candidates["share_price_per_hour"])]
    if min_throughput:
        candidates = candidates[candidates["server_inferences_per_s"] >= min_throughput]
    return Recommendation(sla, candidates.sort_values(["server_cost_per_million", "sla_latency_ms"]), target_load,
                          unstated=int(priced["sla_latency_ms"].isna().sum()))
