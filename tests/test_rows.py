"""Models built from database rows without validation are the same as validated ones; JSON encoding is json.dumps's."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError as PydanticValidationError

from yurudb.tables.entities import Message, Session, Usage
from yurudb.tables.rows import message_from_row, session_from_row, usage_from_row
from yurudb.validation import encode_json

UTC = timezone.utc


def test_session_from_row_equals_a_validated_session() -> None:
    row = ("s1", "name", "active", "/repo", "c1", "title", 1, "2026-01-02 03:04:05.678", "2026-01-02 03:04:06",
           '{"k": [1, 2]}')
    built = session_from_row(row)
    assert built == Session(id="s1", name="name", status="active", working_directory="/repo", claude_session_id="c1",
                            claude_title="title", user_renamed=True, created_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                            updated_at=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), meta={"k": [1, 2]})
    assert built.model_dump() == Session.model_validate(built.model_dump()).model_dump()
    assert built.model_copy(update={"name": "x"}).name == "x"
    with pytest.raises(PydanticValidationError, match="frozen"):
        built.name = "frozen"  # type: ignore[misc]


def test_message_from_row_equals_a_validated_message() -> None:
    row = ("m1", "s1", 3, "assistant", "assistant", "hi", '[{"name": "Bash"}]', '{"output_tokens": 5}', "1970-01-01 00:00:00.099",
           '{"type": "assistant", "content": "hi"}', None, None, None)
    assert message_from_row(row) == Message(
        id="m1", session_id="s1", seq=3, type="assistant", role="assistant", content="hi",
        tool_uses=[{"name": "Bash"}], usage={"output_tokens": 5}, timestamp=datetime(1970, 1, 1, 0, 0, 0, 99000, tzinfo=UTC),
        payload={"type": "assistant", "content": "hi"})
    assert message_from_row(("m", "s", 1, "user", None, None, None, None, None, None, None, None, None)) == Message(
        id="m", session_id="s", seq=1, type="user")


def test_usage_from_row_equals_a_validated_usage() -> None:
    row = (1, "s1", 10, 20, 30, 0, "opus", 5, "req", 25, 5)  # epoch ms, as another program may write it
    assert usage_from_row(row) == Usage(id=1, session_id="s1", tokens_input=10, tokens_output=20, tokens_cache=30,
                                        cost_usd=0.0, model="opus", timestamp=datetime(1970, 1, 1, 0, 0, 0, 5000, tzinfo=UTC),
                                        source_id="req", tokens_cache_write=25, tokens_cache_read=5)
    assert isinstance(usage_from_row(row).cost_usd, float)


def test_json_columns_with_whitespace_still_decode() -> None:
    from yurudb.tables.rows import _json

    assert _json('  {"a": 1}  ') == {"a": 1} and _json("[1, 2]") == [1, 2] and _json(None) is None


@pytest.mark.parametrize(
    "value",
    [
        {"type": "assistant", "content": [{"type": "text", "text": "héllo ✓ \"q\" \\ \n"}], "n": 1.5, "k": None},
        {1: "int key", "t": True, "f": False, "big": 10**30, "neg": -0.0, "tiny": 1e-300},
        ["a", ["b", {}], []],
        "plain text",
        3,
    ],
)
def test_encoder_matches_json_dumps(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert encode_json(value, "v") == expected


def test_a_synced_lines_payload_is_read_from_its_bytes_in_the_run_that_holds_it() -> None:
    from yurudb.lines import codec
    from yurudb.lines import runs as archive_lines

    raw = b'{"type":"user","uuid":"u1","message":{"content":"h\\u00e9"}}'
    (count, frame), = codec.pack([b'{"type":"x"}', raw, b"not json"])  # lines 2, 3 and 4 of file 7
    row = ("u1", "s1", 1, "user", "user", "hé", None, None, None, None, "t/sub.jsonl", 7, 3, 9)
    app_row = ("a1", "s1", 2, "user", "user", "hi", None, None, None, '{"id":"a1"}', None, None, None, None)
    read = archive_lines.with_lines([row, app_row], [(9, 2, frame)], 13)
    assert count == 3 and read[0][13] == raw and read[1] == app_row
    message = message_from_row(read[0])
    assert message.payload == json.loads(raw) and (message.thread, message.file_id, message.line) == ("t/sub.jsonl", 7, 3)
    # a line the run does not hold (a damaged archive) reads as a message without its payload
    assert archive_lines.with_lines([(*row[:12], 9, 9)], [(9, 2, frame)], 13)[0][13] is None
    assert archive_lines.with_lines([row], [], 13)[0][13] is None  # its run deleted between the two reads
