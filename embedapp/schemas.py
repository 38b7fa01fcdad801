"""Pydantic models at the edges: HTTP bodies and the messages tasks pass each other."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

DocId = StrictStr


class Document(BaseModel):
    """One document as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    id: DocId | None = Field(None, min_length=1, max_length=256, description="Generated if absent.")
    text: StrictStr = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class IngestRequest(BaseModel):
    """Body of POST /v1/collections/{collection}/documents."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Document] = Field(min_length=1)


class IngestAccepted(BaseModel):
    """202 answer: the job id to poll and the ids the documents are stored under."""

    task_id: str
    collection: str
    count: int
    ids: list[str]


TaskState = Literal["queued", "embedding", "stored", "failed"]


class TaskStatus(BaseModel):
    """Where an accepted job is."""

    task_id: str
    state: TaskState
    collection: str | None = None
    total: int | None = None
    done: int | None = None
    stored: int | None = None
    error: str | None = None


class StoredDocument(BaseModel):
    """A document as it is stored in Qdrant."""

    id: str
    text: str
    metadata: dict[str, Any]
    model: str
    content_hash: str
    vector: list[float] | None = None


class CollectionInfo(BaseModel):
    """A collection, its size and the model its vectors came from."""

    name: str
    points: int
    dimension: int
    model: str | None


# Messages between tasks (JSON over RabbitMQ).


class DocumentIn(BaseModel):
    """A document with its final id, as the embed task receives it."""

    id: str
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestJob(BaseModel):
    """What the gateway publishes for one ingest request."""

    job_id: str
    collection: str
    model: str
    documents: list[DocumentIn]


class EmbeddedJob(BaseModel):
    """What the embed task hands the store task: documents with their vectors."""

    job_id: str
    collection: str
    model: str
    dimension: int
    documents: list[DocumentIn]
    # float32 little-endian, base64: a quarter of the bytes of a JSON float list.
    vectors_b64: list[str]
