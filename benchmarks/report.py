"""Print one run as Markdown (the docs page embeds it as is) and save it as JSON."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.floor import FLOORS
from benchmarks.runner import Outcome, Results
from benchmarks.targets import Verdict, format_seconds
from benchmarks.timing import Samples

__all__ = ["format_cases", "format_floors", "format_report", "format_targets", "to_json"]

_OURS, _JOBLIB = "checkpointing", "joblib"
_CASE_COLUMNS = [
    "case",
    "checkpointing",
    "joblib.Memory",
    "ours / joblib",
    "floor",
    "ours / floor",
    "GB/s ours · joblib",
    "samples",
]


def _cell(outcome: Outcome | None) -> str:
    if outcome is None:
        return ""
    if isinstance(outcome, str):
        return "failed"
    return format_seconds(outcome.median)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return ""
    return f"{a / b:.3g}x"


def _samples(*outcomes: Outcome | None) -> str:
    counts = {len(o.values) for o in outcomes if isinstance(o, Samples)}
    return "/".join(str(n) for n in sorted(counts))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def format_cases(results: Results) -> str:
    """Return the table of cases: medians, ratios to joblib and to the floor, throughput."""
    lines = [
        _row(_CASE_COLUMNS),
        _row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    for case in results.cases:
        outcomes = results.measured.get(case.name, {})
        ours = results.median(case.name, _OURS)
        joblib = results.median(case.name, _JOBLIB)
        floor = results.floor_median(case.floor)
        floor_cell = ""
        if case.floor is not None:
            floor_cell = f"{_cell(results.floors.get(case.floor))} {FLOORS[case.floor].label}"
        rate = ""
        if case.payload is not None and ours and joblib:
            size = case.payload(results.plan)
            rate = f"{size / ours / 1e9:.3g} · {size / joblib / 1e9:.3g}"
        cells = [
            f"{case.title(results.plan)} `{case.name}`",
            _cell(outcomes.get(_OURS)),
            _cell(outcomes.get(_JOBLIB)),
            _ratio(ours, joblib),
            floor_cell,
            _ratio(ours, floor),
            rate,
            _samples(outcomes.get(_OURS), outcomes.get(_JOBLIB)),
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


def format_floors(results: Results) -> str:
    """Return the table of floor measurements."""
    lines = [_row(["floor", "median", "samples"]), _row(["---", "---:", "---:"])]
    for name, outcome in results.floors.items():
        floor = FLOORS[name]
        lines.append(_row([f"{floor.title} `{name}`", _cell(outcome), _samples(outcome)]))
    return "\n".join(lines)


def format_targets(verdicts: list[Verdict]) -> str:
    """Return the targets as a Markdown list: met, not met, or not measured."""
    lines = []
    for verdict in verdicts:
        status = {True: "met", False: "NOT MET", None: "not measured"}[verdict.met]
        kind = "aim" if verdict.aim else "target"
        lines.append(f"- **{status}** ({kind}) {verdict.target}: {verdict.figures}")
    return "\n".join(lines)


def format_report(results: Results, verdicts: list[Verdict]) -> str:
    """Return the whole report: how it was measured, cases, floors, targets, failures."""
    meta = results.meta
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    parts = [
        f"Run `{meta.get('plan')}` of {meta.get('started')}, commit {meta.get('commit')}: "
        f"Python {meta.get('python')}, "
        f"{meta.get('platform')}, {meta.get('cpus')} CPUs; {versions}. "
        f"Medians; took {meta.get('duration_seconds')} s.",
        "",
        format_cases(results),
        "",
        format_floors(results),
        "",
        "Targets of issue 4:"
        if results.plan.name != "smoke"
        else "Targets of issue 4 (smoke run: sizes too small, the verdicts mean nothing):",
        "",
        format_targets(verdicts),
    ]
    failures = results.failures()
    if failures:
        parts += ["", "Failed measurements:", "", *(f"- {f}" for f in failures)]
    return "\n".join(parts) + "\n"


def _outcome_json(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    if isinstance(outcome, str):
        return {"error": outcome}
    return outcome.to_dict()


def to_json(results: Results, verdicts: list[Verdict]) -> str:
    """Return the run as JSON, with every sample, so runs can be compared later."""
    plan = results.plan
    cases: dict[str, Any] = {}
    for case in results.cases:
        ours = results.median(case.name, _OURS)
        joblib = results.median(case.name, _JOBLIB)
        floor = results.floor_median(case.floor)
        cases[case.name] = {
            "title": case.title(plan),
            "floor": case.floor,
            "payload_bytes": case.payload(plan) if case.payload is not None else None,
            "ratio_to_joblib": ours / joblib if ours is not None and joblib else None,
            "ratio_to_floor": ours / floor if ours is not None and floor else None,
            "results": {
                lib: _outcome_json(outcome)
                for lib, outcome in results.measured.get(case.name, {}).items()
            },
        }
    floors = {
        name: {"title": FLOORS[name].title, **(_outcome_json(outcome) or {})}
        for name, outcome in results.floors.items()
    }
    document = {
        "meta": results.meta,
        "plan": plan.to_dict(),
        "cases": cases,
        "floors": floors,
        "targets": [
            {"target": v.target, "met": v.met, "figures": v.figures, "aim": v.aim} for v in verdicts
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
