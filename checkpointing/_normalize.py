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

The parts, one module each: :mod:`checkpointing._simplify` removes docstrings and
cosmetic annotations (shared with the ``%%checkpoint`` cell key),
:mod:`checkpointing._placeholders` renames names to placeholders and records the
globals read; this module drives them and inlines returned temporaries. Which scope
each name belongs to is decided by :mod:`checkpointing._scope`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from checkpointing._observed import observed_attributes
from checkpointing._placeholders import FreeName, ImportUse, Renamer
from checkpointing._scope import Kind, ScopeTree, all_parameters, analyse_scopes
from checkpointing._simplify import Simplifier, drop_type_params

__all__ = ["NormalizedFunction", "normalize_function"]

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
    Simplifier(top=node, keep_docstrings="__doc__" in observes).visit(node)
    if not isinstance(node, ast.Lambda):
        node.name = "_"
        node.decorator_list = []
        node.returns = None
        drop_type_params(node)
    node.args.defaults = []
    node.args.kw_defaults = [None] * len(node.args.kwonlyargs)
    parameters = tuple(arg.arg for arg in all_parameters(node.args))
    tree = analyse_scopes(node)
    rename = not tree.introspects  # locals() and friends see the real names
    if rename and not isinstance(node, ast.Lambda):
        _inline_returned_temporaries(node, tree)
    renamer = Renamer(tree, rename)
    renamer.rename_top()
    text = ast.dump(node, annotate_fields=True, include_attributes=False)
    return NormalizedFunction(
        text, tuple(renamer.free_names), parameters, renamer.import_uses(), observes
    )


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
