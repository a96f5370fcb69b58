"""Images as Ollama takes them (base64 text), from whatever a caller holds.

The `ollama` client reads a file path (`str` or `Path`), encodes raw bytes, unwraps its
`Image`, and passes base64 text through; so does this, in `chat` messages and in
`generate(images=...)` alike. A name that looks like an image file but does not exist, or text
that is neither a file nor base64, fails before anything is sent.
"""

from __future__ import annotations

import binascii
import os
from base64 import b64encode
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError

#: a string this long is base64 data, never a path (PATH_MAX is 4096 on Linux)
_LONGEST_PATH = 4096
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def image_b64(image: Any) -> str:
    """One image as base64 text.

    >>> image_b64(b"GIF89a"), image_b64("R0lGODlh")
    ('R0lGODlh', 'R0lGODlh')
    """
    if isinstance(image, str):
        return _from_text(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return b64encode(image).decode()
    if isinstance(image, os.PathLike):
        return _read(Path(image))
    if "value" in getattr(type(image), "model_fields", ()):
        return image_b64(image.value)  # `ollama.Image` or `qwenkit.types.Image`
    raise InvalidRequestError(
        f"cannot send {type(image).__name__} as an image",
        hint="pass a file path, a pathlib.Path, bytes, base64 text or an Image",
    )


def images_b64(images: Sequence[Any]) -> list[str]:
    return [image_b64(image) for image in images]


def _from_text(text: str) -> str:
    if len(text) < _LONGEST_PATH and _is_file(text):
        return _read(Path(text))
    if text.lower().endswith(_IMAGE_SUFFIXES):
        raise InvalidRequestError(
            f"image file {text} does not exist", hint="check the path (relative to the cwd)"
        )
    try:
        binascii.a2b_base64(text)  # lenient as Ollama's decoder: line breaks are allowed
    except binascii.Error:
        raise InvalidRequestError(
            "invalid image data: expected base64 text or the path of an image file",
            hint="pass the file's path, its bytes, or base64 text",
        ) from None
    return text


def _is_file(text: str) -> bool:
    try:
        return os.path.isfile(text)
    except (OSError, ValueError):  # a NUL byte, or a name the OS refuses
        return False


def _read(path: Path) -> str:
    try:
        return b64encode(path.read_bytes()).decode()
    except OSError as err:
        raise InvalidRequestError(
            f"cannot read image {path}: {err.strerror or err}", hint="check the path"
        ) from None
