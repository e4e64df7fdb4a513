"""Tokens for code and for objects that pickle would describe wrongly in a key.

* sets and frozensets: their element digests, sorted (iteration order depends on
  ``PYTHONHASHSEED``);
* user-defined functions and classes: their normalized code and the values of the
  globals they read, recursively (pickle would record only their name, missing edits);
  a class whose code calls ``__subclasses__`` also depends on its subclasses' code;
* instances of user-defined classes: their class and their *full* state (``__dict__``,
  slots, the content of a builtin or library base), never what their own
  ``__getstate__``/``__reduce__`` chooses to keep, which may drop what a function reads;
* library functions, classes and modules: module, qualified name and package version;
* library objects that a library module holds under a name (``scipy.stats.t``, numpy's
  global ``RandomState``): the same, by reference; their pickled state can hold a random
  state that differs in every process. Library objects the user made are hashed by value;
* descriptors pickle refuses (property, staticmethod, ...): the functions they wrap.
"""

from __future__ import annotations

import enum
import functools
import pickle
import sys
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from types import (
    BuiltinFunctionType,
    CodeType,
    FunctionType,
    MappingProxyType,
    MemberDescriptorType,
    MethodType,
    ModuleType,
)
from typing import Any

import xxhash

from checkpointing._classify import is_user_module, package_version
from checkpointing._module_content import module_content_token
from checkpointing._observed import observed_extras
from checkpointing._profile import ambient_inputs, code_identity, free_values, profile_of
from checkpointing._tokens import Handler, TokenContext, find_handler, module_extra

__all__ = [
    "WRAPPED_ATTRIBUTE",
    "classify",
    "discovered_subclasses",
    "module_attribute",
    "module_of",
    "subclass_dependencies",
]

# The attribute our decorator sets on its wrapper: hashing a wrapper means hashing the
# function it wraps.
WRAPPED_ATTRIBUTE = "__checkpointing_wrapped__"

# Class attributes that describe where a class came from, not what it does.
# (``__annotations__`` is not among them: class-body annotations declare fields.)
_CLASS_NOISE = frozenset(
    {
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__firstlineno__",
        "__static_attributes__",
        "__slotnames__",  # a cache copyreg adds once an instance was pickled
        "__annotate__",
        "__annotate_func__",
        "__annotations_cache__",
        "_abc_impl",
    }
)


def module_of(cls: type) -> str:
    """Return the module ``cls`` was defined in (a Cython metatype has no usable one)."""
    module: object = cls.__module__
    return module if isinstance(module, str) else "builtins"


def _is_user_class(cls: type) -> bool:
    """Tell whether ``cls`` is user code: a Python class defined in a user module.

    A class statement (or ``type(...)``) records its module in the class's own
    namespace; types of compiled extensions do not (Cython's name fileless modules
    such as ``_cython_3_3_1``, which would otherwise pass for user code).
    """
    module = vars(cls).get("__module__")
    return isinstance(module, str) and is_user_module(module)


def _default(context: TokenContext, obj: Any) -> None:
    return None


def _set_token(context: TokenContext, obj: Any) -> tuple[Any, ...]:
    digests = sorted(context.sub_digest(item) for item in obj)
    kind = type(obj)
    name = kind.__name__ if kind in (set, frozenset) else kind
    return ("set", name, tuple(digests), getattr(obj, "__dict__", None))


def _function_token(context: TokenContext, func: FunctionType) -> Any:
    inner = getattr(func, WRAPPED_ATTRIBUTE, None)
    if isinstance(inner, FunctionType):
        func = inner
    if not is_user_module(func.__module__):
        module = func.__module__
        return f"lib-function:{module}:{func.__qualname__}:{package_version(module)}"
    profile = profile_of(func)
    earlier = context.first_visit(func)
    if earlier is not None:
        return ("seen-function", profile.digest, earlier)
    observed = observed_extras(func, profile.observes)  # names, if code reads them
    values = free_values(func, profile)
    subclasses = subclass_dependencies(func, values) or None
    return (
        "function",
        profile.digest,
        func.__defaults__,
        func.__kwdefaults__,
        values,
        func.__dict__ or None,
        subclasses,
        *((observed,) if observed else ()),
        ambient_inputs(func, profile),
    )


def _class_token(context: TokenContext, cls: type) -> Any:
    module = module_of(cls)
    if module == "builtins":
        # Cheaper than pickle's by-reference save, which re-imports to verify the name;
        # the Python version is part of every key.
        return f"builtins:{cls.__qualname__}"
    if not _is_user_class(cls):
        return f"lib-class:{module}:{cls.__qualname__}:{package_version(module)}"
    earlier = context.first_visit(cls)
    if earlier is not None:
        return ("seen-class", cls.__name__, earlier)
    members = tuple(
        (name, value) for name, value in sorted(vars(cls).items()) if name not in _CLASS_NOISE
    )
    metaclass = type(cls) if type(cls) is not type else None
    subclasses = None
    if any(_reads_subclasses(code) for code in _member_codes(members)):
        subclasses = discovered_subclasses((cls,))
    observed = observed_extras(cls)  # qualified name and docstring, if code reads them
    token = ("class", cls.__name__, cls.__bases__, metaclass, members, subclasses)
    return (*token, observed) if observed else token


# -- plugins found through __subclasses__() -------------------------------------------
_reads_subclasses_memo: dict[int, tuple[CodeType, bool]] = {}


def _reads_subclasses(code: CodeType) -> bool:
    """Tell whether ``code`` (or code nested in it) reads ``__subclasses__``; memoised."""
    known = _reads_subclasses_memo.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    stack, found = [code], False
    while stack and not found:
        current = stack.pop()
        found = "__subclasses__" in current.co_names
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    _reads_subclasses_memo[id(code)] = (code, found)
    return found


def _member_codes(members: tuple[tuple[str, Any], ...]) -> list[CodeType]:
    codes = []
    for _, value in members:
        func = getattr(value, "__func__", value)  # staticmethod, classmethod
        if isinstance(func, FunctionType):
            codes.append(func.__code__)
    return codes


def discovered_subclasses(values: tuple[object, ...]) -> tuple[type, ...]:
    """Return every user-defined subclass of the user classes among ``values``.

    Code that discovers plugins through ``Base.__subclasses__()`` depends on classes it
    never names; they join its token in a stable order (by module and qualified name),
    hashed like any class (a class met before is a back-reference, so cycles end).
    """
    found: dict[int, type] = {}
    stack: list[type] = [v for v in values if isinstance(v, type) and _is_user_class(v)]
    while stack:
        subclasses: list[type] = type.__subclasses__(stack.pop())
        for sub in subclasses:
            if id(sub) not in found and _is_user_class(sub):
                found[id(sub)] = sub
                stack.append(sub)
    return tuple(sorted(found.values(), key=lambda c: (module_of(c), c.__qualname__)))


def subclass_dependencies(func: FunctionType, values: tuple[object, ...]) -> tuple[type, ...]:
    """Return the subclasses ``func`` may discover among the classes it reads (see above)."""
    return discovered_subclasses(values) if _reads_subclasses(func.__code__) else ()


# -- other code objects ------------------------------------------------------------------
def _module_token(context: TokenContext, module: ModuleType) -> Any:
    name = module.__name__
    if name != "__main__" and is_user_module(name):
        # A project module reached as a value: by its content (see _module_content).
        earlier = context.first_visit(module)
        if earlier is not None:
            return ("seen-module", name, earlier)
        return module_content_token(module, _content_digest)
    token = f"module:{name}:{package_version(name)}"
    extra = module_extra(name)
    return token if extra is None else (token, extra())


def _content_digest(value: object) -> bytes:
    """Hash one part of a module's content on its own, canonically (xxh3-128)."""
    from checkpointing._hashing import hash_values  # _hashing imports this module

    return hash_values(value, xxhash.xxh3_128, pickle.HIGHEST_PROTOCOL).digest()


def _builtin_token(context: TokenContext, func: BuiltinFunctionType) -> Any:
    owner = func.__self__
    if owner is None or isinstance(owner, ModuleType):
        module = func.__module__ or getattr(owner, "__name__", "builtins")
        return f"builtin:{module}:{func.__qualname__}:{package_version(module)}"
    return None  # a method bound to an object: pickled as (object, name)


def _code_token(context: TokenContext, code: CodeType) -> tuple[Any, ...]:
    return ("code", repr(code_identity(code)))


def _descriptor_token(context: TokenContext, obj: Any) -> tuple[Any, ...]:
    kind = type(obj).__name__
    if isinstance(obj, property):
        return (kind, obj.fget, obj.fset, obj.fdel)
    if isinstance(obj, staticmethod | classmethod):
        return (kind, obj.__func__)
    if isinstance(obj, functools.cached_property):
        return (kind, obj.func, obj.attrname)
    if isinstance(obj, MemberDescriptorType):
        return (kind, obj.__name__)
    return (kind, dict(obj))  # MappingProxyType


def _lru_cache_token(context: TokenContext, wrapper: Any) -> tuple[Any, ...]:
    # lru_cache wrappers pickle by name, which would hide edits to the wrapped code.
    return ("lru_cache", wrapper.__wrapped__, wrapper.cache_parameters())


# -- instances of user-defined classes ------------------------------------------------
_UNSET = "\x00checkpointing:unset-slot"
_BUILTIN_BASES: dict[type, Any] = {
    dict: lambda obj: tuple(dict.items(obj)),
    list: lambda obj: list.copy(obj),
    tuple: lambda obj: tuple.__getitem__(obj, slice(None)),
    set: lambda obj: frozenset(set.__iter__(obj)),
    frozenset: lambda obj: frozenset(frozenset.__iter__(obj)),
    str: str.__str__,
    bytes: lambda obj: bytes.__getitem__(obj, slice(None)),
    bytearray: bytes,
    int: int.__int__,
    float: float.__float__,
    complex: lambda obj: complex(obj.real, obj.imag),
}


Layout = tuple[tuple[str, ...], Any, bool, bool]
_layouts: dict[type, Layout] = {}


def _layout(cls: type) -> Layout:
    """Return ``cls``'s slots, builtin base reader, and if it has a library base, a __getstate__."""
    known = _layouts.get(cls)
    if known is None:
        known = _layouts[cls] = _find_layout(cls)
    return known


def _find_layout(cls: type) -> Layout:
    slots: list[str] = []
    for klass in cls.__mro__:
        names = vars(klass).get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            if name not in ("__dict__", "__weakref__") and name not in slots:
                slots.append(name)
    reader = None
    library_base = False
    for klass in cls.__mro__[1:]:
        if klass in _BUILTIN_BASES:
            reader = _BUILTIN_BASES[klass]
            break
        if klass is not object and not is_user_module(klass.__module__):
            library_base = True
            break
    own_getstate = getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None)
    return tuple(slots), reader, library_base, own_getstate


def _user_object_token(context: TokenContext, obj: Any) -> tuple[Any, ...]:
    earlier = context.first_visit(obj)
    if earlier is not None:
        return ("seen-object", earlier)
    cls = type(obj)
    slot_names, reader, library_base, own_getstate = _layout(cls)
    state = getattr(obj, "__dict__", None)
    attributes = tuple(sorted(state.items(), key=_by_name)) if state else None
    if attributes and own_getstate:
        attributes = _guard_dropped(context, obj, attributes)
    slots = tuple(getattr(obj, name, _UNSET) for name in slot_names) if slot_names else None
    base: Any = None
    if reader is not None:
        base = reader(obj)
    elif library_base:
        base = _reduced(obj)  # what the library base keeps outside __dict__
    return ("object", cls, attributes, slots, base)


def _guard_dropped(
    context: TokenContext, obj: Any, attributes: tuple[tuple[str, Any], ...]
) -> tuple[tuple[str, Any], ...]:
    """Hash the attributes ``obj.__getstate__`` drops on their own, tolerating failures.

    A class usually drops what cannot be pickled: a lock, an open file, a connection.
    Those hold outside state, which no key tracks (like a file the function reads): they
    count by their type. Every dropped attribute that can be hashed counts by value.
    """
    try:
        kept = obj.__getstate__()
    except Exception:  # noqa: BLE001 - a failing __getstate__: every attribute counts as is
        return attributes
    if isinstance(kept, tuple) and len(kept) == 2:
        kept = kept[0]  # (dict, slots) from a class with slots
    if not isinstance(kept, dict):
        return attributes
    guarded: list[tuple[str, Any]] = []
    for name, value in attributes:
        if name not in kept:
            try:
                value = ("dropped", context.sub_digest(value))
            except Exception:  # noqa: BLE001 - any failure: an unhashable outside handle
                value = ("unhashable", type(value))
        guarded.append((name, value))
    return tuple(guarded)


def _by_name(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _reduced(obj: Any) -> tuple[Any, ...]:
    """Return the parts of ``obj.__reduce_ex__``, iterators materialised."""
    reduced = obj.__reduce_ex__(4)
    if isinstance(reduced, str):
        return (reduced,)
    parts = list(reduced)
    for index in (3, 4):
        if len(parts) > index and parts[index] is not None:
            parts[index] = list(parts[index])
    return tuple(parts)


# -- library objects held by a library module ------------------------------------------
_indexes: dict[str, dict[int, tuple[str, object]]] = {}
_NOT_SINGLETONS = (
    type,
    ModuleType,
    FunctionType,
    BuiltinFunctionType,
    MethodType,
    Mapping,
    Sequence,
    AbstractSet,
)


def module_attribute(obj: object) -> str | None:
    """Return ``"module:name"`` if a library module holds ``obj`` as ``name``.

    The modules asked are the one defining ``obj``'s class and its top-level package
    (where libraries re-export their public objects); each is indexed once.
    """
    module_name = module_of(type(obj))
    top = module_name.partition(".")[0]
    for candidate in (module_name, top) if top != module_name else (module_name,):
        index = _indexes.get(candidate)
        if index is None:
            module = sys.modules.get(candidate)
            if module is None:
                continue
            index = _indexes[candidate] = _index_module(module)
        entry = index.get(id(obj))
        if entry is None or entry[1] is not obj:
            continue
        if getattr(sys.modules.get(candidate), entry[0], None) is obj:
            return f"{candidate}:{entry[0]}"  # else rebound since: no longer that name
    return None


def _index_module(module: ModuleType) -> dict[int, tuple[str, object]]:
    """Index a library module's singletons: instances of classes, not collections."""
    index: dict[int, tuple[str, object]] = {}
    for name, value in list(vars(module).items()):
        kind = type(value)
        if (
            kind.__module__ == "builtins"
            # collections (rcParams, os.environ) are state users change: hash by value
            or isinstance(value, _NOT_SINGLETONS)
            or is_user_module(kind.__module__)
        ):
            continue
        index.setdefault(id(value), (name, value))
    return index


def _library_object_token(context: TokenContext, obj: Any) -> str | None:
    reference = module_attribute(obj)
    if reference is None:
        return None  # made by the user: hashed by value
    return f"lib-object:{reference}:{package_version(type(obj).__module__)}"


# -- choosing a handler -------------------------------------------------------------------
_BY_TYPE: dict[type, Handler] = {
    set: _set_token,
    frozenset: _set_token,
    FunctionType: _function_token,
    ModuleType: _module_token,
    BuiltinFunctionType: _builtin_token,
    CodeType: _code_token,
    property: _descriptor_token,
    staticmethod: _descriptor_token,
    classmethod: _descriptor_token,
    functools.cached_property: _descriptor_token,
    MemberDescriptorType: _descriptor_token,
    MappingProxyType: _descriptor_token,
    type(functools.cache(len)): _lru_cache_token,
}


def classify(cls: type) -> Handler:
    """Choose how to serialise instances of ``cls`` (the caller memoises it per class)."""
    handler = _BY_TYPE.get(cls)
    if handler is not None:
        return handler
    handler = find_handler(cls)
    if handler is not None:
        return handler
    if issubclass(cls, type):
        return _class_token
    if issubclass(cls, set | frozenset):
        return _set_token
    if issubclass(cls, FunctionType):
        return _function_token
    if issubclass(cls, ModuleType):
        return _module_token
    if issubclass(cls, enum.Enum):
        return _default  # by name; the class (and so its members' values) is hashed
    if _is_user_class(cls):
        return _user_object_token
    if module_of(cls) == "builtins":
        return _default
    return _library_object_token
