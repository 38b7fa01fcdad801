"""The peers `embedapp bench` starts, and the callers it points at them and at embedapp."""

from __future__ import annotations

import asyncio
import sys

import pytest
from aiohttp import web

from embedapp.bench import peers
from embedapp.bench.targets import callers


def test_a_python_without_infinity_is_named_with_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"infinity-emb does not import.*infinity-venv\.sh"):
        peers.infinity_version(sys.executable)


def test_a_server_that_exits_before_serving_is_an_error_at_once() -> None:
    argv = [sys.executable, "-c", "raise SystemExit(3)"]
    url = "http://127.0.0.1:9"
    server = peers._server("the peer", argv, {}, url, lambda: peers.httpx.get(url))
    with pytest.raises(RuntimeError, match="the peer exited with 3 before it served"), server:
        pass


@pytest.mark.parametrize(
    ("path", "per_call"), [("/embeddings", 32), ("/embeddings", 1), ("/embed", 1)]
)
def test_callers_send_every_text_once_in_lists_of_per_call(path: str, per_call: int) -> None:
    bodies: list[dict[str, object]] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({})

    async def measure() -> float:
        app = web.Application()
        app.router.add_post(path, handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            return await callers(f"http://127.0.0.1:{port}", path, texts, 4, per_call=per_call)
        finally:
            await runner.cleanup()

    texts = [f"text {i}" for i in range(100)]
    assert asyncio.run(measure()) > 0
    if path == "/embed":
        sent = [body["text"] for body in bodies]
    else:
        sent = [text for body in bodies for text in body["input"]]  # type: ignore[attr-defined]
        assert max(len(body["input"]) for body in bodies) == per_call  # type: ignore[arg-type]
    assert sorted(sent) == sorted(texts)
