"""The public surface of ``checkpointing``: names, import cost, exception tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import checkpointing
from checkpointing import (
    CheckpointFailure,
    CheckpointingError,
    CheckpointingWarning,
    CheckpointNotExist,
    CorruptEntryWarning,
    IdentificationError,
    ResultNotPicklableError,
    StorageError,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Names the original package's users import (spec, section 1); they must stay importable.
KEPT_NAMES = {
    "AutoFuncCallIdentifier",
    "CacheBase",
    "CheckpointNotExist",
    "DecoratorCheckpoint",
    "FuncCallContext",
    "FuncCallIdentifierBase",
    "MemoryCache",
    "PickleFileCache",
    "checkpoint",
    "defaults",
}

# Heavy or optional packages that `import checkpointing` must not pull in.
NOT_IMPORTED = ("IPython", "ipykernel", "ipywidgets", "ipython_ext", "numpy", "pandas")


def _public_attributes(module: ModuleType) -> set[str]:
    """Return the names of ``module``'s public attributes, leaving out submodules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        # `from __future__ import annotations` leaves a feature object behind.
        and type(value).__module__ != "__future__"
    }


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` lists each name once, in sorted order."""
    names = checkpointing.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_all_is_complete() -> None:
    """Every public non-module attribute of the package is listed in ``__all__``."""
    missing = _public_attributes(checkpointing) - set(checkpointing.__all__)
    assert not missing, f"public names missing from checkpointing.__all__: {sorted(missing)}"


@pytest.mark.parametrize("name", checkpointing.__all__)
def test_all_names_resolve(name: str) -> None:
    """Each name in ``__all__`` is an attribute of the package."""
    assert hasattr(checkpointing, name)


def test_kept_names_are_public() -> None:
    """The names users of the original package import are all exported."""
    assert set(checkpointing.__all__) >= KEPT_NAMES


@pytest.mark.parametrize(
    "name",
    sorted(n for n in checkpointing.__all__ if callable(getattr(checkpointing, n))),
)
def test_public_callables_have_docstrings(name: str) -> None:
    """Every exported class and function carries a docstring."""
    assert (getattr(checkpointing, name).__doc__ or "").strip()


def test_version_matches_pyproject() -> None:
    """``__version__`` is the version declared in ``pyproject.toml``."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["version"]
    assert checkpointing.__version__ == declared


def test_import_does_not_load_heavy_packages(tmp_path: Path) -> None:
    """A fresh ``import checkpointing`` imports neither IPython nor widgets nor numpy/pandas."""
    code = (
        "import json, sys\n"
        "import checkpointing\n"
        f"print(json.dumps([m for m in {NOT_IMPORTED!r} if m in sys.modules]))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (CheckpointNotExist, LookupError),
        (IdentificationError, ValueError),
        (StorageError, OSError),
        (ResultNotPicklableError, TypeError),
        (CheckpointFailure, RuntimeError),
    ],
)
def test_errors_subclass_their_builtin(error: type[Exception], builtin: type[Exception]) -> None:
    """Each error can be caught as the library's base error or as the builtin it refines."""
    assert issubclass(error, CheckpointingError)
    assert issubclass(error, builtin)
    with pytest.raises(builtin):
        raise error("boom")


def test_warnings_subclass_user_warning() -> None:
    """Library warnings are UserWarnings, and a corrupt entry is a CheckpointingWarning."""
    assert issubclass(CheckpointingWarning, UserWarning)
    assert issubclass(CorruptEntryWarning, CheckpointingWarning)
    assert not issubclass(CheckpointingWarning, CheckpointingError)


def test_ipython_ext_all_is_sorted_and_resolves() -> None:
    """The IPython extension package imports without IPython and its ``__all__`` resolves."""
    import ipython_ext

    assert ipython_ext.__all__ == sorted(ipython_ext.__all__)
    for name in ipython_ext.__all__:
        assert hasattr(ipython_ext, name), name
