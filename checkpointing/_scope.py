"""Python's scoping rules, written once: which scope each name of a function or cell belongs to.

:func:`analyse_scopes` walks a parsed function, lambda or module (a notebook cell) and builds
one :class:`Scope` per block Python gives its own namespace: the root, nested functions and
lambdas, class bodies, comprehensions and (3.12+) type-parameter scopes. Each scope knows the
names it binds and how (parameter, import, anything else), its ``global`` and ``nonlocal``
declarations, and whether it can observe its own local names (``locals()``, ``vars()``,
``eval``, ``exec``, ``dir()``). :meth:`Scope.resolve` then answers, for a name read in that
scope, where its value comes from, following the compiler's rules:

* a function scope sees its own bindings, then enclosing function scopes, then globals;
  class bodies are skipped by the scopes nested in them;
* a class body reading a name the class itself binds reads the class namespace, and before
  that assignment the *global* one (``class Cfg: LIMIT = LIMIT`` reads the module's
  ``LIMIT``, never an enclosing function's);
* ``global`` sends a name to the module, ``nonlocal`` to the nearest enclosing function;
* a walrus inside a comprehension binds in the nearest scope that is not a comprehension,
  and a comprehension's first iterable is evaluated in the enclosing scope.

The normalizer (:mod:`checkpointing._normalize`) and the ``%%checkpoint`` cell analyser
(:mod:`ipython_ext.cell.analysis`) both walk the tree themselves, in their own order, and
ask this module instead of re-implementing the rules. The standard library's
:mod:`symtable` knows the same rules; the unit tests check this module against it.

Also here: what an import statement inside a function or cell depends on
(:class:`ImportBinding`, resolved against the importing module's package); reading it
at call time is :mod:`checkpointing._imports`' job.
"""

from __future__ import annotations

import ast
import enum
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DYNAMIC",
    "STAR",
    "ImportBinding",
    "Kind",
    "Resolution",
    "Scope",
    "ScopeTree",
    "all_parameters",
    "analyse_scopes",
]

ScopeNode = (
    ast.Module
    | ast.FunctionDef
    | ast.AsyncFunctionDef
    | ast.Lambda
    | ast.ClassDef
    | ast.ListComp
    | ast.SetComp
    | ast.GeneratorExp
    | ast.DictComp
)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
# Calls that let code see its own local names: renaming locals is not cosmetic there.
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec", "dir"})
_INTROSPECTION_ATTRIBUTES = frozenset({"f_locals", "_getframe", "currentframe"})


class Kind(enum.Enum):
    """How a scope binds a name."""

    PARAMETER = "parameter"
    IMPORTED = "imported"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class ImportBinding:
    """What one name of an import statement is bound to.

    ``module`` is the module as written without its leading dots (``level`` of them),
    ``attribute`` the name taken from it by ``from ... import`` (``None`` for ``import``).
    ``import a.b`` binds ``a`` but depends on ``a.b``: ``module`` is ``"a.b"`` there.
    """

    module: str
    level: int
    attribute: str | None
    binds_top: bool = False

    def reached(self, chain: tuple[str, ...]) -> tuple[ImportBinding, tuple[str, ...]]:
        """Return the binding and attribute chain that ``name.<chain>`` reads.

        For ``import a.b`` (which binds ``a``) a use ``a.b.f`` reads ``f`` from ``a.b``.
        """
        if not self.binds_top:
            return self, chain
        parts = tuple(self.module.split("."))
        if chain[: len(parts) - 1] == parts[1:]:
            return ImportBinding(self.module, 0, None), chain[len(parts) - 1 :]
        return ImportBinding(parts[0], 0, None), chain

    def target(self, package: str | None) -> str | None:
        """Return ``module`` as an absolute name, or ``None`` if it cannot be resolved."""
        if not self.level:
            return self.module
        if not package:
            return None  # a relative import outside a package fails when it runs
        try:
            return importlib.util.resolve_name("." * self.level + self.module, package)
        except (ImportError, ValueError):
            return None

    def spec(self, package: str | None) -> str | None:
        """Return the :func:`read_import` spec of this binding (``module`` or ``module:attr``)."""
        target = self.target(package)
        if target is None:
            return None
        return f"{target}:{self.attribute}" if self.attribute else target


@dataclass(eq=False)
class Scope:
    """One namespace block: what it binds, how, and what it declares."""

    kind: str  # "module", "function", "lambda", "class", "comprehension" or "type-params"
    node: ast.AST
    parent: Scope | None
    bound: dict[str, Kind] = field(default_factory=dict)
    imports: dict[str, list[ImportBinding]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    introspects: bool = False
    children: list[Scope] = field(default_factory=list)

    def bind(self, name: str, kind: Kind = Kind.LOCAL) -> None:
        """Record that this scope binds ``name`` (a parameter or import kind wins)."""
        if self.bound.get(name) in (None, Kind.LOCAL):
            self.bound[name] = kind

    def binds(self, name: str) -> bool:
        """Tell whether ``name`` is local to this scope."""
        return (
            name in self.bound
            and name not in self.declared_global
            and name not in self.declared_nonlocal
        )

    @property
    def star_imports(self) -> list[ImportBinding]:
        """The modules ``from m import *`` statements in this scope import."""
        return self.imports.get(STAR, [])

    def walrus_home(self) -> Scope:
        """Return the scope a walrus in this scope binds in (skipping comprehensions)."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope

    def resolve(self, name: str) -> Resolution:
        """Return where a read of ``name`` in this scope takes its value from."""
        if name in self.declared_global:
            return Resolution(None, None, via_global=True)
        scope: Scope | None = self
        first = True
        while scope is not None:
            if scope.kind == "class" and not first:
                scope = scope.parent  # class bodies are invisible to nested scopes
                continue
            if scope.kind == "module":
                return Resolution(scope, scope.bound.get(name)) if name in scope.bound else _OUTSIDE
            if name in scope.declared_global:
                return Resolution(None, None, via_global=True)
            if scope.binds(name):
                # A class body reads its own namespace, else the globals (LOAD_NAME).
                return Resolution(scope, scope.bound[name], via_global=scope.kind == "class")
            first = False
            scope = scope.parent
        return _OUTSIDE

    def walk(self) -> Iterator[Scope]:
        """Yield this scope and, recursively, the scopes nested in it."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a name's value comes from.

    ``owner`` is the scope inside the analysed tree that binds it, ``None`` when the
    value comes from outside the tree (the module's globals, builtins, or the closure of
    a function enclosing the tree); ``via_global`` adds that the module globals may be
    read too (``global`` declarations, and class bodies before their own assignment).
    """

    owner: Scope | None
    kind: Kind | None
    via_global: bool = False

    @property
    def outside(self) -> bool:
        """Tell whether the value may come from outside the analysed tree."""
        return self.owner is None or self.via_global


_OUTSIDE = Resolution(None, None)


@dataclass(frozen=True)
class ScopeTree:
    """The scopes of one parsed function or cell, found by the AST node that opens each."""

    root: Scope
    by_node: dict[int, Scope]
    nodes: list[ast.AST]  # keeps the nodes alive, so ids in by_node stay theirs

    def scope_of(self, node: ast.AST) -> Scope:
        """Return the scope ``node`` (a function, lambda, class, comprehension) opens."""
        return self.by_node[id(node)]

    @property
    def introspects(self) -> bool:
        """Tell whether any scope of the tree can observe its local names."""
        return any(scope.introspects for scope in self.root.walk())


def analyse_scopes(root: ast.AST) -> ScopeTree:
    """Build the scopes of ``root``: a function, lambda or module (a cell)."""
    builder = _Builder()
    if isinstance(root, ast.Module):
        scope = builder.open(root, "module", None)
        builder.block(root.body, scope)
    elif isinstance(root, _FUNCTIONS):
        scope = builder.function(root, None)
    else:
        raise TypeError(f"cannot analyse the scopes of {type(root).__name__}")
    return ScopeTree(scope, builder.by_node, builder.nodes)


def all_parameters(args: ast.arguments) -> list[ast.arg]:
    """Return every parameter in signature order."""
    params = [*args.posonlyargs, *args.args]
    if args.vararg:
        params.append(args.vararg)
    params.extend(args.kwonlyargs)
    if args.kwarg:
        params.append(args.kwarg)
    return params


class _Builder:
    """Walk a tree once, opening a :class:`Scope` per block and recording its bindings."""

    def __init__(self) -> None:
        self.by_node: dict[int, Scope] = {}
        self.nodes: list[ast.AST] = []

    def open(self, node: ast.AST, kind: str, parent: Scope | None) -> Scope:
        scope = Scope(kind, node, parent)
        if parent is not None:
            parent.children.append(scope)
        self.by_node[id(node)] = scope
        self.nodes.append(node)
        return scope

    def block(self, nodes: list[ast.stmt], scope: Scope) -> None:
        for node in nodes:
            self.visit(node, scope)

    def _type_params(self, node: ast.AST, scope: Scope) -> Scope:
        """Open the scope of PEP 695 type parameters (Python 3.12+), if there are any."""
        params = getattr(node, "type_params", None)
        if not params:
            return scope
        inner = self.open(params[0], "type-params", scope)
        for param in params:
            inner.bind(param.name)
        return inner

    def function(self, node: ast.AST, parent: Scope | None) -> Scope:
        assert isinstance(node, _FUNCTIONS)
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None and parent is not None:
                self.visit(expr, parent)
        outer = self._type_params(node, parent) if parent is not None else parent
        if not isinstance(node, ast.Lambda) and outer is not None:
            for expr in node.decorator_list:
                self.visit(expr, parent)  # type: ignore[arg-type]
            annotations = [a.annotation for a in all_parameters(node.args)]
            for expr in [*annotations, node.returns]:
                if expr is not None:
                    self.visit(expr, outer)
        scope = self.open(node, "lambda" if isinstance(node, ast.Lambda) else "function", outer)
        for arg in all_parameters(node.args):
            scope.bind(arg.arg, Kind.PARAMETER)
        if isinstance(node, ast.Lambda):
            self.visit(node.body, scope)
        else:
            self.block(node.body, scope)
        return scope

    def visit(self, node: ast.AST, scope: Scope) -> None:
        """Record what ``node`` binds in ``scope`` and open the scopes nested in it."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            scope.bind(node.name)
            self.function(node, scope)
        elif isinstance(node, ast.Lambda):
            self.function(node, scope)
        elif isinstance(node, ast.ClassDef):
            scope.bind(node.name)
            for expr in [*node.decorator_list]:
                self.visit(expr, scope)
            outer = self._type_params(node, scope)
            for expr in [*node.bases, *(k.value for k in node.keywords)]:
                self.visit(expr, outer)
            self.block(node.body, self.open(node, "class", outer))
        elif isinstance(node, _COMPREHENSIONS):
            self._comprehension(node, scope)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store | ast.Del):
                scope.bind(node.id)
            elif node.id in _INTROSPECTION:
                scope.introspects = True
        elif isinstance(node, ast.NamedExpr):
            self.visit(node.value, scope)
            if isinstance(node.target, ast.Name):
                scope.walrus_home().bind(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node, scope)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and (dynamic := _dynamic_import(node.value)) is not None
        ):
            # ``mod = importlib.import_module("m")`` binds ``mod`` like ``import m as mod``.
            name = node.targets[0].id
            scope.bind(name, Kind.IMPORTED)
            scope.imports.setdefault(name, []).append(dynamic)
            self.visit(node.value, scope)
        elif isinstance(node, ast.Call) and (dynamic := _dynamic_import(node)) is not None:
            scope.imports.setdefault(DYNAMIC, []).append(dynamic)
            for child in ast.iter_child_nodes(node):
                self.visit(child, scope)
        elif isinstance(node, ast.Global):
            scope.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.declared_nonlocal.update(node.names)
        else:
            if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                scope.bind(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                scope.bind(node.rest)
            elif isinstance(node, ast.Attribute) and node.attr in _INTROSPECTION_ATTRIBUTES:
                scope.introspects = True
            for child in ast.iter_child_nodes(node):
                self.visit(child, scope)

    def _comprehension(self, node: ast.AST, scope: Scope) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter, scope)  # evaluated in the enclosing scope
        inner = self.open(node, "comprehension", scope)
        for index, generator in enumerate(generators):
            self.visit(generator.target, inner)
            if index:
                self.visit(generator.iter, inner)
            for condition in generator.ifs:
                self.visit(condition, inner)
        for attr in ("elt", "key", "value"):
            child = getattr(node, attr, None)
            if child is not None:
                self.visit(child, inner)

    def _import(self, node: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        for alias in node.names:
            if alias.name == "*" and isinstance(node, ast.ImportFrom):
                # Binds names nobody can list statically: the module is a dependency.
                star = ImportBinding(node.module or "", node.level, None)
                scope.imports.setdefault(STAR, []).append(star)
                continue
            if isinstance(node, ast.ImportFrom):
                binding = ImportBinding(node.module or "", node.level, alias.name)
                name = alias.asname or alias.name
            else:
                top = alias.asname is None and "." in alias.name
                binding = ImportBinding(alias.name, 0, None, binds_top=top)
                name = alias.asname or alias.name.partition(".")[0]
            scope.bind(name, Kind.IMPORTED)
            scope.imports.setdefault(name, []).append(binding)


# Keys of Scope.imports that bind no name: ``from m import *`` and
# ``importlib.import_module("m")`` / ``__import__("m")`` with a constant name.
STAR = "*"
DYNAMIC = "()"


def _dynamic_import(node: ast.Call) -> ImportBinding | None:
    """Return the module ``import_module("m")`` or ``__import__("m")`` imports, if constant."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    module = first.value.lstrip(".")
    level = len(first.value) - len(module)
    if not module and not level:
        return None
    return ImportBinding(module, level, None)
