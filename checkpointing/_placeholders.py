"""Rename a function's names to positional placeholders, recording what it reads.

The normalizer (:mod:`checkpointing._normalize`) makes a function's text independent
of the names its author chose: the function's own parameters become ``_a<i>`` (by
position), its locals ``_l<i>`` (by first use), and the globals and closure variables
it reads ``_g<i>`` (by first use). The globals are recorded in that order, with the
attribute chain read from each, so their *values* can be hashed in the placeholders'
order; reads through names bound by import statements are recorded with their chains
too. Which scope each name belongs to is decided by :mod:`checkpointing._scope`.
"""

from __future__ import annotations

import ast

from checkpointing._scope import ImportBinding, Kind, Scope, ScopeTree, all_parameters

__all__ = ["FreeName", "ImportUse", "Renamer"]

# A global the function reads: its name and the attribute chain read from it
# (``mod.helper`` -> ("mod", ("helper",))). Chains let a user module's attributes be
# followed; for any other value only the base name's value matters.
FreeName = tuple[str, tuple[str, ...]]
# What an import statement in the function binds, and the attributes read from it.
ImportUse = tuple[ImportBinding, tuple[str, ...]]

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


class Renamer(ast.NodeVisitor):
    """Rename the function's own names to placeholders and record what it reads.

    Names bound by the function itself become ``_a<i>`` (parameters, by position) and
    ``_l<i>`` (locals, by first use) unless ``rename`` is off; globals and closure
    variables become ``_g<i>`` by first use. Names bound by nested scopes are left
    alone. Reads of names bound by import statements are recorded with their chains.
    """

    def __init__(self, tree: ScopeTree, rename: bool) -> None:
        self.tree = tree
        self.rename = rename
        self.scope: Scope = tree.root
        self.local_names: dict[str, str] = {}
        self.global_names: dict[str, str] = {}
        self.free_names: list[FreeName] = []
        self._seen_free: set[FreeName] = set()
        self._imports: dict[ImportUse, None] = {}  # ordered set

    def rename_top(self) -> None:
        node = self.tree.root.node
        assert isinstance(node, _FunctionNode)
        for scope in self.tree.root.walk():
            for bindings in scope.imports.values():
                for binding in bindings:
                    self._imports.setdefault((binding, ()))
        for index, arg in enumerate(all_parameters(node.args)):
            if self.rename:
                self.local_names[arg.arg] = f"_a{index}"
                arg.arg = self.local_names[arg.arg]
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)

    def import_uses(self) -> tuple[ImportUse, ...]:
        """Return the import bindings, then the attribute chains read through them."""
        return tuple(self._imports)

    # -- name resolution -------------------------------------------------------
    def _resolve(
        self, name: str, chain: tuple[str, ...] = (), load: bool = True, scope: Scope | None = None
    ) -> str:
        resolution = (scope or self.scope).resolve(name)
        owner = resolution.owner
        if owner is not None and load and resolution.kind is Kind.IMPORTED and chain:
            for binding in owner.imports.get(name, ()):
                self._imports.setdefault(binding.reached(chain))
        if owner is None or (load and resolution.via_global):
            entry = (name, chain)
            if entry not in self._seen_free:
                self._seen_free.add(entry)
                self.free_names.append(entry)
        if owner is None:
            if name not in self.global_names:
                self.global_names[name] = f"_g{len(self.global_names)}"
            return self.global_names[name]
        if owner is not self.tree.root or not self.rename:
            return name
        if name not in self.local_names:
            self.local_names[name] = f"_l{len(self.local_names)}"
        return self.local_names[name]

    def visit_Name(self, node: ast.Name) -> None:
        node.id = self._resolve(node.id, load=isinstance(node.ctx, ast.Load))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain: list[str] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            base.id = self._resolve(base.id, tuple(reversed(chain)))
        else:
            self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        node.names = [self._resolve(n) for n in node.names]

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        # Resolved from the enclosing scope: the declaring scope does not bind it.
        assert self.scope.parent is not None
        node.names = [self._resolve(n, scope=self.scope.parent) for n in node.names]

    def _bind(self, name: str) -> str:
        """Rename a name that a statement binds in the current scope."""
        return self._resolve(name, load=False)

    def visit_alias(self, node: ast.alias) -> None:
        if node.name == "*":
            return
        if node.asname:
            node.asname = self._bind(node.asname)
        elif "." not in node.name:
            node.asname = self._bind(node.name)
        else:
            # ``import a.b`` binds ``a``; record the placeholder so uses resolve alike.
            node.asname = None
            self._bind(node.name.partition(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            node.name = self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            node.name = self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            node.name = self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            node.rest = self._bind(node.rest)
        self.generic_visit(node)

    # -- nested scopes -----------------------------------------------------------
    def _enter(self, node: ast.AST, children: list[ast.AST]) -> None:
        saved, self.scope = self.scope, self.tree.scope_of(node)
        for child in children:
            self.visit(child)
        self.scope = saved

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """Visit what a definition evaluates in the enclosing scope."""
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        if isinstance(node, ast.Lambda):
            return
        for expr in node.decorator_list:
            self.visit(expr)
        for expr in [*(a.annotation for a in all_parameters(node.args)), node.returns]:
            if expr is not None:
                self.visit(expr)  # kept only on decorated definitions

    def _visit_nested_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._signature(node)
        node.name = self._bind(node.name)
        self._enter(node, list(node.body))

    visit_FunctionDef = _visit_nested_function
    visit_AsyncFunctionDef = _visit_nested_function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._signature(node)
        self._enter(node, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        node.name = self._bind(node.name)
        self._enter(node, list(node.body))

    def _visit_comprehension(self, node: ast.AST) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        inside: list[ast.AST] = []
        for index, gen in enumerate(generators):
            inside.append(gen.target)
            if index:
                inside.append(gen.iter)
            inside.extend(gen.ifs)
        inside.extend(
            child for attr in ("elt", "key", "value") if (child := getattr(node, attr, None))
        )
        self._enter(node, inside)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # A walrus in a comprehension binds in the enclosing function scope.
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            home = self.scope.walrus_home()
            node.target.id = self._resolve(node.target.id, load=False, scope=home)
