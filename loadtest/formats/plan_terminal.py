"""The plan in the terminal: one row per autoscaler, then the optimizer's answer."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..planning.document import LABELS


def plan_table(document: dict[str, Any]) -> Group:
    slo = document["slo"]
    title = Text(f"headroom plan: {document['stack']} — {document['traffic']['description']}", style="bold")
    service = document["service"]
    model = Text(f"service: {service['capacity_rps']:.1f} req/s per replica, {service['concurrency']} in service at once, "
                 f"mean {service['service_mean_ms']:.1f} ms ({service['source']}); {service['cpu_ms_per_request']:.2f} ms of CPU "
                 f"per request ({service['cpu_source']})", style="dim")
    table = Table(title=f"SLO: p95 < {slo['p95_ms']:g} ms, errors < {slo['error_rate_percent']:g} %")
    for column in ("autoscaler", "signal peak", "first scale-out", "peak p95", "s in breach", "errors", "replica-h", "mean/peak",
                   "monthly"):
        table.add_column(column, justify="left" if column == "autoscaler" else "right")
    for name, sim in document["simulations"].items():
        s = sim["summary"]
        table.add_row(
            LABELS.get(name, name),
            _signal_peak(sim["metric"]),
            _first_scale_out(s),
            f"{s['peak_p95_ms']:.0f} ms",
            Text(str(s["breach_seconds"]), style="green" if s["holds"] else "bold red"),
            f"{s['error_percent']:.2f} %",
            f"{s['replica_hours']:.2f}",
            f"{s['mean_replicas']:.1f}/{s['peak_replicas']}",
            f"{s['monthly_cost']:.2f}" if s["monthly_cost"] is not None else "-",
        )
    ok = document["within_budget"]
    verdict = Text("the SLO holds through the profile" if document["holds"] else
                   f"the SLO breaks during the profile, within the error budget ({document['error_budget']})" if ok else
                   "the SLO breaks during the profile", style="bold green" if ok else "bold red")
    return Group(title, model, table, verdict)


def optimization_table(document: dict[str, Any], autoscaler: str) -> Group:
    opt = document["optimization"][autoscaler]
    label = LABELS.get(autoscaler, autoscaler)
    best = opt["best"]
    if best is None:
        return Group(Text(f"{label}: none of {opt['evaluated']} settings within the maximum keeps the SLO through this "
                          f"profile ({opt.get('budget', 'no second in breach')}); raise the maximum or make the service faster",
                          style="bold red"))
    s = best["summary"]
    within = "that keep the SLO" if opt.get("zero_breach") == best else "within the error budget"
    parts = [Text(f"{label}: cheapest of {opt['evaluated']} settings {within}: minimum {best['min_replicas']}, "
                  f"target {best['target_percent']} %" + (f", scale-up {best['scale_up_label']}" if best["scale_up_label"] else "")
                  + f" — {s['replica_hours']:.2f} replica-hours, peak p95 {s['peak_p95_ms']:.0f} ms" + _saving(document, opt),
                  style="bold")]
    parts += [Text(f"  {c['path']}: {c['old']} -> {c['new']}  ({c['reason']})") for c in opt["changes"]]
    zero = opt.get("zero_breach")
    if zero is not None and zero is not best and zero != best:
        z = zero["summary"]
        cost = f", {z['monthly_cost']:.2f} {document['cost']['currency']} a month" if document.get("cost") and z["monthly_cost"] is not None else ""
        parts.append(Text(f"  with no second in breach: minimum {zero['min_replicas']}, target {zero['target_percent']} % — "
                          f"{z['replica_hours']:.2f} replica-hours{cost} (the error budget: {opt['budget']})"))
    parts += [Text(f"  warning: {warning}", style="yellow") for warning in opt.get("warnings", [])]
    return Group(*parts)


def _saving(document: dict[str, Any], opt: dict[str, Any]) -> str:
    """", saves 12.34 USD a month over the stack's own settings" (or adds), when the plan has prices."""
    change, cost = opt.get("monthly_change"), document.get("cost")
    if change is None or cost is None:
        return ""
    if change == 0:
        return ", the same monthly cost as the stack's own settings"
    return f", {'saves' if change < 0 else 'adds'} {abs(change):.2f} {cost['currency']} a month over the stack's own settings"


def _first_scale_out(summary: dict[str, Any]) -> str:
    """The first scale-out: its time of day for a traffic file with times, else seconds from the start."""
    first = summary["first_scale_out_s"]
    if first is None:
        return "none"
    clock = summary.get("first_scale_out_time")
    return f"{clock} (+{first} s)" if clock else f"{first} s"


def _signal_peak(metric: dict[str, Any]) -> str:
    """The highest value the autoscaler read: on a pool-bound service a CPU signal stays low while the p95 breaks."""
    peak = max((v for v in metric["values"] if v is not None), default=0.0)
    return f"{metric['label']} {peak:.0f}{' %' if metric['unit'] == '%' else ' ' + metric['unit']}"
