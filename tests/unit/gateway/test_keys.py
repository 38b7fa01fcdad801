"""Keys: digests only on disk, scopes and prefixes, the file reread when it changes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from embedapp.apikeys import KeyEntry, Scope, digest, new_key, read_key_file, write_key_file
from embedapp.gateway.keys import ANYONE, KeyRing, Principal
from embedapp.settings import Settings


def test_a_principal_sees_only_its_prefixes_and_has_only_its_scopes() -> None:
    team = Principal("team-a", frozenset({Scope.read}), ("team-a-",))
    assert team.sees("team-a-docs") and not team.sees("team-b-docs") and not team.sees("team-")
    assert not team.sees(None)  # work of no collection: full keys only
    assert team.may(Scope.read) and not team.may(Scope.write)
    admin = Principal("ops", frozenset({Scope.admin}), ("",))
    assert admin.may(Scope.write) and admin.sees("anything") and admin.sees(None)
    assert ANYONE.may(Scope.admin) and ANYONE.sees("x")


def test_the_key_file_holds_digests_owner_only_and_is_reread_on_change(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = new_key()
    write_key_file(path, [KeyEntry(name="a", sha256=digest(key), prefixes=["a-"])])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and key not in path.read_text()
    ring = KeyRing(Settings(_env_file=None, api_keys=["plain"], api_keys_file=path))
    assert ring.find(key.encode()) == Principal("a", frozenset({Scope.read, Scope.write}), ("a-",))
    assert ring.find(b"plain").may(Scope.admin)  # EMBEDAPP_API_KEYS: full access
    assert ring.find(b"wrong") is None
    write_key_file(path, [])
    os.utime(path, ns=(1, 1))  # a change the clock's resolution might hide
    assert ring.find(key.encode()) is None
    assert read_key_file(path) == []


def test_no_keys_anywhere_means_no_auth(tmp_path: Path) -> None:
    assert not KeyRing(Settings(_env_file=None)).enabled
    # A configured file, even missing or empty, closes the gateway.
    assert KeyRing(Settings(_env_file=None, api_keys_file=tmp_path / "none.json")).enabled
