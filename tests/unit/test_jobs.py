from billiard.exceptions import WorkerLostError
from celery import states

from embedapp import jobs
from embedapp.errors import ConflictError
from embedapp.schemas import TaskStatus


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


def test_a_failure_of_another_kind_keeps_its_text_in_the_worker_log() -> None:
    internal = FileNotFoundError(2, "No such file", "/srv/embedapp/data/qdrant-edge/x/segments")
    failed = jobs.to_status("x", {"status": states.FAILURE, "result": internal})
    assert failed is not None and failed.error is not None
    assert failed.error.startswith("FileNotFoundError") and "/srv" not in failed.error
    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 0.")
    shown = jobs.to_status("x", {"status": states.FAILURE, "result": lost})
    assert shown is not None and "SIGKILL" in (shown.error or "")


SPLIT_INFO = {"collection": "c", "total": 10, "parts": ["p1", "p2"]}


def _part(state: str, **fields: object) -> TaskStatus:
    return TaskStatus(task_id=f"p-{state}", state=state, collection="c", **fields)  # type: ignore[arg-type]


def test_a_split_request_reads_as_one_job() -> None:
    queued = _part("queued", total=5, done=0)
    embedding = _part("embedding", total=5, done=2)
    stored = _part("stored", total=5, done=5, embedded=4, unchanged=1, stored=4, truncated=["a"])
    assert jobs.combine("j", SPLIT_INFO, [queued, queued]).model_dump(exclude_none=True) == {
        "task_id": "j", "state": "queued", "collection": "c", "total": 10, "done": 0,
    }  # fmt: skip
    assert jobs.combine("j", SPLIT_INFO, [stored, embedding]).model_dump(exclude_none=True) == {
        "task_id": "j", "state": "embedding", "collection": "c", "total": 10, "done": 7,
    }  # fmt: skip
    # A part whose record is missing (Redis was down when it was queued) is not done.
    assert jobs.combine("j", SPLIT_INFO, [stored, None]).state == "embedding"
    both = jobs.combine("j", SPLIT_INFO, [stored, stored])
    assert (both.state, both.done, both.embedded, both.unchanged, both.stored) == (
        "stored", 10, 8, 2, 8,
    )  # fmt: skip
    assert both.truncated == ["a", "a"]


def test_a_split_request_fails_with_the_reason_of_its_failed_job() -> None:
    failed = TaskStatus(task_id="p2", state="failed", error="ConflictError: other model")
    status = jobs.combine("j", SPLIT_INFO, [_part("stored", total=5, done=5), failed])
    assert status.state == "failed"
    assert status.error == "job 2 of 2 (p2): ConflictError: other model"
