"""Dependency aliases for routes: the services, the caller, and the collections they reach."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request

from embedapp.apikeys import Scope
from embedapp.errors import ForbiddenError, NotFoundError
from embedapp.gateway.keys import Principal
from embedapp.gateway.services import Services


def get_services(request: Request) -> Services:
    """The services the lifespan created."""
    return request.state.services


def get_principal(request: Request) -> Principal:
    """Who is calling (the ApiKeys middleware put it there)."""
    return request.state.principal


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
CollectionPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Letters, digits, `_`, `-` and `.`; up to 128 characters.",
    ),
]


def require(principal: Principal, *scopes: Scope) -> None:
    """403 unless the key has one of the scopes."""
    if not any(principal.may(scope) for scope in scopes):
        needed = " or ".join(scopes)
        raise ForbiddenError(f"this API key ({principal.name}) lacks the {needed} scope")


def needs(scope: Scope) -> Callable[[Principal], None]:
    """A route dependency: the caller's key has `scope`."""

    def check(principal: PrincipalDep) -> None:
        require(principal, scope)

    return check


def _collection(scope: Scope) -> Callable[[str, Principal], str]:
    def check(collection: CollectionPath, principal: PrincipalDep) -> str:
        # A collection outside the key's prefixes does not exist for it: 404 before 403, so
        # that no answer tells a name apart.
        if not principal.sees(collection):
            raise NotFoundError(f"no collection {collection!r}")
        require(principal, scope)
        return collection

    return check


ReadCollection = Annotated[str, Depends(_collection(Scope.read))]
WriteCollection = Annotated[str, Depends(_collection(Scope.write))]
AdminCollection = Annotated[str, Depends(_collection(Scope.admin))]
