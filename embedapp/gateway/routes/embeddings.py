"""Embeddings for clients of OpenAI's API and of text-embeddings-inference."""

from fastapi import APIRouter, Depends

from embedapp.apikeys import Scope
from embedapp.gateway.compat_schemas import (
    Embedding,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    ModelCard,
    ModelList,
    Usage,
)
from embedapp.gateway.deps import ServicesDep, needs
from embedapp.messages import decode_vector

router = APIRouter(tags=["embeddings"], dependencies=[Depends(needs(Scope.read))])


@router.post("/v1/embeddings", response_model=EmbeddingsResponse)
async def embeddings(body: EmbeddingsRequest, services: ServicesDep) -> EmbeddingsResponse:
    """OpenAI-compatible: point the `openai` client's base_url here; `model` picks one of
    the served models."""
    served = services.model_named(body.model)
    result = await services.embed(
        body.texts, field="input", model=served, dimensions=body.dimensions
    )
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
    """The models this service embeds with, the default first; each one's dimension, window,
    precision and files once a worker child has loaded it."""
    cards = []
    for spec in services.settings.served_models:
        card = ModelCard(id=spec.name, default=spec.name == services.settings.model_id)
        served = await services.results.served_model(spec.name)
        if served is not None:
            card = card.model_copy(
                update={
                    "dimension": served.dimension,
                    "max_tokens": served.max_tokens,
                    "precision": served.precision,
                    "fingerprint": served.fingerprint or None,
                }
            )
        cards.append(card)
    return ModelList(data=cards)


@router.post("/embed", response_model=list[list[float]])
async def embed(body: EmbedRequest, services: ServicesDep) -> list[list[float]]:
    """text-embeddings-inference's /embed, or the older `{"text": ...}`: a list of vectors."""
    result = await services.embed(
        body.texts,
        field="inputs" if body.inputs is not None else "text",
        model=services.model_named(body.model),
        truncate=body.truncate,
        normalize=body.normalize,
    )
    return [decode_vector(encoded) for encoded in result.vectors_b64]
