"""``%load_ext checkpointing``, ``%unload_ext`` and ``%reload_ext`` register and remove cleanly."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import checkpointing
from checkpointing import _source
from checkpointing._profile import profile_of
from ipython_ext import HistorySource
from ipython_ext.magics import CheckpointMagics

TIMED = "%%time\ndef timed(x):\n    return x + 1\n"


def finders() -> list[HistorySource]:
    """Return the history finders registered with the core."""
    return [f for f in _source._finders if isinstance(f, HistorySource)]


def hooks(shell: Any) -> list[Any]:
    """Return the extension's post_run_cell callbacks in ``shell``."""
    return [
        c
        for c in shell.events.callbacks["post_run_cell"]
        if getattr(c, "__module__", None) == "ipython_ext"
    ]


def magics_registered(shell: Any) -> bool:
    """Tell whether the extension's magics are in the shell, by registry and by name."""
    manager = shell.magics_manager
    instance = manager.registry.get("CheckpointMagics")
    if not isinstance(instance, CheckpointMagics):
        return False
    return all(
        manager.magics[kind].get(name) == method
        for kind, table in instance.magics.items()
        for name, method in table.items()
    )


def assert_loaded_once(shell: Any) -> None:
    """Assert one finder, one hook and the magics are registered."""
    assert len(finders()) == 1
    assert len(hooks(shell)) == 1
    assert magics_registered(shell)


def assert_unloaded(shell: Any) -> None:
    """Assert nothing of the extension is left in the shell or the core."""
    assert finders() == []
    assert hooks(shell) == []
    assert "CheckpointMagics" not in shell.magics_manager.registry
    assert not magics_registered(shell)


def timed_source(shell: Any, run_cell: Any) -> str | None:
    """Define a function under %%time (inspect cannot read it) and return its profile source."""
    run_cell(shell, TIMED)
    return profile_of(shell.user_ns["timed"]).source


def test_load_ext_registers_the_finder_hook_and_magics(bare_shell: Any, run_cell: Any) -> None:
    """``%load_ext checkpointing`` registers the source finder, the hook and the magics."""
    assert_unloaded(bare_shell)
    run_cell(bare_shell, "%load_ext checkpointing")
    assert_loaded_once(bare_shell)
    assert timed_source(bare_shell, run_cell) == "def timed(x):\n    return x + 1\n"


def test_loading_twice_registers_once(shell: Any, run_cell: Any) -> None:
    """Loading again, by magic or by direct call, changes nothing."""
    run_cell(shell, "%load_ext checkpointing")
    checkpointing.load_ipython_extension(shell)
    run_cell(shell, "import checkpointing\ncheckpointing.load_ipython_extension(get_ipython())")
    assert_loaded_once(shell)


def test_unload_ext_removes_everything(shell: Any, run_cell: Any) -> None:
    """``%unload_ext checkpointing`` removes the finder, the hook and the magics."""
    run_cell(shell, "%unload_ext checkpointing")
    assert_unloaded(shell)
    assert timed_source(shell, run_cell) is None  # back to inspect, which cannot read it


def test_unloading_what_was_never_loaded_is_harmless(bare_shell: Any) -> None:
    """Unloading a shell that never loaded the extension does nothing."""
    checkpointing.unload_ipython_extension(bare_shell)
    assert_unloaded(bare_shell)


def test_reload_ext_leaves_one_working_registration(shell: Any, run_cell: Any) -> None:
    """``%reload_ext checkpointing`` replaces the registration with one that works."""
    run_cell(shell, "%reload_ext checkpointing")
    run_cell(shell, "%reload_ext checkpointing")
    assert_loaded_once(shell)
    assert timed_source(shell, run_cell) == "def timed(x):\n    return x + 1\n"


def test_load_after_unload_works_again(shell: Any, run_cell: Any) -> None:
    """Unload then load gives a working extension again."""
    run_cell(shell, "%unload_ext checkpointing")
    run_cell(shell, "%load_ext checkpointing")
    assert_loaded_once(shell)
    assert timed_source(shell, run_cell) is not None


def test_importing_ipython_ext_does_not_import_ipython() -> None:
    """The extension package imports IPython only when loaded, like the core."""
    code = "import sys, ipython_ext; print(sorted(m for m in sys.modules if 'IPython' in m))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"


@pytest.mark.slow
def test_load_unload_and_reload_in_a_real_kernel(run_notebook: Any, tmp_path: Path) -> None:
    """In a kernel (this venv's Python) the three magics run and leave one finder."""
    probe = (
        "from checkpointing import _source\n"
        "print(sum(type(f).__name__ == 'HistorySource' for f in _source._finders))"
    )
    run = run_notebook(
        [
            "import sys\nprint(sys.executable)",
            "%load_ext checkpointing",
            "%load_ext checkpointing",
            probe,
            "%reload_ext checkpointing",
            probe,
            "%unload_ext checkpointing",
            probe,
        ],
        tmp_path,
    )
    assert run.outputs[0] == sys.executable + "\n"
    assert run.outputs[3:] == ["1\n", "", "1\n", "", "0\n"]


def test_checkpointed_function_without_recoverable_source_warns_once(shell: Any) -> None:
    """A function whose source no one can recover gets one warning saying what to do."""
    cell = (
        "from checkpointing import checkpoint\n"
        "src = 'def hidden(x):\\n    return x + ' + str(2)\n"
        "exec(src)\n"
        "hidden = checkpoint(hidden)\n"
    )
    with pytest.warns(checkpointing.CheckpointingWarning, match="hidden cannot be recovered"):
        shell.run_cell(cell)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only: later cells stay quiet
        result = shell.run_cell("hidden(1)")
    assert result.success
    assert shell.user_ns["_"] == 3
