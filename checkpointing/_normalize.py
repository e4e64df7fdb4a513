"""Normalize a function's syntax tree so edits that cannot change its behaviour vanish.

What is removed or canonicalised: comments and formatting (the tree has none),
docstrings, annotations in signatures and on locals, decorators and defaults of the
function itself (its bound argument values are hashed instead), the names of the
function and its locals (replaced by positional placeholders), the names of the globals
it reads (placeholders too: their *values* are hashed, in order), ``x += e`` on a plain
name (written ``x = x + e``) and a temporary assigned and returned at once.

What is kept, because changing it can change behaviour: everything else, including
the parameter names, order and defaults of inner functions and lambdas (keyword calls
bind by name), the decorators of inner functions and the signature annotations of
decorated ones (``singledispatch`` registers by annotation), annotations in class bodies
(dataclass fields, ``ClassVar``, ``NamedTuple``), docstrings when the code reads
``__doc__``, and every local name when the code can observe them (``locals()``,
``vars()``, ``eval``, ``exec``). The function's own parameter names are renamed in
:attr:`NormalizedFunction.text` but listed in :attr:`NormalizedFunction.parameters`:
they are cosmetic only where arguments are bound before hashing (the checkpointed
function itself), never for a helper that callers may call by keyword.

Which scope each name belongs to is decided by :mod:`checkpointing._scope`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from checkpointing._observed import observed_attributes
from checkpointing._scope import (
    ImportBinding,
    Kind,
    Scope,
    ScopeTree,
    all_parameters,
    analyse_scopes,
)

__all__ = [
    "FreeName",
    "ImportUse",
    "NormalizedFunction",
    "all_parameters",
    "normalize_function",
    "simplify",
]

# A global the function reads: its name and the attribute chain read from it
# (``mod.helper`` -> ("mod", ("helper",))). Chains let a user module's attributes be
# followed; for any other value only the base name's value matters.
FreeName = tuple[str, tuple[str, ...]]
# What an import statement in the function binds, and the attributes read from it.
ImportUse = tuple[ImportBinding, tuple[str, ...]]

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass(frozen=True, slots=True)
class NormalizedFunction:
    """The canonical text of a function and what it reads, in placeholder order.

    ``parameters`` are the function's own parameter names, renamed in ``text``;
    ``imports`` what its import statements (in any nested scope) bind, with the
    attribute chains read from them; ``observes`` which of ``__name__``,
    ``__qualname__`` and ``__doc__`` its code reads.
    """

    text: str
    free_names: tuple[FreeName, ...]
    parameters: tuple[str, ...] = ()
    imports: tuple[ImportUse, ...] = ()
    observes: frozenset[str] = frozenset()


def normalize_function(node: _FunctionNode) -> NormalizedFunction:
    """Return the canonical form of ``node`` (it is modified in place)."""
    observes = observed_attributes(node)
    _Simplifier(top=node, keep_docstrings="__doc__" in observes).visit(node)
    if not isinstance(node, ast.Lambda):
        node.name = "_"
        node.decorator_list = []
        node.returns = None
        _drop_type_params(node)
    node.args.defaults = []
    node.args.kw_defaults = [None] * len(node.args.kwonlyargs)
    parameters = tuple(arg.arg for arg in all_parameters(node.args))
    tree = analyse_scopes(node)
    rename = not tree.introspects  # locals() and friends see the real names
    if rename and not isinstance(node, ast.Lambda):
        _inline_returned_temporaries(node, tree)
    renamer = _Renamer(tree, rename)
    renamer.rename_top()
    text = ast.dump(node, annotate_fields=True, include_attributes=False)
    return NormalizedFunction(
        text, tuple(renamer.free_names), parameters, renamer.import_uses(), observes
    )


def simplify(node: ast.AST, keep_docstrings: bool = False) -> None:
    """Remove docstrings and cosmetic annotations, and write ``x += e`` as ``x = x + e``.

    Unlike :func:`normalize_function` this renames nothing: the ``%%checkpoint`` cell magic
    keys cells with it, where bound names are outputs and must stay.
    """
    _Simplifier(top=None, keep_docstrings=keep_docstrings).visit(node)


def _drop_type_params(node: ast.AST) -> None:
    """Remove PEP 695 type parameters (Python 3.12+), which are annotations too."""
    if getattr(node, "type_params", None):
        node.type_params = []  # type: ignore[attr-defined]


class _Simplifier(ast.NodeTransformer):
    """Remove docstrings and cosmetic annotations; write ``x += e`` as ``x = x + e``.

    Annotations in class bodies declare fields (dataclasses, ``NamedTuple``,
    ``ClassVar``) and stay. Signature annotations of a decorated function other than
    ``top`` stay too: the decorator can read them (``singledispatch``'s ``register``).
    """

    def __init__(self, top: ast.AST | None, keep_docstrings: bool) -> None:
        self._top = top
        self._keep_docstrings = keep_docstrings
        self._in_class = [False]
        self._keep_signature = [False]

    def _strip_docstring(self, body: list[ast.stmt]) -> list[ast.stmt]:
        first = body[0] if body else None
        if (
            not self._keep_docstrings
            and isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body = body[1:] or [ast.Pass()]
        return body

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.body = self._strip_docstring(node.body)
        keep = bool(node.decorator_list) and node is not self._top
        if not keep:
            node.returns = None
        _drop_type_params(node)
        self._in_class.append(False)
        self._keep_signature.append(keep)
        self.generic_visit(node)
        self._keep_signature.pop()
        self._in_class.pop()
        return node

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._strip_docstring(node.body)
        _drop_type_params(node)
        self._in_class.append(True)
        self._keep_signature.append(False)
        self.generic_visit(node)
        self._keep_signature.pop()
        self._in_class.pop()
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self._in_class.append(False)
        self._keep_signature.append(False)
        self.generic_visit(node)
        self._keep_signature.pop()
        self._in_class.pop()
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        if not self._keep_signature[-1]:
            node.annotation = None
        return self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if self._in_class[-1]:
            return self.generic_visit(node)  # a field declaration: kept whole
        if node.value is None:
            return ast.Pass()
        assign = ast.Assign(targets=[node.target], value=node.value)
        return self.generic_visit(assign)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.target, ast.Name):
            return node
        name = node.target.id
        value = ast.BinOp(left=ast.Name(id=name, ctx=ast.Load()), op=node.op, right=node.value)
        return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)


def _inline_returned_temporaries(
    func: ast.FunctionDef | ast.AsyncFunctionDef, tree: ScopeTree
) -> None:
    """Rewrite ``t = e; return t`` as ``return e`` where ``t`` is used nowhere else.

    Safe only when nothing can observe ``t``: it is a plain local of ``func``, appears
    exactly twice in the whole function (nested scopes included) and no scope
    introspects its names (the caller checks that).
    """
    counts: dict[str, int] = {}
    for sub in ast.walk(func):
        if isinstance(sub, ast.Name):
            counts[sub.id] = counts.get(sub.id, 0) + 1
    root = tree.root
    declared = {n for scope in root.walk() for n in scope.declared_global | scope.declared_nonlocal}
    params = {name for name, kind in root.bound.items() if kind is not Kind.LOCAL}

    def rewrite(body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            previous = out[-1] if out else None
            if (
                isinstance(stmt, ast.Return)
                and isinstance(stmt.value, ast.Name)
                and isinstance(previous, ast.Assign)
                and len(previous.targets) == 1
                and isinstance(previous.targets[0], ast.Name)
                and previous.targets[0].id == stmt.value.id
                and counts.get(stmt.value.id) == 2
                and stmt.value.id not in declared
                and stmt.value.id not in params
            ):
                out[-1] = ast.Return(value=previous.value)
                continue
            out.append(stmt)
        return out

    for sub in _own_scope_nodes(func):
        for attr in ("body", "orelse", "finalbody"):
            block = getattr(sub, attr, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(sub, attr, rewrite(block))
        if isinstance(sub, ast.Try | ast.TryStar):
            for handler in sub.handlers:
                handler.body = rewrite(handler.body)
        elif isinstance(sub, ast.Match):
            for case in sub.cases:
                case.body = rewrite(case.body)


def _own_scope_nodes(func: ast.AST) -> list[ast.AST]:
    """Return ``func`` and the nodes of its own scope, not those of nested scopes."""
    found: list[ast.AST] = [func]
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPE_NODES):
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)


class _Renamer(ast.NodeVisitor):
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
