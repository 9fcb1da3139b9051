"""The README's library example runs as written."""

from __future__ import annotations

import textwrap
from pathlib import Path

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"


async def test_the_readme_library_example_runs(db_path: Path, capsys) -> None:
    section = README.read_text().split("## The library", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    source = "async def example():\n" + textwrap.indent(code, "    ")
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)  # noqa: S102 - our own README
    await namespace["example"]()
    assert "ready" in capsys.readouterr().out
    assert db_path.exists()  # YURUDB_PATH points the default location at this test's folder


def _block(section: str, lang: str) -> str:
    return section.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def test_the_readme_fixture_example_passes_in_a_fresh_project_as_printed(pytester) -> None:
    section = README.read_text().split("## Pytest fixtures for apps", 1)[1].split("\n## ", 1)[0]
    pytester.makefile(".toml", pyproject=_block(section, "toml"))
    pytester.makepyfile(test_app=_block(section, "python"))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_without_the_asyncio_setting_the_example_does_not_pass(pytester) -> None:
    # what the README warns about: the setting it prints is what makes the example run
    section = README.read_text().split("## Pytest fixtures for apps", 1)[1].split("\n## ", 1)[0]
    pytester.makepyfile(test_app=_block(section, "python"))
    result = pytester.runpytest_subprocess()
    assert result.ret != 0 and result.parseoutcomes().get("passed", 0) == 0
