"""The API's docs work offline and tell the truth: Swagger UI and ReDoc come from the gateway
itself (no CDN), and the schema documents the error body the API really sends."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.settings import Settings


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(_env_file=None))) as running:  # its lifespan too
        yield running


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_docs_page_loads_everything_from_the_gateway(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
    scripts = [a for a in assets if a.endswith((".js", ".css"))]
    assert scripts and all(a.startswith("/") for a in assets), assets  # nothing off-site
    for asset in scripts:
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 100_000, asset


def test_every_error_status_documents_the_body_the_api_sends(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert error["properties"].keys() == {"error"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {"422", "503"} <= errors.keys(), (path, method)
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
    # And it is the body the API really sends.
    refused = client.post("/v1/collections/c/documents", json={"documents": []})
    assert refused.status_code == 422 and set(refused.json()["error"]) == {"type", "message"}
