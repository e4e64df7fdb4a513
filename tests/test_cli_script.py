"""The ``checkpointing`` console script as installed by pip, in a throwaway virtual environment.

The wheel is built as the packaging test builds it; the environment reuses the test
interpreter's installed packages (a ``.pth`` file) and the wheel is installed into it with
``--no-deps``, so the environment running the tests is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from checkpointing import EntryInfo, PickleFileCache

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("CHECKPOINTING_CACHE", None)
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the project into a new venv; return its ``checkpointing`` script."""
    root = tmp_path_factory.mktemp("script")
    source = root / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".checkpointing")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in ("checkpointing", "ipython_ext"):
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore)
    venv = root / "venv"
    done = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    # The dependencies (and pip, setuptools) come from the interpreter running the tests.
    Path(site.stdout.strip(), "parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    dist = root / "dist"
    done = _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, source, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = dist.glob("checkpointing-*.whl")
    done = _run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin" / "checkpointing"


def test_console_script_is_installed_and_runs(script: Path, tmp_path: Path) -> None:
    """The wheel installs a ``checkpointing`` command that lists a cache."""
    assert script.exists()
    done = _run(script, "--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("checkpointing, version ")
    cache = PickleFileCache(tmp_path / ".checkpointing")
    cache.save_entry("k", [1, 2, 3], EntryInfo(None, "m.f", 1.0, 0, 0.5, "x=1", 0))
    done = _run(script, "ls", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["function"] == "m.f"
    assert row["arguments"] == "x=1"
    where = _run(
        script.parent / "python",
        "-c",
        "import checkpointing; print(checkpointing.__file__)",
        cwd=tmp_path,
    )
    assert Path(where.stdout.strip()).is_relative_to(script.parent.parent)


def test_console_script_exit_codes(script: Path, tmp_path: Path) -> None:
    """The installed command exits 2 on bad input and 1 when verify finds damage."""
    assert _run(script, "--cache", "missing", "ls", cwd=tmp_path).returncode == 2
    assert _run(script, "prune", "--max-size", "huge", cwd=tmp_path).returncode == 2
    cache = PickleFileCache(tmp_path / "c")
    cache.save_entry("k", list(range(100)), EntryInfo(None, "m.f", 1.0, 0, 0.5, "", 0))
    (entry,) = (tmp_path / "c").glob("*.pickle")
    entry.write_bytes(entry.read_bytes()[:-10])
    done = _run(script, "--cache", "c", "verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "1 corrupt" in done.stdout
