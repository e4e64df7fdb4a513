"""Run the selected cases: each library, and each floor, in a worker process of its own.

One sample is taken at a time, never two in parallel (on a two-core machine a second
one would steal the first one's core), in turns: checkpointing, joblib, the floor,
checkpointing again... so a slow spell of a shared machine hits all of them alike and
the ratios stay fair. Each worker gets a fresh directory, removed when it ends (a
100,000-entry cache, a 1 GB array file). A failed measurement is recorded with its
error and the run goes on.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.cases import CASES, Case
from benchmarks.floor import FLOORS
from benchmarks.libraries import LIBRARIES
from benchmarks.plan import Plan
from benchmarks.timing import Samples

__all__ = ["Outcome", "Results", "run", "select"]

# The samples of a measurement, or the error that stopped it.
Outcome = Samples | str
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Results:
    """Everything one run measured, in table order."""

    plan: Plan
    cases: list[Case]
    floors: dict[str, Outcome] = field(default_factory=dict)
    measured: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def median(self, case: str, library: str) -> float | None:
        """Return the median of ``case`` for ``library``, ``None`` if not measured."""
        outcome = self.measured.get(case, {}).get(library)
        return outcome.median if isinstance(outcome, Samples) else None

    def floor_median(self, floor: str | None) -> float | None:
        """Return the median of a floor measurement, ``None`` if not measured."""
        outcome = self.floors.get(floor) if floor is not None else None
        return outcome.median if isinstance(outcome, Samples) else None

    def failures(self) -> list[str]:
        """Describe every measurement that failed."""
        failed = [f"floor {name}: {o}" for name, o in self.floors.items() if isinstance(o, str)]
        for case, outcomes in self.measured.items():
            failed += [f"{case} ({lib}): {o}" for lib, o in outcomes.items() if isinstance(o, str)]
        return failed


def select(names: Sequence[str] | None, big: bool) -> list[Case]:
    """Return the cases to run: those named, else all (the big ones only with ``big``)."""
    if names:
        unknown = sorted(set(names) - set(CASES))
        if unknown:
            raise ValueError(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
        return [case for case in CASES.values() if case.name in names]
    return [case for case in CASES.values() if big or not case.big]


def _versions() -> dict[str, str]:
    found = {}
    for name in ("checkpointing", "joblib", "numpy", "pandas", "xxhash"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _commit() -> str:
    """Return the commit measured, marked ``+changes`` if the library differs from it."""

    def git(*args: str) -> str:
        run = subprocess.run(
            ["git", *args], cwd=_REPO_ROOT, capture_output=True, text=True, check=False
        )
        return run.stdout.strip() if run.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "checkpointing") else "")


class _WorkerFailed(Exception):
    """A worker reported an error, died or hung; the message says which."""


class _Worker:
    """The runner's end of one worker process (see ``worker`` for the protocol)."""

    def __init__(self, request: dict[str, Any], plan: Plan, base: str) -> None:
        self.workdir = tempfile.mkdtemp(prefix="worker-", dir=base)
        self.timeout = plan.worker_timeout
        self.values: list[float] = []
        self.number = 1
        request = {**request, "plan": plan.to_dict(), "workdir": self.workdir}
        env = dict(os.environ)
        # The worker imports this package wherever the run was started from.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO_ROOT, env.get("PYTHONPATH")]))
        # Measure as users run: with bytecode caches. An environment that turns them off
        # (PYTHONDONTWRITEBYTECODE, set in some sandboxes and CI images) would make every
        # process case compile the library's modules from source each time.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Lives as long as the worker; close() closes it.
        self._stderr = tempfile.TemporaryFile(mode="w+", dir=base)  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", json.dumps(request)],
            cwd=self.workdir,  # a stray default cache directory lands in the scratch space
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def _ask(self, command: str | None) -> dict[str, Any]:
        """Send ``command`` (``None``: just wait for the greeting) and return the reply."""
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        watchdog = threading.Timer(self.timeout, process.kill)
        watchdog.start()
        try:
            if command is not None:
                process.stdin.write(command + "\n")
                process.stdin.flush()
            line = process.stdout.readline()
        except OSError:
            line = ""
        finally:
            watchdog.cancel()
        if not line:
            self._stderr.seek(0)
            lines = self._stderr.read().strip().splitlines() or ["no output"]
            raise _WorkerFailed(f"worker died or hung (limit {self.timeout:g} s): {lines[-1]}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise _WorkerFailed(reply["error"])
        return reply

    def start(self) -> None:
        """Wait until the worker has prepared its probe."""
        self.number = int(self._ask(None)["ready"])

    def sample(self) -> None:
        """Take one sample."""
        self.values.append(float(self._ask("sample")["value"]))

    def finish(self) -> Samples:
        """Let the worker check its final state; return every sample taken."""
        extra = self._ask("finish")["extra"]
        return Samples(self.values, self.number, extra)

    def close(self) -> None:
        """End the process (if still running) and remove its directory."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _measure(
    case: Case, plan: Plan, base: str, have_floors: set[str]
) -> dict[tuple[str, str], Outcome]:
    """Sample ``case`` for every library, and its floors not measured yet, in turns.

    All participants are prepared first, one after another; then each takes one sample
    per turn. Returns outcomes keyed ``("case", library)`` or ``("floor", name)``.
    """
    participants: dict[tuple[str, str], dict[str, Any]] = {
        ("case", lib): {"kind": "case", "name": case.name, "library": lib} for lib in LIBRARIES
    }
    for floor in (case.floor, *case.also):
        if floor is not None and floor not in have_floors:
            participants["floor", floor] = {"kind": "floor", "name": floor}
    outcomes: dict[tuple[str, str], Outcome] = {}
    workers: dict[tuple[str, str], _Worker] = {}

    def attempt(key: tuple[str, str], step: Callable[[_Worker], object]) -> None:
        try:
            step(workers[key])
        except _WorkerFailed as exc:
            outcomes[key] = str(exc)
            workers.pop(key).close()

    try:
        for key, request in participants.items():
            workers[key] = _Worker(request, plan, base)
            attempt(key, _Worker.start)
        for _ in range(case.repeats(plan)):
            for key in list(workers):
                attempt(key, _Worker.sample)
        for key, worker in workers.items():
            try:
                outcomes[key] = worker.finish()
            except _WorkerFailed as exc:
                outcomes[key] = str(exc)
    finally:
        for worker in workers.values():
            worker.close()
    return outcomes


def run(plan: Plan, cases: list[Case], progress: Callable[[str], None]) -> Results:
    """Measure every case for every library, with the floors the cases refer to."""
    results = Results(plan, cases)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="checkpointing-bench-") as base:
        for case in cases:
            outcomes = _measure(case, plan, base, set(results.floors))
            measured = results.measured.setdefault(case.name, {})
            for (kind, name), outcome in outcomes.items():
                if kind == "floor":
                    results.floors[name] = outcome
                else:
                    measured[name] = outcome
                progress(f"{case.name}: {name}: {_describe(outcome)}")
    # Floors in their registry order, as the report lists them.
    results.floors = {name: results.floors[name] for name in FLOORS if name in results.floors}
    results.meta = {
        "plan": plan.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": _versions(),
        "commit": _commit(),
    }
    return results


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, str):
        return f"FAILED: {outcome}"
    return f"median {outcome.median:.6g} s of {len(outcome.values)} samples"
