from embedapp.model.batching import MAX_PADDING, token_budget_batches


def test_batches_are_sorted_and_fit_the_budget() -> None:
    lengths = [50, 3, 10, 10, 4, 200, 9, 3]
    batches = token_budget_batches(lengths, max_batch_tokens=40, max_batch_size=100)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))  # every text once
    assert [lengths[i] for i in flat] == sorted(lengths)  # shortest first
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= 40 or len(batch) == 1
    assert [5] in batches and [0] in batches  # longer than the budget: alone


def test_short_texts_fill_big_batches_up_to_the_size_cap() -> None:
    batches = token_budget_batches([8] * 100, max_batch_tokens=2048, max_batch_size=32)
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    batches = token_budget_batches([8] * 100, max_batch_tokens=400, max_batch_size=1000)
    assert [len(b) for b in batches] == [50, 50]


def test_a_long_text_is_not_padded_onto_short_ones() -> None:
    # Within the budget, but [4, 4, 4, 30] would be 90 of 120 tokens padding.
    batches = token_budget_batches([4, 30, 4, 4, 31], max_batch_tokens=2048, max_batch_size=32)
    assert batches == [[0, 2, 3], [1, 4]]
    lengths = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233] * 7
    for batch in token_budget_batches(lengths, max_batch_tokens=4096, max_batch_size=256):
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded - sum(lengths[i] for i in batch) <= MAX_PADDING * padded


def test_nothing_in_nothing_out() -> None:
    assert token_budget_batches([], max_batch_tokens=10, max_batch_size=10) == []
