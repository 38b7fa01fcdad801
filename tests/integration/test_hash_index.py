import uuid

import pytest

from embedapp.settings import Settings
from embedapp.store.hash_index import HashIndex

pytestmark = pytest.mark.integration


def test_remember_known_and_forget() -> None:
    index = HashIndex.from_settings(Settings())
    collection = f"test-{uuid.uuid4().hex}"
    try:
        index.remember(collection, {"a": "h1", "b": "h2"})
        assert index.known(collection, ["a", "b", "c"]) == {"a": "h1", "b": "h2"}
        index.forget(collection, [])
        assert index.known(collection, ["a"]) == {"a": "h1"}
        index.forget(collection, ["a"])
        assert index.known(collection, ["a", "b"]) == {"b": "h2"}
        index.forget(collection)
        assert index.known(collection, ["b"]) == {}
    finally:
        index.forget(collection)
