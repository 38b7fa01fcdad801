"""What `embedapp dlq list` shows of a dead message, read from its headers and body."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from embedapp.cli.dead_letters import DeadLetter


def _message(args: list[Any], *, headers: dict[str, Any] | None = None) -> Any:
    death = {"queue": "embed.bulk", "routing-keys": ["embed.bulk"], "time": "T", "count": 4}
    return SimpleNamespace(
        headers={"task": "embedapp.embed_documents", "id": "task-1", "x-death": [death]}
        if headers is None
        else headers,
        body=json.dumps([args, {}, {}]),
    )


def test_an_ingest_job_names_its_job_collection_and_documents() -> None:
    job = {"job_id": "job-1", "collection": "notes", "documents": [{}, {}, {}]}
    letter = DeadLetter.from_message(_message([job]))
    assert letter == DeadLetter(
        task="embedapp.embed_documents",
        task_id="task-1",
        job_id="job-1",
        collection="notes",
        documents=3,
        queue="embed.bulk",
        routing_key="embed.bulk",
        died_at="T",
        deaths=4,
    )


def test_a_store_job_counts_its_points() -> None:
    letter = DeadLetter.from_message(_message([{"collection": "c", "points": [{}, {}]}]))
    assert (letter.collection, letter.documents) == ("c", 2)


def test_a_message_of_another_shape_still_lists() -> None:
    letter = DeadLetter.from_message(SimpleNamespace(headers=None, body=b"not json"))
    assert (letter.task, letter.task_id, letter.job_id, letter.documents) == ("?", "?", None, None)
    assert (letter.queue, letter.deaths) == ("?", 1)
