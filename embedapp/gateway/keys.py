"""Who a request's API key says the caller is: scopes (read, write, admin) and collection-name
prefixes.

Keys come from EMBEDAPP_API_KEYS (each one full access) and from EMBEDAPP_API_KEYS_FILE, which
holds only SHA-256 digests (`embedapp keys add` writes it). The file is read again whenever
it changes, so a new key works without a restart."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from embedapp.apikeys import KeyEntry, Scope, digest, read_key_file
from embedapp.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who is calling, as far as their key tells."""

    name: str
    scopes: frozenset[Scope]
    prefixes: tuple[str, ...]

    def may(self, scope: Scope) -> bool:
        return Scope.admin in self.scopes or scope in self.scopes

    @property
    def sees_all(self) -> bool:
        """Whether this key reaches every collection (and work of none)."""
        return "" in self.prefixes

    def sees(self, collection: str | None) -> bool:
        """Whether this key reaches the collection (None: work of no collection: full keys)."""
        if collection is None:
            return self.sees_all
        return collection.startswith(self.prefixes)

    @classmethod
    def of(cls, entry: KeyEntry) -> Principal:
        return cls(entry.name, frozenset(entry.scopes), tuple(entry.prefixes))


# No keys configured: every caller may do everything (the README says so).
ANYONE = Principal("anyone", frozenset(Scope), ("",))


class KeyRing:
    """The keys a gateway accepts."""

    def __init__(self, settings: Settings) -> None:
        full = [Scope.admin]
        self._plain = [
            KeyEntry(name=f"key {i + 1}", sha256=digest(key.get_secret_value()), scopes=full)
            for i, key in enumerate(settings.api_keys)
        ]
        self._file = settings.api_keys_file
        self._seen = -1  # the file's mtime when last read; 0: absent
        self._entries: list[KeyEntry] = []
        self._reload()

    @property
    def enabled(self) -> bool:
        return bool(self._file or self._plain)

    def _reload(self) -> None:
        if self._file is None:
            self._entries = self._plain
            return
        changed = self._file.stat().st_mtime_ns if self._file.exists() else 0
        if changed != self._seen:
            self._entries = self._plain + read_key_file(self._file)
            self._seen = changed

    def find(self, token: bytes) -> Principal | None:
        """The key's principal; compared with every digest in constant time (no early exit)."""
        self._reload()
        wanted = digest(token)
        found = None
        for entry in self._entries:
            if secrets.compare_digest(wanted, entry.sha256):
                found = entry
        return Principal.of(found) if found else None
