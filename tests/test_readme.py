"""The README's "## Quick start" snippet runs as written.

The python blocks under that heading are extracted and run in a temporary directory that
holds the files they name (``app.jsonl`` and ``app.log`` get a few sample lines), so the
snippet stays true to the API.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def quick_start_snippets() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def sample_files(snippet: str, where: Path) -> None:
    """Create every ``*.jsonl``/``*.log``/``*.gz`` file the snippet names."""
    for name in set(re.findall(r"""["']([\w./-]+\.(?:jsonl|log|txt)(?:\.gz)?)["']""",
                               snippet)):
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if ".jsonl" in name:
            lines = [json.dumps({"timestamp": f"2025-07-21T10:00:0{i}Z", "level": "ERROR",
                                 "message": "db timeout", "source": "api",
                                 "latency_ms": 100 * i}) for i in range(5)]
        else:
            lines = [f"2025-07-21T10:00:0{i}Z ERROR [api] db timeout" for i in range(5)]
        data = "\n".join(lines).encode() + b"\n"
        if name.endswith(".gz"):
            import gzip

            data = gzip.compress(data)
        path.write_bytes(data)


def test_readme_has_a_quick_start_snippet() -> None:
    assert quick_start_snippets()


def test_quick_start_snippet_runs(tmp_path: Path) -> None:
    code = "\n".join(quick_start_snippets())
    sample_files(code, tmp_path)
    script = tmp_path / "quick_start.py"
    script.write_text(code + "\nprint('QUICK START OK')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "QUICK START OK" in proc.stdout
