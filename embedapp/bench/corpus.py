"""A built-in corpus of realistic, mixed-length documents for benchmarks and soak runs."""

import json
import random
from collections.abc import Iterator
from pathlib import Path

SUBJECTS = [
    "The customer",
    "Our team",
    "The new release",
    "This report",
    "The database",
    "A research group",
    "The city council",
    "The support ticket",
    "The quarterly review",
    "An engineer",
    "The migration",
    "The search index",
    "A small startup",
    "The model",
]
VERBS = [
    "describes",
    "improves",
    "replaces",
    "questions",
    "measures",
    "delays",
    "explains",
    "summarises",
    "breaks",
    "recommends",
    "reduces",
    "doubles",
    "reviews",
    "documents",
]
OBJECTS = [
    "the billing workflow",
    "latency in the checkout service",
    "the onboarding guide",
    "energy use in data centres",
    "a backlog of unanswered emails",
    "the privacy policy",
    "the nightly batch job",
    "recall on long-tail queries",
    "a shipment to Rotterdam",
    "the renewal of three contracts",
    "the failing integration tests",
    "our cache hit rate",
    "the vaccination schedule",
    "rainfall over the last decade",
    "the hiring plan",
]
TAILS = [
    "",
    "",
    "",
    " after the outage last week",
    " for the third time this year",
    " according to the latest survey",
    " despite several objections from legal",
    " before the end of the fiscal quarter",
    " with help from two external consultants",
]


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."


def generate(count: int, *, seed: int = 0) -> Iterator[dict[str, str]]:
    """`count` documents `{"id", "text"}`: mostly one or two sentences, a few long paragraphs."""
    rng = random.Random(seed)
    for index in range(count):
        # Log-normal lengths: median ~2 sentences (~100 characters), a tail past 256 tokens.
        sentences = max(1, min(40, round(rng.lognormvariate(0.6, 0.9))))
        yield {"id": f"doc-{index}", "text": " ".join(_sentence(rng) for _ in range(sentences))}


def load(path: Path | None, count: int) -> list[dict[str, str]]:
    """Documents from a JSONL file of `{"id", "text"}` lines, else `count` generated ones."""
    if path is None:
        return list(generate(count))
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()][:count]
