"""Cache a whole notebook cell: the logic behind ``%%checkpoint``.

A cell is analysed with :mod:`ast` after IPython's transformation (so ``!cmd``,
``%magic`` and ``x = !cmd`` are plain calls): the names it reads before binding them are
its *inputs*, the names it binds or modifies its *outputs*. The cache key is the hash of
the normalized cell code (comments, formatting, docstrings and annotations do not count;
names do, because output names matter) and of the input values, hashed like the
arguments of a ``@checkpoint`` function, so user functions among them count by code.

On a miss the cell runs through IPython as usual while everything it shows is recorded
on the way to the screen (stdout, stderr, rich displays, the value of its last
expression); then the output variables are pickled and stored with that record. On a
hit the variables are put back and the record is replayed without running the cell.
Functions and classes the cell defines are restored by running their definitions again
(pickle could only refer to them by name); modules are imported again.

What is not seen, so not replayed or restored:

* output written below ``sys.stdout``/``sys.stderr``: by ``os.system``, subprocesses
  writing to the inherited descriptors, C extensions, or logging handlers that kept a
  reference to the original stream;
* names read only inside strings run by ``eval``/``exec`` (add them with ``--inputs``),
  and files the cell reads: their contents are not part of the key;
* changes a cell makes only through functions it calls, to objects it never names
  (list those with ``--outputs``);
* changes to state outside the namespace: files written, ``random.seed(0)``,
  ``pd.set_option(...)``; keep such lines in cells that are not cached. (Assigning to
  a module's, class's or function's attributes is detected: such a cell is not cached.)
* widget views: they are dead after a kernel restart, so they are never stored.

A failing cell shows its one traceback, is marked as failed, and nothing is stored.
Top-level ``await`` cannot run under a cell magic in a kernel (its event loop is
already running): such a cell is refused with a UsageError before anything runs.
Whenever something cannot be stored or restored faithfully the cell simply runs, with a
short :class:`~checkpointing.CheckpointingWarning` that says why and what to do.

The parts, one module each: :mod:`ipython_ext.cell.analysis` reads the cell,
:mod:`ipython_ext.cell.plan` computes its key, :mod:`ipython_ext.cell.recording` records
and replays what it shows, :mod:`ipython_ext.cell.storage` stores and restores what it
left behind. This module runs a cell through them and re-exports the public names.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

from checkpointing._summary import summarise_arguments
from checkpointing.cache.base import EntryInfo
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.config import defaults
from checkpointing.events import CheckpointEvent, EventKind, has_listeners, publish
from checkpointing.exceptions import (
    CheckpointingError,
    CheckpointingWarning,
    CheckpointNotExist,
    StorageError,
)
from ipython_ext.cell.analysis import (
    CellAnalysis,
    Definition,
    analyse_cell,
    cell_label,
    normalized_cell_code,
)
from ipython_ext.cell.plan import (
    CELL_FORMAT_VERSION,
    CellOptions,
    Plan,
    Unhashable,
    cell_key,
    input_digests,
)
from ipython_ext.cell.recording import NOTHING, Recording, last_value, recorded, replay
from ipython_ext.cell.storage import (
    NotStorable,
    RestoreError,
    StoredCell,
    build_entry,
    by_reference,
    restore,
    watching,
)

__all__ = [
    "CELL_FORMAT_VERSION",
    "CellAnalysis",
    "CellCache",
    "CellFailed",
    "CellOptions",
    "CellUsageError",
    "Definition",
    "StoredCell",
    "analyse_cell",
    "cell_label",
    "normalized_cell_code",
]


class CellUsageError(CheckpointingError, ValueError):
    """A cell that ``%%checkpoint`` cannot run at all (the magic shows a UsageError)."""


class CellFailed(CheckpointingError, RuntimeError):
    """A ``%%checkpoint`` cell raised: its traceback is already shown, nothing was stored.

    The cell's own exception is the ``__cause__``. Inside IPython the cell counts as
    failed (execution stops in "Run All") without a second traceback.
    """


def _warn(label: str, message: str) -> None:
    """Warn about the cell ``label``, every time (no per-location "once" registry)."""
    warnings.warn_explicit(
        f"cell {label!r}: {message}", CheckpointingWarning, filename="%%checkpoint", lineno=1
    )


def _quiet_failures(shell: Any) -> None:
    """Let a ``CellFailed`` fail the outer cell without IPython showing it again.

    The nested run already showed the cell's traceback. IPython hands exceptions listed
    in ``custom_exceptions`` to ``CustomTB`` instead of printing them; ours shows
    nothing and passes any other listed exception to the handler that was there before.
    """
    if CellFailed in shell.custom_exceptions:
        return
    previous = shell.CustomTB

    def handler(etype: type[BaseException], value: BaseException, tb: Any, *rest: Any) -> Any:
        if isinstance(value, CellFailed):
            return None
        return previous(etype, value, tb, *rest)

    shell.custom_exceptions = (*shell.custom_exceptions, CellFailed)
    shell.CustomTB = handler


class CellCache:
    """Run the cells of one IPython shell through the cache: what ``%%checkpoint`` does.

    ``run(body, options)`` returns the value of the cell's last expression (``None`` if
    there is none), for the magic to return so IPython shows it as the cell's result.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._caches: dict[tuple[str, int], PickleFileCache] = {}
        self._warned: set[tuple[str, str]] = set()

    def _warn_once(self, label: str, message: str) -> None:
        """Warn about the cell ``label`` once per session: the same words every run help no one."""
        if (label, message) not in self._warned:
            self._warned.add((label, message))
            _warn(label, message)

    def run(self, body: str, options: CellOptions | None = None) -> Any:
        """Replay ``body`` from the cache, or run it and store what it did.

        Raise :class:`CellFailed` if the cell fails (after IPython showed why) and
        :class:`CellUsageError` if it cannot run under the magic at all.
        """
        options = options or CellOptions()
        if not body.strip():
            return None
        label = options.name or cell_label(body)
        start = time.perf_counter()
        plan = self._plan(body, label, options)
        if plan is None:
            return self._run_uncached(body, f"cell:{label}")
        if not options.rerun:
            value = self._hit(plan, options, start)
            if value is not NOTHING:
                return value
        return self._miss(plan, options)

    # -- steps ----------------------------------------------------------------------
    def _plan(self, body: str, label: str, options: CellOptions) -> Plan | None:
        """Analyse the cell and compute its key; ``None`` (after a warning) if it has none."""
        try:
            cache = self._cache(options.directory)
        except (StorageError, ValueError) as exc:
            _warn(label, f"{exc}; running it without the cache. Choose another with --dir DIR.")
            return None
        try:
            source = self.shell.transform_cell(body)
            analysis = analyse_cell(source, self.shell.transform_cell)
            code = normalized_cell_code(source)
        except Exception:  # noqa: BLE001 - e.g. a SyntaxError: IPython reports it as usual
            return None
        if analysis.awaits and _loop_running():
            raise CellUsageError(
                "top-level await cannot run inside %%checkpoint in a kernel (IPython runs "
                "cell magics synchronously); await in another cell, or wrap the code in an "
                "async function that another cell awaits"
            )
        try:
            digests = input_digests(self.shell, analysis, options)
        except Unhashable as exc:
            _warn(
                label,
                f"input {exc.name!r} ({type(exc.value).__name__}) cannot be hashed "
                f"({type(exc.cause).__name__}: {exc.cause}); running it without the cache. "
                f"If {exc.name!r} does not change the results, leave it out with -x {exc.name}.",
            )
            return None
        key = cell_key(code, digests, options)
        return Plan(body, label, cache, source, analysis, digests, key)

    def _hit(self, plan: Plan, options: CellOptions, start: float) -> Any:
        """Restore and replay a stored run; return its value, or ``NOTHING`` on a miss."""
        try:
            entry, run_time = plan.cache.retrieve_entry(plan.key)
        except CheckpointNotExist:
            return NOTHING
        except Exception as exc:  # noqa: BLE001 - an unreadable cache is a miss
            _warn(plan.label, f"the cache could not be read ({exc}); running it.")
            return NOTHING
        if not isinstance(entry, StoredCell):
            return NOTHING
        try:
            value, not_restored = restore(self.shell, entry, plan)
        except RestoreError as exc:
            _warn(plan.label, f"the stored results could not be restored ({exc}); running it.")
            return NOTHING
        if not_restored:
            self._warn_once(plan.label, f"could not restore {', '.join(not_restored)}.")
        replay(entry.events, entry.last_display, plan.label, options.quiet, entry.left_out)
        elapsed = time.perf_counter() - start
        self._publish("hit", plan.function, plan.key, elapsed, run_time, plan.cache)
        return value

    def _miss(self, plan: Plan, options: CellOptions) -> Any:
        """Run the cell, store what it did (if that is safe) and return its value."""
        with watching(self.shell, plan) as watch:
            recording, run_time = self._execute(plan.body)
        value = last_value(recording, plan.body)
        kind: EventKind = "rerun" if options.rerun else "miss"
        try:
            self._warn_missing_outputs(plan, options)
            entry = build_entry(self.shell, plan, options, watch, recording, value)
            info = EntryInfo(
                context_id=plan.key,
                function=plan.function,
                created=time.time(),
                size=0,
                run_time=run_time,
                arguments=self._summary(plan),
                format_version=0,  # the cache records its own storage format
            )
            try:
                plan.cache.save_entry(plan.key, entry, info)
            except Exception as exc:  # the cell ran; only storing failed
                raise NotStorable(
                    f"not cached: {exc}. The cell ran normally; choose a writable cache "
                    "directory with --dir DIR."
                ) from exc
        except NotStorable as exc:
            if exc.once:
                self._warn_once(plan.label, str(exc))
            else:
                _warn(plan.label, str(exc))
            kind = "uncached"
        self._publish(kind, plan.function, plan.key, run_time, run_time, plan.cache)
        return None if value is NOTHING else value

    def _run_uncached(self, body: str, function: str) -> Any:
        recording, run_time = self._execute(body)
        self._publish("uncached", function, None, run_time, run_time, None)
        value = last_value(recording, body)
        return None if value is NOTHING else value

    # -- running ------------------------------------------------------------------------
    def _execute(self, body: str) -> tuple[Recording, float]:
        """Run ``body`` as IPython runs a cell, recording what it shows; raise on failure."""
        start = time.perf_counter()
        with recorded(self.shell) as recording:
            result = self.shell.run_cell(body, store_history=False)
        run_time = time.perf_counter() - start
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            _quiet_failures(self.shell)
            raise CellFailed(
                f"the cell raised {type(error).__name__}: {error} (traceback above); "
                "nothing was cached"
            ) from error
        return recording, run_time

    # -- storing ----------------------------------------------------------------------
    def _warn_missing_outputs(self, plan: Plan, options: CellOptions) -> None:
        """Warn about ``--outputs`` names the cell did not define: they are ignored."""
        missing = [name for name in options.outputs if name not in self.shell.user_ns]
        if missing:
            _warn(plan.label, f"--outputs {', '.join(missing)}: not defined by the cell; ignored.")

    def _summary(self, plan: Plan) -> str:
        """Summarise the data inputs for cache listings (modules and functions are noise)."""
        ns = self.shell.user_ns
        data = {n: ns[n] for n in plan.digests if n in ns and not by_reference(ns[n])}
        return summarise_arguments(data)

    def _cache(self, directory: str | None) -> PickleFileCache:
        """Return the cache for ``directory`` (resolved now), one instance per directory."""
        if directory is None:
            directory = defaults["cache.filesystem.directory"]
        path = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        protocol = defaults["cache.pickle_protocol"]
        # A path under a file can be neither read nor created: say so before running.
        existing = path
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if existing == path and not os.path.isdir(path):
            raise StorageError(f"cache directory {path!r} is a file")
        if not os.path.isdir(existing):
            raise StorageError(f"cache directory {path!r} cannot be made: {existing!r} is a file")
        cache = self._caches.get((path, protocol))
        if cache is None:
            cache = PickleFileCache(path, protocol)
            self._caches[(path, protocol)] = cache
        return cache

    # -- events ---------------------------------------------------------------------------
    @staticmethod
    def _publish(
        kind: EventKind,
        function: str,
        key: str | None,
        elapsed: float,
        run_time: float | None,
        cache: object,
    ) -> None:
        if has_listeners():
            publish(CheckpointEvent(kind, function, key, elapsed, run_time, cache))


def _loop_running() -> bool:
    """Tell whether an event loop runs in this thread (it does in ipykernel)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
