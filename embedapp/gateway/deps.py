"""Dependency aliases for routes."""

from typing import Annotated

from fastapi import Depends, Path, Request

from embedapp.gateway.services import Services


def get_services(request: Request) -> Services:
    """The services the lifespan created."""
    return request.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
CollectionName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Letters, digits, `_`, `-` and `.`; up to 128 characters.",
    ),
]
