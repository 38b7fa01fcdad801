"""A model's files: where they are, and a fingerprint of what they hold.

No torch here: the fingerprint is taken in the worker child that loads the model, and the
tests compare it without loading anything.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Not read when the model runs on torch, or not part of the model at all.
_NOT_THE_MODEL = {"README.md", ".gitattributes"}
_OTHER_EXPORTS = {"onnx", "openvino"}
_CHUNK = 1 << 20


def local_files(source: str) -> Path:
    """The model's folder: a local path as given, a hub name from the local hub cache."""
    if os.path.isdir(source):
        return Path(source)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(source))


def fingerprint(source: str) -> str:
    """16 hex digits of a SHA-256 over the model's files, names and contents: the same files
    give the same fingerprint on every host, changed weights or tokenizer a new one (mtimes
    and other exports in the folder do not count)."""
    folder = local_files(source)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or path.name in _NOT_THE_MODEL:
            continue
        if relative.parts[0] in _OTHER_EXPORTS:
            continue
        digest.update(f"{relative.as_posix()}\0".encode())
        with path.open("rb") as data:
            while block := data.read(_CHUNK):
                digest.update(block)
    return digest.hexdigest()[:16]
