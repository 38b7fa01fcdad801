"""OpenAI-compatible /v1/embeddings, TEI's /embed, and waiting without blocking."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from openai import NotFoundError, OpenAI

from embedapp.gateway.app import create_app
from embedapp.settings import Settings
from tests.integration.conftest import Service
from tests.readme import block_after

pytestmark = pytest.mark.integration

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = ["The quick brown fox.", "Embeddings turn text into vectors.", "猫が好きです。"]


@pytest.fixture(scope="module")
def openai_client(service: Service) -> OpenAI:
    return OpenAI(base_url=f"{service.url}/v1", api_key="unused", max_retries=0)


def _close(vectors: Any, expected: Any) -> None:
    vectors, expected = np.asarray(vectors), np.asarray(expected)
    assert vectors.shape == expected.shape
    assert (np.sum(vectors * expected, axis=1) >= 0.999).all()


def test_the_openai_client_embeds_a_string(openai_client: OpenAI, reference_model: Any) -> None:
    response = openai_client.embeddings.create(model=MODEL, input=TEXTS[0])
    assert response.model == MODEL and len(response.data) == 1
    _close([response.data[0].embedding], reference_model.encode(TEXTS[:1]))
    tokens = len(reference_model.tokenizer(TEXTS[0])["input_ids"])
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_the_openai_client_embeds_a_list_in_order(
    openai_client: OpenAI, reference_model: Any
) -> None:
    response = openai_client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
    assert [d.index for d in response.data] == [0, 1, 2]
    _close([d.embedding for d in response.data], reference_model.encode(TEXTS))


def test_base64_is_float32_as_openai_sends_it(openai_client: OpenAI, reference_model: Any) -> None:
    # Asked for explicitly, the client hands the strings over; its default (no
    # encoding_format, as in the tests above) asks for base64 and decodes it itself.
    response = openai_client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="base64")
    decoded = [np.frombuffer(base64.b64decode(d.embedding), dtype="float32") for d in response.data]
    _close(decoded, reference_model.encode(TEXTS))


def test_dimensions_keep_a_renormalised_prefix(openai_client: OpenAI, reference_model: Any) -> None:
    response = openai_client.embeddings.create(
        model="all-MiniLM-L6-v2", input=TEXTS[:2], dimensions=64
    )
    full = reference_model.encode(TEXTS[:2])[:, :64]
    _close([d.embedding for d in response.data], full / np.linalg.norm(full, axis=1)[:, None])


def test_an_unknown_model_names_the_served_one(openai_client: OpenAI) -> None:
    with pytest.raises(NotFoundError) as raised:
        openai_client.embeddings.create(model="text-embedding-3-small", input="x")
    assert MODEL in str(raised.value)


def test_models_lists_the_served_model(openai_client: OpenAI) -> None:
    assert [m.id for m in openai_client.models.list()] == [MODEL]


def test_the_precision_is_reported_and_recorded_with_every_vector(
    service: Service, collection: str
) -> None:
    import torch

    (card,) = service.client.get("/v1/models").json()["data"]
    # EMBEDAPP_DTYPE=auto: bfloat16 only where this CPU has the instructions (and it pays).
    possible = (
        {"float32", "bfloat16"} if torch.ops.mkldnn._is_mkldnn_bf16_supported() else {"float32"}
    )
    assert card["precision"] in possible
    assert (card["dimension"], card["max_tokens"]) == (384, 256)
    accepted = service.ingest(collection, [{"id": "p", "text": "Which precision made me?"}])
    assert service.wait_for(accepted["task_id"])["state"] == "stored"
    stored = service.client.get(f"/v1/collections/{collection}/documents/p").json()
    assert stored["precision"] == card["precision"]
    assert f"{card['precision']} (auto: " in service.log_text()  # each child says why


def test_bad_embedding_requests_are_4xx(service: Service) -> None:
    for body in (
        {"model": MODEL, "input": []},
        {"model": MODEL, "input": [""]},
        {"model": MODEL, "input": [[1, 2, 3]]},
        {"input": "x"},
        {"model": MODEL, "input": "x", "dimensions": 0},
    ):
        assert service.client.post("/v1/embeddings", json=body).status_code == 422, body
    response = service.client.post(
        "/v1/embeddings", json={"model": MODEL, "input": "x", "dimensions": 385}
    )
    assert response.status_code == 422 and "384" in response.json()["error"]["message"]


def test_tei_embed_takes_both_body_shapes(service: Service, reference_model: Any) -> None:
    one = service.client.post("/embed", json={"inputs": TEXTS[0]})
    many = service.client.post("/embed", json={"inputs": TEXTS, "normalize": True})
    old = service.client.post("/embed", json={"text": TEXTS[0]})
    for response in (one, many, old):
        assert response.status_code == 200, response.text
    _close(one.json(), reference_model.encode(TEXTS[:1]))
    _close(many.json(), reference_model.encode(TEXTS))
    assert old.json() == one.json()


def test_tei_embed_refuses_or_truncates_long_input(service: Service) -> None:
    long_text = "word " * 1000
    refused = service.client.post("/embed", json={"inputs": long_text})
    assert refused.status_code == 422 and "256" in refused.json()["error"]["message"]
    cut = service.client.post("/embed", json={"inputs": long_text, "truncate": True})
    assert cut.status_code == 200 and len(cut.json()[0]) == 384
    for body in ({}, {"inputs": "x", "text": "y"}, {"inputs": ""}, {"inputs": 5}):
        assert service.client.post("/embed", json=body).status_code == 422, body


LONG_TEXT = "a sentence long enough to fill the model's window of tokens " * 25


def test_200_waiting_calls_do_not_block_the_gateway(service: Service) -> None:
    async def scenario() -> tuple[list[int], float]:
        async with httpx.AsyncClient(
            base_url=service.url, timeout=120, limits=httpx.Limits(max_connections=300)
        ) as client:
            calls = [
                asyncio.create_task(
                    client.post(
                        "/v1/embeddings",
                        # Long texts: micro-batched, 200 short ones finish in under 0.5 s.
                        json={"model": MODEL, "input": f"concurrent request {i} " + LONG_TEXT},
                    )
                )
                for i in range(200)
            ]
            await asyncio.sleep(0.5)
            assert sum(c.done() for c in calls) < 200, "too fast to show anything"
            started = time.monotonic()
            health = await client.get("/health")
            health_s = time.monotonic() - started
            assert health.status_code == 200
            return [r.status_code for r in await asyncio.gather(*calls)], health_s

    codes, health_s = asyncio.run(scenario())
    assert codes == [200] * 200
    assert health_s < 2.0, f"/health took {health_s:.2f} s while 200 calls waited"


def test_a_call_that_waits_too_long_is_504_with_the_task_id(service: Service) -> None:
    settings = Settings(request_timeout_s=0.01)
    with TestClient(create_app(settings)) as gateway:
        response = gateway.post(
            "/v1/embeddings", json={"model": MODEL, "input": ["a long text " * 200] * 32}
        )
    assert response.status_code == 504
    message = response.json()["error"]["message"]
    assert "0.01 s" in message and "task " in message


def test_the_readme_openai_example_runs(service: Service) -> None:
    code = block_after("openai-example").replace("http://127.0.0.1:8000", service.url)
    namespace: dict[str, Any] = {}
    exec(code.replace("client.embeddings.create(", "result = client.embeddings.create("), namespace)
    assert len(namespace["result"].data) == 2
