"""Corpora for benchmarks and soak runs: generated mixed-length documents, the standard
library's docstrings (real text), or a JSONL file."""

import ast
import random
import sysconfig
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from embedapp import records

DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
MIN_PARAGRAPH = 40  # characters: shorter ones are mostly "Return self." and the like

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


def docstrings(count: int) -> Iterator[dict[str, Any]]:
    """`count` paragraphs of the standard library's own docstrings, in a fixed order: real
    technical prose that every machine with Python has (read with `ast`, nothing imported)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    made = 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts or "tests" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in [tree, *ast.walk(tree)]:
            if not isinstance(node, DOCUMENTED):
                continue
            for paragraph in (ast.get_docstring(node) or "").split("\n\n"):
                text = " ".join(paragraph.split())
                if len(text) < MIN_PARAGRAPH or text in seen:
                    continue
                seen.add(text)
                where = module if isinstance(node, ast.Module) else f"{module}.{node.name}"
                yield {"id": f"py-{made}", "text": text, "metadata": {"source": where}}
                made += 1
                if made == count:
                    return


def load(corpus: str | None, count: int) -> list[dict[str, Any]]:
    """`count` documents `{"id", "text", "metadata"}`: `generated` (the default), `docstrings`,
    or a JSONL file of `{"id", "text", …}` lines, other fields becoming metadata as in
    `embedapp ingest`."""
    if corpus in (None, "generated"):
        return [{**d, "metadata": {}} for d in generate(count)]
    if corpus == "docstrings":
        return list(docstrings(count))
    found = records.read(Path(corpus), records.Format.jsonl)
    return [
        {"id": r.id, "text": r.text, "metadata": r.metadata}
        for r in islice(found, count)
        if isinstance(r, records.Record)
    ]


def with_queries(corpus: str | None, count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """`count` documents, and 100 texts of the same corpus as queries for the quality figures,
    none among those documents (generated ones where a file holds no more)."""
    more = load(corpus, count + 100)
    queries = [d["text"] for d in more[count:]] or [d["text"] for d in generate(100, seed=1)]
    return more[:count], queries
