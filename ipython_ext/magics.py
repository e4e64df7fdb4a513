"""IPython magics of checkpointing: ``%%checkpoint``, ``%checkpoint`` and ``%checkpoint_panel``.

A thin adapter: options are parsed here with :mod:`IPython.core.magic_arguments` (bad
options raise :class:`~IPython.core.error.UsageError`, which IPython shows as one short
line) and the work is done by :class:`ipython_ext.cell.CellCache`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any, TypeVar, cast

from IPython.core import magic_arguments as _magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
    output_can_be_silenced,
)

from checkpointing.config import ON_ERROR_CHOICES
from ipython_ext.cell import CellCache, CellOptions, CellUsageError

__all__ = ["CheckpointMagics", "split_line_options"]

_NAME = re.compile(r"[A-Za-z_]\w*")
# One token of the line form: a quoted string or a run of non-blanks.
_TOKEN = re.compile(r"""\s*("[^"]*"|'[^']*'|\S+)""")
_OPTION = re.compile(r"--?[A-Za-z][\w-]*")
_FLAGS = frozenset({"-r", "--rerun", "-q", "--quiet", "--explain"})
_SHORT_FLAGS = re.compile(r"-[rq]{2,}")  # -rq

_F = TypeVar("_F", bound=Callable[..., Any])
# IPython's magic_arguments carries no type information; these typed fronts keep the
# magic's own signature checked.
_UNTYPED: Any = _magic_arguments


def _parser(name: str) -> Callable[[_F], _F]:
    return cast("Callable[[_F], _F]", _UNTYPED.magic_arguments(name))


def _argument(*names: str, **settings: Any) -> Callable[[_F], _F]:
    return cast("Callable[[_F], _F]", _UNTYPED.argument(*names, **settings))


# IPython types these markers as returning "the function or a decorator"; on a function
# they return it unchanged.
def _line_cell_magic(func: _F) -> _F:
    return cast(_F, line_cell_magic(func))


def _line_magic(func: _F) -> _F:
    return cast(_F, line_magic(func))


def split_line_options(line: str) -> tuple[str, str]:
    """Split ``%checkpoint [options] statement`` into the options and the statement.

    Options come first; the statement starts at the first token that is not an option
    or an option's value. The statement is returned verbatim (argument splitting would
    mangle its quotes).
    """
    position = 0
    options: list[str] = []
    while True:
        match = _TOKEN.match(line, position)
        if match is None:
            break
        token = match.group(1)
        name = token.partition("=")[0]
        if not _OPTION.fullmatch(name):
            break
        options.append(token)
        position = match.end()
        if name in _FLAGS or _SHORT_FLAGS.fullmatch(name) or "=" in token:
            continue
        value = _TOKEN.match(line, position)  # the option's value
        if value is not None:
            options.append(value.group(1))
            position = value.end()
    return " ".join(options), line[position:].strip()


def _parse_options(magic: Callable[..., Any], text: str) -> Any:
    """Parse a magic's options with shell quoting rules, as IPython users expect.

    ``--name "my slow cell"`` gives the name without its quotes; words left over after
    the options (an unquoted name with blanks) get an error that says to quote them.
    """
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the options {text!r}: {exc} (close the quote)") from None
    parser: Any = getattr(magic, "parser")  # noqa: B009 - set by magic_arguments
    args, extra = parser.parse_known_args(argv)
    unknown = [word for word in extra if word.startswith("-")]
    if unknown:
        raise UsageError(f"unknown option {unknown[0]!r}; see %%checkpoint? for the options")
    if extra:
        words = " ".join(extra)
        raise UsageError(
            f"unexpected words in the options: {words!r}; "
            'quote a value that contains blanks, e.g. --name "my slow cell"'
        )
    return args


def _names(option: str, value: str | None) -> tuple[str, ...]:
    """Parse ``a,b`` (commas and/or blanks) into names; reject what is not a name."""
    if not value:
        return ()
    names = tuple(part for part in re.split(r"[,\s]+", value) if part)
    for name in names:
        if not _NAME.fullmatch(name):
            raise UsageError(f"{option}: {name!r} is not a variable name (use a,b,c)")
    return names


@magics_class
class CheckpointMagics(Magics):
    """Magics that cache whole cells and show the cache panel."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._cells: CellCache | None = None

    @property
    def cells(self) -> CellCache:
        """The cell cache of this shell, created on first use."""
        if self._cells is None:
            if self.shell is None:
                raise UsageError("%%checkpoint needs a running IPython shell")
            self._cells = CellCache(self.shell)
        return self._cells

    @_parser("%checkpoint")  # the usage line then reads %%checkpoint
    @_argument("-r", "--rerun", action="store_true", help="run even if stored; store anew")
    @_argument("-n", "--name", help="label for the panel and cache listings")
    @_argument("-i", "--inputs", metavar="A,B", help="extra names whose values join the key")
    @_argument("-o", "--outputs", metavar="X,Y", help="extra names to store and restore")
    @_argument("-x", "--exclude", metavar="A,B", help="names neither hashed nor stored")
    @_argument("-d", "--dir", help="cache directory (default: .checkpointing in the cwd)")
    @_argument("-c", "--cache", metavar="NAME", help="a variable holding the cache to use")
    @_argument(
        "-e",
        "--on-error",
        choices=ON_ERROR_CHOICES,
        help="when caching fails: warn (default), raise or ignore",
    )
    @_argument("-q", "--quiet", action="store_true", help="no 'loaded from cache' note")
    @_argument(
        "--min-run-time",
        metavar="SECONDS",
        type=float,
        help="do not store the cell if it ran faster (default: the checkpoint setting)",
    )
    @_argument("--explain", action="store_true", help="say why it would re-run; run nothing")
    @no_var_expand
    @output_can_be_silenced
    @_line_cell_magic
    def checkpoint(self, line: str, cell: str | None = None) -> Any:
        """Cache a cell: on a re-run with the same code and inputs, replay it instead.

        ``%%checkpoint`` at the top of a cell stores the variables the cell sets and what
        it shows; ``%checkpoint x = slow(y)`` does the same for one statement. Inputs
        (names the cell reads) and outputs (names it sets or changes) are found
        automatically; add more with ``-i``/``-o``, leave some out with ``-x``.
        ``--cache NAME`` stores in the cache held by the notebook variable ``NAME``;
        ``--on-error`` says what a failure of the cache does (warn, raise, ignore).
        Output written below ``sys.stdout`` (``os.system``, C extensions) is not
        replayed. With ``--explain`` nothing runs: the result says whether the cell would
        be replayed and, if not, which input, code or option changed.
        """
        options_text, code = split_line_options(line) if cell is None else (line, cell)
        args = _parse_options(self.checkpoint, options_text)
        if cell is None and not code:
            raise UsageError(
                "give a statement, e.g. %checkpoint x = slow(y); for a cell use %%checkpoint"
            )
        options = CellOptions(
            rerun=args.rerun,
            name=args.name or None,
            inputs=_names("--inputs", args.inputs),
            outputs=_names("--outputs", args.outputs),
            exclude=_names("--exclude", args.exclude),
            directory=args.dir or None,
            quiet=args.quiet,
            cache=args.cache or None,
            on_error=args.on_error,
            min_run_time=args.min_run_time,
        )
        try:
            if args.explain:
                return self.cells.explain(code, options)
            return self.cells.run(code, options)
        except CellUsageError as exc:
            raise UsageError(str(exc)) from None

    @_line_magic
    def checkpoint_panel(self, line: str) -> Any:
        """Show the live panel of cache hits, misses and stored entries."""
        if line.strip():
            raise UsageError("%checkpoint_panel takes no arguments")
        from ipython_ext.panel import show_panel

        return show_panel()
