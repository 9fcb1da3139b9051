"""Prices from genai-prices: cache writes by TTL, cache reads, long-context tiers; unknown models are
None (never $0), and Claude Code's own figures price them on import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import yurudb
from yurudb.importers.claude import import_transcripts
from yurudb.pricing import Tokens, response_cost

M = 1_000_000


def test_cache_writes_are_priced_by_their_ttl() -> None:
    # claude-opus-4-6: $5 per million input tokens; 5-minute writes 1.25x, 1-hour writes 2x, reads 0.1x
    assert response_cost("claude-opus-4-6", Tokens(cache_write_5m=M)) == pytest.approx(6.25)
    assert response_cost("claude-opus-4-6", Tokens(cache_write_1h=M)) == pytest.approx(10.0)
    assert response_cost("claude-opus-4-6", Tokens(cache_read=M)) == pytest.approx(0.5)
    assert response_cost("claude-opus-4-6", Tokens(input=M, output=M)) == pytest.approx(30.0)


def test_long_context_requests_cost_the_higher_tier() -> None:
    # claude-sonnet-4-5 over 200k input tokens: $6 input, $22.50 output per million (else $3 and $15)
    assert response_cost("claude-sonnet-4-5", Tokens(input=100_000, output=1000)) == pytest.approx(0.3 + 0.015)
    assert response_cost("claude-sonnet-4-5", Tokens(input=300_000, output=1000)) == pytest.approx(1.8 + 0.0225)


def test_usage_without_a_ttl_split_is_all_five_minute_writes() -> None:
    old = Tokens.from_usage({"input_tokens": 3, "cache_creation_input_tokens": 1000, "output_tokens": 5})
    assert (old.cache_write_5m, old.cache_write_1h) == (1000, 0)
    new = Tokens.from_usage({"cache_creation_input_tokens": 1000,
                             "cache_creation": {"ephemeral_1h_input_tokens": 600, "ephemeral_5m_input_tokens": 400}})
    assert (new.cache_write_5m, new.cache_write_1h) == (400, 600)


def test_a_model_no_one_prices_is_none_not_zero() -> None:
    assert response_cost("claude-imaginary-9", Tokens(input=M)) is None
    assert response_cost("<synthetic>", Tokens(input=M)) is None
    assert response_cost(None, Tokens(input=M)) is None


def _line(session: str, n: int, model: str, usage: dict, cost: float | None = None) -> dict:
    line = {"type": "assistant", "sessionId": session, "uuid": f"{session}-a{n}", "requestId": f"req{n}",
            "timestamp": f"2026-03-01T10:00:0{n}.000Z",
            "message": {"id": f"msg{n}", "role": "assistant", "model": model,
                        "content": [{"type": "text", "text": "ok"}], "usage": usage}}
    if cost is not None:
        line["costUSD"] = cost
    return line


@pytest.mark.sqlite_only
async def test_import_prices_one_hour_writes_and_uses_claude_codes_figures_for_unknown_models(
    tmp_path: Path, db_path: Path
) -> None:
    project = tmp_path / "projects" / "-repo"
    project.mkdir(parents=True)
    sid = "cafe0000-0000-4000-8000-000000000001"
    lines = [
        {"type": "user", "sessionId": sid, "uuid": "u0", "message": {"role": "user", "content": "hi"},
         "timestamp": "2026-03-01T10:00:00.000Z"},
        _line(sid, 1, "claude-opus-4-6", {"input_tokens": 10, "output_tokens": 100, "cache_creation_input_tokens": 2000,
                                          "cache_creation": {"ephemeral_1h_input_tokens": 2000,
                                                             "ephemeral_5m_input_tokens": 0}}),
        _line(sid, 2, "claude-future-7", {"input_tokens": 30, "output_tokens": 10}),
        _line(sid, 3, "claude-future-7", {"input_tokens": 30, "output_tokens": 30}),
        {"type": "cost-state", "sessionId": sid, "totalCostUSD": 1.0,
         "modelUsage": {"claude-future-7": {"costUSD": 0.5}, "claude-opus-4-6": {"costUSD": 0.5}}},
    ]
    (project / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    other = "cafe0000-0000-4000-8000-000000000002"
    (project / f"{other}.jsonl").write_text(json.dumps(_line(other, 1, "claude-unheard-of", {"output_tokens": 5})) + "\n")
    async with yurudb.open(db_path, daily_backup=False) as store:
        report = await import_transcripts(store, tmp_path / "projects")
        by_model = {r["model"]: r for r in await store.usage_summary(by="model")}
    # 10 input x $5 + 100 output x $25 + 2,000 one-hour writes x $10, per million
    assert by_model["claude-opus-4-6"]["cost_usd"] == pytest.approx((10 * 5 + 100 * 25 + 2000 * 10) / 1e6)
    assert by_model["claude-opus-4-6"]["tokens_cache_write"] == 2000
    # no price anywhere but Claude Code's own: its $0.50 for the model, shared by tokens (40 and 60)
    assert by_model["claude-future-7"]["cost_usd"] == pytest.approx(0.5)
    assert report.unpriced_models == {"claude-unheard-of"}


def test_the_fast_path_prices_exactly_as_genai_prices_does() -> None:
    import random

    from yurudb.pricing import exact_cost

    rng = random.Random(3)
    models = ["claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-opus-5-5"]
    cases = [Tokens(input=199_999), Tokens(input=200_000), Tokens(input=200_001, output=5),
             Tokens(input=10, cache_read=200_000, output=3), Tokens(cache_write_1h=150_000, cache_read=60_000)]
    cases += [Tokens(*(rng.choice([0, rng.randint(1, 400_000)]) for _ in range(5))) for _ in range(200)]
    for model in models:
        for tokens in cases:
            assert response_cost(model, tokens) == pytest.approx(exact_cost(model, tokens), rel=1e-9, abs=1e-12), (
                model, tokens)


@pytest.mark.sqlite_only
async def test_record_usage_without_a_cost_is_priced_from_the_price_database(db_path) -> None:
    import yurudb
    from yurudb.pricing import Tokens, response_cost

    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        priced = await store.record_usage(s.id, model="claude-sonnet-4-5", tokens_input=1000, tokens_output=500,
                                          tokens_cache_write=2000, tokens_cache_read=8000)
        given = await store.record_usage(s.id, model="claude-sonnet-4-5", tokens_input=1000, cost_usd=0.5)
        unknown = await store.record_usage(s.id, model="no-such-model", tokens_input=1000)
    expected = response_cost("claude-sonnet-4-5", Tokens(input=1000, output=500, cache_write_5m=2000, cache_read=8000))
    assert expected and abs(priced.cost_usd - expected) < 1e-12
    assert given.cost_usd == 0.5 and unknown.cost_usd == 0.0
