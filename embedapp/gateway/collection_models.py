"""Which model each collection's vectors came from, as far as the gateway can tell fast."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from embedapp.errors import (
    BrokerUnavailableError,
    ConflictError,
    GatewayTimeoutError,
    NotFoundError,
    UnavailableError,
)
from embedapp.settings import Settings

# How long a collection's model is trusted without asking the store again.
MODEL_CACHE_S = 60.0
# How long an ingest waits for the store to name a collection's model before accepting anyway
# (store.upsert enforces the guard too, so a slow store never blocks ingest).
MODEL_CHECK_TIMEOUT_S = 2.0

# Asks the store about a collection (collection_info's answer) within a timeout.
AskStore = Callable[[str, float], Awaitable[dict[str, Any]]]


class CollectionModels:
    """The store's answers, kept for MODEL_CACHE_S and updated by what the gateway itself
    creates, deletes and migrates."""

    def __init__(self, settings: Settings, ask: AskStore) -> None:
        self._settings = settings
        self._ask = ask
        self._known: dict[str, tuple[str | None, float]] = {}

    async def model(self, collection: str) -> str:
        """The model a collection's ingests and searches go to: the one its vectors came from,
        the default for a new collection; 409 if that model is not served."""
        settings = self._settings
        model, checked = self._known.get(collection, (None, 0.0))
        if time.monotonic() - checked > MODEL_CACHE_S:
            try:
                model = (await self._ask(collection, MODEL_CHECK_TIMEOUT_S))["model"]
            except BrokerUnavailableError:
                raise  # the request's own publish would wait for the same broker in vain
            except NotFoundError:
                return settings.model_id  # a new collection
            except (GatewayTimeoutError, UnavailableError) as exc:
                if len(settings.served_models) == 1:
                    return settings.model_id  # the store still guards every write
                raise UnavailableError(
                    f"the store did not say which model collection {collection!r} holds "
                    f"within {MODEL_CHECK_TIMEOUT_S:g} s (it is busy, or down); retry later",
                    headers={"Retry-After": str(settings.retry_after_s)},
                ) from exc
            self.remember(collection, model)
        if model is None:
            return settings.model_id
        if settings.served(model) is None:
            served = ", ".join(repr(s.name) for s in settings.served_models)
            raise ConflictError(
                f"collection {collection!r} holds vectors of model {model!r}, which this "
                f"service does not serve ({served}): add it to EMBEDAPP_MODELS, or migrate "
                "the collection"
            )
        return model

    def remember(self, collection: str, model: str | None) -> None:
        """The collection holds (or will hold) this model's vectors."""
        self._known[collection] = (model, time.monotonic())

    def forget(self, collection: str) -> None:
        """Drop what we know of a collection (it was deleted, or migrated)."""
        self._known.pop(collection, None)
