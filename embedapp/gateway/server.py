"""How the gateway is served: uvicorn, guarded against slow and greedy clients.

uvicorn times out idle keep-alive connections but not a connection that never finishes its
request headers (slowloris): each such socket would hold a file descriptor for good. The
protocol below closes a connection whose headers are not complete in time; uvicorn's
`limit_concurrency` answers 503 past a bound on connections, and the file-descriptor limit is
raised to what the system allows."""

from __future__ import annotations

import asyncio
import logging
import resource

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from embedapp.settings import Settings, get_settings

log = logging.getLogger(__name__)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """httptools' protocol, closing connections that do not send complete headers in time."""

    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            timeout = get_settings().header_timeout_s
            self._header_timer = self.loop.call_later(timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the gateway app until interrupted."""
    _raise_file_limit()
    uvicorn.run(
        "embedapp.gateway.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        http=HeaderTimeoutProtocol,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
    )
