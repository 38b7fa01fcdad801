"""Versions of a collection, on both engines: what its name serves, what its writes reach."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from embedapp.settings import get_settings
from embedapp.store import VectorStore, open_store, versions
from tests.unit.conftest import ENGINES, settings


def test_an_unmigrated_collection_serves_itself(store: VectorStore) -> None:
    assert versions.serving(store, "c") == "c"
    assert versions.live(store, "c") == ["c"]
    assert versions.of_model(store, "c", "m") == "c"
    assert versions.of_model(store, "c", "other") is None


def test_a_new_version_is_live_but_not_served_until_switched(store: VectorStore) -> None:
    added = versions.add(store, "c", model="tiny", dimension=2, fingerprint="f")
    assert added == "c~v2" and store.describe(added) == ("tiny", 2)
    assert versions.serving(store, "c") == "c"
    assert versions.live(store, "c") == ["c", "c~v2"]
    assert versions.of_model(store, "c", "tiny") == "c~v2"
    versions.set_entry(store, "c", {**versions.entry(store, "c"), "serving": added})  # type: ignore[dict-item]
    assert versions.serving(store, "c") == "c~v2"
    assert versions.live(store, "c") == ["c~v2", "c"]
    # The old version, once retired, is gone; the name still stands for the new one.
    versions.retire(store, "c", "c")
    assert not store.exists("c") and versions.live(store, "c") == ["c~v2"]
    assert versions.names(store) == ["c"]
    with pytest.raises(ValueError):
        versions.retire(store, "c", "c~v2")  # the served one


@pytest.mark.parametrize("engine", ENGINES)
def test_the_catalog_is_kept_across_restarts(tmp_path: Path, engine: str) -> None:
    store = open_store(settings(tmp_path, engine))
    store.ensure_collection("c", dimension=3, model="m")
    versions.add(store, "c", model="tiny", dimension=2, fingerprint="f")
    store.close()
    again = open_store(settings(tmp_path, engine))
    assert versions.live(again, "c") == ["c", "c~v2"]
    assert versions.names(again) == ["c"]
    again.close()


def test_two_store_children_changing_the_catalog_at_once_keep_both_changes(
    store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What open_store gives a store on a Qdrant server, where several children write.
    store.catalog_guard = versions.shared_guard(get_settings().result_backend)
    versions.set_entry(store, "first", {"serving": "first", "versions": ["first"]})
    read = store.record

    def slow_record(name: str) -> dict[str, Any]:
        found = read(name)
        time.sleep(0.3)  # both would read before either writes, but for the guard
        return found

    monkeypatch.setattr(store, "record", slow_record)
    changes = [
        threading.Thread(target=versions.set_entry, args=(store, name, {"serving": name}))
        for name in ("a", "b")
    ]
    for change in changes:
        change.start()
    for change in changes:
        change.join()
    assert {"a", "b", "first"} <= set(versions.names(store))
