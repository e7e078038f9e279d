"""Knee of throughput against batch size, latency SLAs, and the cheapest
configuration that fits in memory and meets one, with the fleet that carries
a target load."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from kneed import KneeLocator

from infermeter.cost import cost_per_million
from infermeter.frame import (BATCHER_COLUMNS, SETUP_COLUMNS, WHOLE, capacity_points, curve_label, load_setting,
                              measured)
from infermeter.options import DYNAMIC_BATCHING
from infermeter.intervals import straddles
from infermeter.sla import Sla, parse_sla
from infermeter.sweep.grid import DEFAULT_RUNNER, batcher_label
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
# What identifies a configuration across results files: its points differ
# only in load. A dynamic batcher's settings make configurations of their
# own; a fixed batch's closed-loop and open-loop points are one.
CONFIGURATION = ["instance", "device", *SETUP_COLUMNS, *BATCHER_COLUMNS]
# The share of its memory a configuration's peak may not fill: the driver and
# allocator keep some for themselves (a "16 GiB" T4 shows 15 GiB usable), and
# a peak over a short run is not the worst a long one meets.
DEFAULT_HEADROOM = 0.10
# How many configurations a line naming those not checked for memory lists.
LISTED = 3


@dataclass
class Recommendation:
    sla: Sla
    candidates: pd.DataFrame  # one row per configuration meeting the SLA, cheapest first
    target_load: float | None = None
    unstated: int = 0  # points with too few samples to state the SLA's percentile
    left_out: dict[str, str] = field(default_factory=dict)  # configuration -> why it does not fit in memory
    unchecked: dict[str, str] = field(default_factory=dict)  # configuration -> why its memory was not checked
    near_misses: int = 0  # points failing the SLA whose percentile interval straddles its limit

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
                "with `load: open` (or `load: dynamic-batching`) and `find_rate: true` in the sweep."]

    def _basis(self) -> str:
        b = self.best
        if b["server_basis"] == CLOSED_PEAK:
            return "the closed-loop peak, at 100% utilisation"
        batching = b["load"] == DYNAMIC_BATCHING
        load = "dynamic-batching arrival" if batching else "open-loop"
        rate = f"{b['offered_rate']:.1f} requests/s x " + (f"{b['batch_size']} item(s) a request" if batching
                                                             else f"batch {b['batch_size']}")
        if b["server_basis"] == FOUND_RATE:
            return f"the highest {load} rate meeting the SLA that find_rate found ({rate})"
        return f"the highest sustained {load} rate measured that meets the SLA ({rate})"

    def _memory_lines(self) -> list[str]:
        """Each configuration left out, and those kept unchecked, a line per reason."""
        lines = [f"left out: {label}: {why}" for label, why in self.left_out.items()]
        by_reason: dict[str, list[str]] = {}
        for label, why in self.unchecked.items():
            by_reason.setdefault(why, []).append(label)
        for why, labels in by_reason.items():
            more = f" and {len(labels) - LISTED} more" if len(labels) > LISTED else ""
            lines.append(f"memory check could not be made for {len(labels)} configuration(s), kept: {why} "
                         f"({', '.join(labels[:LISTED])}{more})")
        return lines

    def _margin_lines(self) -> list[str]:
        """The best point's percentile interval, and whether the SLA verdicts near the limit can be trusted."""
        b, p = self.best, f"p{self.sla.percentile:g}"
        lines = []
        if not pd.isna(b["sla_lo_ms"]):
            lines.append(f"  {p} 95% interval {format_duration_ms(b['sla_lo_ms'])} to "
                         f"{format_duration_ms(b['sla_hi_ms'])} ({b['sla_interval_kind']})")
        if b["borderline"]:
            limit = format_duration_ms(self.sla.limit_ms)
            lines.append(f"  borderline: that interval straddles the {limit} limit, so another run may not meet "
                         "the SLA; measure it again (a sweep's repeat: 3, run as rounds, or --repeat 3; or "
                         "separate sweeps combined with merge --rounds) to decide")
        others = int(self.candidates["borderline"].iloc[1:].sum())
        if others:
            lines.append(f"  {others} other configuration(s) meeting the SLA are borderline the same way")
        if self.near_misses:
            lines.append(f"  {self.near_misses} point(s) failing the SLA have a {p} interval straddling the limit: "
                         "another run may meet it")
        return lines

    def __str__(self) -> str:
        unstated = ([f"{self.unstated} point(s) had too few samples to state p{self.sla.percentile:g} and were not "
                     "counted as meeting the SLA"] if self.unstated else [])
        memory = self._memory_lines()
        if self.best is None:
            fitting = " that fits in memory" if self.left_out else ""
            return "\n".join([f"no measured point{fitting} meets {self.sla}", *memory, *unstated])
        b = self.best
        whole = b["priced_as"] == WHOLE
        priced = f"${b['share_price_per_hour']:.4f}/hour" + ("" if whole else
                                                               f", {b['priced_as']} of ${b['price_per_hour']:.4f}")
        setup = " ".join(str(part) for part in (b["instance"], b["model"], b["variant"], b["precision"]) if part)
        threads = "model instance(s)" if b["load"] == DYNAMIC_BATCHING else "client thread(s)"
        lines = [f"cheapest point meeting {self.sla}: {setup}, {load_setting(b)}, {b['threads']} {threads}",
                 f"  {b['server_inferences_per_s']:.1f} inferences/s, p{self.sla.percentile:g} "
                 f"{format_duration_ms(b['sla_latency_ms'])}, ${b['server_cost_per_million']:.4f} per million "
                 f"inferences ({priced})",
                 f"  per server: {self._basis()}"]
        lines += self._margin_lines()
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
        return "\n".join(lines + memory + unstated + self.warnings())


def configuration_label(row) -> str:
    """A configuration as a recommendation names it: "resnet50 fp32 b256 1 thr on c5.large+eia2.medium"."""
    batcher = (f"dynamic batching {batcher_label(row['max_batch'], row['max_queue_delay_ms'])}"
               if row["load"] == DYNAMIC_BATCHING else "")
    parts = [row["model"], row["variant"], "" if row["runner"] == DEFAULT_RUNNER else row["runner"], row["precision"],
             f"b{row['batch_size']}", batcher, f"{row['threads']} thr"]
    return " ".join(str(p) for p in parts if p) + f" on {row['instance']}"


def _size(mib: float) -> str:
    return f"{mib / 1024:.3g} GiB" if mib >= 1024 else f"{mib:.3g} MiB"


def _why_unmeasured(group: pd.DataFrame, figures: tuple[str, ...]) -> str:
    """Why the results of a configuration state none of `figures` (keys of Memory.unavailable)."""
    for result in group["result"]:
        if result.memory is None:
            return "its results predate memory measurement"
        reasons = [result.memory.unavailable[f] for f in figures if f in result.memory.unavailable]
        if reasons:
            return reasons[0]
    return "not in its results"


@dataclass
class MemoryFit:
    """One configuration's memory peaks against the memory it is priced on."""

    exceeds: list[str]  # each peak that does not fit, and by how much
    unknown: list[str]  # each check that could not be made, and why


def memory_fit(group: pd.DataFrame, headroom: float) -> MemoryFit:
    """The points of one configuration (frame rows), their largest peaks
    against what it may fill less `headroom`: the host peak RSS against the
    host memory of its share of the instance and, for a run on an
    accelerator (or whose results state a device peak), the device peak
    against the memory of the accelerators it held (frame.load_results:
    host_memory_gib, device_memory_gib)."""
    first = group.iloc[0]
    allowed = 1 - headroom
    fit = MemoryFit([], [])

    def check(peak_name: str, peak_mib: float, memory_name: str, memory_gib: float, figures: tuple[str, ...],
              whose: str = "") -> None:
        if pd.isna(peak_mib):
            fit.unknown.append(f"{peak_name} not measured: {_why_unmeasured(group, figures)}")
        elif pd.isna(memory_gib):
            fit.unknown.append(f"the price catalog gives no {memory_name} for {first['instance']}")
        elif peak_mib > allowed * memory_gib * 1024:
            fit.exceeds.append(f"{peak_name} {_size(peak_mib)} exceeds {round(allowed * 100, 6):g}% of its "
                               f"{_size(memory_gib * 1024)} of {memory_name}{whose}")

    share = "" if first["priced_as"] == WHOLE else f" (the share of {first['instance']} that {first['priced_as']} hold)"
    check("host peak RSS", group["host_peak_mb"].max(), "host memory", first["host_memory_gib"], ("host_peak_rss",),
          share)
    if group["on_accelerator"].any() or group["device_peak_mb"].notna().any():
        check("device peak", group["device_peak_mb"].max(), "accelerator memory", first["device_memory_gib"],
              ("device_process_peak", "device_peak"))
    return fit


def _per_server(group: pd.DataFrame) -> tuple[object, float, str] | None:
    """(point, inferences/s per server, basis) of one configuration: with
    results of requests arriving at a rate (an open loop or a dynamic
    batcher), the highest offered rate that met the SLA (a find-rate answer
    or a rates point), x the items in a request; with closed-loop results
    only, the peak. None when nothing met the SLA. The offered rate, for
    both arrival loads alike: a point meets the SLA only when sustained, so
    it served that rate (at least 99% of it)."""
    arrivals = group[group["load"] != "closed"]
    if not arrivals.empty:
        meeting = arrivals[arrivals["meets"]]
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
              target_load: float | None = None, headroom: float = DEFAULT_HEADROOM) -> Recommendation:
    """Configurations that fit in memory and meet `sla` (and `min_throughput`,
    inferences/s per server), cheapest per million inferences at their
    SLA-meeting rate first: fixed batches and dynamic batchers (each
    max_batch and max_queue_delay a configuration) ranked together.

    Memory comes first: a configuration whose peak, the largest over its
    points, exceeds (1 - `headroom`) of the memory of what it is priced on is
    left out (see memory_fit; `left_out` says why); one whose peak or memory
    is not known (older results, a catalog without memory) is kept, and
    `unchecked` says so. A configuration with results of requests arriving
    at a rate (open loop, dynamic batching) is judged by them: response time
    at an offered rate it sustained. Points without a price cannot be ranked
    and are left out; points with too few samples to state the percentile do
    not meet the SLA."""
    if not 0 <= headroom < 1:
        raise ValueError(f"headroom is the share of memory left free, from 0 up to 1 (0.1: 10%), got {headroom}")
    for name, value in (("min_throughput", min_throughput), ("target_load", target_load)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} (--{name.replace('_', '-')}) is in inferences/s and must be a finite number "
                             f"above 0, got {value}")
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    ok = measured(frame)
    priced = ok[ok["cost_per_million"].notna()].copy()
    if priced.empty and not ok.empty:
        raise ValueError("no measured point has an instance to price it: give the sweep an `instance:` "
                         "or run it with --instance")
    priced["sla_latency_ms"] = [sla.latency_ms(r) for r in priced["result"]]
    priced["meets"] = [sla.met_by(r) and (load == "closed" or bool(sustained))
                       for r, load, sustained in zip(priced["result"], priced["load"], priced["sustained"])]
    margins = [r.percentile_interval_ms(sla.percentile) for r in priced["result"]]
    priced["sla_lo_ms"] = [m[0] if m else math.nan for m in margins]
    priced["sla_hi_ms"] = [m[1] if m else math.nan for m in margins]
    priced["sla_interval_kind"] = [m[2] if m else None for m in margins]
    priced["borderline"] = [straddles(m, sla.limit_ms) for m in margins]
    near_misses = int((priced["borderline"] & ~priced["meets"]
                       & ((priced["load"] == "closed") | priced["sustained"].fillna(False).astype(bool))).sum())
    chosen, per_server, basis, left_out, unchecked = [], [], [], {}, {}
    for _, group in priced.groupby(CONFIGURATION, sort=False, dropna=False):
        fit = memory_fit(group, headroom)
        label = configuration_label(group.iloc[0])
        if fit.exceeds:
            left_out[label] = "; ".join(fit.exceeds)
            continue
        if fit.unknown:
            unchecked[label] = "; ".join(fit.unknown)
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
                          unstated=int(priced["sla_latency_ms"].isna().sum()), left_out=left_out, unchecked=unchecked,
                          near_misses=near_misses)
