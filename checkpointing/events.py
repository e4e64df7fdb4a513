"""Notices of what the decorator did, for observers such as the notebook panel.

The decorator publishes one :class:`CheckpointEvent` per call. Publishing costs a
truthiness test when nobody listens, so the hot path stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CheckpointEvent", "EventKind", "publish", "subscribe"]

EventKind = Literal["hit", "miss", "rerun", "uncached"]


@dataclass(frozen=True, slots=True)
class CheckpointEvent:
    """One call of a checkpointed function.

    ``kind`` is ``"hit"`` (result loaded), ``"miss"`` (function ran and was stored),
    ``"rerun"`` (forced run via ``.rerun``) or ``"uncached"`` (the machinery failed and
    the function ran without the cache). ``elapsed`` is the wall time of the whole call;
    ``run_time`` is the run time of the original computation when known, so a hit
    saved ``run_time - elapsed`` seconds. ``cache`` is the cache the result lives in,
    so an observer can list or clear its entries.
    """

    kind: EventKind
    function: str
    context_id: object
    elapsed: float
    run_time: float | None
    cache: object = None


Listener = Callable[[CheckpointEvent], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` for every future event; return a function that unsubscribes it."""
    _listeners.append(listener)

    def unsubscribe() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return unsubscribe


def publish(event: CheckpointEvent) -> None:
    """Deliver ``event`` to every listener; a failing listener never breaks the call."""
    for listener in list(_listeners):
        # An observer must never break the user's program.
        with contextlib.suppress(Exception):
            listener(event)


def has_listeners() -> bool:
    """Tell whether anyone listens, so callers can skip building events."""
    return bool(_listeners)
