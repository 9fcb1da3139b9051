"""The archive's line codec: runs of consecutive transcript lines, their exact bytes zstd-compressed
together (`pack`, `unpack`), with a dictionary trained on the history once there is enough of it.

A frame names the dictionary it needs (zstd writes the dictionary's id into the frame header), so
decoding looks it up here; dictionaries come from the `archive_dicts` table (`register`).

Lines are compressed in runs of about 256 KiB, not one by one. Measured on the generated 200 MB
history (random words of the real transcripts' vocabulary): a line alone came to 0.31 of its bytes
with the dictionary, and rows of very different sizes left another 0.07 of the table's pages empty;
runs of 64 KiB came to 0.26, of 256 KiB to 0.25, and a whole database to 0.61x and 0.60x the JSONL.
A 256 KiB run decodes in about 0.2 ms; a session's messages decode each run they share once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import zstandard

LEVEL = 3
DICT_SIZE = 262_144  # zstd's default is 110 KiB: 256 KiB came to 0.005 of the JSONL smaller
TRAIN_MIN_LINES = 400  # fewer samples than this make a poor dictionary (or none: training fails)
TRAIN_SAMPLES = 4_000  # at most this many lines (a sync trains as soon as it has TRAIN_MIN_LINES)
TRAIN_MAX_BYTES = 8 * 1024 * 1024
RUN_BYTES = 256 * 1024  # a run of lines is cut once it holds this many bytes

_lock = threading.Lock()
_dicts: dict[int, zstandard.ZstdCompressionDict] = {}
# zstandard's compressors and decompressors are not shared across threads: one per thread each.
_local = threading.local()


class UnknownDictionary(LookupError):
    """A frame needs a dictionary this process has not loaded (another process trained it)."""


class Damaged(ValueError):
    """A frame whose bytes changed since it was written (its checksum, or zstd itself, says so)."""


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
    """Bytes compressed (with dictionary `dict_id`; 0 for none)."""
    return _coder("enc", dict_id).compress(line)  # type: ignore[union-attr]


def decode(frame: bytes) -> bytes:
    """The exact bytes back (UnknownDictionary when their dictionary is not loaded, Damaged when the
    frame's bytes changed: a frame written since checksums carries one, and zstd checks it)."""
    try:
        dict_id = zstandard.get_frame_parameters(frame).dict_id
        return _coder("dec", dict_id).decompress(frame)  # type: ignore[union-attr]
    except zstandard.ZstdError as exc:
        raise Damaged(str(exc)) from exc


def pack(lines: Sequence[bytes], dict_id: int = 0) -> list[tuple[int, bytes]]:
    """Lines (without their newlines) as compressed runs of about RUN_BYTES: (lines in the run, its frame)."""
    runs: list[tuple[int, bytes]] = []
    run: list[bytes] = []
    size = 0
    for line in lines:
        run.append(line)
        size += len(line) + 1
        if size >= RUN_BYTES:
            runs.append((len(run), encode(b"\n".join(run) + b"\n", dict_id)))
            run, size = [], 0
    if run:
        runs.append((len(run), encode(b"\n".join(run) + b"\n", dict_id)))
    return runs


def unpack(frame: bytes) -> list[bytes]:
    """A run's lines back, exact, without their newlines (UnknownDictionary as `decode`)."""
    return decode(frame).split(b"\n")[:-1]


def size_of(frame: bytes) -> int:
    """The bytes a frame decodes to, from its header (-1 when the header does not say)."""
    return int(zstandard.frame_content_size(frame))


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
            # the checksum (4 bytes a frame) tells a frame whose bytes changed on disk from a good one
            coder = zstandard.ZstdCompressor(level=LEVEL, dict_data=data, write_checksum=True)
        else:
            coder = zstandard.ZstdDecompressor(dict_data=data)
        cache[dict_id] = coder
    return coder
