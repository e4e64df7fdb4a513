"""The part of IPython's ``InteractiveShell`` the extension touches, as a ``Protocol``.

Modules import it under ``TYPE_CHECKING`` only: type checkers then check every use of
the shell against this list, while importing the extension imports no IPython. The
list doubles as documentation of how much of IPython the extension depends on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ShellLike"]


class EventsLike(Protocol):
    """``shell.events``: callbacks around cell execution."""

    def register(self, event: str, function: Callable[..., Any]) -> None:
        """Call ``function`` on ``event`` (``"post_run_cell"``)."""
        ...

    def unregister(self, event: str, function: Callable[..., Any]) -> None:
        """Stop calling ``function`` on ``event``; ``ValueError`` if it was not registered."""
        ...


class ShellLike(Protocol):
    """What the extension reads and calls on the IPython shell.

    Read-only members are properties, so IPython's traits and properties both fit;
    the two attributes the extension assigns (to silence a failed cell's second
    traceback) are plain attributes.
    """

    custom_exceptions: tuple[type[BaseException], ...]
    CustomTB: Any

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's namespace."""
        ...

    @property
    def user_ns_hidden(self) -> dict[str, Any]:
        """The names IPython itself put in the namespace."""
        ...

    @property
    def user_global_ns(self) -> dict[str, Any]:
        """The globals cells run in."""
        ...

    @property
    def events(self) -> EventsLike:
        """Callbacks around cell execution."""
        ...

    @property
    def execution_count(self) -> int:
        """The number of the cell being run."""
        ...

    @property
    def magics_manager(self) -> Any:
        """The registry of magics (unloading removes ours)."""
        ...

    @property
    def compile(self) -> Any:
        """IPython's compiler: caches cell text for tracebacks and ``inspect``."""
        ...

    @property
    def display_formatter(self) -> Any:
        """Formats values as rich MIME bundles."""
        ...

    @property
    def display_pub(self) -> Any:
        """Publishes rich displays (recorded and replayed by the magic)."""
        ...

    @property
    def displayhook(self) -> Any:
        """Shows a cell's last value."""
        ...

    @property
    def display_trap(self) -> Any:
        """Swaps the display hook while a cell runs."""
        ...

    def transform_cell(self, raw_cell: str) -> str:
        """Return the cell as Python (``%magic`` and ``!cmd`` made into calls)."""
        ...

    def run_cell(self, raw_cell: str, store_history: bool = False) -> Any:
        """Run a cell as IPython does; the result tells whether it raised."""
        ...

    def register_magics(self, *objects: Any) -> None:
        """Register ``Magics`` instances or classes."""
        ...
