"""Dependency aliases for routes."""

from typing import Annotated

from fastapi import Depends, Path, Request

from embedapp.gateway.services import Services
from embedapp.settings import Settings


def get_services(request: Request) -> Services:
    """The services the lifespan created."""
    return request.state.services


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.state.services.settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CollectionName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Letters, digits, `_`, `-` and `.`; up to 128 characters.",
    ),
]
