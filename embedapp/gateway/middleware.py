"""What every request passes through: the body size limit and API keys."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedapp.gateway.errors import error_response
from embedapp.gateway.keys import ANYONE, KeyRing, Principal
from embedapp.settings import Settings

PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"})


class BodyLimit:
    """413 for a body over the limit, whether it declares its length or streams."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"the body exceeds {self.max_bytes} bytes (EMBEDAPP_MAX_REQUEST_BYTES)",
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                return await self._refuse(scope, receive, send)
            return await self.app(scope, receive, send)  # the server enforces the length
        # A streamed body: read it (up to the limit) before the app sees any of it.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # later calls wait for the disconnect, as from the server
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class ApiKeys:
    """With keys configured, every route but the probes needs `Authorization: Bearer <key>`;
    the key's principal (its scopes and collections) goes to the routes in the scope's state."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.keys = KeyRing(settings)

    def _principal(self, scope: Scope) -> Principal | None:
        if not self.keys.enabled:
            return ANYONE
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        return self.keys.find(token.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        principal = self._principal(scope)
        if principal is not None or scope["path"] in PUBLIC_PATHS:
            scope.setdefault("state", {})["principal"] = principal or ANYONE
            return await self.app(scope, receive, send)
        response = error_response(
            401,
            "unauthorized",
            "missing or unknown API key: send Authorization: Bearer <key>",
            {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
