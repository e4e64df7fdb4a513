"""Pickle a result into a stream (in memory, or any file object) plus its large buffers.

Large contiguous buffers (numpy arrays, pandas columns, ``PickleBuffer``) stay out of the
stream (pickle protocol 5 ``buffer_callback``): they are written raw from the result's own
memory and read back straight into freshly allocated, numpy-owned memory. The stream is
either written to a file object as pickle produces it (:func:`pickle_into`, what the
directory store uses: a few frames of memory), or built in one growing ``BytesIO`` and
handed out as a view of its buffer, never copied (:func:`pickle_result`, for stores that
send an entry whole: about one pickled size of memory beyond the result).
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from typing import Any

from checkpointing.exceptions import ResultNotPicklableError

__all__ = ["new_buffer", "pickle_into", "pickle_result"]

# Smaller buffers stay in the pickle stream: padding and a separate copy would cost more.
OUT_OF_BAND_MIN = 1 << 14


def _reduce_array(array: Any) -> Any:
    """Pickle datetime64/timedelta64 arrays as int64 views, so their buffer goes out of band.

    numpy keeps these dtypes inside the pickle stream even with protocol 5, which costs
    two extra copies of a timestamp column on every load.
    """
    if array.dtype.kind in "mM" and type(array) is sys.modules["numpy"].ndarray:
        return _rebuild_datetimes, (array.view("i8"), array.dtype.str)
    return array.__reduce_ex__(5)


def _rebuild_datetimes(integers: Any, dtype: str) -> Any:
    """Reverse ``_reduce_array``: view the int64 array as its datetime dtype (no copy)."""
    return integers.view(dtype)


def pickle_into(file: Any, result: Any, protocol: int) -> list[memoryview]:
    """Pickle ``result`` into the file object ``file``; return the buffers kept out of band.

    The exception ``file.write`` raised, if it stored it as ``file.failed``, passes
    through (a full disk); anything else becomes ``ResultNotPicklableError``.
    """
    buffers: list[memoryview] = []

    def keep_in_band(buffer: pickle.PickleBuffer) -> bool:
        # Returning False moves the buffer out of band, to be written after the stream.
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: only pickle itself can serialise it
            return True
        if raw.nbytes < OUT_OF_BAND_MIN:
            return True
        buffers.append(raw)
        return False

    try:
        if protocol >= 5:
            pickler = pickle.Pickler(file, protocol, buffer_callback=keep_in_band)
            numpy = sys.modules.get("numpy")
            if numpy is not None:
                # Only ndarray instances consult this table, so nothing else slows down.
                pickler.dispatch_table = {**copyreg.dispatch_table, numpy.ndarray: _reduce_array}
        else:
            pickler = pickle.Pickler(file, protocol)
        pickler.dump(result)
    except Exception as exc:
        if exc is getattr(file, "failed", None):
            raise
        kind = type(result)
        raise ResultNotPicklableError(
            f"cannot pickle a result of type {kind.__module__}.{kind.__qualname__}: {exc}"
        ) from exc
    return buffers


def pickle_result(result: Any, protocol: int) -> tuple[memoryview, list[memoryview]]:
    """Pickle ``result`` in memory; return a view of the stream and the out-of-band buffers."""
    out = io.BytesIO()
    buffers = pickle_into(out, result, protocol)
    # A view of the BytesIO's own buffer (it keeps the BytesIO alive): no copy.
    return out.getbuffer(), buffers


def new_buffer(size: int) -> Any:
    """Allocate a writable buffer, numpy-owned when numpy is loaded (huge pages, fast)."""
    np = sys.modules.get("numpy")
    if np is not None:
        return np.empty(size, np.uint8)
    return bytearray(size)
