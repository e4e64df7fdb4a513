"""Tokens for pandas objects: content column by column, whatever the block layout.

A DataFrame is hashed by its columns, index, the dtype and values of each column (numpy
columns through their buffers, in place; extension arrays through their own pickling),
its ``attrs`` and flags. Equal frames with different internal blocks get equal keys.
Subclasses add their class and the attributes they declare in ``_metadata``.

User classes registered as accessors (``@pd.api.extensions.register_dataframe_accessor``)
are part of the token of every pandas object and of the ``pandas`` module itself: code
that calls ``df.geo.center()`` depends on the accessor's code without naming it.

Registered by type, lazily (see :mod:`checkpointing._tokens`): pandas 3 reports
``DataFrame.__module__ == "pandas"``, so matching module strings would silently fail.
"""

from __future__ import annotations

from typing import Any

from checkpointing._classify import is_user_module
from checkpointing._tokens import (
    TokenContext,
    register_handler,
    register_lazy,
    register_module_extra,
)

__all__ = ["install"]


def install() -> None:
    """Register the pandas handlers (called once, when a pandas type is first hashed)."""
    import numpy
    import pandas

    owners = (pandas.DataFrame, pandas.Series, pandas.Index)

    def user_accessors() -> tuple[type, ...]:
        """Return the user-defined accessor classes registered on pandas objects, by name."""
        found: list[type] = []
        for owner in owners:
            for name in sorted(getattr(owner, "_accessors", ())):
                accessor = getattr(owner, name, None)  # the accessor class itself
                if isinstance(accessor, type) and is_user_module(accessor.__module__):
                    found.append(accessor)
        return tuple(found)

    def metadata(obj: Any, base: type) -> Any:
        """Return a subclass's class, its ``_metadata`` and its public attributes."""
        if type(obj) is base:
            return None
        names = getattr(type(obj), "_metadata", ())
        declared = tuple((name, getattr(obj, name, None)) for name in names)
        own = sorted((k, v) for k, v in vars(obj).items() if not k.startswith("_"))
        return (type(obj), declared, tuple(own))

    def values(series: Any) -> Any:
        if isinstance(series.dtype, numpy.dtype):
            return series.to_numpy()  # a view for numpy-backed columns: hashed in place
        return series.array  # extension arrays pickle through their own buffers

    def series_token(context: TokenContext, series: Any) -> tuple[Any, ...]:
        return (
            "Series",
            str(series.dtype),
            series.name,
            series.index,
            values(series),
            series.attrs or None,
            series.flags.allows_duplicate_labels,
            metadata(series, pandas.Series),
            user_accessors(),
        )

    def frame_token(context: TokenContext, frame: Any) -> tuple[Any, ...]:
        # Column by column, so equal frames give equal keys whatever their block layout.
        # _get_column_array (pandas 2 and 3) reads a column without building a Series
        # (3 µs instead of about 100); public iloc is the fallback.
        get = getattr(frame, "_get_column_array", None)
        if get is not None:
            arrays = [get(i) for i in range(frame.shape[1])]
            columns = tuple((str(array.dtype), array) for array in arrays)
        else:
            columns = tuple(
                (str(frame.dtypes.iloc[i]), values(frame.iloc[:, i])) for i in range(frame.shape[1])
            )
        return (
            "DataFrame",
            frame.columns,
            frame.index,
            columns,
            frame.attrs or None,
            frame.flags.allows_duplicate_labels,
            metadata(frame, pandas.DataFrame),
            user_accessors(),
        )

    register_handler(pandas.DataFrame, frame_token)
    register_handler(pandas.Series, series_token)
    register_module_extra("pandas", user_accessors)


register_lazy("pandas", install)
