import redis

from embedapp.store.hash_index import HashIndex


def test_an_unreachable_index_means_embedding_everything_not_failing() -> None:
    index = HashIndex(redis.Redis(port=1, socket_connect_timeout=0.5))
    assert index.known("c", ["a", "b"]) == {}
    index.remember("c", {"a": "h"})
    index.forget("c", ["a"])
    index.forget("c")
