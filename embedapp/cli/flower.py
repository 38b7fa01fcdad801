"""Flower, closed by default: basic auth always (the operator's, or one made on first start
and kept owner-only in the data dir). With basic auth Flower sends no CORS headers and refuses
cross-site requests, so neither another user of the host nor a web page in the operator's
browser can run, revoke or terminate tasks or shut workers down."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from embedapp.cli.support import CELERY
from embedapp.settings import Settings
from embedapp.supervise import Child

CREDENTIALS_FILE = "flower-credentials"
USER = "embedapp"


def credentials(settings: Settings) -> tuple[str, Path | None]:
    """`user:password` for Flower, and the file it is kept in (None: EMBEDAPP_FLOWER_BASIC_AUTH)."""
    if settings.flower_basic_auth:
        return settings.flower_basic_auth.get_secret_value(), None
    path = settings.data_dir / CREDENTIALS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # created owner-only, never a moment readable by others
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), path
    made = f"{USER}:{secrets.token_urlsafe(24)}"
    with os.fdopen(fd, "w") as file:
        file.write(made + "\n")
    return made, path


def where(settings: Settings) -> str:
    """How to log in, for the console: the user and where the password is, never the password."""
    auth, path = credentials(settings)
    user = auth.partition(":")[0]
    if path is None:
        return f"user {user} (EMBEDAPP_FLOWER_BASIC_AUTH)"
    return f"user {user}, password in {path}"


def flower_child(settings: Settings, *, address: str, port: int) -> Child:
    """Flower, with the management API for its Broker page (queue depths)."""
    # Secrets through the environment, not argv, where `ps` would show them.
    env = {
        "FLOWER_BROKER_API": settings.management_api_url,
        "FLOWER_BASIC_AUTH": credentials(settings)[0],
    }
    return Child("flower", [*CELERY, "flower", f"--port={port}", f"--address={address}"], env=env)
