"""Split a text into overlapping windows of tokens, as character spans of the original."""

from collections.abc import Sequence

Span = tuple[int, int]


def token_windows(offsets: Sequence[Span], *, size: int, overlap: int, length: int) -> list[Span]:
    """Character spans of windows of `size` tokens, each sharing `overlap` with the previous.

    `offsets` are the tokens' (start, end) characters as a fast tokenizer reports them, and
    `length` the text's length. A window runs up to where the token after it begins, the first
    from 0 and the last to the end, so the windows cover the whole text: their union is it.
    """
    if not offsets:
        return [(0, length)] if length else []
    step = size - overlap
    spans = []
    for first in range(0, len(offsets), step):
        after = first + size
        start = 0 if first == 0 else offsets[first][0]
        end = offsets[after][0] if after < len(offsets) else length
        spans.append((start, end))
        if after >= len(offsets):
            break
    return spans
