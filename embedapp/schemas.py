"""Pydantic models of the HTTP API: what clients send and what they get back."""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from embedapp.filters import Filter, check_bounds, from_request
from embedapp.inputs import MAX_HNSW_EF, DocId, Metadata, Text
from embedapp.messages import Chunk, Chunking


class Document(BaseModel):
    """One document as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    id: DocId | None = Field(
        None,
        description="Generated if absent. Up to 256 characters, no control characters; `/` "
        "is allowed (percent-encode ids in URLs), but no part between slashes is `.` or `..`.",
    )
    text: Text
    metadata: Metadata = Field(
        default_factory=dict, description="JSON data; nested at most 8 levels deep."
    )


class IngestRequest(BaseModel):
    """Body of POST /v1/collections/{collection}/documents."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Document] = Field(min_length=1)
    chunking: Chunking | None = Field(
        None, description="Split texts longer than the model's window; default: truncate them."
    )


class IngestAccepted(BaseModel):
    """202 answer: the job id to poll and the ids the documents are stored under."""

    task_id: str
    collection: str
    count: int
    ids: list[str]


class TaskAccepted(BaseModel):
    """202 answer for work that runs in the background."""

    task_id: str
    state: Literal["queued"] = "queued"


TaskState = Literal["queued", "embedding", "stored", "deleted", "failed"]


class TaskStatus(BaseModel):
    """Where an accepted job is."""

    task_id: str
    state: TaskState
    collection: str | None = None
    total: int | None = Field(None, description="Documents in the job.")
    done: int | None = Field(None, description="Documents embedded or found unchanged so far.")
    embedded: int | None = None
    unchanged: int | None = Field(None, description="Same id and text as stored: not re-embedded.")
    stored: int | None = None
    deleted: int | None = Field(None, description="Points removed by a delete.")
    truncated: list[str] | None = Field(None, description="Ids of texts cut to the model's window.")
    error: str | None = None


class StoredChunk(Chunk):
    """One chunk of a chunked document."""

    text: str


class StoredDocument(BaseModel):
    """A document as it is stored in Qdrant."""

    id: str
    text: str
    metadata: dict[str, Any]
    model: str
    precision: str | None = Field(
        None, description="What the vectors were computed in (float32, bfloat16, float16, int8)."
    )
    model_fingerprint: str | None = Field(
        None, description="Of the model files that made the vectors (GET /v1/models)."
    )
    normalized: bool | None = Field(None, description="Whether the vectors are unit length.")
    content_hash: str
    chunks: list[StoredChunk] | None = Field(None, description="Present for chunked documents.")
    vector: list[float] | None = Field(None, description="Unchunked documents, on request.")


class CollectionInfo(BaseModel):
    """A collection, its size and the model its vectors came from."""

    name: str
    points: int
    dimension: int
    model: str | None


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


ShorthandFilter = dict[str, StrictStr | StrictInt | StrictBool | list[StrictStr] | list[StrictInt]]


class SearchRequest(BaseModel):
    """Body of POST /v1/collections/{collection}/search."""

    model_config = ConfigDict(extra="forbid")

    query: Text
    top_k: int = Field(10, ge=1, le=1000)
    filter: Annotated[
        Filter,
        BeforeValidator(from_request, json_schema_input_type=Filter | ShorthandFilter),
        AfterValidator(check_bounds),
    ] = Field(
        default_factory=Filter,
        description="Qdrant's filter form on metadata fields (must, should, must_not; match, "
        "range on numbers and dates, is_empty, is_null), or the shorthand {field: value or "
        "[values]}: equal to the value, or to any of the values.",
    )
    score_threshold: float | None = Field(
        None, ge=-1, le=1, description="Only hits at least this similar (cosine, -1 to 1)."
    )
    with_text: bool = True
    hnsw_ef: int | None = Field(
        None,
        ge=1,
        le=MAX_HNSW_EF,
        description="Candidates the HNSW index looks at: more finds the true nearest more "
        "often, and takes longer. Default: EMBEDAPP_SEARCH_HNSW_EF.",
    )
    exact: bool = Field(
        False, description="Compare the query with every point, not the index: exact, slow."
    )


class CollectionCreate(BaseModel):
    """PUT /v1/collections/{collection}: a collection for a chosen model."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr = Field(description="One of the served models (GET /v1/models).")


class MigrationCreate(BaseModel):
    """POST /v1/collections/{collection}/migrations: move a collection to another model."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr = Field(description="One of the served models (GET /v1/models).")
    min_overlap: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Switch only if the new model's self-retrieval overlap@10 with the old "
        "one's, on a sample of the stored documents, reaches this (else it waits, ready).",
    )
    switch: Literal["auto", "manual"] = Field(
        "auto", description="manual: once caught up, wait for POST …/switch."
    )


class MigrationStatus(BaseModel):
    """A migration: where it stands."""

    id: str
    collection: str
    model: str
    from_model: str
    state: Literal[
        "copying", "catching_up", "ready", "switched", "rolled_back", "failed", "finished"
    ] = Field(
        description="copying → catching_up → ready → switched (auto, or POST …/switch); "
        "rolled_back; failed; finished (the version not served is deleted)."
    )
    total: int = Field(description="Documents in the collection when the migration began.")
    done: int
    docs_per_s: float
    eta_s: float | None = None
    overlap: float | None = Field(None, description="Self-retrieval overlap@10, new vs old.")
    min_overlap: float | None = None
    switch: str
    failures: int | None = None
    error: str | None = None


class SearchHit(BaseModel):
    id: str
    score: float
    text: str | None = None
    metadata: dict[str, Any]
    chunk: Chunk | None = None


class SearchResponse(BaseModel):
    model: str
    hits: list[SearchHit]


class ErrorDetail(BaseModel):
    """What went wrong: a stable kind, and a message for people."""

    type: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["documents.0.text: must not be empty"])


class ErrorResponse(BaseModel):
    """The body of every error the API answers (4xx and 5xx)."""

    error: ErrorDetail
