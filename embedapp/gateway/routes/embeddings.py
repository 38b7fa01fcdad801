"""Embeddings for clients of OpenAI's API and of text-embeddings-inference."""

from fastapi import APIRouter, Depends

from embedapp.apikeys import Scope
from embedapp.errors import NotFoundError
from embedapp.gateway.deps import ServicesDep, needs
from embedapp.messages import decode_vector
from embedapp.schemas import (
    Embedding,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    ModelCard,
    ModelList,
    Usage,
)

router = APIRouter(tags=["embeddings"], dependencies=[Depends(needs(Scope.read))])


@router.post("/v1/embeddings", response_model=EmbeddingsResponse)
async def embeddings(body: EmbeddingsRequest, services: ServicesDep) -> EmbeddingsResponse:
    """OpenAI-compatible: point the `openai` client's base_url here."""
    served = services.settings.model_id
    if body.model not in (served, served.rpartition("/")[2]):
        raise NotFoundError(
            f"model {body.model!r} is not served here; this service serves {served!r}"
        )
    result = await services.embed(body.texts, field="input", dimensions=body.dimensions)
    data = [
        Embedding(
            index=i,
            embedding=encoded if body.encoding_format == "base64" else decode_vector(encoded),
        )
        for i, encoded in enumerate(result.vectors_b64)
    ]
    return EmbeddingsResponse(
        data=data,
        model=served,
        usage=Usage(prompt_tokens=result.tokens, total_tokens=result.tokens),
    )


@router.get("/v1/models", response_model=ModelList, response_model_exclude_none=True)
async def models(services: ServicesDep) -> ModelList:
    """The model this service embeds with; its dimension, window and precision once a worker
    child has loaded it."""
    served = await services.results.served_model(services.settings.model_id)
    card = ModelCard(id=services.settings.model_id)
    if served is not None:
        card = ModelCard(
            id=served.model,
            dimension=served.dimension,
            max_tokens=served.max_tokens,
            precision=served.precision,
        )
    return ModelList(data=[card])


@router.post("/embed", response_model=list[list[float]])
async def embed(body: EmbedRequest, services: ServicesDep) -> list[list[float]]:
    """text-embeddings-inference's /embed, or the older `{"text": ...}`: a list of vectors."""
    result = await services.embed(
        body.texts,
        field="inputs" if body.inputs is not None else "text",
        truncate=body.truncate,
        normalize=body.normalize,
    )
    return [decode_vector(encoded) for encoded in result.vectors_b64]
