"""Every input is bounded and valid, or refused at once with a 4xx that names the field and
the setting: nothing a client sends becomes a 500, a hung child or a dead-lettered job."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

SEARCH = "/v1/collections/{c}/search"


def _post(service: Service, path: str, body: str) -> httpx.Response:
    """A body as raw JSON text: `\\ud800` escapes and NaN, which json.dumps can write."""
    return service.client.post(path, content=body, headers={"Content-Type": "application/json"})


def _refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert all(word in message for word in words), message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"documents": [{"text": "a", "metadata": {"k": "\\ud800"}}]}', "documents.0.metadata"),
        ('{"documents": [{"text": "a", "metadata": {"\\udc00": 1}}]}', "documents.0.metadata"),
        ('{"documents": [{"text": "bad \\ud800 text"}]}', "documents.0.text"),
        ('{"documents": [{"text": "nul \\u0000 in it"}]}', "documents.0.text"),
        ('{"documents": [{"id": "a\\u0000b", "text": "t"}]}', "documents.0.id"),
        ('{"documents": [{"id": "line\\nbreak", "text": "t"}]}', "documents.0.id"),
        ('{"documents": [{"id": "a/../b", "text": "t"}]}', "documents.0.id"),
        ('{"documents": [{"text": "a", "metadata": {"x": NaN}}]}', "metadata.x"),
        ('{"documents": [{"text": "a", "metadata": {"x": [Infinity]}}]}', "metadata.x.0"),
        ('{"documents": [{"text": "a", "metadata": {"n": 1e999}}]}', "metadata.n"),
        ('{"documents": [{"text": "a", "metadata": {"n": 99999999999999999999}}]}', "64-bit"),
        (
            '{"documents": [{"text": "a", "metadata": {"d": ' + "[" * 12 + "1" + "]" * 12 + "}}]}",
            "nested deeper than 8",
        ),
    ],
)
def test_invalid_text_and_data_in_a_document_are_422(
    service: Service, collection: str, body: str, field: str
) -> None:
    _refused(_post(service, f"/v1/collections/{collection}/documents", body), 422, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # A path, a raw JSON body, and a word the 422 must hold.
        ("/v1/embeddings", '{"model": "all-MiniLM-L6-v2", "input": ["ok", "\\ud800"]}', "input"),
        ("/embed", '{"inputs": "nul\\u0000"}', "inputs"),
        (SEARCH, '{"query": "\\udfff"}', "query"),
        (SEARCH, '{"query": "q", "filter": {"k": "\\ud800"}}', "filter"),
        (SEARCH, '{"query": "q", "filter": {"k": 1e400}}', "filter"),
        (SEARCH, '{"query": "q", "filter": {"k": 9223372036854775808}}', "64-"),
    ],
)
def test_invalid_queries_and_inputs_are_422(
    service: Service, collection: str, path: str, body: str, field: str
) -> None:
    _refused(_post(service, path.format(c=collection), body), 422, field)


def test_interactive_calls_are_bounded_in_texts_and_characters(
    service: Service, collection: str
) -> None:
    many = {"model": "all-MiniLM-L6-v2", "input": ["word"] * 257}
    _refused(
        service.client.post("/v1/embeddings", json=many), 413, "EMBEDAPP_MAX_CLIENT_BATCH_SIZE"
    )
    _refused(
        service.client.post("/embed", json={"inputs": ["w"] * 257}),
        413,
        "EMBEDAPP_MAX_CLIENT_BATCH_SIZE",
    )
    long = "x" * 20_001
    _refused(
        service.client.post("/embed", json={"inputs": ["short", long]}),
        413,
        "inputs.1",
        "EMBEDAPP_MAX_INPUT_CHARS",
    )
    _refused(
        service.client.post(f"/v1/collections/{collection}/search", json={"query": long}),
        413,
        "query",
        "EMBEDAPP_MAX_INPUT_CHARS",
    )
    # At the bounds, a call is served.
    full = {"model": "all-MiniLM-L6-v2", "input": ["word"] * 255 + ["y" * 20_000]}
    response = service.client.post("/v1/embeddings", json=full)
    assert response.status_code == 200 and len(response.json()["data"]) == 256


def _ingest(service: Service, collection: str, body: dict[str, Any]) -> httpx.Response:
    return service.client.post(f"/v1/collections/{collection}/documents", json=body)


def test_chunking_is_bounded_at_request_time(service: Service, collection: str) -> None:
    document = {"id": "long", "text": "word " * 12_000}
    tiny_stride = {"documents": [document], "chunking": {"size": 8, "overlap": 7}}
    _refused(_ingest(service, collection, tiny_stride), 422, "EMBEDAPP_MIN_CHUNK_STRIDE")
    # Past the served model's window (all-MiniLM-L6-v2 reads 256 tokens, 254 of them text):
    # refused now, not accepted and failed in the worker.
    too_big = {"documents": [document], "chunking": {"size": 512, "overlap": 0}}
    _refused(_ingest(service, collection, too_big), 422, "chunking.size", "254")
    # 48,000 non-space characters at a stride of 32 may be 1,500 chunks: over the cap.
    dense = {"documents": [{"text": "w" * 48_000}], "chunking": {"size": 32, "overlap": 0}}
    _refused(_ingest(service, collection, dense), 413, "EMBEDAPP_MAX_CHUNKS_PER_DOCUMENT")


def test_a_long_chunked_document_reads_back_whole(service: Service, collection: str) -> None:
    text = " ".join(f"sentence {i} of a long document about chunking." for i in range(1_500))
    accepted = _ingest(
        service,
        collection,
        {"documents": [{"id": "book", "text": text}], "chunking": {"size": 128, "overlap": 16}},
    )
    assert accepted.status_code == 202, accepted.text
    assert service.wait_for(accepted.json()["task_id"])["state"] == "stored"
    stored = service.client.get(f"/v1/collections/{collection}/documents/book").json()
    assert stored["text"] == text
    assert len(stored["chunks"]) == stored["chunks"][0]["count"] > 100


NASTY_IDS = [
    "a/b", "a//b", "/lead", "trail/", "x?y#z", "sp ace", "%2F", "100%", "ü/ñ", "💥",
    "back\\slash", "..a", "a..", ".hidden", "a+b", "semi;colon", "~tilde", "'quote\"",
]  # fmt: skip


def test_every_accepted_id_can_be_fetched_and_deleted(service: Service, collection: str) -> None:
    documents = [{"id": doc_id, "text": f"document {i}"} for i, doc_id in enumerate(NASTY_IDS)]
    job = service.ingest(collection, documents)
    assert job["ids"] == NASTY_IDS
    assert service.wait_for(job["task_id"])["state"] == "stored"
    for doc_id in NASTY_IDS:
        path = f"/v1/collections/{collection}/documents/{urllib.parse.quote(doc_id, safe='')}"
        found = service.client.get(path)
        assert found.status_code == 200 and found.json()["id"] == doc_id, (doc_id, found.text)
        deleted = service.client.delete(path)
        assert deleted.status_code == 202, (doc_id, deleted.text)
        status = service.wait_for(deleted.json()["task_id"], until=lambda s: s["state"] != "queued")
        assert status["state"] == "deleted" and status["deleted"] == 1, (doc_id, status)
    count = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert count == 0


def test_one_bad_caller_never_fails_the_good_ones_it_shares_a_batch_with(
    service: Service,
) -> None:
    json_body = {"Content-Type": "application/json"}

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            bodies = [
                json.dumps({"inputs": f"good text {i}"}) if i % 3 else '{"inputs": "bad \\ud800"}'
                for i in range(24)
            ]
            return await asyncio.gather(
                *(client.post("/embed", content=body, headers=json_body) for body in bodies)
            )

    for i, response in enumerate(asyncio.run(run())):
        assert response.status_code == (200 if i % 3 else 422), (i, response.text)
