"""API keys as EMBEDAPP_API_KEYS_FILE keeps them: a name, a SHA-256 digest (never the key),
scopes and collection-name prefixes. `embedapp keys` writes the file; the gateway reads it."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter


class Scope(StrEnum):
    """read: GET, search, embeddings. write: ingest and delete documents. admin: all that,
    and deleting collections."""

    read = "read"
    write = "write"
    admin = "admin"


class KeyEntry(BaseModel):
    """One key as EMBEDAPP_API_KEYS_FILE keeps it."""

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(default=[Scope.read, Scope.write], min_length=1)
    # Collection names this key reaches start with one of these; "" reaches every collection.
    prefixes: list[str] = Field(default=[""], min_length=1)


KEY_FILE = TypeAdapter(list[KeyEntry])


def digest(key: str | bytes) -> str:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


def new_key() -> str:
    """A fresh key: 256 random bits, prefixed so that secret scanners recognise it."""
    return "ea-" + secrets.token_urlsafe(32)


def read_key_file(path: Path) -> list[KeyEntry]:
    return KEY_FILE.validate_json(path.read_bytes()) if path.exists() else []


def write_key_file(path: Path, entries: list[KeyEntry]) -> None:
    """Replace the file atomically, owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    temporary.touch(mode=0o600)
    temporary.write_bytes(KEY_FILE.dump_json(entries, indent=2))
    temporary.replace(path)
