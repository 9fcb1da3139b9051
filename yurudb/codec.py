"""The archive's line codec: each transcript line's exact bytes, zstd-compressed on its own (so one
line reads back alone), with a dictionary trained on the history once there is enough of it.

A frame names the dictionary it needs (zstd writes the dictionary's id into the frame header), so
decoding looks it up here; dictionaries come from the `archive_dicts` table (`register`).
Measured on the shared transcripts: 0.40 of the bytes per line without a dictionary, 0.17 with one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import zstandard

LEVEL = 3
DICT_SIZE = 112_640  # zstd's default dictionary size
TRAIN_MIN_LINES = 400  # fewer samples than this make a poor dictionary (or none: training fails)
TRAIN_SAMPLES = 4_000  # the lines a dictionary is trained on
TRAIN_MAX_BYTES = 8 * 1024 * 1024

_lock = threading.Lock()
_dicts: dict[int, zstandard.ZstdCompressionDict] = {}
# zstandard's compressors and decompressors are not shared across threads: one per thread each.
_local = threading.local()


class UnknownDictionary(LookupError):
    """A frame needs a dictionary this process has not loaded (another process trained it)."""


def register(dict_id: int, data: bytes) -> None:
    """Make a dictionary known (idempotent)."""
    with _lock:
        if dict_id not in _dicts:
            _dicts[dict_id] = zstandard.ZstdCompressionDict(data)


def known(dict_id: int) -> bool:
    """Whether a dictionary is loaded."""
    return dict_id in _dicts


def train(samples: Sequence[bytes]) -> tuple[int, bytes] | None:
    """A dictionary trained on sample lines: (its id, its bytes), or None when the samples will not do."""
    chosen: list[bytes | bytearray | memoryview] = []
    total = 0
    for s in samples:
        if total >= TRAIN_MAX_BYTES:
            break
        chosen.append(s)
        total += len(s)
    if len(chosen) < TRAIN_MIN_LINES:
        return None
    try:
        d = zstandard.train_dictionary(DICT_SIZE, chosen)
    except zstandard.ZstdError:
        return None
    data = d.as_bytes()
    register(d.dict_id(), data)
    return d.dict_id(), data


def encode(line: bytes, dict_id: int = 0) -> bytes:
    """A line's bytes, compressed (with dictionary `dict_id`; 0 for none)."""
    return _coder("enc", dict_id).compress(line)  # type: ignore[union-attr]


def decode(frame: bytes) -> bytes:
    """A line's exact bytes back (UnknownDictionary when its dictionary is not loaded)."""
    dict_id = zstandard.get_frame_parameters(frame).dict_id
    return _coder("dec", dict_id).decompress(frame)  # type: ignore[union-attr]


def _coder(kind: str, dict_id: int) -> zstandard.ZstdCompressor | zstandard.ZstdDecompressor:
    cache: dict[int, zstandard.ZstdCompressor | zstandard.ZstdDecompressor] = _local.__dict__.setdefault(kind, {})
    coder = cache.get(dict_id)
    if coder is None:
        data = None
        if dict_id:
            with _lock:
                data = _dicts.get(dict_id)
            if data is None:
                raise UnknownDictionary(f"zstd dictionary {dict_id} is not loaded")
        if kind == "enc":
            coder = zstandard.ZstdCompressor(level=LEVEL, dict_data=data)
        else:
            coder = zstandard.ZstdDecompressor(dict_data=data)
        cache[dict_id] = coder
    return coder
