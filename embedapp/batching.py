"""Group texts into model batches by padded tokens, not by count.

On a CPU the model's cost is the padded batch (texts × longest text): sorting by length and
filling each batch up to a token budget keeps padding near zero and batches large
(text-embeddings-inference's --max-batch-tokens).
"""

from collections.abc import Sequence


def token_budget_batches(
    lengths: Sequence[int], *, max_batch_tokens: int, max_batch_size: int
) -> list[list[int]]:
    """Indices of the texts, shortest first, in batches whose padded size fits the budget.

    A batch's padded size is its count times its longest text; a text longer than the whole
    budget gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted ascending, so this text is the longest of the batch it joins.
        padded = (len(current) + 1) * lengths[index]
        if current and (padded > max_batch_tokens or len(current) == max_batch_size):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
