"""Flower's credentials: the operator's, or made once, owner-only, and never printed."""

from __future__ import annotations

import stat
from pathlib import Path

from embedapp.cli.flower import CREDENTIALS_FILE, credentials, flower_child, where
from embedapp.settings import Settings


def test_credentials_are_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    made, path = credentials(settings)
    assert path == tmp_path / "data" / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user, _, password = made.partition(":")
    assert user == "embedapp" and len(password) >= 32
    assert credentials(settings) == (made, path)  # the same on every start
    assert password not in where(settings) and str(path) in where(settings)


def test_flower_never_runs_without_auth_and_keeps_secrets_out_of_argv(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, flower_basic_auth="ops:s3cret")
    child = flower_child(settings, address="0.0.0.0", port=5555)
    assert child.env["FLOWER_BASIC_AUTH"] == "ops:s3cret"
    assert "FLOWER_UNAUTHENTICATED_API" not in child.env
    assert not any("s3cret" in arg or "guest" in arg for arg in child.argv)
    assert not (tmp_path / CREDENTIALS_FILE).exists()
