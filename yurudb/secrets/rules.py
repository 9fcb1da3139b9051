"""What a secret looks like: a rule set of the kind detect-secrets' plugins and gitleaks keep (a
provider's token format, a key block, a credential in a URL, a keyword assignment), plus an
entropy check on the values keyword rules find.

detect-secrets itself measured 0.3 MB/s on real transcripts here, and flagged 77,000 hex and base64
strings (uuids, hashes, tool ids) in 6.6 MB: unusable on every line of a history. These rules run
as one pass of one compiled pattern (tens of MB/s), and the entropy check only judges a value a
keyword already points at.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

# kind -> pattern; the secret is the group named "s".
RULES: dict[str, str] = {
    "private-key": r"-----BEGIN[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----(?P<s>[\s\S]*?(?:-----END[A-Z ]{0,20}PRIVATE KEY"
                   r"(?: BLOCK)?-----|\Z))",
    "aws-access-key": r"(?P<s>A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16})(?![0-9A-Za-z])",
    "aws-secret-key": r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
    "github-token": r"(?P<s>g(?:h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{60,255}))",
    "gitlab-token": r"(?P<s>glpat-[0-9A-Za-z_-]{20,})",
    "anthropic-key": r"(?P<s>sk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{40,})",
    "openai-key": r"(?P<s>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}"
                  r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|sk-[A-Za-z0-9]{48})(?![A-Za-z0-9_-])",
    "slack-token": r"(?P<s>xox[baprse]-[0-9A-Za-z-]{10,})",
    "slack-webhook": r"(?P<s>https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
    "stripe-key": r"(?P<s>[sr]k_live_[0-9a-zA-Z]{24,})",
    "google-api-key": r"(?P<s>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])",
    "npm-token": r"(?P<s>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])",
    "huggingface-token": r"(?P<s>hf_[A-Za-z]{34})(?![A-Za-z0-9])",
    "jwt": r"(?P<s>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
    "url-password": r"://[^\s/:@\"'<>]{1,64}:(?P<s>[^\s/@\"'<>]{3,128})@[^\s\"'<>]",
    # a .env line or a shell export: NAME=value where the name says what it is
    "env-secret": r"(?m)^[ \t]*(?:export[ \t]+)?[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|"
                  r"PRIVATE_?KEY|CREDENTIALS?|AUTH)[A-Z0-9_]*=[\"']?(?P<s>[^\s\"'#()]{8,})",
    # code or config: password = "...", "api_key": "..."
    "password-assignment": r"(?i:(?:password|passwd|secret|api_?key|auth_?token|access_?token|client_?secret))"
                           r"[\"']?[ \t]*[:=][ \t]*[\"'](?P<s>[^\"'\s]{8,200})[\"']",
}
# kinds whose value must also look random (a keyword alone says little: password = "changeme")
ENTROPY_CHECKED = {"env-secret", "password-assignment", "url-password"}
MIN_ENTROPY = {"env-secret": 3.0, "password-assignment": 3.0, "url-password": 2.5}
# values that are clearly not secrets: placeholders, variables, masks
PLACEHOLDER = re.compile(
    r"^(?:\$\{?[A-Za-z_]|<[^>]*>$|\{\{|%\(|\*{3,}|x{4,}$|X{4,}$|\.{3}|your[_-]|my[_-]|example|changeme|password|secret|"
    r"placeholder|redacted|\[REDACTED|null$|none$|true$|false$|undefined$|process\.env|os\.environ|env\()", re.IGNORECASE)

# each rule's literal hints: a rule runs only on a text holding one of them (plain `in`, in C), so
# most messages cost a few substring checks; hints in lower case are looked for in the folded text
HINTS: dict[str, tuple[str, ...]] = {
    "private-key": ("PRIVATE KEY",), "aws-access-key": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "aws-secret-key": ("aws",), "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), "gitlab-token": ("glpat-",),
    "anthropic-key": ("sk-ant-",), "openai-key": ("sk-",), "slack-token": ("xox",),
    "slack-webhook": ("hooks.slack.com",), "stripe-key": ("_live_",), "google-api-key": ("AIza",),
    "npm-token": ("npm_",), "huggingface-token": ("hf_",), "jwt": ("eyJ",), "url-password": ("://",),
    "env-secret": ("SECRET", "TOKEN", "PASSW", "KEY", "CREDENTIAL", "AUTH"),
}
# rules that begin at a keyword: matched only where the folded text has one (str.find, not a scan);
# the keywords are also their hints
ANCHORED = {"password-assignment": ("password", "passwd", "secret", "api_key", "apikey", "auth_token", "authtoken",
                                    "access_token", "accesstoken", "client_secret", "clientsecret"),
            "aws-secret-key": ("aws",)}
HINTS.update(ANCHORED)
FOLDED = set(ANCHORED)  # their hints are looked for in the folded text
# rules that may not start inside a word (the token formats: "xsk-..." is no key); checked by hand,
# since a leading \b stops the regex engine from skipping ahead to the literal
WORD_START = {"aws-access-key", "github-token", "gitlab-token", "anthropic-key", "openai-key", "slack-token",
              "stripe-key", "google-api-key", "npm-token", "huggingface-token", "jwt"}
_COMPILED = {kind: re.compile(pattern) for kind, pattern in RULES.items()}


@dataclass(frozen=True)
class Finding:
    """One secret in a text: its kind and where its value is (start, end), never the value itself kept."""

    kind: str
    start: int
    end: int

    def preview(self, text: str) -> str:
        """A redacted preview: the value's first characters and its length (enough to recognise, not to use)."""
        value = text[self.start:self.end].strip()  # a key block's body begins with its newline
        shown = 4 if len(value) >= 16 else 2 if len(value) >= 8 else 0
        return f"{value[:shown]}…[{len(value)} chars]"


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


# Rules keyed by words people write (password, token, ://) are gated by a substring search each;
# the token formats' hints are rare (AKIA, ghp_, eyJ, ...), so one pattern of all of them says
# whether any of those rules need run: most texts hold none (a substring search per hint measured
# 70 us for a 2.6 KB streamed message, most of it Python's loop over 40 hints)
WORDS = {"private-key", "aws-secret-key", "url-password", "env-secret", "password-assignment"}
_RARE = re.compile("|".join(re.escape(h) for h in sorted({h for k, hs in HINTS.items() if k not in WORDS for h in hs},
                                                         key=len, reverse=True)))


def find(text: str) -> list[Finding]:
    """Every secret the rules see in `text`, in order, not overlapping (the earlier, then the longer, wins)."""
    if not text:
        return []
    folded = None
    rare = _RARE.search(text) is not None
    found: list[Finding] = []
    for kind, pattern in _COMPILED.items():
        if kind not in WORDS and not rare:
            continue
        if kind in FOLDED:
            folded = text.lower() if folded is None else folded
            if not any(h in folded for h in HINTS[kind]):
                continue
        elif not any(h in text for h in HINTS[kind]):
            continue
        for m in _matches(kind, pattern, text, folded):
            if kind in WORD_START and m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_"):
                continue
            start, end = m.span("s")
            value = text[start:end]
            if kind in ENTROPY_CHECKED and (PLACEHOLDER.search(value) or entropy(value) < MIN_ENTROPY[kind]):
                continue
            if not value.strip() or value.lstrip().startswith("[REDACTED:"):
                continue  # an empty key block, or one already redacted
            found.append(Finding(kind, start, end))
    found.sort(key=lambda f: (f.start, -f.end))
    kept: list[Finding] = []
    for f in found:
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept


def _matches(kind: str, pattern: re.Pattern[str], text: str, folded: str | None) -> Any:
    """A rule's matches: a scan, or for a keyword-anchored rule a match at each keyword."""
    keywords = ANCHORED.get(kind)
    if keywords is None or folded is None:
        yield from pattern.finditer(text)
        return
    for keyword in keywords:
        at = folded.find(keyword)
        while at != -1:
            m = pattern.match(text, at)
            if m is not None:
                yield m
            at = folded.find(keyword, at + 1)


def redact(text: str) -> str:
    """`text` with each secret's value replaced by `[REDACTED:kind]`."""
    found = find(text)
    if not found:
        return text
    out, at = [], 0
    for f in found:
        out += [text[at:f.start], f"[REDACTED:{f.kind}]"]
        at = f.end
    return "".join(out) + text[at:]
