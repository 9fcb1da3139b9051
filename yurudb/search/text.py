"""What a message says to the search index: its text, and that text as the tokenizer should see it.

What unicode61 alone would miss is written into the indexed text: the words inside a camelCase
identifier (`getUserName` also indexes `get user name`), and CJK text as overlapping bigrams
(`日本語` indexes `日本 本語`), since CJK has no spaces to split words on. snake_case, paths and
punctuation split already (`tests/test_salvage.py` is `tests test salvage py`). The query side
(`search_query`) applies the same rules, so what a person types is what they find.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import Any

from ..validation import block_texts, content_text

# A long string without a space in a tool input or result is data (base64, a minified blob), not words.
_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{512,}")
_WORD = re.compile(r"[^\W_]+")
# a camelCase step: a capital after a lower-case letter or digit, or a capital before a capital and a
# lower-case letter (`HTTPServer` steps at its P)
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
_CAMEL_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]{2,}")



# ---- what a message says -------------------------------------------------------------------
def text_of(content: str | None, tool_uses: Any, payload: Any = None) -> str:
    """The searchable text of a message, whole: its text (prompts, replies, tool results) and its tool inputs.

    Every word is indexed, however long the message: a log or a spec pasted into a prompt, a long
    answer, a file a tool read. Only what is not text is left out: a run of 512 or more characters
    without a space (base64, an image, a minified blob), and ids.
    """
    parts: list[str] = []
    blocks = _result_blocks(payload)
    if blocks is not None:
        parts += blocks
    elif content:
        parts.append(content)
    if tool_uses:
        _strings(tool_uses, parts)
    # lone surrogates (which SQLite cannot take) become U+FFFD, as in the content column
    text = content_text("\n".join(parts)) or ""
    if len(text) >= 512 and _maybe_blob(text):
        text = _BLOB.sub(" ", text)
    return text


def _maybe_blob(text: str) -> bool:
    """Whether `text` may hold 512 characters without a space: a run that long fills one of its
    aligned 256-character windows. Testing windows costs a fraction of running the pattern."""
    for at in range(0, len(text) - 255, 256):
        window = text[at:at + 256]
        if " " not in window and "\n" not in window:
            return True
    return False


def _result_blocks(payload: Any) -> list[str] | None:
    """The text of a payload's content blocks, tool results included; None when it has no tool result."""
    if not isinstance(payload, dict):
        return None
    message = payload.get("message")
    blocks = message.get("content") if isinstance(message, dict) else payload.get("content")
    if not isinstance(blocks, list) or not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        return None
    return block_texts(blocks)


def _strings(value: Any, out: list[str]) -> None:
    """Every string inside a tool use (its name, command, paths, patterns), not its ids."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key not in ("id", "tool_use_id", "type"):
                _strings(inner, out)
    elif isinstance(value, list):
        for inner in value:
            _strings(inner, out)


def indexed(text: str) -> str:
    """The text as the index sees it: CJK runs as bigrams, and camelCase words also in parts."""
    extra = [_parts(w) for w in _camel_words(text)]
    if not text.isascii() and _CJK.search(text):
        text = _CJK.sub(lambda m: " ".join(_bigrams(m.group())), text)
    return text + ("\n" + "\n".join(extra) if extra else "")


# A text as one byte per character: a lower-case ASCII letter (a), a digit (d), a capital (A), any
# other ASCII character a gap ( ), anything else (u) a character to ask (str.isalnum) when a word's
# edge reaches it. camelCase steps are ASCII in _CAMEL's terms, so the bytes find them all.
_CLASSES = bytes(b"a"[0] if chr(c).islower() else b"A"[0] if chr(c).isupper() else b"d"[0] if chr(c).isdigit()
                 else b" "[0] for c in range(128)) + b"u" * 128
# a step: a capital after a lower-case letter or digit, or before a capital and a lower-case letter
# (a literal first, which re finds fastest)
_CLASS_STEP = re.compile(rb"A(?:(?<=[ad]A)|(?=Aa))")
_U = b"u"[0]
# messages.search_doc of a row degraded mode's memory copied from the file and left alone: the
# file's index holds its document (memory indexes it once it writes it; until then a search takes
# the file's hit). Shared by the memory twin, the index's upkeep and the degraded search.
FILE_INDEXED = -1

_WIDE = "yurudb-wide"  # the encode error handler: a character beyond Latin-1 becomes one byte 0x80


def _one_byte_each(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    return "\x80" * (error.end - error.start), error.end


codecs.register_error(_WIDE, _one_byte_each)


@functools.lru_cache(maxsize=16_384)
def _parts(word: str) -> str:
    """A camelCase word's parts (`getUserName` -> `get User Name`); identifiers recur, so remembered."""
    return " ".join(_CAMEL_PARTS.findall(word))


def _camel_words(text: str) -> list[str]:
    """The words (`_WORD`) with a camelCase step (`_CAMEL`) in them: `getUserName` in `x = getUserName()`.

    Found by a search over the text's character classes, then each word's edges: testing every word,
    or a pattern scan of the text itself, was most of the cost of indexing a message.
    """
    wide = not text.isascii()
    classes = text.encode("latin-1" if wide else "ascii", _WIDE).translate(_CLASSES)
    words: list[str] = []
    step = _CLASS_STEP.search(classes)
    while step is not None:
        at = step.start()
        start, end = _word_edges(text, classes, at)
        words.append(text[start:end])
        step = _CLASS_STEP.search(classes, end)  # the word's other steps are in it already
    return words


def _word_edges(text: str, classes: bytes, at: int) -> tuple[int, int]:
    """Where the word (a run of letters and digits, `[^\\W_]`) around position `at` starts and ends."""
    start = classes.rfind(b" ", 0, at) + 1
    end = classes.find(b" ", at)
    end = len(text) if end < 0 else end
    if b"u" in classes[start:end]:  # a non-ASCII character there may end the word (a dash, an emoji)
        start = next((i + 1 for i in range(at - 1, start - 1, -1) if classes[i] == _U and not text[i].isalnum()),
                     start)
        end = next((i for i in range(at + 1, end) if classes[i] == _U and not text[i].isalnum()), end)
    return start, end


def _bigrams(run: str) -> list[str]:
    # and the last character alone, so a one-character query finds every character (the others
    # each start a bigram, which a prefix query finds)
    return [run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]



def file_texts(path: Any) -> Any:
    """The searchable text of each JSON object line of a transcript file, in order (other lines skipped)."""
    import json

    from ..lines import transcript

    with open(path, "rb") as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                cols = transcript.project(line)
                yield text_of(cols["content"], cols["tool_uses"], line)
