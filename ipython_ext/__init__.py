"""IPython extension of checkpointing: ``%load_ext checkpointing``.

Loading plugs the notebook into the core through its hooks: a source finder that
recovers cell-defined code from the session history (:mod:`ipython_ext.history_source`),
a ``post_run_cell`` hook that keeps the text of cells the history does not store, and
the magics (:mod:`ipython_ext.magics`). The core never imports this package.
"""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any

from checkpointing.exceptions import CheckpointingWarning
from checkpointing.hooks import identified_source, register_source_finder, unwrap
from ipython_ext.history_source import HistorySource

if TYPE_CHECKING:
    from ipython_ext.shell import ShellLike

__all__ = ["HistorySource", "load_ipython_extension", "unload_ipython_extension"]


class _Extension:
    """Everything one load registered in one shell, so that unloading takes it all back."""

    def __init__(self, shell: ShellLike) -> None:
        from ipython_ext.magics import CheckpointMagics  # imports IPython: only when loaded
        from ipython_ext.panel import start_session_recording

        self.shell = shell
        self.source = HistorySource(shell)
        # Functions already checked for source; weak, so checking pins nothing.
        self._checked: weakref.WeakSet[FunctionType] = weakref.WeakSet()
        # The magics first: if they fail, nothing global has been registered yet.
        self.magics = CheckpointMagics(shell=shell)
        shell.register_magics(self.magics)
        self._unregister_finder: Callable[[], None] = register_source_finder(self.source)
        shell.events.register("post_run_cell", self._post_run_cell)
        # Count hits and misses from now on, so a panel shown later has the whole session.
        start_session_recording()

    def _post_run_cell(self, result: Any) -> None:
        """Keep cells the history does not store, and warn about sourceless functions.

        Re-entrant by construction: a nested ``run_cell`` (the ``%%checkpoint`` magic)
        fires this again and only appends to a bounded queue.
        """
        self._warn_about_missing_source()
        info = getattr(result, "info", None)
        if info is None or info.store_history or not info.raw_cell:
            return
        try:
            self.source.remember(self.shell.transform_cell(info.raw_cell))
        except Exception:  # noqa: BLE001 - a hook must never fail the user's cell
            return

    def _warn_about_missing_source(self) -> None:
        """Warn once per checkpointed function of the namespace whose source is unknown.

        Such a function still caches, keyed by its bytecode, but formatting edits re-run
        it: the user should know why and what to do. Only plain functions are looked at
        (through ``__dict__``), so no user object's ``__getattr__`` ever runs.
        """
        for value in list(self.shell.user_ns.values()):
            inner = unwrap(value)
            if inner is None or inner in self._checked:
                continue
            self._checked.add(inner)
            if identified_source(inner) is None:
                warnings.warn(
                    f"checkpoint: the source of {inner.__qualname__} cannot be recovered, so "
                    "formatting edits re-run it. Define it in a plain cell.",
                    CheckpointingWarning,
                    stacklevel=1,
                )

    def close(self) -> None:
        """Remove the finder, the hook and the magics this load registered."""
        from ipython_ext.panel import stop_session_recording

        if len(_loaded) == 0:  # the last shell with the extension: stop counting
            stop_session_recording()
        self._unregister_finder()
        with contextlib.suppress(ValueError):  # already removed by someone else
            self.shell.events.unregister("post_run_cell", self._post_run_cell)
        close_magics = getattr(self.magics, "close", None)
        if callable(close_magics):
            close_magics()  # the magics may hold listeners or panels of their own
        manager = self.shell.magics_manager
        for kind, table in self.magics.magics.items():
            for name, method in table.items():
                if manager.magics[kind].get(name) == method:
                    del manager.magics[kind][name]
        if manager.registry.get(type(self.magics).__name__) is self.magics:
            del manager.registry[type(self.magics).__name__]


# The one piece of module state: what is loaded, per shell (a process may hold several).
_loaded: dict[int, _Extension] = {}


def load_ipython_extension(ipython: ShellLike) -> None:
    """Register the source finder, hooks and magics; loading again changes nothing."""
    if id(ipython) in _loaded:
        return  # the entry keeps the shell alive, so its id cannot have been reused
    _loaded[id(ipython)] = _Extension(ipython)
    from ipython_ext import warning_text

    warning_text.install()  # warnings without "%%checkpoint:1:" or a temp-file path


def unload_ipython_extension(ipython: ShellLike) -> None:
    """Remove what :func:`load_ipython_extension` registered (nothing if not loaded)."""
    extension = _loaded.pop(id(ipython), None)
    if extension is not None:
        extension.close()
    if not _loaded:
        from ipython_ext import warning_text

        warning_text.uninstall()
