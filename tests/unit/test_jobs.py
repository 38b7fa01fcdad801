from celery import states

from embedapp import jobs
from embedapp.errors import ConflictError


def test_an_id_the_backend_never_saw_is_unknown() -> None:
    assert jobs.to_status("x", {"status": states.PENDING, "result": None}) is None


def test_states_map_to_the_clients_words() -> None:
    queued = jobs.to_status(
        "x", {"status": jobs.QUEUED, "result": {"collection": "c", "total": 3, "done": 0}}
    )
    assert queued is not None and (queued.state, queued.total, queued.done) == ("queued", 3, 0)
    embedding = jobs.to_status(
        "x", {"status": jobs.EMBEDDING, "result": {"collection": "c", "total": 3, "done": 2}}
    )
    assert embedding is not None and (embedding.state, embedding.done) == ("embedding", 2)
    stored = jobs.to_status(
        "x",
        {
            "status": states.SUCCESS,
            "result": {"collection": "c", "total": 3, "done": 3, "stored": 3},
        },
    )
    assert stored is not None and (stored.state, stored.stored) == ("stored", 3)


def test_a_failure_carries_its_reason() -> None:
    failed = jobs.to_status("x", {"status": states.FAILURE, "result": ConflictError("wrong model")})
    assert failed is not None
    assert (failed.state, failed.error) == ("failed", "ConflictError: wrong model")
