from embedapp.batching import token_budget_batches


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


def test_nothing_in_nothing_out() -> None:
    assert token_budget_batches([], max_batch_tokens=10, max_batch_size=10) == []
