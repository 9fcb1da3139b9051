"""What a Claude response cost, from genai-prices (a maintained price database): cache writes priced
by their TTL, cache reads, and long-context tiers.

Chosen over the hand-kept table this module had: genai-prices knows every Claude model Claude Code
has used, including new ones, prices 1-hour cache writes at their own rate (2x base input; 5-minute
writes 1.25x), and applies Anthropic's long-context tiers (over 200k input tokens). It loads only
when an import prices something. A model it does not know is None here, never $0: the caller uses
Claude Code's own figures or reports the model as unpriced.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tokens:
    """One response's usage, as Anthropic reports it (input excludes the cache)."""

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0

    @property
    def cache_write(self) -> int:
        """Cache writes of either TTL."""
        return self.cache_write_5m + self.cache_write_1h

    @classmethod
    def from_usage(cls, usage: Mapping[str, Any]) -> Tokens:
        """From a transcript's `message.usage`: the TTL split from `cache_creation` when it is there."""
        written = _int(usage.get("cache_creation_input_tokens"))
        split = usage.get("cache_creation")
        hour = _int(split.get("ephemeral_1h_input_tokens")) if isinstance(split, Mapping) else 0
        five = _int(split.get("ephemeral_5m_input_tokens")) if isinstance(split, Mapping) else 0
        if hour + five != written:
            # No split (older transcripts): every write was a 5-minute one, the only TTL there was.
            hour, five = 0, written
        return cls(input=_int(usage.get("input_tokens")), output=_int(usage.get("output_tokens")),
                   cache_write_5m=five, cache_write_1h=hour, cache_read=_int(usage.get("cache_read_input_tokens")))


def response_cost(model: str | None, tokens: Tokens) -> float | None:
    """USD for one response, or None when the price database does not know the model.

    The model's prices come from genai-prices once; each response is then priced with them by
    genai-prices' own rule (per million tokens; a tier applies to all tokens once the request's
    input, cache included, passes its start). `calc_price` per response costs ~200 us, 60% of a
    sync; tests/test_pricing.py checks this against it on many responses, tier edges included.
    """
    if not model or model == "<synthetic>":
        return None
    price = _model_price(model)
    if price is None:
        return None
    total_input = tokens.input + tokens.cache_write + tokens.cache_read
    parts = ((price.input_mtok, tokens.input), (price.output_mtok, tokens.output),
             (price.cache_write_mtok, tokens.cache_write_5m), (price.cache_write_1h_mtok, tokens.cache_write_1h),
             (price.cache_read_mtok, tokens.cache_read))
    if any(rate is None and count for rate, count in parts):
        return exact_cost(model, tokens)  # a price this shortcut does not have: the database's own way
    return sum(_rate(rate, total_input) * count for rate, count in parts if count) / 1_000_000


def exact_cost(model: str, tokens: Tokens) -> float | None:
    """The cost by genai-prices' calc_price itself (the reference the fast path is checked against)."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=tokens.input + tokens.cache_write + tokens.cache_read,  # its input counts all
                  output_tokens=tokens.output, cache_write_tokens=tokens.cache_write,
                  cache_write_1h_tokens=tokens.cache_write_1h, cache_read_tokens=tokens.cache_read)
    try:
        return float(calc_price(usage, model, provider_id="anthropic").total_price)
    except LookupError:
        return None


@functools.cache
def _model_price(model: str) -> Any:
    from genai_prices import Usage, calc_price

    try:
        return calc_price(Usage(input_tokens=1), model, provider_id="anthropic").model_price
    except LookupError:
        return None


def _rate(price: Any, total_input: int) -> float:
    """A per-million price, or the tier's that the request's total input passes."""
    tiers = getattr(price, "tiers", None)
    if tiers is None:
        return float(price)
    rate = price.base
    for tier in sorted(tiers, key=lambda t: t.start):
        if total_input > tier.start:
            rate = tier.price
    return float(rate)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
