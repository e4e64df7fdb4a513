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
* changes to state outside the namespace and the library states that
  :mod:`ipython_ext.cell.ambient` knows (files written, a logger's level); attributes
  assigned on modules, classes and functions are restored (see
  :mod:`ipython_ext.cell.shared_state`);
* widgets' interactivity: a displayed widget replays as a text snapshot of its last state.

A failing cell shows its one traceback, is marked as failed, and nothing is stored.
Top-level ``await`` cannot run under a cell magic in a kernel (its event loop is
already running): such a cell is refused with a UsageError before anything runs.
Whenever something cannot be stored or restored faithfully the cell simply runs, and the
``on_error`` policy (``--on-error``, default ``defaults["checkpoint.on_error"]``)
decides what the user sees: a short :class:`~checkpointing.CheckpointingWarning` that
says why and what to do ("warn"), a ``CheckpointFailure`` ("raise"), or nothing.

Looking up, running, storing, events and that policy are the core's call engine
(:mod:`checkpointing.engine`), shared with ``@checkpoint``: a cell is one more
*subject* of it (:class:`_CellRun`), on any cache (``--cache NAME``).

The parts, one module each: :mod:`ipython_ext.cell.analysis` reads the cell,
:mod:`ipython_ext.cell.plan` computes its key, :mod:`ipython_ext.cell.recording` records
and replays what it shows, :mod:`ipython_ext.cell.storing` and
:mod:`ipython_ext.cell.restoring` store and restore what it left behind (their shared
types are in :mod:`ipython_ext.cell.stored`). This module runs a cell through them and
re-exports the public names; :mod:`ipython_ext.cell.caches` picks the cache a cell goes to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from checkpointing.config import defaults, validate_on_error
from checkpointing.engine import CallEngine, Stage, apply_on_error
from checkpointing.events import CheckpointEvent, has_listeners, publish
from checkpointing.exceptions import CheckpointingWarning, CheckpointNotExist, StorageError
from checkpointing.hooks import summarise_arguments
from ipython_ext.cell.analysis import CellAnalysis, Definition, analyse_cell
from ipython_ext.cell.caches import CellCaches
from ipython_ext.cell.errors import CellFailed, CellUsageError
from ipython_ext.cell.explain import cell_components, explain_plan
from ipython_ext.cell.plan import (
    CELL_FORMAT_VERSION,
    CellOptions,
    Plan,
    Unhashable,
    cell_function,
    cell_key,
    code_identity,
    input_digests,
)
from ipython_ext.cell.recording import NOTHING, Recording, last_value, recorded, replay
from ipython_ext.cell.restoring import restore
from ipython_ext.cell.source import cell_label, normalized_cell_code
from ipython_ext.cell.stored import NotStorable, StoredCell
from ipython_ext.cell.storing import Watch, build_entry, by_reference, watching
from ipython_ext.panel.text import format_duration

if TYPE_CHECKING:
    from checkpointing.explain import Explanation
    from ipython_ext.shell import ShellLike

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


def _warn(message: str) -> None:
    """Warn about a cell, every time (no per-location "once" registry)."""
    warnings.warn_explicit(message, CheckpointingWarning, filename="%%checkpoint", lineno=1)


def _quiet_failures(shell: ShellLike) -> None:
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

    def __init__(self, shell: ShellLike) -> None:
        self.shell = shell
        self.caches = CellCaches(shell)
        self.warned: set[str] = set()  # messages shown once per session

    def run(self, body: str, options: CellOptions | None = None) -> Any:
        """Replay ``body`` from the cache, or run it and store what it did.

        Raise :class:`CellFailed` if the cell fails (after IPython showed why),
        :class:`CellUsageError` if it cannot run under the magic at all, and
        ``CheckpointFailure`` for a failure of the cache under ``on_error="raise"``.
        """
        options = options or CellOptions()
        if not body.strip():
            return None
        label = options.name or cell_label(body)
        try:
            on_error = validate_on_error(
                options.on_error or defaults["checkpoint.on_error"], "--on-error"
            )
        except ValueError as exc:
            raise CellUsageError(str(exc)) from None
        start = time.perf_counter()
        plan = self._plan(body, label, options, on_error)
        if plan is None:
            identity = "" if options.name else self._identity(body)
            return self._run_uncached(body, cell_function(label, identity))
        cell = _CellRun(self.shell, plan, options, self.warned)
        engine = CallEngine(cell, plan.cache, on_error, min_run_time=options.min_run_time)
        value = engine.call(plan.key, None, options.rerun, start)
        return None if value is NOTHING else value

    def _plan(self, body: str, label: str, options: CellOptions, on_error: str) -> Plan | None:
        """Analyse the cell and compute its key; ``None`` (after ``on_error``) if it has none."""
        try:
            cache = self.caches.choose(options)
        except (StorageError, OSError) as exc:
            message = f"{exc}; running it without the cache. Choose another with --dir DIR."
            apply_on_error(on_error, f"cell {label!r}: {message}", exc, _warn)
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
            digests = input_digests(self.shell, analysis, options, source)
        except Unhashable as exc:
            message = (
                f"cell {label!r}: input {exc.name!r} ({type(exc.value).__name__}) cannot be "
                f"hashed ({type(exc.cause).__name__}: {exc.cause}); running it without the "
                f"cache. If {exc.name!r} does not change the results, leave it out with "
                f"-x {exc.name}."
            )
            apply_on_error(on_error, message, exc.cause, _warn)
            return None
        key = cell_key(code, digests, options)
        identity = "" if options.name else code_identity(code)
        return Plan(body, label, cache, source, analysis, digests, key, identity)

    def _identity(self, body: str) -> str:
        """Return the code digest of a cell that has no plan (its text's, if it does not parse)."""
        try:
            return code_identity(normalized_cell_code(self.shell.transform_cell(body)))
        except Exception:  # noqa: BLE001 - a cell that does not parse still gets a name
            return code_identity(body.strip())

    def explain(self, body: str, options: CellOptions | None = None) -> Explanation | None:
        """Say whether ``body`` would be replayed and, if not, what changed; run nothing.

        ``None`` when the cell has no key (a warning said why, as a run would).
        """
        options = options or CellOptions()
        on_error = options.on_error or defaults["checkpoint.on_error"]
        plan = self._plan(body, options.name or cell_label(body), options, on_error)
        if plan is None:
            return None
        summary = _CellRun(self.shell, plan, options, self.warned).describe(None)
        return explain_plan(
            plan, summary, lambda: cell_components(plan, options.outputs, options.exclude)
        )

    def _run_uncached(self, body: str, function: str) -> Any:
        recording, run_time = _execute(self.shell, body)
        if has_listeners():
            publish(CheckpointEvent("uncached", function, None, run_time, run_time, None))
        value = last_value(recording, body)
        return None if value is NOTHING else value


class _CellRun:
    """One run of one cell, as a subject of the call engine (see ``checkpointing.engine``).

    ``run`` executes the cell and keeps what ``to_store`` needs (the namespace before,
    the recording); ``from_store`` puts a stored run back and replays it.
    """

    def __init__(
        self, shell: ShellLike, plan: Plan, options: CellOptions, warned: set[str]
    ) -> None:
        self.shell = shell
        self.plan = plan
        self.options = options
        self.name = plan.function
        self._warned = warned
        self._watch: Watch | None = None
        self._recording: Recording | None = None
        self._once = False  # the failure being reported is worth saying once per session
        self._started = time.perf_counter()  # a hit's note says how long loading took
        self._run_time = 0.0

    def run(self, call: None) -> Any:
        """Run the cell as IPython runs a cell, recording what it shows."""
        with watching(self.shell, self.plan) as watch:
            self._recording, self._run_time = _execute(self.shell, self.plan.body)
        self._watch = watch
        return last_value(self._recording, self.plan.body)

    def to_store(self, call: None, value: Any) -> StoredCell:
        """Build the entry of this run; ``NotStorable`` if it would replay wrongly."""
        assert self._recording is not None, "to_store follows run"
        assert self._watch is not None, "to_store follows run"
        missing = [name for name in self.options.outputs if name not in self.shell.user_ns]
        if missing:
            _warn(
                f"cell {self.plan.label!r}: --outputs {', '.join(missing)}: not defined by "
                "the cell; ignored."
            )
        entry = build_entry(
            self.shell, self.plan, self.options, self._watch, self._recording, value
        )
        return dataclasses.replace(entry, stored_at=time.time(), run_time=self._run_time)

    def from_store(self, call: None, stored: Any) -> Any:
        """Restore the stored variables, replay the output and return the last value."""
        if not isinstance(stored, StoredCell):
            raise CheckpointNotExist(self.plan.key)  # not a cell's entry: a plain miss
        value, not_restored = restore(self.shell, stored, self.plan)
        if not_restored:
            self._warn_once(f"could not restore {', '.join(not_restored)}.")
        loading = time.perf_counter() - self._started
        replay(
            stored.events,
            stored.last_display,
            self.plan.label,
            self.options.quiet,
            stored.left_out,
            provenance=_provenance(stored, loading),
        )
        return value

    def components(self, call: None) -> dict[str, Any]:
        """Digest each part of the cell's key (code, inputs, options) for ``explain``."""
        return cell_components(self.plan, self.options.outputs, self.options.exclude)

    def describe(self, call: None) -> str:
        """Summarise the data inputs for cache listings (modules and functions are noise)."""
        ns = self.shell.user_ns
        digests = self.plan.digests
        data = {n: ns[n] for n in digests if n in ns and not by_reference(ns[n])}
        try:
            return summarise_arguments(data)
        except Exception:  # noqa: BLE001 - metadata must never fail a save
            return ""

    def failure_message(self, stage: Stage, exc: BaseException) -> str:
        """Word a failure of the cache for this cell, with what happens next."""
        prefix = f"cell {self.plan.label!r}: "
        self._once = isinstance(exc, NotStorable) and exc.once
        if stage == "store" and isinstance(exc, NotStorable):
            return prefix + str(exc)
        if stage == "store":
            return prefix + (
                f"not cached: {_brief(exc)}. The cell ran normally; choose another cache with "
                "--dir DIR or --cache NAME."
            )
        if stage == "restore":
            return prefix + f"the stored results could not be restored ({_brief(exc)}); running it."
        return prefix + f"the cache could not be read ({_brief(exc)}); running it."

    def warn(self, message: str) -> None:
        """Warn, attributed to the magic (once per session for what would repeat itself)."""
        if self._once and message in self._warned:
            return
        self._warned.add(message)
        _warn(message)

    def _warn_once(self, message: str) -> None:
        """Warn about this cell once per session: the same words every run help no one."""
        message = f"cell {self.plan.label!r}: {message}"
        if message not in self._warned:
            self._warned.add(message)
            _warn(message)


def _brief(exc: BaseException, limit: int = 120) -> str:
    """Return the first line of ``exc``'s message, cut to ``limit`` characters.

    A warning is one short sentence plus what to do; an exception's own text (a path, a
    server's reply) must not turn it into a paragraph.
    """
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _provenance(stored: StoredCell, loading: float) -> str:
    """Say when the replayed run was stored, how long it took, and how long loading took."""
    parts = []
    if stored.stored_at > 0:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stored.stored_at))
        parts.append(f"stored {when}")
    if stored.run_time > 0:
        parts.append(f"the run took {format_duration(stored.run_time)}")
    parts.append(f"loaded in {format_duration(loading)}")
    return ", ".join(parts)


def _as_shown(body: str) -> str:
    """Put the magic's line back, as a comment, so tracebacks count lines as the editor does.

    A body that starts with a cell magic of its own (``%%time``) keeps it on line one.
    """
    if body.lstrip().startswith("%%"):
        return body
    return "# %%checkpoint\n" + body


@contextlib.contextmanager
def _numbered_as_the_cell(shell: Any) -> Iterator[None]:
    """Run the body under the number of the cell the user ran, so tracebacks say ``In[N]``.

    IPython 9 advances ``execution_count`` before it runs a cell, so a cell run inside it
    would be named after the next prompt. The history already holds the running cell at
    its number; use that for the inner run when it is the one just before the count.
    """
    count = getattr(shell, "execution_count", None)
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    number = len(history) - 1 if isinstance(history, list) else None
    if not isinstance(count, int) or number != count - 1:
        yield
        return
    shell.execution_count = number
    try:
        yield
    finally:
        shell.execution_count = count


def _execute(shell: ShellLike, body: str) -> tuple[Recording, float]:
    """Run ``body`` as IPython runs a cell, recording what it shows; raise on failure."""
    start = time.perf_counter()
    with recorded(shell) as recording, _numbered_as_the_cell(shell):
        result = shell.run_cell(_as_shown(body), store_history=False)
    run_time = time.perf_counter() - start
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        _quiet_failures(shell)
        raise CellFailed(
            f"the cell raised {type(error).__name__}: {error} (traceback above); nothing was cached"
        ) from error
    return recording, run_time


def _loop_running() -> bool:
    """Tell whether an event loop runs in this thread (it does in ipykernel)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
