"""Body limit, API keys and CORS, before any route (no services needed)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.settings import Settings

URL = "/v1/collections/docs/documents"


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,
        api_keys=["key-one", "key-two"],
        max_request_bytes=2000,
        max_metadata_bytes=50,
        cors_origins=["https://app.example"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_a_key_routes_are_401_and_probes_are_open(client: TestClient) -> None:
    for response in (
        client.post(URL, json={}),
        client.get("/v1/tasks/x"),
        client.get("/openapi.json"),
        client.post(URL, json={}, headers=_auth("no")),
        client.post(URL, json={}, headers={"Authorization": "key-one"}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "unauthorized"
    assert client.get("/health").status_code == 200


def test_either_key_passes(client: TestClient) -> None:
    for key in ("key-one", "key-two"):
        # Past the key check, the route itself answers (422: no documents).
        assert client.post(URL, json={}, headers=_auth(key)).status_code == 422


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {"documents": [{"text": "x" * 3000}]}
    response = client.post(URL, json=big, headers=_auth("key-one"))
    assert response.status_code == 413
    assert "EMBEDAPP_MAX_REQUEST_BYTES" in response.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"documents": [{"text": "'
        yield b"x" * 3000
        yield b'"}]}'

    response = client.post(
        URL, content=chunks(), headers={**_auth("key-one"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_metadata_over_the_limit_is_413_naming_the_document(client: TestClient) -> None:
    body = {"documents": [{"text": "a"}, {"text": "b", "metadata": {"k": "v" * 60}}]}
    response = client.post(URL, json=body, headers=_auth("key-one"))
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "documents.1.metadata" in message and "EMBEDAPP_MAX_METADATA_BYTES" in message


def test_a_body_that_is_not_utf8_is_4xx(client: TestClient) -> None:
    response = client.post(
        URL,
        content=b'{"documents": [{"text": "\xff\xfe"}]}',
        headers={**_auth("key-one"), "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_cors_answers_the_configured_origin_only(client: TestClient) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    response = client.options(URL, headers=preflight)
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    other = client.options(URL, headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_no_keys_no_cors_by_default() -> None:
    with TestClient(create_app(Settings(_env_file=None))) as client:
        assert client.post(URL, json={}).status_code == 422
        response = client.options(
            URL, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in response.headers
