"""Every ``examples/*.py`` runs standalone, each in a fresh temporary working directory.

Convention for optional dependencies: an example that needs an optional package says so in
a comment on one of its first five lines, e.g. ``# requires: pandas`` (several may be listed,
comma-separated: ``# requires: fastapi, uvicorn``). The test skips that example when one of
them cannot be imported, and runs it otherwise.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
REQUIRES = re.compile(r"^#\s*requires:\s*(.+)$")


def requirements(path: Path) -> list[str]:
    """Module names from ``# requires:`` comments on the first five lines."""
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, 5):
            m = REQUIRES.match(line.strip())
            if m:
                out += [name.strip() for name in m.group(1).split(",") if name.strip()]
    return out


def test_requirements_comment_is_parsed(tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text('"""Doc."""\n# requires: pandas, fastapi\nprint(1)\n')
    assert requirements(script) == ["pandas", "fastapi"]


@pytest.mark.skipif(not EXAMPLES, reason="no examples/*.py yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path: Path, tmp_path: Path) -> None:
    missing = [m for m in requirements(path) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{path.name} requires {', '.join(missing)}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
