"""The README's library example runs as written."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
