"""Walk a cell's expressions, recording the names they read, bind and change.

This is the half of the cell analysis (:mod:`ipython_ext.cell.analysis`) that knows
names: :class:`ExpressionWalker` keeps the record (names read while maybe unbound,
bound, surely bound, changed in place; imports; the globals each function of the cell
reads) and visits expressions, nested scopes (function and class bodies, lambdas,
comprehensions) and the code IPython's magics run (:mod:`ipython_ext.cell.ipython_calls`).
The analysis subclasses it with the statements, which decide by control flow which
names are *surely* bound. Which scope a name belongs to is decided by the core's scope
analysis (through :mod:`checkpointing.hooks`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

from checkpointing.hooks import (
    ImportBinding,
    Kind,
    Scope,
    analyse_scopes,
    observed_attributes,
)
from ipython_ext.cell.dynamic_reads import code_evaluated, name_looked_up
from ipython_ext.cell.ipython_calls import expansions, nested_run
from ipython_ext.cell.source import parse_cell

__all__ = ["ExpressionWalker"]


class ExpressionWalker:
    """Record a cell's names while visiting its expressions and nested scopes.

    Reads inside functions and lambdas run later, when they are called: a function (or
    class) the cell defines is taken to be called wherever the cell uses its name (or
    where a decorator receives it), and the globals it reads, directly or through other
    functions of the cell, are inputs unless surely bound at that point. Statements are
    visited by the subclass's ``stmt_<Node>`` methods; expressions by ``expr_<Node>``.
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

    # -- walking --------------------------------------------------------------------
    def block(self, statements: Iterable[ast.stmt]) -> None:
        """Visit ``statements`` in order."""
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        """Visit a statement with its ``stmt_<Node>`` method, else its children."""
        handler = getattr(self, f"stmt_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            self.children(node)

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

    def _await(self) -> None:
        if not any(scope.kind == "function" for scope in self.scopes):
            self.awaits = True

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
        """Visit an expression with its ``expr_<Node>`` method, else its children."""
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            self.children(node)

    def children(self, node: ast.AST) -> None:
        """Visit the child statements and expressions of ``node``."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child)
            else:
                self.expr(child)

    def expr_Name(self, node: ast.Name) -> None:
        """Read or bind a plain name."""
        if isinstance(node.ctx, ast.Load):
            self.load(node.id)
        else:
            self.bind(node.id)

    # Pattern captures are bound inside their case; stmt_Match forgets them after it.
    def expr_MatchAs(self, node: ast.MatchAs) -> None:
        """Bind the name a ``case ... as name`` pattern captures."""
        self.children(node)
        if node.name:
            self.bind(node.name)

    def expr_MatchStar(self, node: ast.MatchStar) -> None:
        """Bind the name a ``*name`` sequence pattern captures."""
        if node.name:
            self.bind(node.name)

    def expr_MatchMapping(self, node: ast.MatchMapping) -> None:
        """Bind the name a ``**rest`` mapping pattern captures."""
        self.children(node)
        if node.rest:
            self.bind(node.rest)

    def expr_BoolOp(self, node: ast.BoolOp) -> None:
        """Visit ``and``/``or``; only the first operand surely runs."""
        self.expr(node.values[0])
        self._maybe += 1  # the other operands may not be evaluated
        for value in node.values[1:]:
            self.expr(value)
        self._maybe -= 1

    def expr_IfExp(self, node: ast.IfExp) -> None:
        """Visit ``a if test else b``; only the test surely runs."""
        self.expr(node.test)
        self._maybe += 1
        self.expr(node.body)
        self.expr(node.orelse)
        self._maybe -= 1

    def expr_Subscript(self, node: ast.Subscript | ast.Attribute) -> None:
        """Visit ``x[...]``, marking ``x`` modified when stored to or deleted."""
        if not isinstance(node.ctx, ast.Load):
            self.modify(node)
        self.children(node)
        if isinstance(node, ast.Subscript) and (name := name_looked_up(node)) is not None:
            self.load(name)  # ``globals()["K"]`` reads K

    def expr_Attribute(self, node: ast.Attribute) -> None:
        """Visit ``x.a.b``: the base is read with the attribute chain read from it."""
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
        """Visit ``name := value``, binding in the scope the walrus binds in."""
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
        """Visit an anonymous lambda."""
        self._lambda(node, None)

    def _lambda(self, node: ast.Lambda, name: str | None) -> None:
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.expr(expr)
        self._body(node, name, [node.body])

    def expr_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        """Visit a list or set comprehension or a generator expression."""
        self._comprehension(node, node.generators, [node.elt])

    expr_SetComp = expr_ListComp
    expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: ast.DictComp) -> None:
        """Visit a dict comprehension."""
        self._comprehension(node, node.generators, [node.key, node.value])

    def expr_Await(self, node: ast.Await) -> None:
        """Visit ``await``, noting a top-level await."""
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
        """Visit a call, and what it runs if it is a shell command or a magic."""
        self.children(node)
        if (name := name_looked_up(node)) is not None:
            self.load(name)  # ``globals().get("K")`` reads K
        if (evaluated := code_evaluated(node)) is not None:
            self._embedded_code(evaluated)  # ``eval("K * 2")`` reads K
            return
        run = nested_run(node)
        if run is None:
            return
        self._expansions(run.expanded)
        code = run.code
        if run.cell_body and isinstance(code, str):
            try:
                code = self.transform(code)
            except Exception:  # noqa: BLE001 - an unparsable body adds no reads
                return
        self._embedded_code(code)

    def _expansions(self, text: object) -> None:
        """Read the names in ``$name`` and ``{expr}`` that IPython expands in a command."""
        names, expressions = expansions(text)
        for name in names:
            self.load(name)
        for expression in expressions:
            self.expr(expression)

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
