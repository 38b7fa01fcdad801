"""Bodies of the endpoints that speak other servers' APIs: OpenAI's /v1/embeddings and
/v1/models, and text-embeddings-inference's /embed."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from embedapp.inputs import Text

# A text, or a non-empty list of them (each text is checked by Text: valid and not blank).
Texts = Text | Annotated[list[Text], Field(min_length=1)]


class EmbeddingsRequest(BaseModel):
    """POST /v1/embeddings (https://platform.openai.com/docs/api-reference/embeddings)."""

    input: Texts = Field(description="A text or a list of texts.")
    model: StrictStr
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="Keep the first N dimensions.")
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str
    index: int


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "embedapp"
    # Beyond OpenAI's card (its clients ignore them): known once a worker child loaded it.
    dimension: int | None = None
    max_tokens: int | None = None
    precision: str | None = Field(
        None, description="What the workers compute vectors in (EMBEDAPP_DTYPE=auto decides)."
    )
    fingerprint: str | None = Field(
        None, description="Of the model's files: the same files, the same vectors."
    )
    default: bool = Field(False, description="The model of new collections and of /embed.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class EmbedRequest(BaseModel):
    """POST /embed: text-embeddings-inference's body, or the older design's `{"text": ...}`."""

    model_config = ConfigDict(extra="forbid")

    inputs: Texts | None = None
    text: Text | None = None
    normalize: bool = True
    truncate: bool = False
    model: StrictStr | None = Field(None, description="A served model; default: the first.")

    @model_validator(mode="after")
    def _one_input(self) -> "EmbedRequest":
        if (self.inputs is None) == (self.text is None):
            raise ValueError("send either `inputs` (a text or a list) or `text`")
        return self

    @property
    def texts(self) -> list[str]:
        value = self.inputs if self.inputs is not None else self.text
        return [value] if isinstance(value, str) else list(value or [])
