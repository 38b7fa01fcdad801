"""Bad input is a 4xx JSON error naming the problem; nothing reaches the broker."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.settings import Settings

URL = "/v1/collections/docs/documents"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(_env_file=None, max_documents_per_request=3, max_text_chars=10)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    return body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"documents": []}, "documents"),
        ({}, "documents"),
        ({"documents": [{"text": ""}]}, "documents.0.text"),
        ({"documents": [{"id": "a", "text": "ok"}, {"text": "   "}]}, "documents.1.text"),
        ({"documents": [{"text": 5}]}, "documents.0.text"),
        ({"documents": [{"text": None}]}, "documents.0.text"),
        ({"documents": [{"id": 7, "text": "ok"}]}, "documents.0.id"),
        ({"documents": [{"id": "", "text": "ok"}]}, "documents.0.id"),
        ({"documents": [{"text": "ok", "metadata": []}]}, "documents.0.metadata"),
        ({"documents": [{"text": "ok", "colour": "red"}]}, "documents.0.colour"),
        ({"documents": "text"}, "documents"),
    ],
)
def test_invalid_documents_are_422_naming_the_field(
    client: TestClient, body: dict, where: str
) -> None:
    assert _error(client.post(URL, json=body), 422).startswith(where)


def test_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post(URL, content=b"{not json", headers={"content-type": "application/json"})
    assert "not valid JSON" in _error(response, 422)


def test_a_form_body_is_told_to_send_json(client: TestClient) -> None:
    assert "Content-Type: application/json" in _error(client.post(URL, data={"a": "b"}), 422)


def test_repeated_ids_in_one_request_are_422(client: TestClient) -> None:
    body = {"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}
    assert "documents.1.id" in _error(client.post(URL, json=body), 422)


def test_limits_are_413_naming_the_limit(client: TestClient) -> None:
    too_many = {"documents": [{"text": "x"}] * 4}
    assert "EMBEDAPP_MAX_DOCUMENTS_PER_REQUEST" in _error(client.post(URL, json=too_many), 413)
    too_long = {"documents": [{"text": "x"}, {"text": "y" * 11}]}
    message = _error(client.post(URL, json=too_long), 413)
    assert "documents.1.text" in message and "EMBEDAPP_MAX_TEXT_CHARS" in message


def test_a_bad_collection_name_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/collections/bad name!/documents", json={"documents": [{"text": "x"}]}
    )
    assert "collection" in _error(response, 422)


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert _error(client.get("/v1/nothing"), 404)
    assert _error(client.delete("/health"), 405)


def test_health_answers_without_any_service(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "flt",
    [{"n": [1, "a"]}, {"n": []}, {"n": 1.5}, {"n": {"a": 1}}, {"": 1}, {"a b": 1}, {"n": None}],
)
def test_a_filter_qdrant_cannot_match_is_422(client: TestClient, flt: dict) -> None:
    response = client.post("/v1/collections/docs/search", json={"query": "q", "filter": flt})
    assert _error(response, 422).startswith("filter: field ")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/embeddings", {"model": "m", "input": [" "]}, "input.0: text must not be blank"),
        ("/v1/embeddings", {"model": "m", "input": []}, "input: "),
        ("/embed", {"inputs": ["ok", ""]}, "inputs.1: text must not be blank"),
    ],
)
def test_a_text_or_a_list_of_texts_is_named_as_the_client_sent_it(
    client: TestClient, path: str, body: dict, where: str
) -> None:
    # Not under pydantic's labels of the union's members (`function-after[…]`, `list[…]`).
    message = _error(client.post(path, json=body), 422)
    assert where in message and "[" not in message.split(":")[0], message
