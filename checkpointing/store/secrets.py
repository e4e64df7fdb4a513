"""Keep credentials out of everything a cache shows: repr, labels, errors, warnings.

Stores take credentials from URLs (``redis://:password@host``), options (``secret=``,
``password=``, ``token=``...) and the environment (``AWS_SECRET_ACCESS_KEY``...). A
:class:`Scrubber` remembers every such value a store was given and replaces it by
``***`` in any text the store puts into a message; URLs lose their user information.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["Scrubber", "strip_userinfo"]

# Option names whose values are secrets, matched as substrings of the lower-cased name.
_SECRET_WORDS = ("secret", "password", "token", "credential", "key", "sas", "auth")
# Environment variables that hold secrets of the engines we use.
_SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_SAS_TOKEN",
    "REDIS_PASSWORD",
)
_MASK = "***"


def strip_userinfo(url: str) -> str:
    """Return ``url`` without the user name and password of its network location."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _secret_values(options: Mapping[str, Any]) -> Iterable[str]:
    """Yield the values of secret-looking options, looking into nested mappings."""
    for name, value in options.items():
        if isinstance(value, Mapping):
            yield from _secret_values(value)
        elif isinstance(value, str) and any(w in str(name).lower() for w in _SECRET_WORDS):
            yield value


class Scrubber:
    """Replace known secret values by ``***`` in text, and strip credentials from URLs."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole; short values
        # (a one-letter user name) would mask ordinary text, so they are left alone.
        unique = {s for s in secrets if len(s) >= 4}
        self._secrets = sorted(unique, key=len, reverse=True)

    @classmethod
    def of_options(cls, options: Mapping[str, Any], url: str = "") -> Scrubber:
        """Collect the secrets of ``options``, of the URL's user information and of the env."""
        secrets = list(_secret_values(options))
        parts = urlsplit(url)
        if parts.password:
            secrets += [parts.password, unquote(parts.password)]
        if parts.username:
            secrets += [parts.username, unquote(parts.username)]
        secrets += [os.environ[v] for v in _SECRET_VARIABLES if os.environ.get(v)]
        return cls(secrets)

    def text(self, text: str) -> str:
        """Return ``text`` with every known secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def url(self, url: str) -> str:
        """Return ``url`` without user information and with known secrets masked."""
        return self.text(strip_userinfo(str(url)))
