"""Content hashes of stored documents, kept in Redis beside the task states.

Embed workers read it to skip documents stored before with the same content, without asking
the store (which, embedded, only its one owner may open); the store worker writes it after
each upsert. Qdrant's payload stays the truth: a lost or unreachable index only means
re-embedding, never a wrong or missing document.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from embedapp.settings import Settings, get_settings

log = logging.getLogger(__name__)


class HashIndex:
    """collection → {doc_id: content hash}, as a Redis hash per collection."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> "HashIndex":
        return cls(
            # A cache: with Redis away it is skipped at once (one quick retry), not after
            # redis-py's ten retries with backoff on every job.
            redis.Redis.from_url(
                settings.result_backend,
                socket_timeout=5,
                socket_connect_timeout=5,
                retry=Retry(NoBackoff(), 1),
            )
        )

    @staticmethod
    def _key(collection: str) -> str:
        return f"embedapp:hashes:{collection}"

    def known(self, collection: str, doc_ids: list[str]) -> dict[str, str]:
        """The stored hash of each document the index knows."""
        if not doc_ids:
            return {}
        try:
            found = self.client.hmget(self._key(collection), doc_ids)
        except redis.RedisError as exc:
            log.warning("hash index unreachable, embedding every document: %s", exc)
            return {}
        return {d: h.decode() for d, h in zip(doc_ids, found, strict=True) if h is not None}

    def remember(self, collection: str, hashes: Mapping[str, str]) -> None:
        """Record what was just stored."""
        if hashes:
            self._best_effort(lambda: self.client.hset(self._key(collection), mapping=hashes))

    def forget(self, collection: str, doc_ids: Iterable[str] | None = None) -> None:
        """Drop documents (or, without ids, the whole collection) from the index."""
        key = self._key(collection)
        if doc_ids is None:
            self._best_effort(lambda: self.client.delete(key))
        elif ids := list(doc_ids):
            self._best_effort(lambda: self.client.hdel(key, *ids))

    def _best_effort(self, write: Callable[[], object]) -> None:
        try:
            write()
        except redis.RedisError as exc:
            log.warning("hash index not updated (the next ingest re-embeds): %s", exc)


@lru_cache(maxsize=1)
def get_hash_index() -> HashIndex:
    """This process's index, on the configured Redis."""
    return HashIndex.from_settings(get_settings())
