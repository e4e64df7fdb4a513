"""What a function depends on, worked out once per code object and reused on every call.

A :class:`CodeProfile` holds the digest of the function's normalised code and the free
names it reads. A call then only looks up the current *values* of those names
(:func:`free_values`); the values are hashed by :mod:`checkpointing._hashing`, which
follows user-defined functions and classes among them recursively.

When no source is available (``python -c``, ``exec``, a REPL) the profile is built from
the code object instead: bytecode, names and constants, recursively. That identity is
deterministic across processes but not insensitive to renames or formatting.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import linecache
import os
import site
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from types import CodeType, FunctionType, ModuleType
from typing import Any

import xxhash

from checkpointing._normalize import FreeName, normalise_function
from checkpointing._source import find_source

__all__ = [
    "UNBOUND",
    "CodeProfile",
    "code_identity",
    "find_definition",
    "free_values",
    "is_user_module",
    "lookup_name",
    "package_version",
    "profile_of",
    "source_matches_code",
]

# Stands in for a free name that has no value when the call happens; a plain string so
# it hashes the same in every process.
UNBOUND = "\x00checkpointing:unbound"
_PYTHON = f"python-{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True, slots=True)
class CodeProfile:
    """The static identity of a function's code and how to read its free names.

    ``plan`` pairs each free name with the index of its closure cell (``-1`` for a
    global or builtin), so a call reads values without searching.
    """

    digest: bytes
    free_names: tuple[FreeName, ...]
    plan: tuple[tuple[int, str, tuple[str, ...]], ...]
    source: str | None


# Keyed by identity: equal code objects from different files may have different
# sources. The code object is kept so its id cannot be reused while the entry exists.
_profiles: dict[int, tuple[CodeType, CodeProfile]] = {}
DefinitionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def profile_of(func: FunctionType) -> CodeProfile:
    """Return the profile of ``func``'s code, building it on first use."""
    code = func.__code__
    entry = _profiles.get(id(code))
    if entry is None:
        entry = (code, _build_profile(func))
        _profiles[id(code)] = entry
    return entry[1]


def _build_profile(func: FunctionType) -> CodeProfile:
    code = func.__code__
    source = find_source(func)
    node = find_definition(source, code) if source else None
    if node is not None and not source_matches_code(node, code, module_source=source):
        node = None  # the source on hand is not what is running (edited since import?)
    if node is not None:
        normalised = normalise_function(node)
        text = "source:" + normalised.text
        free_names = normalised.free_names
    else:
        source = None
        text = "code:" + repr(code_identity(code))
        free_names = _code_free_names(code)
    cells = {name: index for index, name in enumerate(code.co_freevars)}
    plan = tuple((cells.get(name, -1), name, chain) for name, chain in free_names)
    digest = xxhash.xxh3_128_digest(text.encode("utf-8"))
    return CodeProfile(digest, free_names, plan, source)


def find_definition(source: str, code: CodeType) -> DefinitionNode | None:
    """Find the definition of ``code`` in ``source``, or ``None`` if it is not unique.

    Used by the IPython extension too, to cut a definition out of a history cell.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    is_lambda = code.co_name == "<lambda>"
    nargs = code.co_argcount + code.co_kwonlyargcount
    nargs += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    params = code.co_varnames[:nargs]
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda] = []
    for node in ast.walk(tree):
        if is_lambda and isinstance(node, ast.Lambda):
            found.append(node)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not is_lambda
            and node.name == code.co_name
        ):
            found.append(node)
            break  # the outermost definition of that name is the one inspect found
    matching = [n for n in found if _param_names(n) == params]
    if is_lambda and len({ast.dump(n) for n in matching}) != 1:
        return None  # two different lambdas on one line: ambiguous, use the bytecode
    return matching[0] if matching else None


_FUTURE_FLAGS = 0
for _feature in __import__("__future__").all_feature_names:
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag


def source_matches_code(
    node: DefinitionNode, code: CodeType, module_source: str | None = None
) -> bool:
    """Tell whether compiling ``node`` reproduces ``code``: proof the source is current.

    The definition is compiled inside a wrapper that recreates its closure cells (and a
    class for ``super()``), so name resolution matches the original; then bytecode,
    names and constants are compared. Line numbers and file names are not.

    The compiler emits different bytecode for ``name.method()`` when ``name`` is bound by
    an import in the same compilation unit, and that unit is not always the file:
    IPython compiles each top-level statement of a cell on its own, while ``%%time`` and
    ``exec`` compile a whole text. So the imports of ``code``'s file, then those of
    ``module_source`` (the text the definition was cut from), then none are tried; any
    match proves the source, since imports change nothing else.
    """
    statement: ast.stmt = node if not isinstance(node, ast.Lambda) else ast.Expr(node)
    body: list[ast.stmt] = [statement]
    free = [name for name in code.co_freevars if name != "__class__"]
    if "__class__" in code.co_freevars:
        body = [ast.ClassDef(name="_", bases=[], keywords=[], body=body, decorator_list=[])]
    if free:
        cells: list[ast.expr] = [ast.Name(id=name, ctx=ast.Store()) for name in free]
        body = [
            ast.FunctionDef(
                name="_",
                args=ast.arguments(
                    posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                ),
                body=[ast.Assign(targets=cells, value=ast.Constant(None)), *body],
                decorator_list=[],
            )
        ]
    import_sets = [_module_imports(code.co_filename)]
    if module_source is not None:
        import_sets.append(_imports_in(module_source))
    import_sets.append(())
    for names in dict.fromkeys(import_sets):
        imports: list[ast.stmt] = [ast.Import(names=[ast.alias(name=name)]) for name in names]
        module = ast.fix_missing_locations(ast.Module(body=[*imports, *body], type_ignores=[]))
        try:
            compiled = compile(
                module,
                code.co_filename,
                "exec",
                flags=code.co_flags & _FUTURE_FLAGS,
                dont_inherit=True,
            )
        except (SyntaxError, ValueError, TypeError):
            return False
        stack = [compiled]
        while stack:
            candidate = stack.pop()
            if candidate.co_name == code.co_name and _same_code(candidate, code):
                return True
            stack.extend(c for c in candidate.co_consts if isinstance(c, CodeType))
    return False


_imports_by_file: dict[str, tuple[list[str], tuple[str, ...]]] = {}


def _module_imports(filename: str) -> tuple[str, ...]:
    """Return the names bound by imports at the top level of ``filename``'s module."""
    lines = linecache.getlines(filename)
    cached = _imports_by_file.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    names = _imports_in("".join(lines))
    _imports_by_file[filename] = (lines, names)
    return names


def _imports_in(source: str) -> tuple[str, ...]:
    """Return the names bound by imports at the top level of module text ``source``."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return ()
    found: dict[str, None] = {}
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if bound != "*" and bound.isidentifier():
                    found.setdefault(bound)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))  # module-level if/try blocks
    return tuple(found)


def _same_code(a: CodeType, b: CodeType) -> bool:
    """Compare what two code objects do, ignoring where they were defined."""
    if (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_varnames != b.co_varnames
        or a.co_freevars != b.co_freevars
        or a.co_cellvars != b.co_cellvars
        or a.co_argcount != b.co_argcount
        or a.co_kwonlyargcount != b.co_kwonlyargcount
        or len(a.co_consts) != len(b.co_consts)
    ):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, CodeType) and isinstance(y, CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):
            return False
    return True


def _param_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> tuple[str, ...]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    names += [a.arg for a in args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return tuple(names)


_CODE_FLAGS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200  # semantics, not origin


def code_identity(code: CodeType) -> tuple[Any, ...]:
    """Describe ``code`` by what it does, leaving out file, name and line numbers."""
    consts: list[Any] = []
    for const in code.co_consts:
        if isinstance(const, CodeType):
            consts.append(code_identity(const))
        elif isinstance(const, frozenset):
            consts.append(("frozenset", sorted(map(repr, const))))
        else:
            consts.append((type(const).__name__, repr(const)))
    return (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags & _CODE_FLAGS,
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        tuple(consts),
    )


_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


def _code_free_names(code: CodeType) -> tuple[FreeName, ...]:
    """List the globals and closure variables ``code`` (or code nested in it) reads.

    A global followed by attribute loads (``helpers.f``) is recorded with that chain,
    so functions reached through a user module are followed here too.
    """
    names: dict[FreeName, None] = {}
    stack = [code]
    while stack:
        current = stack.pop(0)
        base: str | None = None
        chain: list[str] = []
        for instruction in dis.get_instructions(current):
            if base is not None and instruction.opname in _ATTRIBUTE_OPS:
                chain.append(str(instruction.argval))
                continue
            if base is not None:
                names.setdefault((base, tuple(chain)))
                base = None
            if instruction.opname in _GLOBAL_OPS and isinstance(instruction.argval, str):
                base, chain = instruction.argval, []
        if base is not None:
            names.setdefault((base, tuple(chain)))
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    for name in code.co_freevars:
        names.setdefault((name, ()))
    return tuple(names)


def free_values(func: FunctionType, profile: CodeProfile) -> tuple[object, ...]:
    """Read the current value of every free name of ``func``, in profile order."""
    return _read_names(func, profile.plan)


def lookup_name(func: FunctionType, name: str) -> object:
    """Return ``name``'s value as ``func`` sees it (closure, globals, builtins) or ``UNBOUND``."""
    code = func.__code__
    cell_index = code.co_freevars.index(name) if name in code.co_freevars else -1
    return _read_names(func, ((cell_index, name, ()),))[0]


def _read_names(
    func: FunctionType, plan: tuple[tuple[int, str, tuple[str, ...]], ...]
) -> tuple[object, ...]:
    """Read each ``(cell index, name, attribute chain)`` of ``plan`` as ``func`` sees it."""
    namespace = func.__globals__
    closure = func.__closure__
    builtin_names: dict[str, Any] | None = None  # looked up once, when first needed
    values: list[object] = []
    for cell_index, name, chain in plan:
        value: object
        if cell_index >= 0 and closure is not None:
            try:
                value = closure[cell_index].cell_contents
            except ValueError:
                value = UNBOUND
        elif name in namespace:
            value = namespace[name]
        else:
            if builtin_names is None:
                builtin_names = _builtin_names(namespace)
            value = builtin_names.get(name, UNBOUND)
        for attr in chain:
            if not (isinstance(value, ModuleType) and is_user_module(value.__name__)):
                break
            value = getattr(value, attr, UNBOUND)
        values.append(value)
    return tuple(values)


def _builtin_names(namespace: dict[str, Any]) -> dict[str, Any]:
    """Return the builtins a function with globals ``namespace`` sees, as a dict."""
    table = namespace.get("__builtins__", builtins)
    if isinstance(table, ModuleType):
        return vars(table)
    return table if isinstance(table, dict) else {}


# -- user code or library code? ------------------------------------------------
_user_modules: dict[str, bool] = {}
_versions: dict[str, str] = {}


@functools.cache
def _roots() -> tuple[str, ...]:
    """Return the directories that hold the standard library and installed packages."""
    roots: set[str] = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            roots.add(paths[key])
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # pragma: no cover - some embedded interpreters lack these
        pass
    roots.update(p for p in sys.path if "site-packages" in p or "dist-packages" in p)
    resolved = {os.path.join(os.path.realpath(r), "") for r in roots if r}
    return tuple(sorted(resolved))


def is_user_module(name: str | None) -> bool:
    """Tell whether module ``name`` is the user's code (followed) or a library (versioned).

    A module is a library when it is built in, part of the standard library or
    installed in a site-packages directory; anything else, including ``__main__``,
    notebook cells and modules of the user's own project, is user code.
    """
    if not name:
        return True
    known = _user_modules.get(name)
    if known is not None:
        return known
    top = name.partition(".")[0]
    module = sys.modules.get(name)
    if name == "__main__":
        user = True
    elif top in sys.stdlib_module_names or name in sys.builtin_module_names:
        user = False
    elif module is None:
        # Not imported (yet): decide by its package if that is loaded, and do not
        # remember the answer, which may change once the module is imported.
        return _is_user_file(sys.modules.get(top))
    else:
        # A module without a file (a namespace package) is judged by its top package.
        user = _is_user_file(module if getattr(module, "__file__", None) else sys.modules.get(top))
    _user_modules[name] = user
    return user


def _is_user_file(module: ModuleType | None) -> bool:
    """Tell whether ``module``'s file lies outside every library root (absent: user code)."""
    file = getattr(module, "__file__", None)
    return file is None or not os.path.realpath(file).startswith(_roots())


def package_version(module_name: str | None) -> str:
    """Return the version of the distribution that provides ``module_name``."""
    top = (module_name or "").partition(".")[0]
    version = _versions.get(top)
    if version is not None:
        return version
    if not top or top in sys.stdlib_module_names or top == "builtins":
        version = _PYTHON
    else:
        attr = getattr(sys.modules.get(top), "__version__", None)
        version = attr if isinstance(attr, str) else _distribution_version(top)
    _versions[top] = version
    return version


def _distribution_version(top: str) -> str:
    import importlib.metadata  # costs ~15 ms: only when a library needs its version

    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        pass
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}-{importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"
