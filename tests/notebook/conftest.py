"""Fixtures for the notebook side: an IPython shell in-process, and real kernels.

Shell fixtures (fast, for unit tests)
    ``shell``       an ``InteractiveShell`` with ``%load_ext checkpointing`` done.
    ``bare_shell``  the same shell without the extension.
    ``run_cell``    ``run_cell(shell, code)`` runs one cell as a user would (stored in
                    history) and returns the value of its last expression; a failing
                    cell raises the cell's own exception.

    Both shells compile cells with ipykernel's compiler, so cell file names look like a
    kernel's (``/tmp/ipykernel_<pid>/<hash>.py``) and ``IPYKERNEL_CELL_NAME`` works;
    their IPYTHONDIR and SQLite history are in ``tmp_path``, which is also the working
    directory, so ``@checkpoint()`` writes its cache to ``tmp_path / ".checkpointing"``.
    The shell is ``InteractiveShell.instance()``, so ``IPython.get_ipython()`` returns
    it. Teardown unloads the extension, closes the history and undoes the shell's
    changes to the process (the singleton, ``sys.modules["__main__"]``, builtins
    ``__IPYTHON__`` and ``display``, ``sys.ps1``..., the atexit hook); checkpointing's
    ``defaults`` are reset before and after.

Kernel fixture (slow: about a second per kernel; mark such tests ``@pytest.mark.slow``)
    ``run_notebook``  ``run_notebook(cells, cwd)`` executes the code cells in a fresh
                      ``python3`` kernel (this venv's interpreter) whose working directory
                      is ``cwd``, and returns a :class:`NotebookRun`. Calling it again with
                      the same ``cwd`` is a kernel restart over the same on-disk cache.
                      Jupyter's and IPython's folders point into ``tmp_path``.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checkpointing import defaults

_KERNEL_TIMEOUT = 120


def _make_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import builtins

    from ipykernel.compiler import XCachingCompiler
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    ipython_dir = tmp_path / "ipython"
    ipython_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    monkeypatch.chdir(tmp_path)
    # The shell sets these process-wide and never removes them: monkeypatch puts them back.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    for name in ("__IPYTHON__", "display"):
        monkeypatch.setattr(builtins, name, None, raising=False)
    for name in ("ps1", "ps2", "ps3"):
        monkeypatch.setattr(sys, name, None, raising=False)
    config = Config()
    config.HistoryManager.hist_file = str(ipython_dir / "history.sqlite")
    defaults.reset()
    InteractiveShell.clear_instance()  # instance(), so IPython.get_ipython() finds it
    shell = InteractiveShell.instance(
        config=config, ipython_dir=str(ipython_dir), compiler_class=XCachingCompiler
    )
    try:
        yield shell
    finally:
        extensions = shell.extension_manager
        if extensions is not None and "checkpointing" in extensions.loaded:
            extensions.unload_extension("checkpointing")
        from ipython_ext import unload_ipython_extension

        unload_ipython_extension(shell)  # also when a test loaded it another way
        atexit.unregister(shell.atexit_operations)
        shell.atexit_operations()  # ends the history session and closes its database
        InteractiveShell.clear_instance()
        defaults.reset()


@pytest.fixture
def bare_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Return an isolated InteractiveShell without the extension (see the module doc)."""
    yield from _make_shell(tmp_path, monkeypatch)


@pytest.fixture
def shell(bare_shell: Any) -> Any:
    """Return an isolated InteractiveShell with ``%load_ext checkpointing`` done."""
    result = bare_shell.run_cell("%load_ext checkpointing", store_history=True)
    result.raise_error()
    return bare_shell


def _run_cell(shell: Any, code: str) -> Any:
    """Run ``code`` as a stored cell; return its last value, or raise its error."""
    result = shell.run_cell(code, store_history=True)
    result.raise_error()
    return result.result


@pytest.fixture
def run_cell() -> Callable[[Any, str], Any]:
    """Return ``run_cell(shell, code)``: run a stored cell, return its value or raise."""
    return _run_cell


@dataclass
class NotebookRun:
    """What a kernel printed: ``outputs[i]`` is the text cell ``i`` showed.

    The text joins the cell's stdout and stderr streams, the ``text/plain`` of its
    results and displays, and the traceback of an error, in order. ``notebook`` is the
    executed ``nbformat`` notebook, for anything else.
    """

    notebook: Any
    outputs: list[str]

    @property
    def text(self) -> str:
        """Everything every cell showed, one cell after another."""
        return "".join(self.outputs)


def _cell_text(cell: Any) -> str:
    parts: list[str] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(output.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
        elif kind == "error":
            parts.append("\n".join(output.get("traceback", [])) + "\n")
    return "".join(parts)


@pytest.fixture
def run_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., NotebookRun]:
    """Return ``run_notebook(cells, cwd, env=None, allow_errors=False)`` (see module doc).

    ``env`` adds variables to the kernel's environment; with ``allow_errors`` a failing
    cell shows its traceback in ``outputs`` instead of raising ``CellExecutionError``.
    """
    jupyter = tmp_path / "jupyter"
    for variable, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),  # no user kernelspec can shadow this venv's python3
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (jupyter / folder).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(variable, str(jupyter / folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # silences jupyter_core's migration notice

    def run(
        cells: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        allow_errors: bool = False,
    ) -> NotebookRun:
        import os

        import nbformat
        from nbclient import NotebookClient

        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=_KERNEL_TIMEOUT,
            startup_timeout=_KERNEL_TIMEOUT,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
        )
        kernel_env = {**os.environ, **(env or {})}
        client.execute(env=kernel_env)
        return NotebookRun(notebook, [_cell_text(cell) for cell in notebook.cells])

    return run
