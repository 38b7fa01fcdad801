"""The README's commands, as the tests and .ci/run read them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def block_after(marker: str) -> str:
    """The fenced code block that follows `<!-- marker -->`."""
    found = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README.read_text(), re.S)
    assert found, f"README.md has no block marked {marker}"
    return found.group(1)
