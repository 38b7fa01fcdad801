from embedapp.settings import Settings
from embedapp.store.hash_index import HashIndex


def test_an_unreachable_index_means_embedding_everything_not_failing() -> None:
    index = HashIndex.from_settings(
        Settings(_env_file=None, result_backend="redis://127.0.0.1:1/0")
    )
    assert index.known("c", ["a", "b"]) == {}
    index.remember("c", {"a": "h"})
    index.forget("c", ["a"])
    index.forget("c")
