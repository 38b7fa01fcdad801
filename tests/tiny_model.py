"""A second model the tests build themselves: BERT-style, random weights, 32 dimensions
(the default has 384), saved as a sentence-transformers folder. No hub needed: the tokenizer
is the default model's."""

from __future__ import annotations

import os
from pathlib import Path

from embedapp.settings import Settings

DIMENSION = 32


def build_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    """The model's folder (made once; `seed` picks its weights)."""
    target = folder / f"tiny-bert-{seed}"
    if (target / "modules.json").exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(Settings().model_source)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=DIMENSION,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    transformer = folder / f"tiny-bert-{seed}-transformer"
    BertModel(config).save_pretrained(transformer)
    tokenizer.save_pretrained(transformer)
    modules = [
        models.Transformer(str(transformer), max_seq_length=128),
        models.Pooling(DIMENSION, pooling_mode="mean"),
        models.Normalize(),
    ]
    SentenceTransformer(modules=modules, device="cpu").save(str(target))
    return target
