"""What every command does first: read the settings and check the services, or say why not."""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperArgument, TyperCommand

from embedapp.cli.preflight import problems
from embedapp.settings import Settings, get_settings

console = Console(stderr=True)
# How embedapp runs Celery's own commands (workers, Flower) as child processes.
CELERY = [sys.executable, "-m", "celery", "-A", "embedapp"]


def load_settings() -> Settings:
    """The settings, or a message per bad EMBEDAPP_ variable and exit code 2 (no traceback)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = f"EMBEDAPP_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
            console.print(f"[red]error:[/] {name}: {error['msg']}", soft_wrap=True)
        raise typer.Exit(code=2) from None


def settings_or_exit(*, queues: bool = True) -> Settings:
    """The settings, after checking RabbitMQ and Redis answer: a clear message, no traceback."""
    settings = load_settings()
    found = problems(settings, queues=queues)
    for problem in found:
        console.print(f"[red]error:[/] {problem}", soft_wrap=True)
    if found:
        raise typer.Exit(code=2)
    return settings


class _NamedArgument(TyperArgument):
    """An argument shown by its name alone (`FILE`, `[TASK_ID]...`), as click shows it: typer
    adds its Python type (`FILE <file>`) and braces a required one in the usage (`{FILE}`)."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        name = self.make_metavar(ctx) if self.metavar is None else self.metavar
        shown = name if self.required else f"[{name}]"
        return [f"{shown}..." if self.nargs != 1 else shown]


class Command(TyperCommand):
    """The class of every command that takes arguments (typer takes no argument class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _NamedArgument
