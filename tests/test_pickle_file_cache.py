"""Behaviour particular to PickleFileCache: file names, directory, atomicity, corruption."""

from __future__ import annotations

import os
import pickle
import re
import struct
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xxhash

import checkpointing
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.config import defaults
from checkpointing.exceptions import (
    CheckpointNotExist,
    CorruptEntryWarning,
    ResultNotPicklableError,
    StorageError,
)

# The version-3 header, spelled out independently of the implementation.
HEADER = struct.Struct("<4sHHddIQI16s16s32sQ")
NAMES = ["magic", "version", "flags", "created", "run_time", "meta_len", "pickle_len"]


def read_header(path: Path) -> dict[str, Any]:
    """Decode the fixed header and buffer lengths of an entry file."""
    data = path.read_bytes()
    fields = HEADER.unpack_from(data)
    header = dict(zip(NAMES, fields[:7], strict=True))
    n_buffers = fields[7]
    header["pickle_start"] = HEADER.size + header["meta_len"]
    header["pickle_end"] = header["pickle_start"] + header["pickle_len"]
    header["lengths"] = list(struct.unpack_from(f"<{n_buffers}Q", data, header["pickle_end"]))
    header["buffers_start"] = header["pickle_end"] + 8 * n_buffers
    return header


def write_entry(
    path: Path, stream: bytes, *, context_id: str = "foo", magic: bytes = b"CKPT", version: int = 3
) -> None:
    """Write an entry with valid digests by hand, to fake entries the cache would never write."""
    meta = b'{"function": "", "arguments": "", "context_id": "x"}'
    id_digest = xxhash.xxh3_128(b"s" + context_id.encode()).digest()
    payload = xxhash.xxh3_128(stream).digest()
    mac = bytes(32)  # unsigned
    fields = (magic, version, 0, 0.0, 0.0, len(meta), len(stream), 0, id_digest, payload, mac, 0)
    header = HEADER.pack(*fields)[:-8]
    digest = xxhash.xxh3_64(header + meta).intdigest()
    path.write_bytes(header + struct.pack("<Q", digest) + meta + stream)


def files(directory: Path) -> list[str]:
    """List the names in a directory, sorted, leaving out the cache's own bookkeeping.

    Files in the temp folder are listed (as ``.tmp/NAME``): one left there is a leftover.
    """
    own = {"CACHEDIR.TAG", ".usage", ".quarantine", ".tmp"}
    names = [name for name in os.listdir(directory) if name not in own]
    temps = directory / ".tmp"
    if temps.is_dir():
        names += [f".tmp/{name}" for name in os.listdir(temps)]
    return sorted(names)


def assert_one_corrupt_miss(cache: PickleFileCache, context_id: Any, path: Path) -> None:
    """Check that retrieving warns exactly once, naming the file, and then misses."""
    with pytest.warns(CorruptEntryWarning) as record, pytest.raises(CheckpointNotExist):
        cache.retrieve(context_id)
    assert len(record) == 1
    assert str(path) in str(record[0].message)
    assert record[0].filename == __file__  # attributed to the caller of retrieve()


def start_python(script: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``script`` in a fresh interpreter that imports this checkpointing package."""
    package_root = Path(checkpointing.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env)


def run_python(script: str, *args: str) -> None:
    """Run ``script`` in a fresh interpreter and check that it succeeds."""
    assert start_python(script, *args).wait(timeout=120) == 0


# -- file names and the directory ------------------------------------------------------


def test_string_id_is_the_file_name(tmp_path: Path) -> None:
    """The id "foo" is stored in foo.pickle, and nothing else is left in the directory."""
    cache = PickleFileCache(tmp_path)
    cache.save("foo", 0)
    assert files(tmp_path) == ["foo.pickle"]


def test_other_ids_are_hashed(tmp_path: Path) -> None:
    """Tuples and strings that are not file names are stored as id-<32 hex digits>.pickle."""
    cache = PickleFileCache(tmp_path)
    cache.save(("a", 1), 1)
    cache.save("a/b", 2)
    cache.save("id-" + "0" * 32, 3)
    names = files(tmp_path)
    assert len(names) == 3
    assert all(re.fullmatch(r"id-[0-9a-f]{32}\.pickle", name) for name in names)
    assert "id-" + "0" * 32 + ".pickle" not in names


def test_unpicklable_id_is_a_type_error(tmp_path: Path) -> None:
    """An id that is neither a file name nor picklable raises TypeError naming the problem."""
    cache = PickleFileCache(tmp_path)
    with pytest.raises(TypeError, match="cannot be pickled"):
        cache.save(threading.Lock(), 1)


def test_directory_is_created_lazily_with_parents(tmp_path: Path) -> None:
    """The directory and its parents appear on the first save, not at construction."""
    directory = tmp_path / "a" / "b" / "cache"
    cache = PickleFileCache(directory)
    assert not (tmp_path / "a").exists()
    with pytest.raises(CheckpointNotExist):
        cache.retrieve("foo")
    assert cache.entries() == []
    assert not (tmp_path / "a").exists()
    cache.save("foo", 1)
    assert files(directory) == ["foo.pickle"]


def test_relative_directory_is_resolved_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative directory is taken relative to the working directory at construction."""
    monkeypatch.chdir(tmp_path)
    cache = PickleFileCache("rel")
    assert cache.directory == tmp_path / "rel"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cache.save("foo", 1)
    assert (tmp_path / "rel" / "foo.pickle").is_file()
    assert files(elsewhere) == []


def test_default_directory_comes_from_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without arguments the directory is defaults' value, resolved against the cwd."""
    monkeypatch.chdir(tmp_path)
    assert PickleFileCache().directory == tmp_path / ".checkpointing"
    monkeypatch.setitem(defaults, "cache.filesystem.directory", "other")
    assert PickleFileCache().directory == tmp_path / "other"


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    """A directory path naming a file is a quiet miss on read and a StorageError on save."""
    path = tmp_path / "afile"
    path.write_text("")
    cache = PickleFileCache(path)  # no error at construction (or decoration)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointNotExist):
            cache.retrieve("foo")
    with pytest.raises(StorageError, match="exists and is not a directory") as caught:
        cache.save("foo", 1)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, OSError)
    assert path.read_text() == ""


def test_directory_that_cannot_be_created(tmp_path: Path) -> None:
    """When the directory cannot be created on save, StorageError names it and chains why."""
    (tmp_path / "afile").write_text("")
    directory = tmp_path / "afile" / "sub"
    cache = PickleFileCache(directory)
    with pytest.raises(StorageError) as caught:
        cache.save("foo", 1)
    assert str(directory) in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


@pytest.mark.parametrize("protocol", [-1, 6, "5", True, 5.0])
def test_bad_pickle_protocol(tmp_path: Path, protocol: Any) -> None:
    """A pickle protocol outside 0..HIGHEST_PROTOCOL raises ValueError naming the argument."""
    with pytest.raises(ValueError, match="pickle_protocol"):
        PickleFileCache(tmp_path, pickle_protocol=protocol)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_every_pickle_protocol_round_trips(tmp_path: Path, protocol: int) -> None:
    """Each supported protocol round-trips a large array; only 5 stores it out of band."""
    cache = PickleFileCache(tmp_path, pickle_protocol=protocol)
    array = np.arange(100_000, dtype=np.float64)
    cache.save("a", {"array": array})
    np.testing.assert_array_equal(cache.retrieve("a")["array"], array)
    assert bool(read_header(tmp_path / "a.pickle")["lengths"]) == (protocol == 5)


# -- writing: atomic, nothing left behind -----------------------------------------------


@pytest.mark.parametrize(
    "result",
    [lambda: 0, threading.Lock(), {"nested": [1, threading.Lock()]}],
    ids=["lambda", "lock", "nested-lock"],
)
def test_unpicklable_result(tmp_path: Path, result: Any) -> None:
    """An unpicklable result raises ResultNotPicklableError and leaves the old entry intact."""
    cache = PickleFileCache(tmp_path)
    cache.save("keep", "previous")
    with pytest.raises(ResultNotPicklableError, match=type(result).__name__) as caught:
        cache.save("keep", result)
    assert caught.value.__cause__ is not None
    assert isinstance(caught.value, TypeError)
    assert files(tmp_path) == ["keep.pickle"]
    assert cache.retrieve("keep") == "previous"
    with pytest.raises(ResultNotPicklableError):
        cache.save("new", result)
    assert files(tmp_path) == ["keep.pickle"]


def test_metadata_in_the_file(tmp_path: Path) -> None:
    """The header records format version, flags and run time; entries() reports file size."""
    cache = PickleFileCache(tmp_path)
    cache.save_entry("foo", [1], checkpointing.EntryInfo(None, "m.f", 0.0, 0, 2.5, "x=1", 0))
    header = read_header(tmp_path / "foo.pickle")
    assert (header["magic"], header["version"], header["run_time"]) == (b"CKPT", 3, 2.5)
    assert header["created"] > 0
    (entry,) = cache.entries()
    assert entry.size == (tmp_path / "foo.pickle").stat().st_size
    assert entry.format_version == 3
    meta = (tmp_path / "foo.pickle").read_bytes()[HEADER.size : header["pickle_start"]]
    assert b'"m.f"' in meta
    assert checkpointing.__version__.encode() in meta


# -- reading: corrupt entries are misses ------------------------------------------------


def truncate(path: Path) -> None:
    """Cut an entry file in half."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garble(path: Path) -> None:
    """Replace an entry file with bytes that are not an entry."""
    path.write_bytes(b"this is not a checkpointing entry at all" * 10)


def empty(path: Path) -> None:
    """Make an entry file zero bytes long, as a crash of a non-atomic writer would."""
    path.write_bytes(b"")


def extend(path: Path) -> None:
    """Append stray bytes to an entry file."""
    with path.open("ab") as file:
        file.write(b"tail")


def wrong_magic(path: Path) -> None:
    """Write a well-formed entry with another magic number."""
    write_entry(path, b"N.", magic=b"NOPE")


def future_version(path: Path) -> None:
    """Write an entry of a format version this library does not know."""
    write_entry(path, b"N.", version=4)


def missing_class(path: Path) -> None:
    """Write an entry whose pickle names a module that does not exist."""
    write_entry(path, b"cno_such_module_for_checkpointing\nThing\n)\x81.")


def garbled_pickle(path: Path) -> None:
    """Write an entry whose pickle stream is not a pickle."""
    write_entry(path, b"\xff\xfe not a pickle")


@pytest.mark.parametrize("damage", [truncate, extend])
@pytest.mark.parametrize("size", [10, 2_000_000], ids=["small", "large"])
def test_damaged_entry_is_quarantined(tmp_path: Path, damage: Any, size: int) -> None:
    """A damaged entry warns once, is moved to the quarantine, and the next save hits again."""
    cache = PickleFileCache(tmp_path)
    cache.save("foo", np.arange(size))
    path = tmp_path / "foo.pickle"
    damage(path)
    assert_one_corrupt_miss(cache, "foo", path)
    assert not path.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointNotExist):
            cache.retrieve("foo")
    (quarantined,) = cache.quarantined()
    assert quarantined.startswith("foo.")
    assert len(os.listdir(tmp_path / ".quarantine")) == 1
    assert cache.entries() == []
    cache.save("foo", "fresh")
    assert cache.retrieve("foo") == "fresh"
    assert cache.clear_quarantine() == 1
    assert cache.quarantined() == []


@pytest.mark.parametrize("damage", [garble, empty, wrong_magic, missing_class, garbled_pickle])
@pytest.mark.parametrize("size", [10, 2_000_000], ids=["small", "large"])
def test_unusable_entry_is_a_miss_then_replaced(tmp_path: Path, damage: Any, size: int) -> None:
    """A file that is not an entry, or one that cannot be unpickled here, warns and misses."""
    cache = PickleFileCache(tmp_path)
    cache.save("foo", np.arange(size))
    path = tmp_path / "foo.pickle"
    damage(path)
    assert_one_corrupt_miss(cache, "foo", path)
    assert_one_corrupt_miss(cache, "foo", path)
    # entries() reads headers and metadata only, so a bad payload alone still lists.
    payload_only = damage in (missing_class, garbled_pickle)
    assert len(cache.entries()) == (1 if payload_only else 0)
    assert cache.quarantined() == []
    cache.save("foo", "fresh")
    assert cache.retrieve("foo") == "fresh"


def test_entry_of_another_format_version_is_a_quiet_miss(tmp_path: Path) -> None:
    """An entry of another format version (older or newer) is a miss without a warning."""
    cache = PickleFileCache(tmp_path)
    cache.save("foo", 1)
    for version in (1, 2, 4):
        write_entry(tmp_path / "foo.pickle", pickle.dumps(2), version=version)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(CheckpointNotExist):
                cache.retrieve("foo")
        assert cache.entries() == []
    assert cache.clear() == 1  # still the cache's own file: clear removes it
    cache.save("foo", 3)
    assert cache.retrieve("foo") == 3


def test_entry_that_is_a_directory_is_a_miss(tmp_path: Path) -> None:
    """An entry path that is a directory warns once and misses instead of crashing."""
    cache = PickleFileCache(tmp_path)
    cache.save("other", 1)
    (tmp_path / "foo.pickle").mkdir()
    assert_one_corrupt_miss(cache, "foo", tmp_path / "foo.pickle")
    assert [entry.context_id for entry in cache.entries()] == ["other"]
    assert cache.clear() == 1
    assert (tmp_path / "foo.pickle").is_dir()


def test_entries_skip_corrupt_and_temporary_files(tmp_path: Path) -> None:
    """entries() lists good entries only; clear() leaves files that are not entries alone."""
    cache = PickleFileCache(tmp_path)
    cache.save_entry("good", 1, checkpointing.EntryInfo(None, "m.f", 0.0, 0, 1.0, "", 0))
    (tmp_path / "bad.pickle").write_bytes(b"garbage")
    (tmp_path / ".tmp-123-1-abcd").write_bytes(b"in progress")
    (tmp_path / "notes.txt").write_text("not an entry")
    assert [entry.context_id for entry in cache.entries()] == ["good"]
    assert cache.clear("m.f") == 1
    assert files(tmp_path) == [".tmp-123-1-abcd", "bad.pickle", "notes.txt"]
    # bad.pickle does not start like an entry, so it is not the cache's: it stays.
    assert cache.clear() == 0
    assert files(tmp_path) == [".tmp-123-1-abcd", "bad.pickle", "notes.txt"]


# -- large buffers out of band ---------------------------------------------------------


def test_large_array_is_stored_out_of_band(tmp_path: Path) -> None:
    """A 50 MB array is written raw after the pickle stream and loads back writeable."""
    cache = PickleFileCache(tmp_path)
    array = np.random.default_rng(0).random(50_000_000 // 8)
    cache.save("big", array)
    path = tmp_path / "big.pickle"
    header = read_header(path)
    assert header["lengths"] == [array.nbytes]
    start = -(-header["buffers_start"] // 64) * 64
    on_disk = np.fromfile(path, dtype=np.float64, offset=start)
    np.testing.assert_array_equal(on_disk, array)
    assert path.stat().st_size == start + array.nbytes
    loaded = cache.retrieve("big")
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable
    loaded[0] = -1.0


def test_small_buffers_stay_in_the_pickle_stream(tmp_path: Path) -> None:
    """A small array is pickled in band, so a small entry is one short stream."""
    cache = PickleFileCache(tmp_path)
    cache.save("small", np.arange(100))
    assert read_header(tmp_path / "small.pickle")["lengths"] == []


def test_several_buffers_are_aligned(tmp_path: Path) -> None:
    """Each large buffer of a value is written raw, starting at a multiple of 64 bytes."""
    cache = PickleFileCache(tmp_path)
    odd = np.arange(100_001, dtype=np.int8)
    frame = pd.DataFrame({"a": np.arange(100_000.0), "b": np.arange(100_000)})
    cache.save("many", {"odd": odd, "frame": frame})
    path = tmp_path / "many.pickle"
    header = read_header(path)
    assert header["lengths"] == [odd.nbytes, 800_000, 800_000]
    data = path.read_bytes()
    offset = header["buffers_start"]
    starts = []
    for length in header["lengths"]:
        offset = -(-offset // 64) * 64
        starts.append(offset)
        offset += length
    assert len(data) == offset
    assert data[starts[0] : starts[0] + odd.nbytes] == odd.tobytes()
    assert frame["a"].to_numpy().tobytes() in (data[start : start + 800_000] for start in starts)
    loaded = cache.retrieve("many")
    np.testing.assert_array_equal(loaded["odd"], odd)
    pd.testing.assert_frame_equal(loaded["frame"], frame)


def test_works_without_numpy(tmp_path: Path) -> None:
    """Out-of-band buffers load into bytearrays in a process where numpy cannot be imported."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["numpy"] = None  # any import of numpy now fails
        import pickle
        from checkpointing.cache.pickle_file import PickleFileCache
        cache = PickleFileCache(sys.argv[1])
        value = bytearray(range(256)) * 4096
        cache.save("raw", pickle.PickleBuffer(value))  # pickled out of band, like an array
        loaded = cache.retrieve("raw")
        assert loaded == value and type(loaded) is bytearray, "round trip failed"
        """
    )
    run_python(script, str(tmp_path))
    assert read_header(tmp_path / "raw.pickle")["lengths"] == [1024 * 1024]


# -- concurrency --------------------------------------------------------------------------


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from checkpointing.cache.pickle_file import PickleFileCache
    cache = PickleFileCache(sys.argv[1])
    seed = int(sys.argv[2])
    for i in range(300):
        n = 1000 + (i * 7919 + seed * 104729) % 60000  # in band and out of band by turns
        value = float(seed * 1000 + i)
        cache.save("shared", {"n": n, "value": value, "array": np.full(n, value)})
    """
)


@pytest.mark.slow
def test_concurrent_writers_never_expose_a_partial_entry(tmp_path: Path) -> None:
    """Two processes rewriting one entry never let a reader see a corrupt or mixed entry."""
    cache = PickleFileCache(tmp_path)
    writers = [start_python(WRITER, str(tmp_path), str(seed)) for seed in (1, 2)]
    hits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        while any(writer.poll() is None for writer in writers):
            try:
                entry = cache.retrieve("shared")
            except CheckpointNotExist:
                continue
            hits += 1
            assert entry["array"].shape == (entry["n"],)
            assert (entry["array"] == entry["value"]).all()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    assert hits > 0, hits
    assert files(tmp_path) == ["shared.pickle"]
    assert cache.retrieve("shared")["value"] % 1000 == 299


def test_datetime_columns_round_trip_out_of_band(tmp_path: Path) -> None:
    """A DataFrame with datetime and timedelta columns round-trips, their data out of band."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "t": pd.date_range("2020-01-01", periods=50_000, freq="s"),
            "d": pd.to_timedelta(np.arange(50_000), unit="ms"),
            "x": np.arange(50_000, dtype=np.float64),
        }
    )
    cache = PickleFileCache(tmp_path)
    cache.save("frame", frame)
    loaded = cache.retrieve("frame")
    pd.testing.assert_frame_equal(loaded, frame)
    data = (tmp_path / "frame.pickle").read_bytes()
    n_buffers = HEADER.unpack_from(data)[7]
    assert n_buffers >= 3  # the float column and both int64 views of the time columns
    raw = np.asarray(frame["t"]).view("i8").tobytes()
    assert raw in data  # stored as the raw buffer, not re-encoded in the stream
