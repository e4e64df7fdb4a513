"""Fault injection against a directory cache: crashes, races, damage, planted and foreign files.

Each scenario drives ``PickleFileCache`` through its public API only (``save``,
``retrieve``, ``entries``, ``clear``), so the same code measures any version of the
library: ``python -m tests.faults`` prints the figures of the version on ``PYTHONPATH``
(the "before" figures of docs/reliability.md come from running it on the previous
release). Every scenario returns a :class:`Figures`; ``wrong`` counts results served that
differ from what was saved under that id, the one number that must always be zero.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from checkpointing import PickleFileCache
from checkpointing.exceptions import (
    CheckpointingError,
    CheckpointNotExist,
    ResultNotPicklableError,
)

__all__ = ["SCENARIOS", "Figures", "run_all"]


@dataclasses.dataclass
class Figures:
    """What one scenario measured."""

    name: str
    trials: int = 0
    wrong: int = 0  # a value served for an id that is not the value saved under it
    misses: int = 0  # damage detected: a miss (the call would run again)
    hits: int = 0  # the right value served
    errors: int = 0  # an exception other than a miss escaped the cache
    leftovers: int = 0  # files left behind that the cache should have removed
    notes: list[str] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        """Return a one-line summary."""
        notes = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (
            f"{self.name:<22} trials={self.trials:<5} wrong={self.wrong:<4} "
            f"misses={self.misses:<5} hits={self.hits:<5} errors={self.errors:<3} "
            f"leftovers={self.leftovers}{notes}"
        )


def _lookup(cache: Any, context_id: Any) -> tuple[str, Any]:
    """Return ``("hit", value)``, ``("miss", None)`` or ``("error", exc)``, warnings muted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "hit", cache.retrieve(context_id)
        except CheckpointNotExist:
            return "miss", None
        except Exception as exc:  # noqa: BLE001 - counted as an error
            return "error", exc


def _same(a: Any, b: Any) -> bool:
    """Compare two saved values exactly (arrays by content, dtype and shape)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    return type(a) is type(b) and bool(a == b)


def _entry_files(directory: Path) -> list[Path]:
    """List the entry files of a cache directory."""
    return sorted(p for p in directory.glob("*.pickle") if p.is_file())


def _temp_files(directory: Path) -> list[Path]:
    """List the temporary files (writes in progress or leftovers) of a cache directory."""
    return sorted([*directory.glob(".tmp-*"), *directory.glob(".tmp/.tmp-*")])


def _python(script: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``script`` in a fresh interpreter with this process's import path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# -- crashes ------------------------------------------------------------------------------

_SAVER = textwrap.dedent(
    """
    import sys, numpy as np
    from checkpointing import PickleFileCache
    cache = PickleFileCache(sys.argv[1])
    i = 0
    while True:
        i += 1
        n = 2_000_000 + i  # 16 MB arrays, written out of band
        words = [f"{i}-{k}" for k in range(200_000)]  # a 2 MB pickle stream, streamed
        cache.save("big", {"tag": i, "array": np.full(n, float(i)), "words": words})
    """
)


def sigkill_during_saves(directory: Path, trials: int = 10) -> Figures:
    """Kill writers of 16 MB results at random moments; every later read is whole or a miss."""
    figures = Figures("sigkill during saves")
    cache = PickleFileCache(directory)
    rng = random.Random(1)
    words = [f"0-{k}" for k in range(200_000)]
    cache.save("big", {"tag": 0, "array": np.full(2_000_000, 0.0), "words": words})
    leftover_bytes = 0
    for _ in range(trials):
        writer = _python(_SAVER, str(directory))
        time.sleep(0.5 + rng.random() * 0.5)
        # Kill while a temp file is being written, when one shows up within 2 s.
        deadline = time.monotonic() + 2.0
        while not _temp_files(directory) and time.monotonic() < deadline:
            time.sleep(0.0005)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        figures.trials += 1
        outcome, value = _lookup(cache, "big")
        if outcome == "hit":
            tag = value["tag"]
            array = value["array"]
            good = (
                array.shape == (2_000_000 + tag if tag else 2_000_000,)
                and bool((array == float(tag)).all())
                and value["words"] == [f"{tag}-{k}" for k in range(200_000)]
            )
            figures.hits += good
            figures.wrong += not good
        elif outcome == "miss":
            figures.misses += 1
        else:
            figures.errors += 1
        leftover_bytes = max(leftover_bytes, sum(p.stat().st_size for p in _temp_files(directory)))
    figures.notes.append(f"up to {leftover_bytes / 1e6:.0f} MB of temp files left by a kill")
    with contextlib.suppress(CheckpointingError, OSError):
        cache.save("after", 1)  # the next store reclaims what dead writers left
    figures.leftovers = len(_temp_files(directory))
    return figures


# -- races -----------------------------------------------------------------------------------

_RACER = textwrap.dedent(
    """
    import sys, warnings, numpy as np
    from checkpointing import PickleFileCache
    from checkpointing.exceptions import CheckpointNotExist
    warnings.simplefilter("ignore")
    cache = PickleFileCache(sys.argv[1])
    seed, rounds = int(sys.argv[2]), int(sys.argv[3])
    wrong = 0
    for i in range(rounds):
        key = (i * 7 + seed) % 12
        value = {"key": key, "array": np.full(1000 + key * 3000, float(key))}
        try:
            got = cache.retrieve(f"k{key}")
            if got["key"] != key or not (got["array"] == float(key)).all():
                wrong += 1
            if got["array"].shape != (1000 + key * 3000,):
                wrong += 1
        except CheckpointNotExist:
            cache.save(f"k{key}", value)
        if i % 5 == 0:
            cache.save(f"k{key}", value)
    sys.exit(min(wrong, 100))
    """
)


def racing_processes(directory: Path, processes: int = 6, rounds: int = 60) -> Figures:
    """Processes reading and rewriting 12 shared keys; a wrong value fails the process."""
    figures = Figures("racing processes")
    racers = [_python(_RACER, str(directory), str(n), str(rounds)) for n in range(processes)]
    codes = [racer.wait(timeout=300) for racer in racers]
    figures.trials = processes * rounds
    figures.wrong = sum(code for code in codes if code > 0)
    figures.errors = sum(1 for code in codes if code < 0)
    figures.leftovers = len(_temp_files(directory))
    return figures


# -- damage ----------------------------------------------------------------------------------


def _values() -> dict[str, Any]:
    """Return results of four shapes: small, a large array, mixed, a long pickle stream."""
    rng = np.random.default_rng(7)
    return {
        "small": {"numbers": list(range(50)), "text": "some text", "ratio": 0.25},
        # Larger than the first read: checked in one pass over the file, unpickled in another.
        "stream": [f"word {i}" for i in range(20_000)],
        "array": rng.random(40_000),
        "mixed": {"a": rng.integers(0, 1000, 30_000), "label": "x" * 500, "n": 3},
    }


def _damage_trials(directory: Path, damage: Callable[[bytearray, random.Random], None],
                   name: str, trials_per_value: int) -> Figures:  # fmt: skip
    """Save each value, damage its file, read it back; count wrong values served."""
    figures = Figures(name)
    cache = PickleFileCache(directory)
    rng = random.Random(name)
    for label, value in _values().items():
        for trial in range(trials_per_value):
            key = f"{label}{trial % 4}"
            cache.save(key, value)
            (path,) = [p for p in _entry_files(directory) if p.stem == key]
            data = bytearray(path.read_bytes())
            damage(data, rng)
            path.write_bytes(bytes(data))
            figures.trials += 1
            outcome, got = _lookup(cache, key)
            if outcome == "hit":
                if _same(got, value):
                    figures.hits += 1  # the damage did not change the value (e.g. padding)
                else:
                    figures.wrong += 1
            elif outcome == "miss":
                figures.misses += 1
            else:
                figures.errors += 1
    return figures


def bit_flips(directory: Path, trials_per_value: int = 150) -> Figures:
    """Flip one random bit anywhere in an entry (header, metadata, stream, buffers)."""

    def flip(data: bytearray, rng: random.Random) -> None:
        position = rng.randrange(len(data) * 8)
        data[position // 8] ^= 1 << (position % 8)

    return _damage_trials(directory, flip, "single-bit flips", trials_per_value)


def zeroed_blocks(directory: Path, trials_per_value: int = 40) -> Figures:
    """Zero one 4 KB-aligned block of an entry (a lost disk sector)."""

    def zero(data: bytearray, rng: random.Random) -> None:
        start = rng.randrange(max(1, len(data) // 4096 + 1)) * 4096
        end = min(len(data), start + 4096)
        data[start:end] = bytes(end - start)

    return _damage_trials(directory, zero, "zeroed 4 KB blocks", trials_per_value)


def swapped_entries(directory: Path) -> Figures:
    """Copy one entry's file over another's (a sync or a hand copy); read the second id."""
    figures = Figures("swapped entries")
    cache = PickleFileCache(directory)
    ids: list[Any] = ["first", "second", ("tuple", 1), ("tuple", 2), 7, 8]
    paths = {}
    for index, context_id in enumerate(ids):
        before = set(_entry_files(directory))
        cache.save(context_id, {"id": repr(context_id), "index": index})
        (paths[repr(context_id)],) = set(_entry_files(directory)) - before
    for a, b in zip(ids[::2], ids[1::2], strict=True):
        shutil.copyfile(paths[repr(a)], paths[repr(b)])
        figures.trials += 1
        outcome, got = _lookup(cache, b)
        if outcome == "hit":
            if got == {"id": repr(b), "index": ids.index(b)}:
                figures.hits += 1
            else:
                figures.wrong += 1
        elif outcome == "miss":
            figures.misses += 1
        else:
            figures.errors += 1
    return figures


# -- planted code ----------------------------------------------------------------------------


class _Planted:
    """An object whose unpickling creates a directory: a stand-in for arbitrary code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (self.marker,)


def planted_pickles(directory: Path, trials: int = 6) -> Figures:
    """Entries written by someone else whose pickles run code: as results and as ids.

    Counts code runs while listing and clearing (must be none), and while loading with a
    cache that has a secret the planter did not know (must be none: the entry is refused).
    """
    figures = Figures("planted pickles")
    markers = directory.parent / f"{directory.name}-markers"
    markers.mkdir()
    planter = PickleFileCache(directory)
    for n in range(trials):
        planter.save(f"result{n}", _Planted(str(markers / f"result-{n}")))
        planter.save(_Planted(str(markers / f"id-{n}")), n)
    cache = PickleFileCache(directory)
    runs_listing = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            figures.trials += 1
            cache.entries()
            with contextlib.suppress(CheckpointingError, OSError):
                cache.clear(function="no.such.function")
        runs_listing = len(list(markers.iterdir()))
    figures.wrong += runs_listing
    figures.notes.append(f"code runs while listing/clearing: {runs_listing}")
    try:
        signed = PickleFileCache(directory, secret="team-secret")
    except TypeError:
        figures.notes.append("no signed caches in this version")
    else:
        # Long pickle streams (checked in a pass over the file before a second pass
        # unpickles them), signed with a key other than the team's.
        stranger = PickleFileCache(directory, secret="not the team's secret")
        words = [f"word {i}" for i in range(20_000)]
        for n in range(trials):
            stranger.save(f"long{n}", [_Planted(str(markers / f"long-{n}")), *words])
        for n in range(trials):
            for key in (f"result{n}", f"long{n}"):
                figures.trials += 1
                outcome, _ = _lookup(signed, key)
                figures.misses += outcome == "miss"
        runs_signed = len(list(markers.iterdir())) - runs_listing
        figures.wrong += runs_signed
        figures.notes.append(f"code runs on load by a signed cache: {runs_signed}")
    return figures


# -- special and foreign files ---------------------------------------------------------------

_FIFO_READER = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    from checkpointing import PickleFileCache
    from checkpointing.exceptions import CheckpointNotExist
    cache = PickleFileCache(sys.argv[1])
    try:
        cache.retrieve("fifo")
    except CheckpointNotExist:
        pass
    cache.entries()
    cache.clear()
    try:
        cache.save("fifo", 1)
    except OSError:
        pass
    """
)


def fifo_at_entry_name(directory: Path, trials: int = 2) -> Figures:
    """A FIFO named like an entry: reading, listing, clearing and saving must not hang."""
    figures = Figures("FIFO at an entry name")
    PickleFileCache(directory).save("other", 1)
    os.mkfifo(directory / "fifo.pickle")
    for _ in range(trials):
        figures.trials += 1
        reader = _python(_FIFO_READER, str(directory))
        try:
            reader.wait(timeout=20)
        except subprocess.TimeoutExpired:
            reader.kill()
            reader.wait()
            figures.errors += 1
            figures.notes.append("hung (killed after 20 s)")
        else:
            figures.hits += reader.returncode == 0
            figures.errors += reader.returncode != 0
    if not stat.S_ISFIFO(os.lstat(directory / "fifo.pickle").st_mode):
        figures.leftovers += 1
        figures.notes.append("the FIFO was replaced or removed")
    return figures


def _user_files(directory: Path, outside: Path) -> dict[str, bytes]:
    """Fill ``directory`` with a user's files; return their names and contents."""
    outside.write_bytes(b"precious data outside the cache")
    files = {
        "notes.txt": b"my notes",
        "data.pickle": pickle.dumps({"mine": True}),
        "model.pickle": b"CKPT is how my own format starts, too",
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)
    (directory / "link.pickle").symlink_to(outside)
    return files


def foreign_files(directory: Path) -> Figures:
    """A project folder used as the cache directory: no user file may be touched."""
    figures = Figures("foreign files")
    directory.mkdir(parents=True, exist_ok=True)
    outside = directory.parent / "outside.bin"
    files = _user_files(directory, outside)
    cache = PickleFileCache(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for action in (
            lambda: cache.save("x", 1),
            lambda: cache.save("data", 2),
            cache.entries,
            lambda: cache.clear(function="no.such.function"),
            cache.clear,
            lambda: cache.delete("notes"),
        ):
            figures.trials += 1
            try:
                action()
            except (CheckpointingError, OSError):
                figures.misses += 1  # refused
    touched = [
        name
        for name, content in files.items()
        if not (directory / name).is_file() or (directory / name).read_bytes() != content
    ]
    if not (directory / "link.pickle").is_symlink():
        touched.append("link.pickle")
    if outside.read_bytes() != b"precious data outside the cache":
        touched.append("outside.bin")
    figures.wrong = len(touched)
    if touched:
        figures.notes.append("touched: " + ", ".join(sorted(touched)))
    else:
        figures.notes.append("no user file touched")
    return figures


# -- a full file system ----------------------------------------------------------------------


@contextlib.contextmanager
def _small_tmpfs(size: str) -> Iterator[Path | None]:
    """Mount a tmpfs of ``size``; yield its path, or ``None`` when mounting is not allowed."""
    point = Path(tempfile.mkdtemp(prefix="ckpt-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    try:
        yield point if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(point)], check=False, capture_output=True)
        shutil.rmtree(point, ignore_errors=True)


def full_file_system(directory: Path) -> Figures:
    """Fill an 8 MB tmpfs: failed saves must leave no partial entries and old ones intact."""
    figures = Figures("full file system")
    with _small_tmpfs("8m") as mount:
        if mount is None:
            figures.notes.append("skipped: mounting a tmpfs is not permitted here")
            return figures
        cache = PickleFileCache(mount / "cache")
        saved: dict[str, Any] = {}
        for n in range(12):
            value = np.full(150_000 * (n + 1), float(n))  # 1.2 MB, 2.4 MB, ...
            figures.trials += 1
            try:
                cache.save(f"v{n}", value)
                saved[f"v{n}"] = value
            except (CheckpointingError, OSError):
                figures.misses += 1
        for key, value in saved.items():
            outcome, got = _lookup(cache, key)
            if outcome == "hit":
                figures.hits += 1
                figures.wrong += not _same(got, value)
            else:
                figures.errors += 1
        # A long pickle stream, written as it is pickled, into the full file system: a
        # storage error (not "not picklable"), and nothing left behind.
        figures.trials += 1
        try:
            cache.save("words", [f"word {i}" for i in range(1_000_000)])
        except ResultNotPicklableError:
            figures.errors += 1
            figures.notes.append("a full disk was reported as an unpicklable result")
        except (CheckpointingError, OSError):
            figures.misses += 1
        figures.leftovers = len(_temp_files(mount / "cache"))
        figures.notes.append(f"{figures.misses} saves refused for lack of space")
    return figures


SCENARIOS: dict[str, Callable[[Path], Figures]] = {
    "sigkill": sigkill_during_saves,
    "race": racing_processes,
    "bits": bit_flips,
    "blocks": zeroed_blocks,
    "swap": swapped_entries,
    "planted": planted_pickles,
    "fifo": fifo_at_entry_name,
    "foreign": foreign_files,
    "full": full_file_system,
}


def run_all(names: list[str] | None = None) -> list[Figures]:
    """Run the scenarios (all by default), each in a fresh directory; return the figures."""
    results = []
    for name in names or list(SCENARIOS):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                results.append(SCENARIOS[name](Path(tmp) / "cache"))
            except Exception as exc:  # noqa: BLE001 - a scenario that cannot run is reported
                results.append(Figures(name, errors=1, notes=[f"scenario failed: {exc!r}"]))
    return results


if __name__ == "__main__":
    chosen = sys.argv[1:] or None
    figures = run_all(chosen)
    for item in figures:
        print(item.line())
    print(json.dumps([dataclasses.asdict(item) for item in figures]))
