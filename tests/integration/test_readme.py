"""The README's "## Quick start" runs as written, in an empty temporary directory.

Its ``bash`` blocks run in a shell (with this interpreter's ``log-analytics`` on the PATH), so
the quick start makes its own sample file; the ``json`` block must be the first line of that
file, and the ``python`` block's output must be the ``text`` block shown after it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def quick_start_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block under "## Quick start", in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_readme_quick_start_has_a_command_a_sample_line_code_and_its_output() -> None:
    assert [lang for lang, _ in quick_start_blocks()] == ["bash", "json", "python", "text"]


def test_quick_start_runs_as_written_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    blocks = dict(quick_start_blocks())
    shell = subprocess.run(["bash", "-e", "-c", blocks["bash"]], cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, timeout=120, check=False)
    assert shell.returncode == 0, shell.stderr
    with open(tmp_path / "app.jsonl", encoding="utf-8") as fh:
        assert fh.readline() == blocks["json"]
    script = tmp_path / "quick_start.py"
    script.write_text(blocks["python"], encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == blocks["text"]
    assert proc.stdout.startswith("1000 entries, 0 rejected\n")
