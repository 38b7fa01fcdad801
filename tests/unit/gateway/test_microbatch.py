"""Concurrent interactive calls share model calls; each caller gets its own vectors back."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest

from embedapp.gateway.microbatch import MicroBatcher
from embedapp.messages import EmbeddedTexts


class FakeLane:
    """Stands in for the embed_texts task: records batches, 'embeds' a text as itself."""

    def __init__(self, *, delay: float = 0.01, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay
        self.fail_on = fail_on
        self.running = self.most_running = 0

    async def __call__(self, texts: list[str], key: Hashable) -> EmbeddedTexts:
        self.batches.append(list(texts))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        if self.fail_on in texts:
            raise RuntimeError("the worker failed")
        return EmbeddedTexts(
            model=str(key),
            max_tokens=8,
            token_counts=[len(t) for t in texts],
            vectors_b64=list(texts),
        )


def _batcher(lane: FakeLane, **options: float) -> MicroBatcher:
    settings = {"wait_s": 0.005, "max_texts": 256, "in_flight": 1, **options}
    return MicroBatcher(lane, **settings)  # type: ignore[arg-type]


def test_64_concurrent_callers_share_a_few_model_calls_and_get_their_own_vectors() -> None:
    lane = FakeLane()

    async def main() -> list[EmbeddedTexts]:
        batcher = _batcher(lane)
        return await asyncio.gather(*(batcher.embed([f"q{i}", f"r{i}"], "m") for i in range(64)))

    results = asyncio.run(main())
    assert [r.vectors_b64 for r in results] == [[f"q{i}", f"r{i}"] for i in range(64)]
    assert sorted(t for batch in lane.batches for t in batch) == sorted(
        t for i in range(64) for t in (f"q{i}", f"r{i}")
    )
    assert len(lane.batches) <= 3


def test_a_batch_never_exceeds_max_texts_but_a_big_caller_goes_alone() -> None:
    lane = FakeLane()

    async def main() -> None:
        batcher = _batcher(lane, max_texts=5)
        await asyncio.gather(
            batcher.embed(["x"] * 9, "m"), *(batcher.embed([f"t{i}"], "m") for i in range(12))
        )

    asyncio.run(main())
    assert lane.batches[0] == ["x"] * 9
    assert all(len(batch) <= 5 for batch in lane.batches[1:])


def test_callers_with_other_options_are_not_mixed() -> None:
    lane = FakeLane()

    async def main() -> list[EmbeddedTexts]:
        batcher = _batcher(lane)
        return await asyncio.gather(*(batcher.embed([f"t{i}"], i % 2) for i in range(10)))

    results = asyncio.run(main())
    assert [r.model for r in results] == [str(i % 2) for i in range(10)]
    assert all(len({int(t[1:]) % 2 for t in batch}) == 1 for batch in lane.batches)


def test_a_failed_batch_fails_its_callers_only() -> None:
    lane = FakeLane(fail_on="bad")

    async def main() -> list[object]:
        batcher = _batcher(lane, max_texts=2)
        return await asyncio.gather(
            batcher.embed(["bad"], "m"),
            batcher.embed(["ok1"], "m"),
            batcher.embed(["ok2"], "m"),
            return_exceptions=True,
        )

    bad, first, second = asyncio.run(main())
    assert isinstance(bad, RuntimeError) and isinstance(first, RuntimeError)
    assert isinstance(second, EmbeddedTexts) and second.vectors_b64 == ["ok2"]


def test_a_caller_that_gives_up_does_not_cancel_its_companions() -> None:
    lane = FakeLane(delay=0.05)

    async def main() -> EmbeddedTexts:
        batcher = _batcher(lane)
        quitter = asyncio.ensure_future(batcher.embed(["gone"], "m"))
        stayer = asyncio.ensure_future(batcher.embed(["here"], "m"))
        await asyncio.sleep(0.02)
        quitter.cancel()
        return await stayer

    assert asyncio.run(main()).vectors_b64 == ["here"]


def test_token_accounting_per_caller() -> None:
    texts = EmbeddedTexts(
        model="m", max_tokens=8, token_counts=[3, 12, 5], vectors_b64=["a", "b", "c"]
    )
    assert texts.tokens == 3 + 8 + 5
    assert texts.truncated == [1]
    part = texts.part(1, 3)
    assert part.token_counts == [12, 5] and part.vectors_b64 == ["b", "c"]
    assert part.truncated == [0]


@pytest.mark.parametrize("in_flight", [1, 2])
def test_arrivals_during_a_running_batch_join_the_next_one(in_flight: int) -> None:
    lane = FakeLane(delay=0.05)

    async def main() -> None:
        batcher = _batcher(lane, in_flight=in_flight)
        first = asyncio.ensure_future(batcher.embed(["a"], "m"))
        await asyncio.sleep(0.02)  # the first batch is running
        await asyncio.gather(first, *(batcher.embed([f"b{i}"], "m") for i in range(20)))

    asyncio.run(main())
    assert lane.batches[0] == ["a"]
    assert len(lane.batches) == 2 and len(lane.batches[1]) == 20


def test_a_burst_is_shared_out_between_idle_slots_by_texts() -> None:
    lane = FakeLane(delay=0.05)

    async def main() -> list[EmbeddedTexts]:
        batcher = _batcher(lane, in_flight=2)
        sizes = [4] + [1] * 36  # 40 texts: one caller of 4, then 36 of 1
        return await asyncio.gather(
            *(batcher.embed([f"t{i}"] * size, "m") for i, size in enumerate(sizes))
        )

    results = asyncio.run(main())
    assert [len(batch) for batch in lane.batches] == [20, 20] and lane.most_running == 2
    assert results[0].vectors_b64 == ["t0"] * 4 and results[36].vectors_b64 == ["t36"]


def test_a_caller_is_never_split_and_a_slot_left_unused_is_given_back() -> None:
    lane = FakeLane(delay=0.05)

    async def main() -> None:
        batcher = _batcher(lane, in_flight=2)
        # Two slots idle, but the big caller holds most texts: one batch, one slot unused.
        await asyncio.gather(*(batcher.embed(t, "m") for t in (["x"], ["y"], ["z"] * 10)))
        # Both slots are free again: two callers now go out side by side.
        await asyncio.gather(batcher.embed(["a"], "m"), batcher.embed(["b"], "m"))

    asyncio.run(main())
    assert lane.batches == [["x", "y", *["z"] * 10], ["a"], ["b"]]
    assert lane.most_running == 2
