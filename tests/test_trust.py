"""Trusting what is stored: signatures, own files only, leftovers, honest errors, usage."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import checkpointing
from checkpointing import PickleFileCache, checkpoint
from checkpointing.config import defaults
from checkpointing.exceptions import (
    CheckpointFailure,
    CheckpointingWarning,
    CheckpointNotExist,
    CorruptEntryWarning,
    StorageError,
)
from checkpointing.store._files import _OWNER, TEMP_PREFIX


def quiet_miss(cache: PickleFileCache, context_id: Any) -> None:
    """Check that retrieving misses without any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointNotExist):
            cache.retrieve(context_id)


def one_warning_miss(cache: PickleFileCache, context_id: Any, match: str) -> None:
    """Check that retrieving warns once (matching ``match``) and misses."""
    with (
        pytest.warns(CorruptEntryWarning, match=match) as record,
        pytest.raises(CheckpointNotExist),
    ):
        cache.retrieve(context_id)
    assert len(record) == 1


# -- signed entries ----------------------------------------------------------------------


def test_signed_cache_round_trips_and_refuses_unsigned_entries(tmp_path: Path) -> None:
    """A cache with a secret reads its own entries and refuses (and quarantines) unsigned ones."""
    signed = PickleFileCache(tmp_path, secret="team secret")
    signed.save("mine", [1, 2])
    assert signed.retrieve("mine") == [1, 2]
    PickleFileCache(tmp_path).save("planted", "unsigned")
    one_warning_miss(signed, "planted", "not signed")
    assert len(signed.quarantined()) == 1
    quiet_miss(signed, "planted")


def test_signed_cache_refuses_another_key(tmp_path: Path) -> None:
    """An entry signed with another secret is refused; the right secret still reads it."""
    PickleFileCache(tmp_path, secret=b"key one").save("x", 1)
    one_warning_miss(PickleFileCache(tmp_path, secret="key two"), "x", "signature")
    PickleFileCache(tmp_path, secret=b"key one").save("y", 2)
    assert PickleFileCache(tmp_path, secret="key one").retrieve("y") == 2


def test_unsigned_cache_reads_signed_entries(tmp_path: Path) -> None:
    """A cache without a secret still reads signed entries (it checks their digests only)."""
    PickleFileCache(tmp_path, secret="s").save("x", {"a": 1})
    assert PickleFileCache(tmp_path).retrieve("x") == {"a": 1}


def test_secret_from_setting_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secret comes from defaults["cache.secret"], else from CHECKPOINTING_SECRET."""
    monkeypatch.setenv("CHECKPOINTING_SECRET", "from-env")
    PickleFileCache(tmp_path).save("env", 1)
    assert PickleFileCache(tmp_path, secret="from-env").retrieve("env") == 1
    monkeypatch.setitem(defaults, "cache.secret", "from-setting")
    PickleFileCache(tmp_path).save("setting", 2)
    assert PickleFileCache(tmp_path, secret="from-setting").retrieve("setting") == 2
    one_warning_miss(PickleFileCache(tmp_path, secret="from-setting"), "env", "signature")


def test_secret_of_a_wrong_type(tmp_path: Path) -> None:
    """A secret that is neither str nor bytes is a TypeError naming the argument."""
    with pytest.raises(TypeError, match="secret"):
        PickleFileCache(tmp_path, secret=12)  # type: ignore[arg-type]


class Planted:
    """An id whose unpickling would create a directory: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


def test_listing_and_clearing_never_unpickle(tmp_path: Path) -> None:
    """entries() and clear(function) read JSON only: a planted pickle never runs."""
    cache = PickleFileCache(tmp_path / "cache")
    cache.save(Planted(tmp_path / "ran-id"), 1)
    cache.save_entry("r", Planted(tmp_path / "ran-result"), checkpointing.EntryInfo(
        None, "m.f", 0.0, 0, 1.0, "", 0))  # fmt: skip
    (listed,) = [e for e in cache.entries() if e.function == ""]
    assert "Planted" in str(listed.context_id)  # shown by its repr, not rebuilt
    assert cache.delete(listed.context_id) is True  # and found again by its key
    assert len(cache.entries()) == 1
    assert cache.clear(function="m.g") == 0
    assert cache.clear(function="m.f") == 1
    assert not (tmp_path / "ran-id").exists()
    assert not (tmp_path / "ran-result").exists()


# -- own files only --------------------------------------------------------------------------


def test_directory_with_foreign_files_is_refused(tmp_path: Path) -> None:
    """A directory holding other files is refused, naming it and the marker that allows it."""
    (tmp_path / "notes.txt").write_text("mine")
    cache = PickleFileCache(tmp_path)
    quiet_miss(cache, "x")
    with pytest.raises(StorageError, match=r"CACHEDIR\.TAG") as caught:
        cache.save("x", 1)
    assert str(tmp_path) in str(caught.value)
    (tmp_path / f".tmp-{dead_pid()}-0123456789abcdef").write_text("looks like a temp file")
    assert cache.entries() == []
    assert cache.clear() == 0
    assert len(os.listdir(tmp_path)) == 2  # notes.txt and the look-alike, both untouched


def test_marker_allows_a_directory_with_foreign_files(tmp_path: Path) -> None:
    """With CACHEDIR.TAG the directory is used, and clear() removes entries only."""
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data.pickle").write_bytes(b"\x80\x05K\x01.")
    (tmp_path / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    cache = PickleFileCache(tmp_path)
    cache.save("x", 1)
    assert cache.retrieve("x") == 1
    assert [e.context_id for e in cache.entries()] == ["x"]
    assert cache.clear() == 1
    left = sorted(name for name in os.listdir(tmp_path) if name != ".usage")
    assert left == ["CACHEDIR.TAG", "data.pickle", "notes.txt"]


def test_cache_directory_of_an_earlier_version_is_adopted(tmp_path: Path) -> None:
    """A directory of format-1 entries (no marker) is still the cache's: used, then cleared."""
    old_entry = b"CKPT" + (1).to_bytes(2, "little") + bytes(60)
    (tmp_path / "Train.pickle").write_bytes(old_entry)
    (tmp_path / "model.pickle").write_bytes(old_entry)
    (tmp_path / ".tmp-123-abcd").write_bytes(b"partial")
    cache = PickleFileCache(tmp_path)
    quiet_miss(cache, "model")
    cache.save("x", 1)
    assert cache.retrieve("x") == 1
    assert (tmp_path / "CACHEDIR.TAG").is_file()
    assert cache.clear() == 2  # x and the old entry with a lowercase name
    assert (tmp_path / "Train.pickle").exists()  # not a valid key now: left alone


def test_new_directory_gets_a_marker(tmp_path: Path) -> None:
    """A directory the cache creates is tagged as a cache directory (backup tools skip it)."""
    PickleFileCache(tmp_path / "new").save("x", 1)
    tag = (tmp_path / "new" / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    """A link at an entry name is not read, listed, cleared or replaced; its target is intact."""
    cache = PickleFileCache(tmp_path / "cache")
    cache.save("real", 1)
    target = tmp_path / "target.pickle"
    PickleFileCache(tmp_path / "other").save("t", "target")
    target.write_bytes((tmp_path / "other" / "t.pickle").read_bytes())
    (tmp_path / "cache" / "link.pickle").symlink_to(target)
    one_warning_miss(cache, "link", "symbolic link")
    assert [e.context_id for e in cache.entries()] == ["real"]
    assert cache.clear() == 1
    with pytest.raises(StorageError, match="not a regular file"):
        cache.save("link", 2)
    assert (tmp_path / "cache" / "link.pickle").is_symlink()
    assert PickleFileCache(tmp_path / "other").retrieve("t") == "target"
    assert target.read_bytes() == (tmp_path / "other" / "t.pickle").read_bytes()


# -- leftovers ------------------------------------------------------------------------------


def dead_pid() -> int:
    """Return the id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temp_files_of_dead_writers_are_reclaimed(tmp_path: Path) -> None:
    """The next save or clear removes temp files of dead local writers, and only those."""
    cache = PickleFileCache(tmp_path)
    cache.save("x", 1)
    temps = tmp_path / ".tmp"
    dead = temps / f"{TEMP_PREFIX}{_OWNER}-{dead_pid()}-abc"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = temps / f"{TEMP_PREFIX}{_OWNER}-{sleeper.pid}-abc"
        remote = temps / f"{TEMP_PREFIX}0000beef-{os.getpid()}-abc"
        # format 1 named its temp files so, beside the entries: reclaimed by clear()
        legacy = tmp_path / f"{TEMP_PREFIX}{dead_pid()}-0123456789abcdef"
        for path in (dead, alive, remote, legacy):
            path.write_bytes(b"x" * 1000)
        cache.save("y", 2)
        assert not dead.exists()
        assert alive.exists()
        assert remote.exists()
        old = time.time() - 2 * 24 * 3600
        os.utime(remote, (old, old))
        dead.write_bytes(b"again")
        os.rename(dead, temps / f"{TEMP_PREFIX}{_OWNER}-{dead_pid()}-def")
        assert cache.clear() == 2
        assert not legacy.exists()
        assert sorted(p.name for p in temps.glob(f"{TEMP_PREFIX}*")) == [alive.name]
        assert list(tmp_path.glob(f"{TEMP_PREFIX}*")) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_save_does_not_scan_the_entries_for_leftovers(tmp_path: Path) -> None:
    """Temp files live in their own folder: a save reads it, not the directory of entries."""
    cache = PickleFileCache(tmp_path)
    cache.save("x", 1)
    (tmp_path / ".tmp").rmdir()  # empty between writes; a save re-creates it
    cache.save("y", 2)
    assert cache.retrieve("y") == 2
    assert [p.name for p in (tmp_path / ".tmp").iterdir()] == []


# -- errors that say the truth ---------------------------------------------------------------


def test_file_at_the_directory_path_warns_once_per_call(tmp_path: Path) -> None:
    """A file where the directory should be: no error at decoration, one warning per call."""
    path = tmp_path / "afile"
    path.write_text("")

    @checkpoint(directory=path)
    def double(x: int) -> int:
        return 2 * x

    for _ in range(2):
        with pytest.warns(CheckpointingWarning) as record:
            assert double(2) == 4
        assert len(record) == 1
        message = str(record[0].message)
        assert str(path) in message
        assert "not a directory" in message
        assert record[0].filename == __file__

    @checkpoint(directory=path, on_error="raise")
    def triple(x: int) -> int:
        return 3 * x

    with pytest.raises(CheckpointFailure, match="not a directory"):
        triple(1)


def test_directory_under_a_file_names_the_cause(tmp_path: Path) -> None:
    """A directory that cannot be created warns once per call naming it and the cause."""
    (tmp_path / "afile").write_text("")
    directory = tmp_path / "afile" / "cache"

    @checkpoint(directory=directory)
    def one() -> int:
        return 1

    with pytest.warns(CheckpointingWarning) as record:
        assert one() == 1
    assert len(record) == 1
    assert str(directory) in str(record[0].message)
    assert "Not a directory" in str(record[0].message)


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory starting with ~ is taken in the user's home directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = PickleFileCache("~/results")
    assert cache.directory == tmp_path / "results"
    cache.save("x", 1)
    assert (tmp_path / "results" / "x.pickle").is_file()


# -- usage --------------------------------------------------------------------------------------


def test_hits_and_last_use_are_shared_between_processes(tmp_path: Path) -> None:
    """Hits counted in another process show in entries(), with the time of the last one."""
    cache = PickleFileCache(tmp_path)
    cache.save("x", 1)
    before = time.time()
    script = textwrap.dedent(
        """
        import sys
        from checkpointing import PickleFileCache
        cache = PickleFileCache(sys.argv[1])
        for _ in range(5):
            cache.retrieve("x")
        """
    )
    package_root = Path(checkpointing.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env)
    cache.retrieve("x")
    (entry,) = cache.entries()
    assert entry.hits == 6
    assert before - 1 <= entry.last_used <= time.time() + 1
    cache.save("x", 2)  # a new result starts a new count
    (entry,) = cache.entries()
    assert entry.hits == 0


def test_fsync_option_round_trips(tmp_path: Path) -> None:
    """With fsync=True entries are written the same way and read back."""
    cache = PickleFileCache(tmp_path, fsync=True)
    cache.save("x", list(range(10)))
    assert cache.retrieve("x") == list(range(10))
