"""Read a cell statically: the names it reads (inputs), binds or changes (outputs).

The cell is analysed with :mod:`ast` after IPython's transformation, so ``!cmd``,
``%magic`` and ``x = !cmd`` are plain calls whose ``$name`` and ``{expr}`` expansions
and embedded code count too (:mod:`ipython_ext.cell.ipython_calls`). The analysis is
one walk over the cell in execution order, in two layers: this module visits the
statements and follows control flow (which names are *surely* bound at each point),
and :mod:`ipython_ext.cell.expressions` keeps the record of names and visits
expressions and nested scopes. The cell's normalized code (part of its key) and its
label live in :mod:`ipython_ext.cell.source`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from checkpointing.hooks import all_parameters
from ipython_ext.cell.expressions import ExpressionWalker
from ipython_ext.cell.source import parse_cell

__all__ = [
    "CellAnalysis",
    "Definition",
    "analyse_cell",
]


@dataclass(frozen=True, slots=True)
class Definition:
    """A top-level ``def``, ``class`` or ``name = lambda`` that gives ``name`` its final value.

    ``index`` is the statement's position in the cell; ``needs`` are the names bound
    earlier in the cell that running the definition reads (decorators, defaults, bases,
    the class body), so a hit restores those variables before re-running it.
    """

    name: str
    index: int
    needs: frozenset[str]


@dataclass(frozen=True, slots=True)
class CellAnalysis:
    """What a cell reads and writes, found statically.

    ``inputs``: names read while they may still be unbound in the cell, and globals read
    by functions the cell defines that the cell itself never binds. ``bound``: every
    name the cell binds at module level; ``definite``: those bound on every path through
    it. ``modified``: names whose object is changed in place by ``x[...] = ``,
    ``x.a = ``, ``x[...] += `` or ``del x[...]``. ``definitions``: restorable by running
    them again (see :class:`Definition`). ``awaits``: the cell uses top-level ``await``.
    ``imports``: what the cell's import statements (anywhere in it) bind, as
    ``(module[:attribute], attribute chain read)``; their values are inputs too.
    ``observes``: which of ``__name__``, ``__qualname__``, ``__doc__`` the cell reads.
    """

    inputs: tuple[str, ...]
    bound: frozenset[str]
    definite: frozenset[str]
    modified: frozenset[str]
    definitions: tuple[Definition, ...]
    awaits: bool = False
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()
    observes: frozenset[str] = frozenset()


def analyse_cell(source: str, transform: Callable[[str], str] | None = None) -> CellAnalysis:
    """Analyse the (transformed) cell ``source``; raise ``SyntaxError`` if it does not parse.

    ``transform`` turns the body of a nested cell magic (``%%time`` inside the cell)
    into Python so its reads count too; without it such bodies are parsed as they are.
    """
    tree = parse_cell(source)
    analyser = _Analyser(transform or (lambda text: text), tree)
    for index, statement in enumerate(tree.body):
        analyser.top_statement(index, statement)
    return analyser.result()


class _Analyser(ExpressionWalker):
    """Walk a cell's statements in execution order, tracking which names are surely bound.

    Module-level reads of names not yet surely bound are inputs. Flow is approximated
    conservatively: a name bound in one branch of an ``if``, inside a loop or in a ``try``
    body counts as possibly unbound afterwards.
    """

    def __init__(self, transform: Callable[[str], str], tree: ast.Module) -> None:
        super().__init__(transform, tree)
        self.definitions: dict[int, Definition] = {}

    def result(self) -> CellAnalysis:
        inputs = dict(self.reads)
        for reads in self.body_reads.values():
            # Read whenever the function is called, maybe in a later cell: globals the
            # cell never binds are inputs whether or not the cell itself calls it.
            inputs.update((name, None) for name in reads if name not in self.bound)
        for spec in self._stars:
            # Any name read may come from the star import: what the module binds counts.
            for name in inputs:
                self.imports.setdefault((f"{spec}:{name}", ()))
        definitions = tuple(
            definition
            for index, definition in sorted(self.definitions.items())
            if self.last_binding.get(definition.name) == (index, True)
        )
        return CellAnalysis(
            tuple(inputs),
            frozenset(self.bound),
            frozenset(self.definite),
            frozenset(self.modified),
            definitions,
            self.awaits,
            tuple(self.imports),
            frozenset(self.observes),
        )

    # -- top level ----------------------------------------------------------------
    def top_statement(self, index: int, node: ast.stmt) -> None:
        self._index = index
        name = _definition_name(node)
        if name is None:
            self.statement(node)
            return
        before = set(self.bound)
        self._collect = set()
        self._defining = name
        try:
            self.statement(node)
        finally:
            collected, self._collect, self._defining = self._collect, None, None
        self.definitions[index] = Definition(name, index, frozenset(collected & before))

    # -- statements -----------------------------------------------------------------
    def stmt_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.expr(expr)
        for arg in all_parameters(node.args):
            if arg.annotation is not None:
                self.expr(arg.annotation)
        if node.returns is not None:
            self.expr(node.returns)
        self.bind(node.name)
        self._body(node, node.name, list(node.body))
        if node.decorator_list and not self.scopes:
            self.use(node.name)  # the decorator receives the function and may call it

    stmt_AsyncFunctionDef = stmt_FunctionDef

    def stmt_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(expr)
        self._body(node, node.name, list(node.body))
        self.bind(node.name)
        if node.decorator_list and not self.scopes:
            self.use(node.name)

    def stmt_Assign(self, node: ast.Assign) -> None:
        named = _definition_name(node) if not self.scopes else None
        if named is not None and isinstance(node.value, ast.Lambda):
            self._lambda(node.value, named)  # ``f = lambda ...``: a definition of ``f``
        else:
            self.expr(node.value)
        for target in node.targets:
            self.target(target)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.expr(node.value)
            self.bind(node.target.id)
        else:
            self.target(node.target)  # reads the base, marks it modified
            self.expr(node.value)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.expr(node.value)
        self.expr(node.annotation)  # evaluated at module level
        if node.value is not None:
            self.target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.expr(node.target.value)

    def stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.load(target.id)
                if not self.scopes:
                    self.definite.discard(target.id)
            else:
                self.target(target)

    def stmt_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":  # star imports are caught by the namespace diff
                self.bind(alias.asname or alias.name.partition(".")[0])

    stmt_ImportFrom = stmt_Import

    def stmt_If(self, node: ast.If) -> None:
        self.expr(node.test)
        before = set(self.definite)
        self.block(node.body)
        after_body, self.definite = self.definite, before
        self.block(node.orelse)
        self.definite &= after_body

    def stmt_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        before = set(self.definite)
        self.target(node.target)
        self.block(node.body)
        self.block(node.orelse)
        self.definite = before  # the loop may run zero times

    def stmt_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._await()
        self.stmt_For(node)

    def stmt_While(self, node: ast.While) -> None:
        self.expr(node.test)
        before = set(self.definite)
        self.block(node.body)
        self.block(node.orelse)
        self.definite = before

    def stmt_Try(self, node: ast.Try | ast.TryStar) -> None:
        before = set(self.definite)
        self.block(node.body)
        self.block(node.orelse)
        outcomes = [self.definite]
        for handler in node.handlers:
            self.definite = set(before)  # the body may have stopped anywhere
            if handler.type is not None:
                self.expr(handler.type)
            if handler.name:
                self.bind(handler.name)
            self.block(handler.body)
            outcomes.append(self.definite)
        self.definite = set.intersection(*outcomes)
        self.block(node.finalbody)

    stmt_TryStar = stmt_Try

    def stmt_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.block(node.body)

    def stmt_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._await()
        self.stmt_With(node)

    def stmt_Match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        before = set(self.definite)
        for case in node.cases:
            self.definite = set(before)
            self.children(case.pattern)
            if case.guard is not None:
                self.expr(case.guard)
            self.block(case.body)
        self.definite = before

    def stmt_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        """Ignore declarations: they bind nothing by themselves."""

    stmt_Nonlocal = stmt_Global


def _definition_name(node: ast.stmt) -> str | None:
    """Return the name a restorable definition statement binds, else ``None``."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Lambda)
    ):
        return node.targets[0].id
    return None
