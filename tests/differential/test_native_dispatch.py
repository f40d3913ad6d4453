"""The accelerator's one switch: every kernel chosen in ``_native``, nowhere else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import log_analytics_engine
from log_analytics_engine import _native as native

_PACKAGE = Path(log_analytics_engine.__file__).parent
_C_ONLY = {"configure", "direct_entry", "parse_iso",  # set-up, and entry points for tests
           "entry_getattr", "fill_entry"}  # the readers of lazy entries (LogEntry.__getattr__)


def test_every_kernel_has_a_python_specification() -> None:
    for name in native.KERNELS:
        assert callable(getattr(native.python, name)), name
        assert callable(getattr(native, name)), name


@pytest.mark.skipif(native.speedups is None, reason="the C accelerator is not built")
def test_the_extension_offers_exactly_the_kernels() -> None:
    assert native.speedups is not None
    public = {n for n in dir(native.speedups) if not n.startswith("_")}
    assert public == set(native.KERNELS) | _C_ONLY


def test_the_choice_follows_the_extension() -> None:
    c = native.speedups
    for name in native.KERNELS:
        want = getattr(native.python if c is None else c, name)
        assert getattr(native, name) is want, name
    assert native.available is native.tokenizing_gather is native.indexed_reads is (
        c is not None)


def test_use_python_switches_every_kernel_and_restores_the_choice() -> None:
    before = {name: getattr(native, name) for name in native.KERNELS}
    available = native.available
    with native.use_python():
        for name in native.KERNELS:
            assert getattr(native, name) is getattr(native.python, name), name
        assert not native.available
        assert not native.tokenizing_gather
        assert not native.indexed_reads
    assert {name: getattr(native, name) for name in native.KERNELS} == before
    assert native.available is available


def test_use_python_restores_the_choice_after_an_error() -> None:
    before = native.gather
    with pytest.raises(RuntimeError), native.use_python():
        raise RuntimeError("boom")
    assert native.gather is before


def test_the_environment_variable_selects_the_python_kernels() -> None:
    code = ("from log_analytics_engine import _native as n; "
            "assert n.speedups is None and not n.available; "
            "assert all(getattr(n, k) is getattr(n.python, k) for k in n.KERNELS)")
    env = {**os.environ, "LOG_ANALYTICS_PURE_PYTHON": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_no_module_outside_native_tests_for_the_extension() -> None:
    """Callers use ``native.<kernel>`` or a capability flag; only ``_native`` knows about
    ``_speedups``. The model, below ``_native``, does not import it at all."""
    offenders = []
    for path in _PACKAGE.rglob("*.py"):
        rel = path.relative_to(_PACKAGE)
        if rel.parts[0] == "_native":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"speedups", text):
            offenders.append(str(rel))
        if rel.parts[0] == "model" and "_native" in text:
            offenders.append(f"{rel} (imports upward)")
    assert offenders == []
