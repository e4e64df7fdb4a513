"""Remove what cannot change what code does: docstrings, cosmetic annotations, ``+=``.

Both keys use it: a function's normalization (:mod:`checkpointing._normalize`) and the
``%%checkpoint`` cell's normalized code (through :mod:`checkpointing.hooks`). What is
removed: docstrings (unless the code reads ``__doc__``), annotations in signatures and
on locals, PEP 695 type parameters; ``x += e`` on a plain name is written ``x = x + e``.
What stays because it can change behaviour: annotations in class bodies (dataclass
fields, ``ClassVar``, ``NamedTuple``) and the signature annotations of decorated
functions other than the one being normalized (``singledispatch`` registers by them).
Names are never touched here: renaming is the normalizer's business.
"""

from __future__ import annotations

import ast

__all__ = ["Simplifier", "drop_type_params", "simplify"]


def simplify(node: ast.AST, keep_docstrings: bool = False) -> None:
    """Remove docstrings and cosmetic annotations, and write ``x += e`` as ``x = x + e``.

    Unlike :func:`checkpointing._normalize.normalize_function` this renames nothing: the
    ``%%checkpoint`` cell magic keys cells with it, where bound names are outputs and
    must stay.
    """
    Simplifier(top=None, keep_docstrings=keep_docstrings).visit(node)


def drop_type_params(node: ast.AST) -> None:
    """Remove PEP 695 type parameters (Python 3.12+), which are annotations too."""
    if getattr(node, "type_params", None):
        node.type_params = []  # type: ignore[attr-defined]


class Simplifier(ast.NodeTransformer):
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
        drop_type_params(node)
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
        drop_type_params(node)
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
