"""Read a cell statically: the names it reads (inputs), binds or changes (outputs).

The cell is analysed with :mod:`ast` after IPython's transformation, so ``!cmd``,
``%magic`` and ``x = !cmd`` are plain calls whose ``$name`` and ``{expr}`` expansions
and embedded code count too. Also here: the cell's normalized code, which is part of
its key, and the short label that names it in warnings and cache listings.
"""

from __future__ import annotations

import ast
import contextlib
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checkpointing.hooks import (
    ImportBinding,
    Kind,
    Scope,
    all_parameters,
    analyse_scopes,
    observed_attributes,
    simplify,
)

__all__ = [
    "CellAnalysis",
    "Definition",
    "analyse_cell",
    "cell_label",
    "normalized_cell_code",
    "parse_cell",
]

_LABEL_LIMIT = 40
_IMPORT_LINE = re.compile(r"(import|from)\s+[\w.]+")
_DOLLAR_NAME = re.compile(r"\$\$?([A-Za-z_]\w*)")
_NESTED_RUNNERS = frozenset({"system", "getoutput", "run_line_magic", "run_cell_magic"})


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


def normalized_cell_code(source: str) -> str:
    """Return the cell's syntax tree without docstrings or annotations, as text.

    Names are kept (unlike a function's normalization): the cell binds them in the
    user's namespace, so renaming a variable changes what the cell does. Class-body
    annotations, signature annotations of decorated functions and (where the cell reads
    ``__doc__``) docstrings stay: they can change what the cell does.
    """
    tree = parse_cell(source)
    simplify(tree, keep_docstrings="__doc__" in observed_attributes(tree))
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


def cell_label(body: str) -> str:
    """Return the first line of ``body`` that does work (not blank, a comment, an import).

    A cell made only of imports is labelled by its first line of code.
    """
    lines = body.splitlines()
    first = _first_working_line(body)
    candidates = ([lines[first]] if first is not None else []) + lines
    for line in candidates:
        text = line.strip()
        if text and not text.startswith("#"):
            break
    else:
        return "(empty cell)"
    if len(text) > _LABEL_LIMIT:
        text = text[: _LABEL_LIMIT - 1].rstrip() + "…"
    return text


def _first_working_line(body: str) -> int | None:
    """Return the index of the line where the first statement other than an import starts."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError):  # magics and shell escapes: no statement structure
        return _first_line_not_import(body.splitlines())
    for statement in tree.body:
        if not isinstance(statement, ast.Import | ast.ImportFrom):
            return statement.lineno - 1
    return None


def _first_line_not_import(lines: list[str]) -> int | None:
    """Return the index of the first code line that does not start an import (by its text)."""
    for index, line in enumerate(lines):
        text = line.strip()
        if text and not text.startswith("#") and not _IMPORT_LINE.match(text):
            return index
    return None


def parse_cell(source: str) -> ast.Module:
    """Parse the (transformed) cell ``source``; raise ``SyntaxError`` if it does not parse."""
    # IPython runs cells with top-level ``await`` (autoawait): accept it here too.
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree: ast.Module = compile(source, "<cell>", "exec", flags, dont_inherit=True)
    return tree


class _Analyser:
    """Walk a cell's statements in execution order, tracking which names are surely bound.

    Module-level reads of names not yet surely bound are inputs. Flow is approximated
    conservatively: a name bound in one branch of an ``if``, inside a loop or in a ``try``
    body counts as possibly unbound afterwards. Reads inside functions and lambdas run
    later, when they are called: a function (or class) the cell defines is taken to be
    called wherever the cell uses its name (or where a decorator receives it), and the
    globals it reads, directly or through other functions of the cell, are inputs unless
    surely bound at that point. Which scope a name belongs to is decided by
    :mod:`checkpointing._scope`.
    """

    def __init__(self, transform: Callable[[str], str], tree: ast.Module) -> None:
        self.transform = transform
        self.reads: dict[str, None] = {}  # ordered set
        self.bound: set[str] = set()
        self.definite: set[str] = set()
        self.modified: set[str] = set()
        self.scopes: list[Scope] = []  # nested scopes; empty at module level
        self._by_node: dict[int, Scope] = {}
        self._trees: list[object] = []  # keeps analysed trees (and node ids) alive
        self.imports: dict[tuple[str, tuple[str, ...]], None] = {}
        self._stars: list[str] = []  # modules of ``from m import *``
        self._module = self._adopt(tree)
        # The globals read by the bodies of each function or class the cell defines.
        self.body_reads: dict[str, dict[str, None]] = {}
        self._owner: str | None = None  # the definition whose body is being read
        self._class_assigned: dict[int, set[str]] = {}
        self.observes: set[str] = set(observed_attributes(tree))
        # name -> index of the top-level statement that last binds it, and whether that
        # statement is a definition that can be run again.
        self.last_binding: dict[str, tuple[int, bool]] = {}
        self.definitions: dict[int, Definition] = {}
        self._index = -1
        self._defining: str | None = None  # the name a top-level definition binds
        self._embedded = 0  # > 0 while analysing code that a magic runs
        self._collect: set[str] | None = None
        self._maybe = 0  # > 0 inside operands that may not be evaluated
        self.awaits = False

    def _adopt(self, tree: ast.Module) -> Scope:
        """Analyse the scopes of ``tree`` (the cell, or code a magic in it runs)."""
        scopes = analyse_scopes(tree)
        self._trees.append(scopes)
        self._by_node.update(scopes.by_node)
        for scope in scopes.root.walk():
            for bindings in scope.imports.values():
                for binding in bindings:
                    self._import(binding, None)
        for star in scopes.root.star_imports:
            spec = star.spec(None)
            if spec is not None:
                self._stars.append(spec)
        return scopes.root

    def _import(self, binding: ImportBinding, chain: tuple[str, ...] | None) -> None:
        """Record what ``binding`` imports (``chain`` None) or a chain read through it."""
        if chain is None:
            chain = ()
        else:
            binding, chain = binding.reached(chain)
        spec = binding.spec(None)  # a cell is no package: relative imports fail there
        if spec is not None:
            self.imports.setdefault((spec, chain))

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

    # -- names ----------------------------------------------------------------------
    def bind(self, name: str, surely: bool = True) -> None:
        """Record a module-level binding of ``name``."""
        if self.scopes:
            if self.scopes[-1].kind == "class":
                self._class_assigned.setdefault(id(self.scopes[-1]), set()).add(name)
            return  # local to a nested scope (the scope analysis knows it)
        self.bound.add(name)
        if surely:
            self.definite.add(name)
        is_definition = name == self._defining and not self._embedded
        self.last_binding[name] = (self._index, is_definition)

    def _scope(self) -> Scope:
        return self.scopes[-1] if self.scopes else self._module

    def load(self, name: str, chain: tuple[str, ...] = ()) -> None:
        """Record a read of ``name`` (with the attributes ``chain`` read from it)."""
        scope = self._scope()
        resolution = scope.resolve(name)
        owner = resolution.owner
        if owner is not None and resolution.kind is Kind.IMPORTED:
            for binding in owner.imports.get(name, ()):
                self._import(binding, chain)
        if owner is not None and owner.kind != "module":
            if not resolution.via_global:
                return  # local to a function, lambda, comprehension or class body
            if name in self._class_assigned.get(id(owner), ()):
                return  # a class attribute assigned earlier in the same body
        if any(s.kind in ("function", "lambda") for s in self.scopes):
            self.body_reads.setdefault(self._owner or "", {})[name] = None
            if self._owner is None:  # an anonymous function, maybe called right away
                if name not in self.definite:
                    self.reads.setdefault(name)
                if name in self.body_reads:
                    self.use(name)
            return
        if self._collect is not None:
            self._collect.add(name)
        if name not in self.definite:
            self.reads.setdefault(name)
        if name in self.body_reads:
            self.use(name)

    def use(self, name: str) -> None:
        """Record that the function or class ``name`` of the cell may be called now."""
        pending, seen = [name], {name}
        while pending:
            for read in self.body_reads.get(pending.pop(), ()):
                if read not in self.definite:
                    self.reads.setdefault(read)
                if read in self.body_reads and read not in seen:
                    seen.add(read)
                    pending.append(read)

    def modify(self, target: ast.expr) -> None:
        """Record that the object named at the base of ``x[...]``/``x.a`` is changed."""
        base = target
        while isinstance(base, ast.Subscript | ast.Attribute | ast.Starred):
            base = base.value
        if isinstance(base, ast.Name) and not self.scopes:
            self.modified.add(base.id)

    # -- statements -------------------------------------------------------------------
    def block(self, statements: Iterable[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        handler = getattr(self, f"stmt_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            self.children(node)

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

    def _body(self, node: ast.AST, name: str | None, body: list[ast.AST]) -> None:
        """Walk the body of a nested scope; a top-level definition owns what it reads."""
        owner = self._owner
        if not self.scopes and name is not None:
            self._owner = name
        self.scopes.append(self._by_node[id(node)])
        try:
            for child in body:
                if isinstance(child, ast.stmt):
                    self.statement(child)
                else:
                    self.expr(child)
        finally:
            self.scopes.pop()
            self._owner = owner

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

    def _await(self) -> None:
        if not any(scope.kind == "function" for scope in self.scopes):
            self.awaits = True

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

    # -- expressions ------------------------------------------------------------------
    def target(self, node: ast.expr) -> None:
        """Visit an assignment target: bind names, mark subscripted objects modified."""
        if isinstance(node, ast.Name):
            self.bind(node.id)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.target(element)
        elif isinstance(node, ast.Starred):
            self.target(node.value)
        else:
            self.modify(node)
            self.children(node)

    def expr(self, node: ast.AST) -> None:
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            self.children(node)

    def children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child)
            else:
                self.expr(child)

    def expr_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.load(node.id)
        else:
            self.bind(node.id)

    # Pattern captures are bound inside their case; stmt_Match forgets them after it.
    def expr_MatchAs(self, node: ast.MatchAs) -> None:
        self.children(node)
        if node.name:
            self.bind(node.name)

    def expr_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name)

    def expr_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.children(node)
        if node.rest:
            self.bind(node.rest)

    def expr_BoolOp(self, node: ast.BoolOp) -> None:
        self.expr(node.values[0])
        self._maybe += 1  # the other operands may not be evaluated
        for value in node.values[1:]:
            self.expr(value)
        self._maybe -= 1

    def expr_IfExp(self, node: ast.IfExp) -> None:
        self.expr(node.test)
        self._maybe += 1
        self.expr(node.body)
        self.expr(node.orelse)
        self._maybe -= 1

    def expr_Subscript(self, node: ast.Subscript | ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.modify(node)
        self.children(node)

    def expr_Attribute(self, node: ast.Attribute) -> None:
        chain: list[str] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if not isinstance(node.ctx, ast.Load):
            self.modify(node)
        if isinstance(base, ast.Name) and isinstance(base.ctx, ast.Load):
            self.load(base.id, tuple(reversed(chain)))  # ``module.f``: f is read too
        else:
            self.expr(base)

    def expr_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.expr(node.value)
        # The walrus binds in the nearest scope that is not a comprehension.
        surely = self._maybe == 0 and not (self.scopes and self.scopes[-1].kind == "comprehension")
        home = self._scope().walrus_home()
        saved = self.scopes
        self.scopes = self.scopes[: self.scopes.index(home) + 1] if home in self.scopes else []
        try:
            self.bind(node.target.id, surely)
        finally:
            self.scopes = saved

    def expr_Lambda(self, node: ast.Lambda) -> None:
        self._lambda(node, None)

    def _lambda(self, node: ast.Lambda, name: str | None) -> None:
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.expr(expr)
        self._body(node, name, [node.body])

    def expr_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node, node.generators, [node.elt])

    expr_SetComp = expr_ListComp
    expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, node.generators, [node.key, node.value])

    def expr_Await(self, node: ast.Await) -> None:
        self._await()
        self.children(node)

    def _comprehension(
        self, node: ast.AST, generators: list[ast.comprehension], results: list[ast.expr]
    ) -> None:
        if any(generator.is_async for generator in generators):
            self._await()
        self.expr(generators[0].iter)  # evaluated in the enclosing scope
        inside: list[ast.AST] = []
        for position, generator in enumerate(generators):
            if position:
                inside.append(generator.iter)
            inside.extend(generator.ifs)
        self._body(node, None, [*inside, *results])

    def expr_Call(self, node: ast.Call) -> None:
        self.children(node)
        method = _ipython_call(node)
        if method is None:
            return
        texts = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if method in ("system", "getoutput"):
            self._expansions(texts[0] if texts else None)
        elif method == "run_line_magic" and len(texts) >= 2:
            self._expansions(texts[1])
            self._embedded_code(texts[1])
        elif method == "run_cell_magic" and len(texts) >= 3:
            self._expansions(texts[1])
            body = texts[2]
            if isinstance(body, str):
                try:
                    body = self.transform(body)
                except Exception:  # noqa: BLE001 - an unparsable body adds no reads
                    return
            self._embedded_code(body)

    def _expansions(self, text: object) -> None:
        """Read the names in ``$name`` and ``{expr}`` that IPython expands in a command."""
        if not isinstance(text, str):
            return
        for name in _DOLLAR_NAME.findall(text):
            self.load(name)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
        except ValueError:
            return
        for text_field in fields:
            with contextlib.suppress(SyntaxError, ValueError):
                self.expr(ast.parse(text_field, mode="eval").body)

    def _embedded_code(self, text: object) -> None:
        """Analyse code a magic runs (``%time x = f(y)``, a ``%%time`` body) if it parses."""
        if not isinstance(text, str):
            return
        try:
            tree = parse_cell(text)
        except (SyntaxError, ValueError):
            return
        self._adopt(tree)
        self.observes |= observed_attributes(tree)
        self._embedded += 1
        try:
            self.block(tree.body)
        finally:
            self._embedded -= 1


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


def _ipython_call(node: ast.Call) -> str | None:
    """Return ``m`` if ``node`` is ``get_ipython().m(...)`` for a command or magic runner."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _NESTED_RUNNERS
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    ):
        return func.attr
    return None
