"""The wheel ships both top-level packages and works when installed on its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

# Files the wheel must contain: both packages, the cache backends and the typing marker.
REQUIRED_FILES = {
    "checkpointing/__init__.py",
    "checkpointing/py.typed",
    "checkpointing/cache/__init__.py",
    "checkpointing/cache/base.py",
    "ipython_ext/__init__.py",
}

SMOKE_TEST = """
import json, sys
from importlib.metadata import requires, version

import checkpointing, ipython_ext
from checkpointing import checkpoint
from checkpointing.events import subscribe

kinds = []
subscribe(lambda event: kinds.append(event.kind))


@checkpoint(directory=sys.argv[1])
def double(x):
    return 2 * x


results = [double(21), double(21)]
print(json.dumps({
    "checkpointing": checkpointing.__file__,
    "ipython_ext": ipython_ext.__file__,
    "results": results,
    "kinds": kinds,
    "version": version("checkpointing"),
    "requires": requires("checkpointing"),
}))
"""


def _run(*args: str | Path, cwd: Path) -> str:
    """Run a command, returning its stdout; on failure show everything it printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the source tree, so the checkout stays untouched."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".checkpointing")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in ("checkpointing", "ipython_ext"):
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore)
    dist = root / "dist"
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, source, cwd=root)
    (built,) = dist.glob("checkpointing-*.whl")
    return built


def test_wheel_contains_both_packages(wheel: Path) -> None:
    """The wheel holds checkpointing (with py.typed) and ipython_ext, and no tests."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert names >= REQUIRED_FILES, sorted(REQUIRED_FILES - names)
    top_level = {name.split("/", 1)[0] for name in names if "/" in name}
    top_level = {name for name in top_level if not name.endswith(".dist-info")}
    assert top_level == {"checkpointing", "ipython_ext"}


def test_wheel_installs_and_imports_in_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    """Installed alone in a new venv, the wheel imports both packages and caches a call."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    script = tmp_path / "smoke.py"
    script.write_text(SMOKE_TEST)
    out = _run(python, script, tmp_path / "cache", cwd=tmp_path)
    report = json.loads(out)

    for package in ("checkpointing", "ipython_ext"):
        assert Path(report[package]).is_relative_to(venv), report[package]
    assert report["results"] == [42, 42]
    assert report["kinds"] == ["miss", "hit"]
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        assert report["version"] == tomllib.load(file)["project"]["version"]
    assert any(req.startswith("xxhash") for req in report["requires"])
