"""With API keys set, every route but the probes needs one, and works with one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.gateway.middleware import PUBLIC_PATHS
from embedapp.settings import Settings
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def test_every_route_needs_a_key_and_works_with_one(service: Service, collection: str) -> None:
    app = create_app(Settings(api_keys=["s3cret"]))
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    assert len(routes) >= 12
    with TestClient(app) as gateway:
        for method, path in routes:
            url = path.format(collection=collection, doc_id="x", task_id="x", migration_id="x")
            body = {} if method in ("POST", "PUT") else None
            anonymous = gateway.request(method, url, json=body)
            keyed = gateway.request(
                method, url, json=body, headers={"Authorization": "Bearer s3cret"}
            )
            if path in PUBLIC_PATHS:
                assert anonymous.status_code == keyed.status_code != 401, (method, path)
            else:
                assert anonymous.status_code == 401, (method, path)
                assert keyed.status_code not in (401, 500), (method, path, keyed.text)
