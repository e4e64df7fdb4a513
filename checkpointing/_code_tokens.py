"""Tokens for code and for objects that pickle would describe wrongly in a key.

* sets and frozensets: their element digests, sorted (iteration order depends on
  ``PYTHONHASHSEED``);
* user-defined functions and classes: their normalized code and the values of the
  globals they read, recursively (pickle would record only their name, missing edits);
  code that calls ``__subclasses__`` also depends on its subclasses' code
  (:mod:`checkpointing._subclasses`);
* library functions, classes and modules: module, qualified name and package version;
  project modules reached as values: their content;
* descriptors pickle refuses (property, staticmethod, ...): the functions they wrap.

Instances of user-defined classes and library objects have their own module
(:mod:`checkpointing._object_tokens`); :func:`classify` picks the handler for a type,
among these, the registered ones (:mod:`checkpointing._tokens`) and those.
"""

from __future__ import annotations

import enum
import functools
import pickle
from types import (
    BuiltinFunctionType,
    CodeType,
    FunctionType,
    MappingProxyType,
    MemberDescriptorType,
    ModuleType,
)
from typing import Any

import xxhash

from checkpointing._classify import is_user_class, is_user_module, module_of, package_version
from checkpointing._module_content import module_content_token
from checkpointing._namespace import ModuleNamespace
from checkpointing._object_tokens import library_object_token, user_object_token
from checkpointing._observed import observed_extras
from checkpointing._profile import ambient_inputs, code_identity, free_values, profile_of
from checkpointing._subclasses import (
    discovered_subclasses,
    members_read_subclasses,
    subclass_dependencies,
)
from checkpointing._tokens import Handler, TokenContext, find_handler, module_extra

__all__ = ["WRAPPED_ATTRIBUTE", "classify"]

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
    if not is_user_class(cls):
        return f"lib-class:{module}:{cls.__qualname__}:{package_version(module)}"
    earlier = context.first_visit(cls)
    if earlier is not None:
        return ("seen-class", cls.__name__, earlier)
    members = tuple(
        (name, value) for name, value in sorted(vars(cls).items()) if name not in _CLASS_NOISE
    )
    metaclass = type(cls) if type(cls) is not type else None
    subclasses = None
    if members_read_subclasses(members):
        subclasses = discovered_subclasses((cls,))
    observed = observed_extras(cls)  # qualified name and docstring, if code reads them
    token = ("class", cls.__name__, cls.__bases__, metaclass, members, subclasses)
    return (*token, observed) if observed else token


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


def _namespace_token(context: TokenContext, namespace: ModuleNamespace) -> Any:
    # Code that reads globals by computed names reads its whole module, __main__ too.
    module = namespace.module
    earlier = context.first_visit(module)
    if earlier is not None:
        return ("seen-module", module.__name__, earlier)
    return ("namespace", module_content_token(module, _content_digest))


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


# -- choosing a handler -------------------------------------------------------------------
_BY_TYPE: dict[type, Handler] = {
    set: _set_token,
    frozenset: _set_token,
    FunctionType: _function_token,
    ModuleType: _module_token,
    ModuleNamespace: _namespace_token,
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
    if is_user_class(cls):
        return user_object_token
    if module_of(cls) == "builtins":
        return _default
    return library_object_token
