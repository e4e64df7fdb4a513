"""Recover the source of functions defined in IPython cells, verified against their code.

``inspect.getsource`` reads ``linecache``, which is not enough in a notebook: it fails
for code run by ``%%time``, ``%%prun`` or ``exec``, and after ``linecache.clearcache()``;
with ``IPYKERNEL_CELL_NAME`` set every cell shares one file name, so it returns the
text of whichever cell ran last. :class:`HistorySource` looks in every place IPython
keeps cell text, newest first, and accepts a candidate only once compiling it gives the
function's own code object, so a wrong candidate is never used.
"""

from __future__ import annotations

import ast
import linecache
import re
import sqlite3
import textwrap
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import CodeType, FunctionType
from typing import Any, TypeGuard

from checkpointing.hooks import find_definition, source_matches_code

__all__ = ["HistorySource"]

_NOTHING: Mapping[str, int] = {}
# How many stored history entries to read at most, newest first: enough for any session
# a person works in, bounded so a function whose source is truly gone costs little.
_DATABASE_ROWS = 500
# Cell text nests at most this deep (a %%time cell whose body calls exec("...")).
_LITERAL_DEPTH = 3
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


class HistorySource:
    """A source finder for :func:`checkpointing._source.register_source_finder`.

    It reads from the shell only ``user_ns``, ``compile._filename_map`` (cell file name
    to execution count), ``history_manager`` (``input_hist_parsed`` and its SQLite
    ``search``) and ``transform_cell``; cells the history does not keep (run with
    ``store_history=False``) can be handed to :meth:`remember`.
    """

    def __init__(self, shell: Any, remembered: int = 200) -> None:
        self._shell = shell
        compiler = getattr(shell, "compile", None)
        self._cell_files: Mapping[str, int] = getattr(compiler, "_filename_map", _NOTHING)
        self._remembered: deque[str] = deque(maxlen=remembered)

    def remember(self, cell: str) -> None:
        """Keep ``cell`` (transformed text) as a candidate although history does not."""
        if not self._remembered or self._remembered[-1] != cell:
            self._remembered.append(cell)

    def __call__(self, func: FunctionType) -> str | None:
        """Return the verified source text of ``func``, or ``None`` for anything else."""
        code = func.__code__
        # The quick reject: called for every function the core profiles, so an ordinary
        # module function must cost no more than an identity test and a dict lookup.
        if (
            func.__globals__ is not self._shell.user_ns
            and code.co_filename not in self._cell_files
            and not code.co_filename.startswith("<")
        ):
            return None
        return self.find(code)

    def find(self, code: CodeType) -> str | None:
        """Return the first candidate text, newest first, that compiles to ``code``."""
        # Only texts that can define it are parsed: cells that merely mention the name
        # (or a dataclass's generated __init__, which no cell defines) cost a regex search.
        if code.co_name == "<lambda>":
            wanted = re.compile(r"lambda\b")
        else:
            wanted = re.compile(rf"def\s+{re.escape(code.co_name)}\b")
        entry = linecache.cache.get(code.co_filename, ())
        # A one-item entry is a lazy loader for a module file: no cell keeps one.
        file_text = "".join(entry[2]) if len(entry) == 4 else None
        tried: set[str] = set()
        for text in self._candidates(code, file_text):
            for piece in self._with_literals(text, wanted, _LITERAL_DEPTH):
                if piece in tried:
                    continue
                tried.add(piece)
                found = _definition_in(piece, code, with_imports=piece != file_text)
                if found is not None:
                    return found
        return None

    # -- where cell text lives, most likely first ------------------------------------
    def _candidates(self, code: CodeType, file_text: str | None) -> Iterator[str]:
        filename = code.co_filename
        if file_text is not None:
            yield file_text
        history = getattr(self._shell, "history_manager", None)
        cells: Sequence[str] = getattr(history, "input_hist_parsed", ())
        number = self._cell_files.get(filename)
        if number is not None and 0 < number < len(cells):
            yield cells[number]
        yield from reversed(list(self._remembered))  # a copy: cells may run meanwhile
        yield from reversed(cells)
        yield from self._stored(history, code.co_name)

    def _stored(self, history: Any, name: str) -> Iterator[str]:
        """Yield cells from the SQLite history, all sessions, newest first."""
        pattern = "*lambda*" if name == "<lambda>" else f"*def*{_glob_escape(name)}*"
        try:
            rows = list(history.search(pattern, raw=False, search_raw=False, n=_DATABASE_ROWS))
        except (AttributeError, sqlite3.Error):
            return  # no history, or its database is closed or used from another thread
        for _session, _line, text in reversed(rows):
            if isinstance(text, str):
                yield text

    def _with_literals(self, text: str, wanted: re.Pattern[str], depth: int) -> Iterator[str]:
        """Yield ``text`` and the string literals in it that may define the function.

        Cell magics keep their body as a literal (``run_cell_magic('time', '', body)``),
        and so does ``exec("def f(): ...")``.
        """
        if wanted.search(text) is None:
            return
        yield text
        if depth == 0:
            return
        tree = _parse(text)
        if tree is None:
            transformed = self._transform(text)
            if transformed == text:
                return
            yield transformed  # a magic's body may hold IPython syntax (x = !ls)
            tree = _parse(transformed)
            if tree is None:
                return
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield from self._with_literals(node.value, wanted, depth - 1)

    def _transform(self, text: str) -> str:
        transform: Callable[[str], str] | None = getattr(self._shell, "transform_cell", None)
        if transform is None:
            return text
        try:
            return transform(text)
        except Exception:  # noqa: BLE001 - IPython's transformers may reject any input
            return text


# -- verification ------------------------------------------------------------------------
def _definition_in(text: str, code: CodeType, with_imports: bool) -> str | None:
    """Cut the definition of ``code`` out of ``text`` if one there compiles to it.

    ``text`` is passed on as the module source, since its imports shape the bytecode of
    ``name.attr()`` calls. With ``with_imports`` (``text`` is not what linecache holds for
    the code's file) the imports of names the code reads go first in the result, so the
    core's own check, which sees only the result, has them too.
    """
    tree = _parse(text)
    if tree is None:
        return None
    lines = textwrap.dedent(text).splitlines(keepends=True)
    for node in ast.walk(tree):
        if not _may_define(node, code) or not source_matches_code(node, code, text):
            continue
        segment = textwrap.dedent("".join(lines[_span(tree, node)])).rstrip("\n") + "\n"
        if with_imports:
            segment = _imports_used(tree, code) + segment
        # Check what the core will check, so that it accepts what is returned here.
        found = find_definition(segment, code)
        if found is not None and source_matches_code(found, code, segment):
            return segment
    return None


def _imports_used(tree: ast.Module, code: CodeType) -> str:
    """Return the top-level imports in ``tree`` that bind a global ``code`` reads."""
    names = _global_names(code)
    kept: list[str] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound = {(a.asname or a.name).partition(".")[0] for a in node.names}
            if bound & names:
                kept.append(ast.unparse(node) + "\n")
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))  # imports under if/try at top level
    return "".join(kept) + "\n" if kept else ""


def _global_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _global_names(const)
    return names


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _may_define(node: ast.AST, code: CodeType) -> TypeGuard[_Definition]:
    if code.co_name == "<lambda>":
        return isinstance(node, ast.Lambda)
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name


def _span(tree: ast.Module, node: _Definition) -> slice:
    """Return the lines of ``node``, decorators included; for a lambda, its statement."""
    if isinstance(node, ast.Lambda):
        holders = [
            s
            for s in ast.walk(tree)
            if isinstance(s, ast.stmt)
            and s.lineno <= node.lineno
            and _last_line(s) >= _last_line(node)
        ]
        # The innermost statement holding the lambda: a piece that parses on its own.
        around = min(holders, key=lambda s: _last_line(s) - s.lineno, default=node)
        return slice(around.lineno - 1, _last_line(around))
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return slice(first - 1, _last_line(node))


def _last_line(node: ast.stmt | ast.expr) -> int:
    return node.end_lineno if node.end_lineno is not None else node.lineno


def _glob_escape(name: str) -> str:
    """Escape SQLite GLOB wildcards (identifiers hold none, ``<lambda>`` aside)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
