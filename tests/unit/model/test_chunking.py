from embedapp.model.chunking import token_windows

TEXT = " aa bb cc dd ee\n"
# Five tokens of two characters, one space apart, after a leading space.
OFFSETS = [(1, 3), (4, 6), (7, 9), (10, 12), (13, 15)]


def _pieces(size: int, overlap: int) -> list[str]:
    spans = token_windows(OFFSETS, size=size, overlap=overlap, length=len(TEXT))
    return [TEXT[start:end] for start, end in spans]


def test_a_short_text_is_one_window_of_all_of_it() -> None:
    assert _pieces(8, 2) == [TEXT]


def test_windows_without_overlap_tile_the_text() -> None:
    assert _pieces(2, 0) == [" aa bb ", "cc dd ", "ee\n"]
    assert "".join(_pieces(2, 0)) == TEXT


def test_windows_overlap_by_whole_tokens() -> None:
    assert _pieces(3, 1) == [" aa bb cc ", "cc dd ee\n"]
    assert _pieces(2, 1) == [" aa bb ", "bb cc ", "cc dd ", "dd ee\n"]


def test_a_text_without_tokens() -> None:
    assert token_windows([], size=4, overlap=0, length=3) == [(0, 3)]
    assert token_windows([], size=4, overlap=0, length=0) == []
