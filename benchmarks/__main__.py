"""``python -m benchmarks``: measure checkpointing beside joblib.Memory and print the table."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from benchmarks.cases import CASES
from benchmarks.plan import Plan
from benchmarks.report import format_report, to_json
from benchmarks.runner import run, select
from benchmarks.targets import evaluate

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Measure checkpointing and joblib.Memory in the same run, each measurement in a "
            "fresh process with a fresh cache directory, and print medians, ratios and the "
            "issue's targets. Takes a few minutes; --smoke takes seconds."
        ),
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes and few samples: proves every case runs"
    )
    parser.add_argument("--big", action="store_true", help="add the 1 GB array argument case")
    parser.add_argument("--json", metavar="PATH", help="also write every sample to PATH as JSON")
    parser.add_argument(
        "--only", nargs="+", metavar="CASE", choices=list(CASES), help="run only these cases"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 1 if a measurement failed (targets never fail the run)."""
    args = _parser().parse_args(argv)
    plan = Plan.smoke() if args.smoke else Plan.full()
    cases = select(args.only, args.big)
    if args.list:
        for case in CASES.values():
            extra = " (--big)" if case.big else ""
            print(f"{case.name:<20} {case.title(plan)}{extra}")
        return 0
    missing = [m for m in ("joblib", "numpy", "pandas") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"the benchmarks need {', '.join(missing)}: pip install -e '.[bench]'",
            file=sys.stderr,
        )
        return 2
    results = run(plan, cases, lambda line: print(line, file=sys.stderr, flush=True))
    verdicts = evaluate(results)
    print(format_report(results, verdicts), end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            file.write(to_json(results, verdicts))
    return 1 if results.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
