"""Keys with scopes and collection prefixes, on a real `embedapp gateway` process (the session
service's workers do the work): a team's key cannot see, search, write, delete or list another
team's collections, nor read their tasks; and every one of those answers is a 404."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.conftest import Service, _free_ports

pytestmark = pytest.mark.integration

KEYS = {"alpha": ["read", "write"], "alpha-reader": ["read"], "beta": ["read", "write"]}
PREFIXES = {"alpha": "alpha-", "alpha-reader": "alpha-", "beta": "beta-"}


def _add_key(env: dict[str, str], name: str) -> str:
    argv = [sys.executable, "-m", "embedapp", "keys", "add", name, "--prefix", PREFIXES[name]]
    for scope in KEYS[name]:
        argv += ["--scope", scope]
    made = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True)
    return made.stdout.strip()


@dataclass
class Gateway:
    url: str
    keys: dict[str, str]  # name → the key, as `embedapp keys add` printed it once
    env: dict[str, str]

    def client(self, name: str) -> httpx.Client:
        token = self.keys.get(name, name)
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)


@pytest.fixture(scope="module")
def gateway(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys.json"
    port = _free_ports(1)
    env = {**service.env, "EMBEDAPP_API_KEYS_FILE": str(keys_file), "EMBEDAPP_API_KEYS": "root"}
    keys = {name: _add_key(env, name) for name in KEYS}
    assert oct(keys_file.stat().st_mode)[-3:] == "600"
    assert not any(key in keys_file.read_text() for key in keys.values())  # digests only
    process = subprocess.Popen(
        [sys.executable, "-m", "embedapp", "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the keyed gateway did not start"
        time.sleep(0.2)
    try:
        yield Gateway(url, keys, env)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait(client: httpx.Client, task_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"/v1/tasks/{task_id}").json()
        if status.get("state") in ("stored", "failed", "deleted"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_a_teams_key_reaches_only_its_own_collections(gateway: Gateway) -> None:
    suffix = os.urandom(4).hex()
    mine, theirs = f"alpha-{suffix}", f"beta-{suffix}"
    with gateway.client("alpha") as alpha, gateway.client("beta") as beta:
        document = {"documents": [{"id": "d", "text": "a private note"}]}
        ours = alpha.post(f"/v1/collections/{mine}/documents", json=document)
        assert ours.status_code == 202, ours.text
        other = beta.post(f"/v1/collections/{theirs}/documents", json=document)
        assert other.status_code == 202, other.text
        assert _wait(alpha, ours.json()["task_id"])["state"] == "stored"
        assert _wait(beta, other.json()["task_id"])["state"] == "stored"

        # Everything about beta's collection is a 404 for alpha, with the same words as
        # for a collection that does not exist.
        attempts = [
            alpha.get(f"/v1/collections/{theirs}"),
            alpha.post(f"/v1/collections/{theirs}/search", json={"query": "note"}),
            alpha.post(f"/v1/collections/{theirs}/documents", json=document),
            alpha.get(f"/v1/collections/{theirs}/documents/d"),
            alpha.delete(f"/v1/collections/{theirs}/documents/d"),
            alpha.delete(f"/v1/collections/{theirs}"),
            alpha.get(f"/v1/tasks/{other.json()['task_id']}"),
        ]
        for response in attempts:
            assert response.status_code == 404, (response.request.url, response.text)
        missing = alpha.get(f"/v1/collections/alpha-missing-{suffix}").json()["error"]["message"]
        assert attempts[0].json()["error"]["message"].replace(theirs, "X") == missing.replace(
            f"alpha-missing-{suffix}", "X"
        )
        names = {c["name"] for c in alpha.get("/v1/collections").json()["collections"]}
        assert mine in names and not any(n.startswith("beta-") for n in names)

        # Its own collection works, searched and read back.
        hits = alpha.post(f"/v1/collections/{mine}/search", json={"query": "note"}).json()
        assert [h["id"] for h in hits["hits"]] == ["d"]

        # The full-access key of EMBEDAPP_API_KEYS still reaches both.
        with gateway.client("root") as root:
            names = {c["name"] for c in root.get("/v1/collections").json()["collections"]}
            assert {mine, theirs} <= names
            assert root.delete(f"/v1/collections/{theirs}").status_code == 202


def test_scopes_limit_what_a_key_may_do(gateway: Gateway) -> None:
    collection = f"alpha-{os.urandom(4).hex()}"
    with gateway.client("alpha-reader") as reader, gateway.client("alpha") as writer:
        document = {"documents": [{"id": "d", "text": "read me"}]}
        refused = reader.post(f"/v1/collections/{collection}/documents", json=document)
        assert refused.status_code == 403 and "write" in refused.json()["error"]["message"]
        accepted = writer.post(f"/v1/collections/{collection}/documents", json=document)
        assert _wait(writer, accepted.json()["task_id"])["state"] == "stored"
        assert reader.get(f"/v1/collections/{collection}/documents/d").status_code == 200
        assert reader.delete(f"/v1/collections/{collection}/documents/d").status_code == 403
        # Deleting a collection is admin's alone.
        assert writer.delete(f"/v1/collections/{collection}").status_code == 403
        embed = reader.post("/embed", json={"inputs": "a query"})
        assert embed.status_code == 200
    with gateway.client("not-a-key") as stranger:
        assert stranger.get("/v1/collections").status_code == 401


def test_a_removed_key_is_refused_without_a_restart(gateway: Gateway) -> None:
    with gateway.client("beta") as beta:
        assert beta.get("/v1/collections").status_code == 200
        subprocess.run(
            [sys.executable, "-m", "embedapp", "keys", "remove", "beta"],
            env=gateway.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert beta.get("/v1/collections").status_code == 401
