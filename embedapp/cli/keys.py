"""`embedapp keys …`: API keys with scopes and collection prefixes, in EMBEDAPP_API_KEYS_FILE."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from embedapp.apikeys import KeyEntry, Scope, digest, new_key, read_key_file, write_key_file
from embedapp.cli.support import Command, console, load_settings

keys_app = typer.Typer(
    rich_markup_mode=None,
    help="API keys with scopes and collection prefixes (EMBEDAPP_API_KEYS_FILE).",
    no_args_is_help=True,
)


def _key_file() -> Path:
    path = load_settings().api_keys_file
    if path is None:
        console.print("[red]error:[/] set EMBEDAPP_API_KEYS_FILE to the file that holds the keys")
        raise typer.Exit(code=2)
    return path


@keys_app.command("add", cls=Command)
def add(
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. team-a.", metavar="NAME")],
    scope: Annotated[
        list[Scope] | None,
        typer.Option(
            help="read, write or admin; repeat for several. Default: read and write.",
            metavar="SCOPE",
        ),
    ] = None,
    prefix: Annotated[
        list[str] | None,
        typer.Option(
            help="Collections whose names start with this; repeat. Default: all.", metavar="PREFIX"
        ),
    ] = None,
) -> None:
    """Make a key and print it once; only its SHA-256 digest is kept. The gateway picks it
    up without a restart."""
    path = _key_file()
    entries = read_key_file(path)
    if any(entry.name == name for entry in entries):
        console.print(f"[red]error:[/] a key named {name!r} exists; remove it first")
        raise typer.Exit(code=2)
    key = new_key()
    entry = KeyEntry(name=name, sha256=digest(key), scopes=scope or [Scope.read, Scope.write])
    if prefix:
        entry.prefixes = prefix
    write_key_file(path, [*entries, entry])
    console.print(
        f"key {name!r} ({', '.join(entry.scopes)}; collections "
        f"{', '.join(repr(p + '…') for p in entry.prefixes)}) added to {path}. "
        "It is shown once, below:",
        soft_wrap=True,
    )
    print(key)  # alone on stdout, for `KEY=$(embedapp keys add …)`


@keys_app.command("list")
def list_keys() -> None:
    """The keys' names, scopes and prefixes (never the keys)."""
    table = Table()
    for column in ("name", "scopes", "collection prefixes"):
        table.add_column(column)
    for entry in read_key_file(_key_file()):
        table.add_row(entry.name, ", ".join(entry.scopes), ", ".join(entry.prefixes) or "(all)")
    console.print(table)


@keys_app.command("remove", cls=Command)
def remove(name: Annotated[str, typer.Argument(help="The key's name.", metavar="NAME")]) -> None:
    """Revoke a key: the gateway refuses it from its next request."""
    path = _key_file()
    entries = read_key_file(path)
    kept = [entry for entry in entries if entry.name != name]
    if len(kept) == len(entries):
        console.print(f"[red]error:[/] no key named {name!r} in {path}")
        raise typer.Exit(code=1)
    write_key_file(path, kept)
    console.print(f"removed key {name!r}")
