"""Show a slow function computed once, then loaded from the cache by a new process.

``make demo`` runs this file. It writes a small script into a temporary working
directory and runs it four times, each in a fresh Python process:

1. first run: the function is computed and its result stored in ``.checkpointing/``;
2. same script again: the result is loaded from the cache;
3. a comment added and a local variable renamed: still loaded;
4. the function's logic changed: computed again.

Every time printed is measured by the script around the call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
MARKER = "call_seconds="

SCRIPT = '''\
import time

from checkpointing import checkpoint


@checkpoint()
def slow_total(n):
    """Stand in for an expensive computation: sleep two seconds, then sum."""
    print("    (computing slow_total for real...)")
    time.sleep(2.0)
    total = sum(i * i for i in range(n))
    return total


if __name__ == "__main__":
    start = time.perf_counter()
    result = slow_total(1000)
    elapsed = time.perf_counter() - start
    print(f"    slow_total(1000) = {result}")
    print(f"call_seconds={elapsed!r}")
'''

# Edits applied to SCRIPT before runs 3 and 4: (description, old text, new text).
COSMETIC_EDIT = (
    "add a comment, rename a local variable",
    "    total = sum(i * i for i in range(n))\n    return total\n",
    "    # sum of squares below n\n    acc = sum(i * i for i in range(n))\n    return acc\n",
)
LOGIC_EDIT = (
    "change the logic (squares -> cubes)",
    "sum(i * i for i in range(n))",
    "sum(i * i * i for i in range(n))",
)


def run_script(workdir: Path, script: str) -> tuple[float, bool]:
    """Run ``script`` in a fresh interpreter in ``workdir``; return (call seconds, computed)."""
    path = workdir / "analysis.py"
    path.write_text(script)
    env = dict(os.environ)
    # Make the checkout importable even when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"the demo script failed with exit code {proc.returncode}")
    if proc.stderr:
        sys.stderr.write(textwrap.indent(proc.stderr, "    "))
    seconds = None
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            seconds = float(line.removeprefix(MARKER))
        else:
            print(line)
    if seconds is None:
        raise SystemExit("the demo script did not report its timing")
    return seconds, "computing slow_total for real" in proc.stdout


def describe(seconds: float, computed: bool) -> str:
    """Summarise one run for the report."""
    how = "computed" if computed else "loaded from the cache"
    return f"{how:<22} {seconds * 1000:10.1f} ms"


def main() -> int:
    """Run the four steps and print what each cost; fail if any step surprised us."""
    with tempfile.TemporaryDirectory(prefix="checkpointing-demo-") as tmp:
        workdir = Path(tmp)
        print(f"Working directory: {workdir} (removed at the end)\n")
        # (title, script, whether the function should run)
        steps = [
            ("1. first run", SCRIPT, True),
            ("2. same script, new process", SCRIPT, False),
            (f"3. {COSMETIC_EDIT[0]}", SCRIPT.replace(*COSMETIC_EDIT[1:]), False),
            (f"4. {LOGIC_EDIT[0]}", SCRIPT.replace(*LOGIC_EDIT[1:]), True),
        ]
        results = []
        for title, script, expected in steps:
            print(title)
            seconds, computed = run_script(workdir, script)
            results.append((title, seconds, computed, computed == expected))
            print(f"    -> {describe(seconds, computed)}\n")

        stored = sorted((workdir / ".checkpointing").rglob("*"))
        print(f"Files in .checkpointing/: {sum(p.is_file() for p in stored)}")

    width = max(len(title) for title, *_ in results)
    print("\nSummary")
    for title, seconds, computed, as_expected in results:
        note = "" if as_expected else "   <- UNEXPECTED"
        print(f"  {title:<{width}}  {describe(seconds, computed)}{note}")
    first, second = results[0][1], results[1][1]
    print(
        f"\nThe cache saved {first - second:.3f} s on the second run "
        f"({first / max(second, 1e-9):,.0f}x faster than computing)."
    )
    if not all(as_expected for *_, as_expected in results):
        print("Some steps did not behave as documented: this is a bug in checkpointing.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
