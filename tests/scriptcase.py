"""Run scripts in fresh processes, the way the documentation's "Caveats" page writes its cases.

A case is a sequence of steps. Each step writes a script (and any extra files) into one
directory, runs it in a new Python process and compares what it prints with the expected
output. The directory, and so the ``.checkpointing/`` cache in it, persists between steps,
which is exactly the situation of a user who edits a script and runs it again.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO_ROOT", "Step", "cache_files", "check_case", "run_steps"]

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@dataclass(frozen=True)
class Step:
    """One run: the script, what it must print, and extra files written beside it first.

    ``path`` is where the script is written, relative to the case directory, which is
    always the working directory. With ``inline=True`` the script is passed to
    ``python -c`` instead of being written, so its functions have no source file.
    """

    script: str
    output: str
    files: Mapping[str, str] = field(default_factory=dict)
    path: str = "script.py"
    inline: bool = False


def _text(source: str) -> str:
    """Dedent a triple-quoted block and drop its leading blank line."""
    return textwrap.dedent(source).lstrip("\n")


def _environment(hash_seed: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONHASHSEED"] = str(hash_seed)
    # Helper modules are rewritten within the same second with the same size; a stale
    # .pyc would then be loaded instead of the new source.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def _run(directory: Path, step: Step, hash_seed: int) -> subprocess.CompletedProcess[str]:
    for name, content in step.files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_text(content))
    if step.inline:
        command = [sys.executable, "-c", _text(step.script)]
    else:
        script = directory / step.path
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(_text(step.script))
        command = [sys.executable, step.path]
    return subprocess.run(
        command,
        cwd=directory,
        env=_environment(hash_seed),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def run_steps(directory: Path, *steps: Step) -> None:
    """Run ``steps`` one after the other in ``directory``; fail on the first mismatch.

    A step fails when the process exits with an error, prints anything on stderr (a
    checkpointing warning means the call was not cached as it should be) or prints
    anything but the expected output. Every step runs with its own random
    ``PYTHONHASHSEED``.
    """
    seeds = random.sample(range(1, 2**32), len(steps))
    for number, (step, seed) in enumerate(zip(steps, seeds, strict=True), start=1):
        result = _run(directory, step, seed)
        expected = _text(step.output)
        if result.returncode == 0 and not result.stderr and result.stdout == expected:
            continue
        raise AssertionError(
            f"run {number} of {len(steps)} (PYTHONHASHSEED={seed}, exit code "
            f"{result.returncode}) printed:\n{result.stdout}"
            f"--- expected:\n{expected}"
            f"--- stderr:\n{result.stderr}"
            f"--- script:\n{_text(step.script)}"
        )


def check_case(directory: Path, script1: str, output1: str, script2: str, output2: str) -> None:
    """Run ``script1``, then overwrite it with ``script2`` and run again in ``directory``."""
    run_steps(directory, Step(script1, output1), Step(script2, output2))


def cache_files(directory: Path) -> list[str]:
    """Names of the files under ``directory`` (relative, sorted); empty if it is absent.

    The cache's own bookkeeping (its ``CACHEDIR.TAG`` marker and the hit counts in
    ``.usage/``) is left out.
    """
    if not directory.exists():
        return []
    return sorted(
        name
        for name in (str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
        if name != "CACHEDIR.TAG" and not name.startswith(".usage/")
    )
