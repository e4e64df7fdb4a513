"""Record what a cell shows on its way to the screen, and show it again on a hit.

Recorded: text written to ``sys.stdout``/``sys.stderr``, rich displays (with their
updates and ``clear_output``), and the value of the last expression. Everything still
reaches the screen at once, so a long cell shows its progress live.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "NOTHING",
    "WIDGET_VIEW",
    "Event",
    "Recording",
    "last_value",
    "recorded",
    "replay",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTHING: Any = object()  # "no value": no last expression, no such name, no stored run

# ("stdout" | "stderr", text) or ("display", data, metadata, transient, update)
Event = tuple[Any, ...]


class Recording:
    """Everything a run showed, in order; consecutive writes to one stream are joined."""

    def __init__(self) -> None:
        self.events: list[list[Any]] = []
        self.value: Any = NOTHING  # the last expression's value, not yet shown
        self.publishing = False  # a terminal publisher prints displays: not stream text
        self._clear_pending = False

    def text(self, stream: str, text: str) -> None:
        """Record ``text`` written to ``stream`` (``"stdout"`` or ``"stderr"``)."""
        if not text or self.publishing:
            return
        self._before_output()
        if self.events and self.events[-1][0] == stream:
            self.events[-1][1] += text
        else:
            self.events.append([stream, text])

    def display(self, data: Any, metadata: Any, transient: Any, update: bool) -> None:
        """Record a display, or an update of an earlier one with the same display id."""
        self._before_output()
        transient = dict(transient or {})
        display_id = transient.get("display_id")
        if update and display_id is not None:
            # Replaying the final state is enough: update the earlier output in place.
            earlier = [
                e for e in self.events if e[0] == "display" and e[3].get("display_id") == display_id
            ]
            for event in earlier:
                event[1], event[2] = dict(data), dict(metadata or {})
            if earlier:
                return
        self.events.append(["display", dict(data), dict(metadata or {}), transient, update])

    def clear(self, wait: bool) -> None:
        """Record ``clear_output``: what was shown so far is dropped."""
        # ``wait=True`` clears only when the next output arrives, as front ends do.
        self._clear_pending = True
        if not wait:
            self._before_output()

    def _before_output(self) -> None:
        if self._clear_pending:
            self.events.clear()
            self._clear_pending = False

    def stored_events(self, shell: Any = None) -> tuple[tuple[Event, ...], tuple[str, ...]]:
        """Return the events worth replaying, and what they show only as a snapshot.

        Widget views are dead after a restart: each becomes a static snapshot of the
        widget's last state (its text, such as a progress bar's final line). Text that
        overwrote itself with carriage returns keeps only what was left on screen.
        """
        events: list[Event] = []
        widgets = 0
        for event in self.events:
            if event[0] != "display":
                events.append((event[0], _settled(event[1])))
            elif WIDGET_VIEW not in event[1]:
                events.append(tuple(event))
            else:
                widgets += 1
                data = _widget_snapshot(shell, event[1])
                if data:
                    events.append(("display", data, {}, {}, False))
        left_out = (f"{widgets} widget{'s' * (widgets > 1)} shown as text",) if widgets else ()
        return tuple(events), left_out


def _settled(text: str) -> str:
    r"""Return ``text`` as a terminal leaves it: each ``\r`` starts its line over."""
    if "\r" not in text:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] if line.strip("\r") else line for line in lines)


def _widget_snapshot(shell: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Return the static form of a displayed widget: its last state as text and HTML."""
    import sys

    snapshot = {k: v for k, v in data.items() if k in ("text/plain", "text/html")}
    module = sys.modules.get("ipywidgets.widgets.widget")
    model_id = (data.get(WIDGET_VIEW) or {}).get("model_id")
    widget = getattr(module, "_instances", {}).get(model_id) if module is not None else None
    if widget is not None and shell is not None:
        try:
            formatted, _ = shell.display_formatter.format(widget, exclude={WIDGET_VIEW})
        except Exception:  # noqa: BLE001 - keep what was shown first
            return snapshot
        snapshot = {k: v for k, v in formatted.items() if k in ("text/plain", "text/html")}
    return snapshot


class _Tee:
    """A stand-in for ``sys.stdout``/``sys.stderr`` that records what passes through.

    Writes still reach the real stream at once, so a long cell shows its progress live.
    """

    def __init__(self, stream: Any, name: str, recording: Recording) -> None:
        self._stream = stream
        self._name = name
        self._recording = recording

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._recording.text(self._name, text)
        return written if isinstance(written, int) else len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Publisher:
    """Wraps the shell's display publisher: records each display, then shows it."""

    __slots__ = ("_inner", "_recording")

    def __init__(self, inner: Any, recording: Recording) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_recording", recording)

    def publish(
        self,
        data: Any,
        metadata: Any = None,
        *args: Any,
        transient: Any = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        self._recording.display(data, metadata, transient, update)
        with self._publishing():
            self._inner.publish(data, metadata, *args, transient=transient, update=update, **kwargs)

    def clear_output(self, wait: bool = False) -> None:
        self._recording.clear(wait)
        with self._publishing():
            self._inner.clear_output(wait)

    @contextlib.contextmanager
    def _publishing(self) -> Iterator[None]:
        self._recording.publishing = True
        try:
            yield
        finally:
            self._recording.publishing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)  # IPython sets flags on the publisher it knows


class _ValueHook:
    """Stands in for ``sys.displayhook``: keeps the last expression's value.

    The magic returns that value, so IPython shows it as the cell's result (``Out``,
    ``_``) just as without the magic. With ``ast_node_interactivity = "all"`` each
    earlier value is shown (and recorded) as a display when the next one arrives.
    """

    def __init__(self, shell: Any, recording: Recording) -> None:
        self._shell = shell
        self._recording = recording

    def __call__(self, value: object = None) -> None:
        if value is None:
            return
        if self._recording.value is not NOTHING:
            data, metadata = self._shell.display_formatter.format(self._recording.value)
            self._shell.display_pub.publish(data, metadata)
        self._recording.value = value


# Every cell hook of other extensions (timers, autoreload, loggers) fires once, for the
# ``%%checkpoint`` cell itself, not again for the nested run of its body. The exception:
# matplotlib shows a cell's figures from ``post_execute`` (the inline backend's
# ``flush_figures``, pyplot's interactive redraw), which must run while the body's output
# is recorded, or a replay would lack the figures.
_CELL_EVENTS = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell")
_FIGURE_MODULES = ("matplotlib", "matplotlib_inline", "ipykernel.pylab")


def _shows_figures(callback: object) -> bool:
    """Tell whether a ``post_execute`` callback is matplotlib's figure display."""
    module = str(getattr(callback, "__module__", "") or "")
    return any(module == name or module.startswith(name + ".") for name in _FIGURE_MODULES)


@contextlib.contextmanager
def _cell_events_paused(shell: Any) -> Iterator[None]:
    """Keep other extensions' cell hooks from firing for the nested run of the body.

    They already fire for the ``%%checkpoint`` cell itself; running the body through
    ``run_cell`` would fire them a second time. Hooks registered while the body runs
    (``%load_ext autoreload`` in the cell) are kept.
    """
    callbacks = shell.events.callbacks
    saved = {name: callbacks[name] for name in _CELL_EVENTS if name in callbacks}
    for name, previous in saved.items():
        kept = [c for c in previous if _shows_figures(c)] if name == "post_execute" else []
        callbacks[name] = kept
    try:
        yield
    finally:
        for name, previous in saved.items():
            added = [c for c in callbacks[name] if c not in previous]
            callbacks[name] = previous + added


@contextlib.contextmanager
def recorded(shell: Any) -> Iterator[Recording]:
    """Record what the shell shows while the block runs, and restore everything after."""
    recording = Recording()
    streams = sys.stdout, sys.stderr
    publisher = shell.display_pub
    exec_result = shell.displayhook.exec_result  # a nested run_cell resets it
    # Inside the trap, the nested run_cell leaves sys.displayhook alone (it nests).
    with shell.display_trap, _cell_events_paused(shell):
        hook = sys.displayhook
        sys.stdout = _Tee(streams[0], "stdout", recording)
        sys.stderr = _Tee(streams[1], "stderr", recording)
        shell.display_pub = _Publisher(publisher, recording)
        sys.displayhook = _ValueHook(shell, recording)
        try:
            yield recording
        finally:
            sys.stdout, sys.stderr = streams
            shell.display_pub = publisher
            sys.displayhook = hook
            shell.displayhook.exec_result = exec_result


def last_value(recording: Recording, body: str) -> Any:
    """Return the value ``body`` shows as its result, or ``NOTHING``."""
    from IPython.core.displayhook import DisplayHook

    silenced: Any = DisplayHook.semicolon_at_end_of_expression  # untyped in IPython
    if silenced(body):
        return NOTHING  # ``x;`` shows nothing, so nothing to store either
    return recording.value


def replay(
    events: Iterable[Event],
    last_display: tuple[dict[str, Any], dict[str, Any]] | None,
    label: str,
    quiet: bool,
    left_out: Iterable[str] = (),
    provenance: str = "",
) -> None:
    """Show again what a run showed, in order, after a note saying where it comes from.

    The note (left out with ``quiet``, unless something could not be replayed) says that
    the cell was loaded, not run, when it was stored, how long the run took and how long
    loading took (``provenance``), and what the replay shows only as a snapshot; its HTML
    form carries a visible "from cache" marker beside the replayed output.
    """
    from IPython.display import publish_display_data as untyped

    publish_display_data: Any = untyped
    missing = "; ".join(left_out)
    if not quiet or missing:
        note = f"%%checkpoint: loaded from cache, not run ({label})"
        if provenance:
            note += f"; {provenance}"
        if missing:
            note += f"; {missing}"
        detail = note.removeprefix("%%checkpoint: ")
        html = (
            '<div class="checkpointing-replay" style="border-left:3px solid #2e7d32;'
            'padding:1px 6px;color:#555;font-size:85%">'
            f'<b style="color:#2e7d32">&#8634; from cache</b> &middot; {_escape(detail)}</div>'
        )
        publish_display_data({"text/plain": note, "text/html": html})
    for event in events:
        kind = event[0]
        if kind in ("stdout", "stderr"):
            stream = sys.stdout if kind == "stdout" else sys.stderr
            stream.write(event[1])
            stream.flush()
        else:
            _, data, metadata, transient, update = event
            publish_display_data(data, metadata, transient=transient or None, update=update)
    if last_display is not None:
        publish_display_data(*last_display)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
