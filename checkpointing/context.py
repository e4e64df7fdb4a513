"""What an identifier is told about one call of a checkpointed function.

The code analysis is imported when first needed, so importing this module is cheap.
"""

from __future__ import annotations

from types import FunctionType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checkpointing._profile import CodeProfile

__all__ = ["FuncCallContext"]


class FuncCallContext:
    """One call: the function, its bound arguments and access to the names it reads.

    ``arguments`` maps each parameter name to its bound value, defaults applied,
    ``*args`` as a tuple and ``**kwargs`` as a dict under their parameter names.
    """

    __slots__ = ("_profile", "arguments", "function")

    def __init__(
        self,
        function: FunctionType,
        arguments: dict[str, Any],
        profile: CodeProfile | None = None,
    ) -> None:
        self.function = function
        self.arguments = arguments
        self._profile = profile

    @property
    def profile(self) -> CodeProfile:
        """The static analysis of the function's code (computed once per code object)."""
        if self._profile is None:
            from checkpointing._profile import profile_of

            self._profile = profile_of(self.function)
        return self._profile

    @property
    def name(self) -> str:
        """The function's name, e.g. ``"foo"``."""
        return self.function.__name__

    @property
    def qualified_name(self) -> str:
        """The qualified name, e.g. ``"Model.fit"`` or ``"outer.<locals>.inner"``."""
        return self.function.__qualname__

    @property
    def module(self) -> str:
        """The name of the module that defines the function."""
        return str(self.function.__module__)

    @property
    def full_name(self) -> str:
        """``module.qualified_name``: what messages and cache metadata call the function."""
        return f"{self.module}.{self.qualified_name}"

    @property
    def code(self) -> str | None:
        """The function's source text, or ``None`` where no source is available."""
        return self.profile.source

    @property
    def free_names(self) -> tuple[str, ...]:
        """The globals and closure variables the function reads, in order of first use."""
        from checkpointing._imports import IMPORTED  # the code analysis loads lazily

        plan = self.profile.plan  # import statements in the body are not names it reads
        return tuple(dict.fromkeys(name for index, name, _ in plan if index != IMPORTED))

    def lookup(self, name: str) -> Any:
        """Return the current value of ``name`` as the function sees it.

        Closure variables first, then the function's globals, then builtins. Raises
        ``NameError`` if ``name`` has no value there.
        """
        from checkpointing._profile import UNBOUND, lookup_name

        value = lookup_name(self.function, name)
        if value is UNBOUND:
            raise NameError(f"name {name!r} has no value for {self.full_name}")
        return value

    def __repr__(self) -> str:
        return f"<FuncCallContext {self.full_name}({', '.join(self.arguments)})>"
