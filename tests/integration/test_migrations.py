"""A collection moved to another model while clients search, ingest and delete, with an embed
child killed on the way; then rolled back. Against the two-model service."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from tests.integration.conftest import Service
from tests.tiny_model import DIMENSION

DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"
TIMEOUT_S = 240


def _documents(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "text": f"Document {i} of {prefix}: notes on topic {i % 17}, "
         f"written for the migration test with words like harbour, bread and code {i}."}
        for i in range(count)
    ]  # fmt: skip


class Traffic:
    """A client searching every 100 ms and one ingesting and deleting, until stopped."""

    def __init__(self, service: Service, collection: str) -> None:
        self.url, self.collection = service.url, collection
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.refused = 0  # 429s: the queues' bounds at work (tests run them at 20 jobs)
        self.models: list[str] = []
        self.added: set[str] = set()
        self.deleted: set[str] = set()
        self.threads = [threading.Thread(target=self._search), threading.Thread(target=self._write)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _search(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                body = {"query": "notes on topic 3", "top_k": 5}
                found = client.post(f"/v1/collections/{self.collection}/search", json=body)
                if found.status_code != 200:
                    self.errors.append(f"search {found.status_code}: {found.text}")
                else:
                    self.models.append(found.json()["model"])
                time.sleep(0.1)

    def _accepted(self, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        """As a client should: a 429 (nothing was queued) is sent again after Retry-After;
        None if the traffic stops first."""
        while not self.stop.is_set():
            answer = send()
            if answer.status_code != 429:
                return answer
            self.refused += 1
            self.stop.wait(float(answer.headers["Retry-After"]))
        return None

    def _write(self) -> None:
        documents_path = f"/v1/collections/{self.collection}/documents"
        with httpx.Client(base_url=self.url, timeout=30) as client:
            round_ = 0
            while not self.stop.is_set():
                documents = _documents(f"live{round_}", 5)
                posted = self._accepted(
                    partial(client.post, documents_path, json={"documents": documents})
                )
                if posted is None:
                    return
                if posted.status_code != 202:
                    self.errors.append(f"ingest {posted.status_code}: {posted.text}")
                else:
                    self.added |= {d["id"] for d in documents}
                victim = f"base-{round_ * 7}"
                gone = self._accepted(partial(client.delete, f"{documents_path}/{victim}"))
                if gone is None:
                    return
                if gone.status_code != 202:
                    self.errors.append(f"delete {gone.status_code}: {gone.text}")
                else:
                    self.deleted.add(victim)
                round_ += 1
                time.sleep(0.3)


def _wait_state(service: Service, path: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        status = service.client.get(path).json()
        if status.get("state") in states:
            return status
        assert status.get("state") != "failed", status
        assert time.monotonic() < deadline, f"migration stuck: {status}"
        time.sleep(0.2)


def _tiny_bulk_child(service: Service) -> int:
    found = re.findall(r"pid (\d+) serves embed\.bulk\.tiny with tiny", service.log_text())
    assert found, "no child of the tiny model's bulk worker in the log"
    return int(found[-1])


def _holds(service: Service, collection: str, ids: set[str], model: str) -> set[str]:
    """Which of these documents the served version holds, each checked to be `model`'s."""
    held = set()
    for doc_id in ids:
        found = service.client.get(f"/v1/collections/{collection}/documents/{doc_id}")
        if found.status_code == 200:
            assert found.json()["model"] == model, found.json()
            held.add(doc_id)
        else:
            assert found.status_code == 404, found.text
    return held


def _settles(
    service: Service, collection: str, ids: set[str], expected: set[str], model: str
) -> None:
    """Until the served version holds exactly `expected` of `ids`, one point each."""
    deadline = time.monotonic() + 60
    while True:
        held = _holds(service, collection, ids, model)
        points = service.client.get(f"/v1/collections/{collection}").json()["points"]
        if held == expected and points == len(expected):
            return
        assert time.monotonic() < deadline, (
            f"{model}: missing {sorted(expected - held)[:10]}, unexpected "
            f"{sorted(held - expected)[:10]}, {points} points for {len(expected)} documents"
        )
        time.sleep(1)


def test_a_collection_moves_to_another_model_while_it_is_used_and_rolls_back(
    two_models_service: Service,
) -> None:
    service, collection = two_models_service, f"moving-{uuid.uuid4().hex[:8]}"
    base = _documents("base", 400)
    task = service.ingest(collection, base)["task_id"]
    assert service.wait_for(task, timeout=TIMEOUT_S)["state"] == "stored"

    with Traffic(service, collection) as traffic:
        time.sleep(1)
        started = service.client.post(
            f"/v1/collections/{collection}/migrations", json={"model": "tiny"}
        )
        assert started.status_code == 202, started.text
        migration = started.json()
        assert migration["from_model"] == DEFAULT and migration["total"] >= 400
        path = f"/v1/collections/{collection}/migrations/{migration['id']}"
        # A child of the new model's bulk worker dies mid-way: its job comes back.
        _wait_state(service, path, {"copying", "catching_up"})
        os.kill(_tiny_bulk_child(service), signal.SIGKILL)
        switched = _wait_state(service, path, {"switched"})
        time.sleep(2)  # writes and searches after the switch too
    assert traffic.errors == []
    assert set(traffic.models) == {DEFAULT, "tiny"}, "searches before and after the switch"
    first_new = traffic.models.index("tiny")
    assert first_new > 0 and set(traffic.models[:first_new]) == {DEFAULT}
    assert switched["done"] == switched["total"] and switched["overlap"] is not None

    # Every accepted write landed in the new version, and nothing deleted came back (the
    # last writes, and their copies, may still be on their way).
    everything = {d["id"] for d in base} | traffic.added
    expected = everything - traffic.deleted
    _settles(service, collection, everything, expected, "tiny")
    info = service.client.get(f"/v1/collections/{collection}").json()
    assert (info["model"], info["dimension"]) == ("tiny", DIMENSION)

    rolled = service.client.post(f"{path}/rollback")
    assert rolled.status_code == 200 and rolled.json()["state"] == "rolled_back"
    _settles(service, collection, everything, expected, DEFAULT)
    found = service.client.post(f"/v1/collections/{collection}/search", json={"query": "topic 3"})
    assert found.status_code == 200 and found.json()["model"] == DEFAULT

    finished = service.client.delete(path)
    assert finished.status_code == 200 and finished.json()["state"] == "finished"
    names = [c["name"] for c in service.client.get("/v1/collections").json()["collections"]]
    assert collection in names and not any("~" in name for name in names)
