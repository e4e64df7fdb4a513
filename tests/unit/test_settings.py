"""Settings are checked when set, by one rule per setting, wherever the value comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkpointing import (
    CacheBase,
    CheckpointNotExist,
    DecoratorCheckpoint,
    MemoryCache,
    PickleFileCache,
    checkpoint,
    defaults,
)
from checkpointing.backend import SaveRetrieveCache, resolve_cache
from checkpointing.config import validate


@pytest.fixture(autouse=True)
def fresh_settings() -> Any:
    """Restore every setting after each test."""
    defaults.reset()
    yield
    defaults.reset()


@pytest.mark.parametrize(
    ("setting", "bad"),
    [
        ("checkpoint.on_error", "loudly"),
        ("cache.pickle_protocol", 99),
        ("cache.pickle_protocol", True),
        ("hash.pickle_protocol", 1),
        ("hash.algorithm", "md55"),
        ("hash.algorithm", 5),
        ("cache.filesystem.directory", ""),
        ("cache.filesystem.directory", 3),
        ("cache.backend", "carrier-pigeon"),
        ("cache.max_size", "5 parsecs"),
        ("cache.secret", 42),
    ],
)
def test_bad_value_fails_at_assignment_naming_the_setting(setting: str, bad: object) -> None:
    """A bad value raises when assigned, the message names the setting, nothing changes."""
    before = defaults[setting]
    with pytest.raises((ValueError, TypeError), match=setting.replace(".", r"\.")):
        defaults[setting] = bad
    assert defaults[setting] == before


def test_update_goes_through_the_same_check() -> None:
    """``defaults.update`` checks each value like an assignment does."""
    with pytest.raises(ValueError, match=r"checkpoint\.on_error"):
        defaults.update({"checkpoint.on_error": "never"})


@pytest.mark.parametrize(
    ("setting", "good"),
    [
        ("checkpoint.on_error", "raise"),
        ("cache.pickle_protocol", 4),
        ("hash.algorithm", "sha256"),
        ("cache.filesystem.directory", Path("elsewhere")),
        ("cache.backend", "memory"),
        ("cache.backend", "redis://localhost:6379/0"),
        ("cache.max_size", "5GB"),
    ],
)
def test_good_values_are_kept(setting: str, good: object) -> None:
    """Valid values are stored as given."""
    defaults[setting] = good
    assert defaults[setting] == good


def test_arguments_follow_the_settings_rule(tmp_path: Path) -> None:
    """Arguments taking a setting's value are checked by the same rule, named as given."""
    with pytest.raises(ValueError, match="cache_pickle_protocol must be an int from 0"):
        checkpoint(tmp_path, cache_pickle_protocol=9)
    with pytest.raises(ValueError, match="on_error must be one of"):
        checkpoint(on_error="often")
    assert validate("checkpoint.on_error", "ignore") == "ignore"


def test_backend_setting_memory_is_used_by_checkpoint(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    """``cache.backend = "memory"``: ``@checkpoint()`` stores in the process's memory cache."""
    monkeypatch.chdir(tmp_path)
    defaults["cache.backend"] = "memory"

    @checkpoint()
    def f(x: int) -> int:
        print("Running", x)
        return x * 2

    assert (f(2), f(2)) == (4, 4)
    assert capsys.readouterr().out == "Running 2\n"
    assert isinstance(f.cache, MemoryCache)
    assert f.cache is resolve_cache("memory")
    assert not (tmp_path / ".checkpointing").exists()


def test_backend_setting_file_uses_the_directory_setting(tmp_path: Path) -> None:
    """The default backend is a file cache in ``cache.filesystem.directory``."""
    defaults["cache.filesystem.directory"] = str(tmp_path / "here")
    cache = resolve_cache(None)
    assert isinstance(cache, PickleFileCache)
    assert Path(cache.directory) == tmp_path / "here"


def test_unknown_url_scheme_is_refused() -> None:
    """A URL no backend handles is a clear ValueError naming the scheme."""
    with pytest.raises(ValueError, match="nosuch"):
        resolve_cache("nosuch://host/path")


class SeedCache:
    """A seed-era cache: only save and retrieve, no CacheBase."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}

    def save(self, context_id: Any, result: Any) -> None:
        self.data[context_id] = result

    def retrieve(self, context_id: Any) -> Any:
        try:
            return self.data[context_id]
        except KeyError:
            raise CheckpointNotExist(context_id) from None


def test_save_retrieve_objects_are_adapted_once(capsys: Any) -> None:
    """An object with only save/retrieve works as a cache; it is wrapped at decoration."""
    seed = SeedCache()
    decorator = checkpoint(cache=seed)
    assert isinstance(decorator, DecoratorCheckpoint)
    assert isinstance(decorator.store, SaveRetrieveCache)
    assert decorator.store.inner is seed

    @decorator
    def f(x: int) -> int:
        print("Running", x)
        return x + 1

    assert (f(1), f(1)) == (2, 2)
    assert capsys.readouterr().out == "Running 1\n"
    assert list(seed.data.values()) == [2]
    assert f.cache is seed  # the user's object, as given


def test_objects_without_save_or_retrieve_are_refused() -> None:
    """Neither a cache nor a seed-style object: TypeError naming what is missing."""
    with pytest.raises(TypeError, match=r"lacks save\(\) and retrieve\(\)"):
        checkpoint(cache=object())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="did you mean MemoryCache"):
        checkpoint(cache=MemoryCache)  # type: ignore[call-overload]


def test_cache_base_instances_are_used_as_they_are() -> None:
    """A CacheBase is not wrapped."""
    cache = MemoryCache()
    assert resolve_cache(cache) is cache
    assert isinstance(resolve_cache(cache), CacheBase)
