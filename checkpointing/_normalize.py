"""Normalize a function's syntax tree so edits that cannot change its behaviour vanish.

What is removed or canonicalised: comments and formatting (the tree has none),
docstrings, annotations, decorators and defaults of the function itself (its bound
argument values are hashed instead), the names of the function, its parameters and
its locals (replaced by positional placeholders), the names of the globals it reads
(placeholders too: their *values* are hashed, in order), ``x += e`` on a plain name
(written ``x = x + e``) and a temporary assigned and returned at once.

What is kept, because changing it can change behaviour: everything else, including
the parameter names, order and defaults of inner functions and lambdas (keyword calls
bind by name) and the decorators of inner functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["FreeName", "NormalizedFunction", "all_parameters", "normalize_function", "simplify"]

# A global the function reads: its name and the attribute chain read from it
# (``mod.helper`` -> ("mod", ("helper",))). Chains let a user module's attributes be
# followed; for any other value only the base name's value matters.
FreeName = tuple[str, tuple[str, ...]]

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_SCOPE_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec"})


@dataclass(frozen=True, slots=True)
class NormalizedFunction:
    """The canonical text of a function and the globals it reads, in placeholder order."""

    text: str
    free_names: tuple[FreeName, ...]


def normalize_function(node: _FunctionNode) -> NormalizedFunction:
    """Return the canonical form of ``node`` (it is modified in place)."""
    _Simplifier().visit(node)
    if not isinstance(node, ast.Lambda):
        node.name = "_"
        node.decorator_list = []
        node.returns = None
        _drop_type_params(node)
        _inline_returned_temporaries(node)
    node.args.defaults = []
    node.args.kw_defaults = [None] * len(node.args.kwonlyargs)
    renamer = _Renamer(node)
    renamer.rename_top()
    text = ast.dump(node, annotate_fields=True, include_attributes=False)
    return NormalizedFunction(text, tuple(renamer.free_names))


def simplify(node: ast.AST) -> None:
    """Remove docstrings and annotations, and write ``x += e`` as ``x = x + e``, in place.

    Unlike :func:`normalize_function` this renames nothing: the ``%%checkpoint`` cell magic
    keys cells with it, where bound names are outputs and must stay.
    """
    _Simplifier().visit(node)


def _drop_type_params(node: ast.AST) -> None:
    """Remove PEP 695 type parameters (Python 3.12+), which are annotations too."""
    if getattr(node, "type_params", None):
        node.type_params = []  # type: ignore[attr-defined]


class _Simplifier(ast.NodeTransformer):
    """Remove docstrings and annotations; write ``x += e`` as ``x = x + e``.

    In class bodies an annotated name is a declaration (a dataclass field), so there
    the annotation statement stays and only the annotation's text is erased.
    """

    def __init__(self) -> None:
        self._in_class = [False]

    def _strip_docstring(self, body: list[ast.stmt]) -> list[ast.stmt]:
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body = body[1:] or [ast.Pass()]
        return body

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.body = self._strip_docstring(node.body)
        node.returns = None
        _drop_type_params(node)
        self._in_class.append(False)
        self.generic_visit(node)
        self._in_class.pop()
        return node

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._strip_docstring(node.body)
        _drop_type_params(node)
        self._in_class.append(True)
        self.generic_visit(node)
        self._in_class.pop()
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self._in_class.append(False)
        self.generic_visit(node)
        self._in_class.pop()
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if self._in_class[-1]:
            node.annotation = ast.Constant(value=None)
            return self.generic_visit(node)
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


def _inline_returned_temporaries(func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Rewrite ``t = e; return t`` as ``return e`` where ``t`` is used nowhere else.

    Safe only when nothing can observe ``t``: it is a plain local of ``func``, appears
    exactly twice in the whole function (nested scopes included) and the function
    does not introspect its scope.
    """
    counts: dict[str, int] = {}
    declared: set[str] = set()
    for sub in ast.walk(func):
        if isinstance(sub, ast.Name):
            counts[sub.id] = counts.get(sub.id, 0) + 1
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            declared.update(sub.names)
    if _SCOPE_INTROSPECTION & counts.keys():
        return
    params = {a.arg for a in all_parameters(func.args)}

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


def all_parameters(args: ast.arguments) -> list[ast.arg]:
    """Return every parameter in signature order."""
    params = [*args.posonlyargs, *args.args]
    if args.vararg:
        params.append(args.vararg)
    params.extend(args.kwonlyargs)
    if args.kwarg:
        params.append(args.kwarg)
    return params


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)


@dataclass
class _Scope:
    """Names bound in one scope, and whether it is the normalized function's own."""

    kind: str  # "top", "function", "class" or "comprehension"
    bound: set[str]
    declared_global: set[str] = field(default_factory=set)


class _Binder(ast.NodeVisitor):
    """Collect the names a scope binds, without entering nested scopes."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()

    def scan(self, nodes: list[ast.stmt] | list[ast.AST]) -> None:
        for node in nodes:
            self.visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.bound.add(node.id)

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.bound.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        if isinstance(node, ast.ClassDef):
            for base in [*node.bases, *(k.value for k in node.keywords)]:
                self.visit(base)
        else:
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.visit(default)

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def
    visit_ClassDef = _visit_def

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)

    def _visit_comprehension(self, node: ast.AST) -> None:
        # Only walrus targets escape a comprehension (into the enclosing function).
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.bound.add(sub.target.id)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def visit_alias(self, node: ast.alias) -> None:
        if node.name != "*":
            self.bound.add(node.asname or node.name.partition(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bound.add(node.rest)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.declared_nonlocal.update(node.names)


def _function_scope(node: _FunctionNode, kind: str) -> _Scope:
    binder = _Binder()
    if isinstance(node, ast.Lambda):
        binder.visit(node.body)
    else:
        binder.scan(node.body)
    bound = {a.arg for a in all_parameters(node.args)} | binder.bound
    bound -= binder.declared_global | binder.declared_nonlocal
    return _Scope(kind, bound, binder.declared_global)


class _Renamer(ast.NodeVisitor):
    """Rename the function's own names to placeholders and record the globals it reads.

    Names bound by the function itself become ``_a<i>`` (parameters, by position) and
    ``_l<i>`` (locals, by first use); globals and closure variables become ``_g<i>``
    by first use. Names bound by nested scopes are left alone.
    """

    def __init__(self, top: _FunctionNode) -> None:
        self.top = top
        self.scopes: list[_Scope] = []
        self.local_names: dict[str, str] = {}
        self.global_names: dict[str, str] = {}
        self.free_names: list[FreeName] = []
        self._seen_free: set[FreeName] = set()

    def rename_top(self) -> None:
        node = self.top
        self.scopes.append(_function_scope(node, "top"))  # before parameters are renamed
        for index, arg in enumerate(all_parameters(node.args)):
            self.local_names[arg.arg] = f"_a{index}"
            arg.arg = self.local_names[arg.arg]
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)
        self.scopes.pop()

    # -- name resolution -------------------------------------------------------
    def _resolve(self, name: str, chain: tuple[str, ...] = ()) -> str:
        innermost = len(self.scopes) - 1
        for depth in range(innermost, -1, -1):
            scope = self.scopes[depth]
            if scope.kind == "class" and depth != innermost:
                continue  # class bodies are not visible from nested scopes
            if name in scope.declared_global:
                break
            if name in scope.bound:
                if scope.kind != "top":
                    return name
                if name not in self.local_names:
                    self.local_names[name] = f"_l{len(self.local_names)}"
                return self.local_names[name]
        if name not in self.global_names:
            self.global_names[name] = f"_g{len(self.global_names)}"
        entry = (name, chain)
        if entry not in self._seen_free:
            self._seen_free.add(entry)
            self.free_names.append(entry)
        return self.global_names[name]

    def visit_Name(self, node: ast.Name) -> None:
        node.id = self._resolve(node.id)

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
        node.names = [self._resolve(n) for n in node.names]

    def _rename_binding(self, name: str) -> str:
        """Rename a name that a statement binds in the current scope."""
        return self._resolve(name)

    def visit_alias(self, node: ast.alias) -> None:
        if node.name == "*":
            return
        if node.asname:
            node.asname = self._rename_binding(node.asname)
        elif "." not in node.name:
            node.asname = self._rename_binding(node.name)
        else:
            # ``import a.b`` binds ``a``; record the placeholder so uses resolve alike.
            node.asname = None
            self._rename_binding(node.name.partition(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            node.name = self._rename_binding(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            node.name = self._rename_binding(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            node.name = self._rename_binding(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            node.rest = self._rename_binding(node.rest)
        self.generic_visit(node)

    # -- nested scopes -----------------------------------------------------------
    def _visit_nested_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        node.name = self._rename_binding(node.name)
        self.scopes.append(_function_scope(node, "function"))
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_FunctionDef = _visit_nested_function
    visit_AsyncFunctionDef = _visit_nested_function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self.scopes.append(_function_scope(node, "function"))
        self.visit(node.body)
        self.scopes.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        node.name = self._rename_binding(node.name)
        binder = _Binder()
        binder.scan(node.body)
        self.scopes.append(_Scope("class", binder.bound, binder.declared_global))
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _visit_comprehension(self, node: ast.AST) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        targets: set[str] = set()
        for gen in generators:
            for sub in ast.walk(gen.target):
                if isinstance(sub, ast.Name):
                    targets.add(sub.id)
        self.scopes.append(_Scope("comprehension", targets))
        for index, gen in enumerate(generators):
            self.visit(gen.target)
            if index:
                self.visit(gen.iter)
            for condition in gen.ifs:
                self.visit(condition)
        for attr in ("elt", "key", "value"):
            child = getattr(node, attr, None)
            if child is not None:
                self.visit(child)
        self.scopes.pop()

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # A walrus in a comprehension binds in the enclosing function scope.
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            saved = self.scopes
            while self.scopes and self.scopes[-1].kind == "comprehension":
                self.scopes = self.scopes[:-1]
            node.target.id = self._resolve(node.target.id)
            self.scopes = saved
