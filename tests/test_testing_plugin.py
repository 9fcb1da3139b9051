"""The fixtures yurudb ships to apps work, through the installed pytest plugin."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]


async def test_yurudb_store_is_open_on_a_temporary_database(yurudb_store, yurudb_path: Path) -> None:
    assert yurudb_store.state == "ready"
    assert yurudb_store.path == yurudb_path and yurudb_path.exists()
    assert await yurudb_store.list_sessions() == []


async def test_factory_makes_sessions_messages_and_usage(yurudb_store, yurudb_factory) -> None:
    session, messages = await yurudb_factory.conversation(turns=3, name="demo")
    assert session.name == "demo" and [m.type for m in messages] == ["user", "assistant"] * 3
    assert len(await yurudb_store.get_messages(session.id)) == 6
    [row] = await yurudb_store.usage_summary()
    assert row["records"] == 3 and row["tokens_output"] == 60


def test_the_plugin_is_loaded_by_entry_point_in_another_project(pytester) -> None:
    pytester.makepyfile(
        """
        async def test_uses_the_fixture(yurudb_store, yurudb_factory):
            s = await yurudb_factory.session()
            await yurudb_factory.messages(s.id, 2)
            assert len(await yurudb_store.get_messages(s.id)) == 2
        """
    )
    result = pytester.runpytest_subprocess("-p", "asyncio", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=1)
