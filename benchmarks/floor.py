"""The raw floor: the least work each case needs, done by hand, measured in the same run.

A cache cannot hit faster than it can read one small file, hash an argument faster than
xxh3 runs over its bytes, or store an array faster than ``np.save`` writes it; these
figures turn "fast" into a ratio to what the machine allows. A floor is sampled alongside
the first case that refers to it, sample for sample, in a worker process of its own.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from benchmarks import subjects
from benchmarks.plan import Plan
from benchmarks.timing import Probe, loop_probe, process_wall, single_probe

__all__ = ["FLOORS", "Floor"]


@dataclass(frozen=True)
class Floor:
    """One floor measurement: ``label`` is its short name in the case table."""

    name: str
    label: str
    title: str
    prepare: Callable[[Plan, str], Probe]


def _small_read(plan: Plan, workdir: str) -> Probe:
    path = os.path.join(workdir, "small.pickle")
    with open(path, "wb") as file:
        file.write(pickle.dumps(3, protocol=5))  # what add(1, 2) returns

    def read() -> object:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, 1 << 16)
        finally:
            os.close(fd)
        return pickle.loads(data)

    return loop_probe(read, plan.min_sample_time)


def _small_write(plan: Plan, workdir: str) -> Probe:
    data = pickle.dumps(3, protocol=5)
    counter = itertools.count()

    def write() -> None:
        i = next(counter)
        temp = os.path.join(workdir, f".tmp-{i}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, data)
            os.fsync(fd)  # as a durable store must: the entry survives a crash
        finally:
            os.close(fd)
        os.replace(temp, os.path.join(workdir, f"{i}.pickle"))

    return loop_probe(write, plan.min_sample_time)


def _xxh3_array(size: Callable[[Plan], int]) -> Callable[[Plan, str], Probe]:
    def measure(plan: Plan, workdir: str) -> Probe:
        array = subjects.random_array(size(plan))
        return loop_probe(lambda: xxhash.xxh3_128_digest(array.data), plan.min_sample_time)

    return measure


def _frame_columns(frame: Any) -> list[npt.NDArray[Any]]:
    """Return each column's values as a numpy array: categoricals as their codes."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, np.dtype):
            columns.append(np.ascontiguousarray(column.to_numpy()))
        elif hasattr(column, "cat"):
            columns.append(np.ascontiguousarray(column.cat.codes.to_numpy()))
        else:
            columns.append(column.to_numpy(dtype=object))
    return columns


def _xxh3_frame(plan: Plan, workdir: str) -> Probe:
    frame = subjects.random_frame(plan.frame_argument_rows, with_strings=True)
    columns = _frame_columns(frame)

    def digest() -> None:
        hasher = xxhash.xxh3_128()
        for values in columns:
            if values.dtype == object:
                hasher.update("\x00".join(values).encode())  # string content, no framing
            else:
                hasher.update(values.view(np.uint8).data)

    return loop_probe(digest, plan.min_sample_time)


def _np_save(fsync: bool) -> Callable[[Plan, str], Probe]:
    def measure(plan: Plan, workdir: str) -> Probe:
        array = subjects.random_array(plan.array_large)

        def save(i: int) -> None:
            with open(os.path.join(workdir, f"array-{i}.npy"), "wb") as file:
                np.save(file, array)
                if fsync:
                    file.flush()
                    os.fsync(file.fileno())

        save(-1)
        return single_probe(save, before=os.sync)

    return measure


def _np_load(plan: Plan, workdir: str) -> Probe:
    path = os.path.join(workdir, "array.npy")
    np.save(path, subjects.random_array(plan.array_large))
    os.sync()
    return loop_probe(lambda: np.load(path), plan.min_sample_time)


def _frame_paths(workdir: str, prefix: str, count: int) -> list[str]:
    return [os.path.join(workdir, f"{prefix}-{j}.npy") for j in range(count)]


def _np_save_frame(plan: Plan, workdir: str) -> Probe:
    columns = _frame_columns(subjects.random_frame(plan.frame_result_rows, with_strings=False))

    def save(i: int) -> None:
        for path, values in zip(_frame_paths(workdir, f"f{i}", len(columns)), columns, strict=True):
            np.save(path, values)

    save(-1)
    return single_probe(save, before=os.sync)


def _np_load_frame(plan: Plan, workdir: str) -> Probe:
    columns = _frame_columns(subjects.random_frame(plan.frame_result_rows, with_strings=False))
    paths = _frame_paths(workdir, "frame", len(columns))
    for path, values in zip(paths, columns, strict=True):
        np.save(path, values)
    os.sync()
    return loop_probe(lambda: [np.load(p) for p in paths], plan.min_sample_time)


def _bare_python(plan: Plan, workdir: str) -> Probe:
    argv = [sys.executable, "-c", "pass"]
    process_wall(argv)
    return Probe(lambda: process_wall(argv))


FLOORS: dict[str, Floor] = {
    floor.name: floor
    for floor in [
        Floor(
            "small-read",
            "small file read",
            "read a small file: `os.open` + `os.read` + `pickle.loads`",
            _small_read,
        ),
        Floor(
            "small-write",
            "small file write",
            "write a small file: create, write, `fsync`, `os.replace`",
            _small_write,
        ),
        Floor(
            "xxh3-array-small",
            "xxh3",
            "xxh3_128 over the small array's buffer",
            _xxh3_array(lambda p: p.array_small),
        ),
        Floor(
            "xxh3-array-large",
            "xxh3",
            "xxh3_128 over the large array's buffer",
            _xxh3_array(lambda p: p.array_large),
        ),
        Floor(
            "xxh3-array-huge",
            "xxh3",
            "xxh3_128 over the huge array's buffer",
            _xxh3_array(lambda p: p.array_huge),
        ),
        Floor(
            "xxh3-frame",
            "xxh3",
            "xxh3_128 over the argument frame's columns (strings joined, UTF-8)",
            _xxh3_frame,
        ),
        Floor("np-save-array", "np.save", "`np.save` of the large array", _np_save(False)),
        Floor(
            "np-save-fsync-array",
            "np.save+fsync",
            "`np.save` of the large array, then `fsync`",
            _np_save(True),
        ),
        Floor("np-load-array", "np.load", "`np.load` of the large array (warm)", _np_load),
        Floor(
            "np-save-frame",
            "np.save",
            "`np.save` of the result frame's columns, one file each",
            _np_save_frame,
        ),
        Floor(
            "np-load-frame",
            "np.load",
            "`np.load` of the result frame's columns (warm)",
            _np_load_frame,
        ),
        Floor("bare-python", "bare python", "`python -c pass`, whole process", _bare_python),
    ]
}
