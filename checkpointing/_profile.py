"""What a function depends on, worked out once per code object and reused on every call.

A :class:`CodeProfile` holds the digest of the function's normalized code and the free
names it reads. A call then only looks up the current *values* of those names
(:func:`free_values`); the values are hashed by :mod:`checkpointing._hashing`, which
follows user-defined functions and classes among them recursively.

When no source is available (``python -c``, ``exec``, a REPL) the profile is built from
the code object instead: bytecode, names and constants, recursively. That identity is
deterministic across processes but not insensitive to renames or formatting.
"""

from __future__ import annotations

import builtins
import dis
import sys
from dataclasses import dataclass
from types import CodeType, FunctionType, ModuleType
from typing import Any

import xxhash

from checkpointing._ambient import AmbientState, digest_states, registry_version, states_used_by
from checkpointing._classify import is_user_module
from checkpointing._code_table import CodeTable
from checkpointing._imports import IMPORTED, code_imports, read_import
from checkpointing._namespace import NAMESPACE_READERS, namespace_reader
from checkpointing._normalize import normalize_function
from checkpointing._placeholders import FreeName
from checkpointing._scope import ImportBinding
from checkpointing._source import find_source
from checkpointing._verify import find_definition, source_matches_code

__all__ = [
    "UNBOUND",
    "CodeProfile",
    "ambient_inputs",
    "code_identity",
    "code_key",
    "follow_chain",
    "free_values",
    "lookup_name",
    "profile_of",
    "reach",
    "reached_objects",
    "receive_profiles",
]


# Stands in for a free name that has no value when the call happens; a plain string so
# it hashes the same in every process.
UNBOUND = "\x00checkpointing:unbound"


@dataclass(frozen=True, slots=True)
class CodeProfile:
    """The static identity of a function's code and how to read its free names.

    ``digest`` identifies the code as a callable others reach (its parameter names
    included: callers may pass them by keyword); ``entry_digest`` identifies it as the
    checkpointed function, whose arguments are bound to parameters before hashing, so
    renaming a parameter is cosmetic there. ``plan`` pairs each free name with the
    index of its closure cell (``-1`` for a global or builtin; ``IMPORTED`` for what an
    import statement in the body binds, named by its ``module[:attribute]`` spec), so a
    call reads values without searching. ``observes`` lists which of ``__name__``,
    ``__qualname__`` and ``__doc__`` the code reads.
    """

    digest: bytes
    free_names: tuple[FreeName, ...]
    plan: tuple[tuple[int, str, tuple[str, ...]], ...]
    source: str | None
    entry_digest: bytes = b""
    observes: frozenset[str] = frozenset()


# Keyed by code identity (equal code objects from different files may have different
# sources), bounded by the functions alive: see checkpointing._code_table.
_profiles: CodeTable[CodeProfile] = CodeTable(lambda func: _build_profile(func))


def profile_of(func: FunctionType) -> CodeProfile:
    """Return the profile of ``func``'s code, building it on first use."""
    return _profiles.get(func)


# Profiles built from source by the process that pickled a function by value (see
# checkpointing._shipping), by code_key: the receiving process has no source for that
# code, and without them would key it by bytecode, unlike the sender.
_received: dict[bytes, CodeProfile] = {}


def code_key(code: CodeType) -> bytes:
    """Return a digest of everything ``code`` does, plus its name: equal in every process."""
    text = repr((code.co_name, code.co_qualname, code_identity(code)))
    return xxhash.xxh3_128_digest(text.encode("utf-8"))


def receive_profiles(profiles: dict[bytes, CodeProfile]) -> None:
    """Adopt profiles that another process built from source, keyed by :func:`code_key`."""
    _received.update(profiles)


def _build_profile(func: FunctionType) -> CodeProfile:
    code = func.__code__
    source = find_source(func)
    node = find_definition(source, code) if source else None
    if node is not None and not source_matches_code(node, code, module_source=source):
        node = None  # the source on hand is not what is running (edited since import?)
    if node is None and _received:
        # The sender proved that source against identical code: it holds for this code.
        received = _received.get(code_key(code))
        if received is not None:
            return received
    parameters: tuple[str, ...] = ()
    imports: tuple[FreeName, ...] = ()
    observes: frozenset[str] = frozenset()
    if node is not None:
        normalized = normalize_function(node)
        text = "source:" + normalized.text
        free_names = normalized.free_names
        parameters, observes = normalized.parameters, normalized.observes
        imports = _import_specs(func, normalized.imports)
    else:
        source = None
        text = "code:" + repr(code_identity(code))
        free_names = _code_free_names(code)
        observes = _code_observes(code)
        imports = _import_specs(func, code_imports(code))
    cells = {name: index for index, name in enumerate(code.co_freevars)}
    plan = tuple((cells.get(name, -1), name, chain) for name, chain in free_names)
    plan += tuple((IMPORTED, spec, chain) for spec, chain in imports)
    entry_digest = xxhash.xxh3_128_digest(text.encode("utf-8"))
    digest = xxhash.xxh3_128_digest(f"{text}\nparameters:{parameters!r}".encode())
    return CodeProfile(digest, free_names + imports, plan, source, entry_digest, observes)


def _import_specs(
    func: FunctionType, uses: tuple[tuple[ImportBinding, tuple[str, ...]], ...]
) -> tuple[FreeName, ...]:
    """Resolve import bindings (with the chains read) to ``read_import`` specs."""
    package = _package_of(func)
    specs = ((binding.spec(package), chain) for binding, chain in uses)
    return tuple(dict.fromkeys((spec, chain) for spec, chain in specs if spec))


def _package_of(func: FunctionType) -> str | None:
    """Return the package relative imports in ``func``'s module are resolved against."""
    namespace = func.__globals__
    package = namespace.get("__package__")
    if package is None:
        spec = namespace.get("__spec__")
        package = getattr(spec, "parent", None)
    return package if isinstance(package, str) else None


_OBSERVABLE = frozenset({"__name__", "__qualname__", "__doc__"})


def _code_observes(code: CodeType) -> frozenset[str]:
    """Return which of ``__name__``/``__qualname__``/``__doc__`` ``code`` (or nested code) reads."""
    found: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        found.update(_OBSERVABLE.intersection(current.co_names))
        found.update(c for c in current.co_consts if isinstance(c, str) and c in _OBSERVABLE)
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return frozenset(found)


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
        elif cell_index == IMPORTED:
            value = read_import(name)
        elif name in namespace:
            value = namespace[name]
        else:
            if builtin_names is None:
                builtin_names = _builtin_names(namespace)
            value = builtin_names.get(name, UNBOUND)
            if id(value) in NAMESPACE_READERS:
                value = namespace_reader(namespace, value)
        if chain:
            value = follow_chain(value, chain)
        values.append(value)
    return tuple(values)


# Values a library module attribute may be replaced by in the key: whatever the script
# put there (its own function, class or module) or a plain setting.
_SETTING_TYPES = (int, float, str, bytes, bool, complex, type(None))


def follow_chain(value: object, chain: tuple[str, ...]) -> object:
    """Follow ``chain`` from ``value`` through modules; return what the key should hash.

    Through a user module, the attribute read is the value (its code or data counts).
    Through a library module, the chain is read from the module's own ``__dict__``
    (never triggering a lazy import or a deprecation warning) and the library module
    itself stays the value, unless the chain ends in the user's code (a monkeypatch
    such as ``math.sqrt = my_sqrt``) or in a plain setting (``lib.FLAG = True``): those
    are the value instead.
    """
    start = value
    for attr in chain:
        if not isinstance(value, ModuleType):
            break
        if is_user_module(value.__name__):
            value = getattr(value, attr, UNBOUND)
            start = value
            continue
        value = _library_attribute(value, attr)
        if value is UNBOUND:
            return start
    if value is start or _known_library.get(id(value)) is value:
        return start
    if isinstance(value, _SETTING_TYPES) or _is_user_code(value):
        return value
    _known_library[id(value)] = value  # kept, so the id stays its own
    return start


# Library objects that chains reached and that are not user code (np.sum, math.floor),
# by identity: the next call with the same object skips classifying it again. A
# monkeypatch puts another object there, which is classified afresh.
_known_library: dict[int, object] = {}


def _library_attribute(module: ModuleType, attr: str) -> object:
    """Read ``module.attr`` without running library code: its ``__dict__``, or a submodule.

    Submodules loaded lazily (numpy 2's ``np.random``) are not in the parent's
    ``__dict__`` until first accessed, but are in ``sys.modules`` once imported.
    """
    value = vars(module).get(attr, UNBOUND)
    if value is UNBOUND:
        value = sys.modules.get(f"{module.__name__}.{attr}", UNBOUND)
    return value


def _is_user_code(value: object) -> bool:
    """Tell whether ``value`` is a function, class or module of the user's own code."""
    if isinstance(value, ModuleType):
        return is_user_module(value.__name__)
    if isinstance(value, FunctionType | type):
        return is_user_module(value.__module__)
    return False


def reached_objects(func: FunctionType, profile: CodeProfile) -> list[object]:
    """Return what each free name of ``func`` reaches now, chains followed through modules.

    Used once per profile to decide which library states the code uses, so it reads
    library attributes too (from the module's ``__dict__``, importing nothing).
    """
    plain = tuple((cell, name, ()) for cell, name, _ in profile.plan)
    values = _read_names(func, plain)
    return [reach(value, chain) for value, (_, _, chain) in zip(values, profile.plan, strict=True)]


def reach(value: object, chain: tuple[str, ...]) -> object:
    """Follow ``chain`` from ``value`` through modules, reading only their ``__dict__``.

    Stops at the first value that is not a module; ``UNBOUND`` if an attribute is not
    there (yet).
    """
    for attr in chain:
        if not isinstance(value, ModuleType):
            break
        value = _library_attribute(value, attr)
    return value


# Per code object: a one-slot holder of (registry version, states its code uses), decided
# at the first call; bounded like the profiles (the table lets go of dead code objects).
_StatePlan = tuple[int, tuple[AmbientState, ...]]
_state_plans: CodeTable[list[_StatePlan | None]] = CodeTable(lambda func: [None])


def ambient_inputs(
    func: FunctionType, profile: CodeProfile
) -> tuple[tuple[str, bytes | None], ...] | None:
    """Digest the library states ``func``'s code uses (``None`` if it uses none).

    Which states is decided once per code object (and again if a state is registered
    later); a call reads and digests only those.
    """
    holder = _state_plans.get(func)
    plan = holder[0]
    version = registry_version()
    if plan is None or plan[0] != version:
        reached = reached_objects(func, profile)
        plan = (version, states_used_by(reached))
        if not any(value is UNBOUND for value in reached):
            holder[0] = plan
        # else: a name or a submodule is not there yet (numpy.random is imported on first
        # use): decide again at the next call rather than keep a decision made without it.
    if not plan[1]:
        return None
    return digest_states(plan[1], _state_digest)


def _state_digest(value: object) -> bytes:
    """Hash one library state value canonically (xxh3-128)."""
    from checkpointing._hashing import hash_values  # _hashing imports this module

    return hash_values(value, xxhash.xxh3_128, 5).digest()


def _builtin_names(namespace: dict[str, Any]) -> dict[str, Any]:
    """Return the builtins a function with globals ``namespace`` sees, as a dict."""
    table = namespace.get("__builtins__", builtins)
    if isinstance(table, ModuleType):
        return vars(table)
    return table if isinstance(table, dict) else {}
