"""Model prices (USD per million tokens), in one place: the importer's fallback when a line has no costUSD."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """Per-million-token prices of one model family."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Anthropic's list prices; the longest matching prefix wins (claude-opus-4-6 before claude-opus-4).
PRICES: dict[str, Price] = {
    "claude-opus-4-6": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 18.75, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 18.75, 1.50),
    "claude-sonnet-4": Price(3.0, 15.0, 3.75, 0.30),
    "claude-3-7-sonnet": Price(3.0, 15.0, 3.75, 0.30),
    "claude-3-5-sonnet": Price(3.0, 15.0, 3.75, 0.30),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.0, 1.0, 0.08),
}


def price_for(model: str | None) -> Price | None:
    """The price of a model id, or None if unknown."""
    if not model:
        return None
    best = max((p for p in PRICES if model.startswith(p)), key=len, default=None)
    return PRICES[best] if best else None


def cost_usd(model: str | None, *, input: int, output: int, cache_write: int, cache_read: int) -> float | None:
    """The cost of one response, or None when the model has no price here."""
    price = price_for(model)
    if price is None:
        return None
    return (input * price.input + output * price.output + cache_write * price.cache_write
            + cache_read * price.cache_read) / 1_000_000
