"""The README's library example and the fixtures example of docs/testing.md run as written."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"
TESTING = Path(__file__).resolve().parents[1] / "docs" / "testing.md"  # the fixtures for apps


def test_the_readme_library_example_runs_as_a_script_and_finds_what_it_says(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    section = README.read_text().split("## The library", 1)[1]
    script = tmp_path / "example.py"
    script.write_text(_block(section, "python"))
    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "never.db"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ready ")
    assert "the flaky test is test_retry" in lines[1]
    assert "[flaky] [test]" in lines[2]  # the search loop finds the message it wrote
    assert not (tmp_path / "never.db").exists() and not (tmp_path / ".yurucode").exists()  # a throwaway path only


def _block(section: str, lang: str) -> str:
    return section.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def test_the_readme_fixture_example_passes_in_a_fresh_project_as_printed(pytester) -> None:
    section = TESTING.read_text()
    pytester.makefile(".toml", pyproject=_block(section, "toml"))
    pytester.makepyfile(test_app=_block(section, "python"))
    result = pytester.runpytest_subprocess("-W", "error::pytest.PytestDeprecationWarning")
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower()


DOCS = sorted((README.parent / "docs").glob("*.md"))


def blocks(path: Path, lang: str = "python") -> list[str]:
    """Every fenced block of a language in a Markdown file."""
    return [part.split("```", 1)[0] for part in path.read_text().split(f"```{lang}\n")[1:]]


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_python_block_of_the_readme_and_docs_runs_as_printed(path: Path, tmp_path: Path) -> None:
    """Each block as a script, on throwaway paths only (docs/testing.md's is a test: run in a project above)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "never.db"), "HOME": str(tmp_path)}
    for n, code in enumerate(blocks(path)):
        if path == TESTING:
            continue
        script = tmp_path / f"block{n}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, f"{path.name}, block {n + 1}:\n{done.stderr[-2000:]}"
    assert not (tmp_path / "never.db").exists() and not (tmp_path / ".yurucode").exists()


def test_without_the_asyncio_setting_the_example_does_not_pass(pytester) -> None:
    # what the README warns about: the setting it prints is what makes the example run
    section = TESTING.read_text()
    pytester.makepyfile(test_app=_block(section, "python"))
    result = pytester.runpytest_subprocess()
    assert result.ret != 0 and result.parseoutcomes().get("passed", 0) == 0
