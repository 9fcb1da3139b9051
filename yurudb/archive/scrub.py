"""`yurudb secrets scrub`: the one way a secret leaves the archive itself.

Each secret found in a session's messages is replaced by `[REDACTED:kind]` everywhere the archive
keeps it: the archived transcript lines (inside their JSON strings, so every line stays valid JSON
and every other byte stays as it was), the files kept beside them (tool outputs), the message
columns, and the search index (each message is indexed again, so its findings go). The sync cursors
are left as they are: they describe the files on disk, which still hold the secret, so the next
sync reads on from where it was and does not take the old lines in again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..secrets import found as finding
from ..secrets import redact_value, rules


@dataclass
class ScrubReport:
    """What a scrub rewrote."""

    session_id: str
    secrets: dict[str, int] = field(default_factory=dict)  # kind -> distinct values
    messages: int = 0  # message rows rewritten
    lines: int = 0  # archived transcript lines rewritten
    files: int = 0  # archived files beside the transcripts rewritten
    renamed: bool = False  # its name or title held one
    backup: str | None = None


def _escaped(value: str) -> list[bytes]:
    """The forms a string takes inside a JSON line: as UTF-8, and with non-ASCII escaped."""
    forms = {json.dumps(value, ensure_ascii=False)[1:-1].encode(), json.dumps(value)[1:-1].encode()}
    return sorted(forms, key=len, reverse=True)


def _replace(data: bytes, values: list[tuple[str, str]], *, in_json: bool) -> bytes:
    for value, kind in values:
        mark = f"[REDACTED:{kind}]".encode()
        for form in (_escaped(value) if in_json else [value.encode()]):
            if form:
                data = data.replace(form, mark)
    return data


def scrub(tx: Any, session_id: str) -> ScrubReport:
    """Redact, inside the caller's transaction, every secret found in one session (see the module)."""
    import zstandard

    from ..lines import codec
    from ..lines import runs as archive_lines
    from ..search import index as search

    report = ScrubReport(session_id)
    archive_lines.load_dictionaries(tx)
    while search.scan_queued(tx, 5000, session_id):  # messages saved since the scanner's last round
        pass
    flagged = [r[0] for r in tx.execute(
        "SELECT DISTINCT f.message_id FROM secret_findings AS f JOIN messages AS m ON m.id = f.message_id "
        "WHERE m.session_id = ?", (session_id,))]
    found: dict[str, str] = {}  # value -> kind
    for _, body in search.bodies_of(tx, flagged):
        for f in rules.find(body):
            found.setdefault(body[f.start:f.end], f.kind)
    kept = _kept(tx, session_id)
    for _, _, plain in kept:  # a secret may be only in a saved tool output
        text = finding.kept_text(plain)
        for f in rules.find(text) if text is not None else []:
            found.setdefault(text[f.start:f.end], f.kind)
    values = sorted(found.items(), key=lambda vk: len(vk[0]), reverse=True)  # a longer value first
    for kind in found.values():
        report.secrets[kind] = report.secrets.get(kind, 0) + 1
    if not values:
        return report
    # out of the index first, by the text they were indexed with (a contentless index forgets a document
    # only when told its words exactly: told the scrubbed text, the secret's words would stay)
    search.unindex(tx, flagged)
    # the archived lines of the session's files, each run rewritten with its own dictionary
    for run_id, raw in tx.execute("SELECT b.id, b.raw FROM transcript_blocks AS b JOIN transcript_files AS t "
                                  "ON t.id = b.file_id WHERE t.session_id = ?", (session_id,)):
        lines = codec.unpack(raw)
        new = [_replace(line, values, in_json=True) for line in lines]
        changed = sum(a != b for a, b in zip(lines, new, strict=True))
        if changed:
            dict_id = zstandard.get_frame_parameters(raw).dict_id
            tx.execute("UPDATE transcript_blocks SET raw = ? WHERE id = ?",
                       (codec.encode(b"\n".join(new) + b"\n", dict_id), run_id))
            report.lines += changed
    report.files = _footprint(tx, kept, values)
    # the rows: a message keeps its id and place; its text columns lose the secret
    for mid, content, tool_uses, payload in tx.select_in(
            "SELECT id, content, tool_uses, payload FROM messages WHERE id IN ({})", flagged):
        new_content = rules.redact(content) if isinstance(content, str) else content
        new_tools = _json_redacted(tool_uses)
        new_payload = _json_redacted(payload)
        if (new_content, new_tools, new_payload) != (content, tool_uses, payload):
            tx.execute("UPDATE messages SET content = ?, tool_uses = ?, payload = ? WHERE id = ?",
                       (new_content, new_tools, new_payload, mid))
            report.messages += 1
    search.index(tx, flagged)  # indexed again from what they hold now: their findings are gone
    # a contentless index forgets a document by a delete marker; its words stay in older segments until
    # they merge: merged now, so no word of a secret is left in the index's pages
    tx.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")
    # a session is often named by its first prompt, secret and all
    name, title = tx.execute("SELECT name, claude_title FROM sessions WHERE id = ?", (session_id,))[0]
    if (rules.redact(name), title and rules.redact(title)) != (name, title):
        tx.execute("UPDATE sessions SET name = ?, claude_title = ? WHERE id = ?",
                   (rules.redact(name), title and rules.redact(title), session_id))
        report.renamed = True
    return report


def _json_redacted(column: Any) -> Any:
    if not isinstance(column, str):
        return column
    try:
        return json.dumps(redact_value(json.loads(column)), ensure_ascii=False)
    except ValueError:
        return rules.redact(column)


def _kept(tx: Any, session_id: str) -> list[tuple[int, int, bytes]]:
    """The session's kept files: (file row, its blob, its bytes), each read and decompressed once."""
    import zstandard

    rows = tx.execute("SELECT f.id, f.blob_id, b.data FROM footprint_files AS f JOIN footprint_blobs AS b "
                      "ON b.id = f.blob_id WHERE f.session_key = "
                      "(SELECT COALESCE(claude_session_id, id) FROM sessions WHERE id = ?)", (session_id,))
    return [(file_id, blob_id, zstandard.ZstdDecompressor().decompress(data)) for file_id, blob_id, data in rows]


def _footprint(tx: Any, kept: list[tuple[int, int, bytes]], values: list[tuple[str, str]]) -> int:
    """Rewrite the kept files that hold a secret (a new blob each; the old one goes when nothing names it)."""
    from . import footprint

    rewritten = 0
    for file_id, old_blob, plain in kept:
        new = _replace(_replace(plain, values, in_json=True), values, in_json=False)
        if new != plain:
            # the row's size and stat stay the disk file's: the next sync finds it unchanged, not rewritten
            tx.execute("UPDATE footprint_files SET blob_id = ? WHERE id = ?", (footprint.blob_for(tx, new), file_id))
            footprint.drop_unused_blob(tx, old_blob)
            rewritten += 1
    return rewritten
