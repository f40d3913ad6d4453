"""What every ``log-analytics`` command shares: the exit codes, file errors, the version line,
notes on stderr (no match, unknown fields) and how alerts print."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from log_analytics_engine import Alert, AlertSeverity, LogEntry, __version__
from log_analytics_engine._native import speedups
from log_analytics_engine.cli.common import EXIT_CODES, Out, alert_row
from log_analytics_engine.cli.main import main
from log_analytics_engine.cli.tail import _print_in_time_order, read_new_lines
from log_analytics_engine.events.sample import write_jsonl
from log_analytics_engine.ingest import guess_file_type
from log_analytics_engine.ingest.follow import FileFollower


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conventions") / "app.jsonl"
    write_jsonl(str(path), 500, seed=4, style="realistic")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- exit codes ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["query"], ["stats"], ["alerts", "--rules", "{rules}"],
                                     ["serve", "--exit-after", "0", "--port", "0"],
                                     ["tail"], ["pipeline"]])
def test_a_directory_is_reported_as_a_directory_with_exit_code_1(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text("[]")
    argv = [command[0], str(tmp_path)] + [a.replace("{rules}", str(rules)) for a in command[1:]]
    code, _, err = run(argv, capsys)
    assert code == 1
    assert "is a directory" in err
    assert "no such file" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv", "code"), [
    (["query", "{missing}"], 1),                 # a file error
    (["query", "{corpus}", "-q", "level:("], 1),  # a query error: the same code
    (["alerts", "{corpus}", "--rules", "{missing}"], 1),
    (["query", "{corpus}", "--limit", "0"], 2),  # the command line
    (["sample", "{tmp}/x.jsonl", "--lines", "-3"], 2),
    (["serve", "--port", "70000"], 2),
    (["query", "{corpus}", "-q", "level:ERROR"], 0),
])
def test_one_exit_code_scheme(argv: list[str], code: int, corpus: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    subst = {"{missing}": str(tmp_path / "missing.jsonl"), "{corpus}": str(corpus),
             "{tmp}": str(tmp_path)}
    argv = [subst.get(a, a).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        got = int(exc.code or 0)
    assert got == code
    assert "Traceback" not in capsys.readouterr().err


def test_the_exit_codes_are_in_every_help_and_the_readme() -> None:
    for argv in (["--help"], ["query", "--help"], ["serve", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "log_analytics_engine", *argv],
                              capture_output=True, text=True, timeout=60, check=False)
        assert EXIT_CODES in proc.stdout
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in ("0", "1", "2", "130"):
        assert re.search(rf"^\| `{code}` \|", readme, re.M), code


# -- version and accelerator --------------------------------------------------------------
def test_version_names_the_package_version_and_the_accelerator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert __version__ in out
    assert ("C accelerator: active" in out) == (speedups is not None)


def test_pure_python_mode_is_said_in_version_and_stats(corpus: Path) -> None:
    env = {**os.environ, "LOG_ANALYTICS_PURE_PYTHON": "1"}
    for argv in (["--version"], ["stats", str(corpus)]):
        proc = subprocess.run([sys.executable, "-m", "log_analytics_engine", *argv], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert "C accelerator: off (LOG_ANALYTICS_PURE_PYTHON is set" in proc.stdout


def test_stats_says_whether_the_accelerator_is_active(
    corpus: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(["stats", str(corpus)], capsys)
    assert f"log-analytics {__version__}, C accelerator: " in out


# -- notes on stderr ----------------------------------------------------------------------
def test_a_query_with_no_match_says_so_on_stderr(
    corpus: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["query", str(corpus), "-q", "zzzunheardof"], capsys)
    assert (code, out) == (0, "")
    assert "no entries matched" in err
    code, out, err = run(["query", str(corpus), "-q", "zzzunheardof", "--count"], capsys)
    assert (code, out) == (0, "0\n")
    assert "no entries matched" in err
    _, out, err = run(["query", str(corpus), "-q", "level:ERROR"], capsys)
    assert out
    assert "no entries matched" not in err


def test_a_field_no_entry_has_gets_a_did_you_mean_note(
    corpus: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["query", str(corpus), "-q", "levle:ERROR"], capsys)
    assert code == 0
    assert "no entry has field 'levle'; did you mean 'level'?" in err
    assert "UnknownFieldWarning" not in err  # one readable line, not a Python warning
    _, _, err = run(["query", str(corpus), "-q", "stauts:500"], capsys)
    assert "did you mean 'status'" in err  # a metadata key of the sample corpus


# -- alerts and tail ----------------------------------------------------------------------
def _alert(second: int, message: str = "errors: 3 matching entries in 60s") -> Alert:
    return Alert("errors", message, AlertSeverity.HIGH,
                 datetime(2025, 7, 21, 10, 0, second, tzinfo=timezone.utc), 3)


def test_an_alert_row_names_the_rule_once() -> None:
    row = alert_row(Out(io.StringIO()), _alert(3))
    assert row == "2025-07-21T10:00:03Z HIGH     errors: 3 matching entries in 60s"
    assert row.count("errors") == 1


def test_tail_prints_an_alert_before_the_later_entries_of_its_poll() -> None:
    stream = io.StringIO()
    entries = [LogEntry(f"2025-07-21T10:00:0{s}Z", "ERROR", f"e{s}") for s in (3, 4, 5)]
    _print_in_time_order(Out(stream), entries, [_alert(3)], "table")
    lines = stream.getvalue().splitlines()
    assert [ln.split()[-1] if "ALERT" not in ln else "ALERT" for ln in lines] == [
        "e3", "ALERT", "e4", "e5"]
    assert "+00:00" not in stream.getvalue()


def test_tail_warns_about_a_bad_line_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text('{"timestamp": 1, "message": "a"}\n')
    follower = FileFollower(path)  # from the end: line 1 is already there
    with open(path, "a") as fh:
        fh.write('{"timestamp": 2, "message": "b"}\n{broken\n{"timestamp": 3}\n')
    got = read_new_lines(follower, "jsonl")
    follower.close()
    assert [e.message for e in got] == ["b", ""]
    err = capsys.readouterr().err
    assert f"{path}: line 3: malformed JSON" in err


def test_one_file_type_guess_for_every_command() -> None:
    assert [guess_file_type(n) for n in ("a.log", "a.log.gz", "a.TXT", "a.txt.gz", "a.jsonl",
                                         "a.jsonl.gz", "a.gz", "log")] == [
        "text", "text", "text", "text", "jsonl", "jsonl", "jsonl", "jsonl"]


def test_cli_modules_import_no_function_level_modules() -> None:
    """One module per command, imports at the top: no import inside a function."""
    cli = Path(__file__).resolve().parents[2] / "log_analytics_engine" / "cli"
    for path in cli.glob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith((" ", "\t")) and re.match(r"\s+(from \S+ )?import ", line):
                inside_try = "try:" in path.read_text().splitlines()[number - 2]
                assert inside_try, f"{path.name}:{number}: {line.strip()}"


def test_the_alerts_command_prints_each_rule_name_once(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('[{"name": "db-errors", "conditions": {"source": "db", "level": "ERROR"},'
                     ' "threshold": 1, "time_window": 60, "severity": "HIGH"}]')
    code, out, _ = run(["alerts", str(corpus), "--rules", str(rules)], capsys)
    assert code == 0
    rows = out.splitlines()
    assert rows
    for row in rows:
        assert row.count("db-errors") == 1
        assert re.match(r"^\S+Z HIGH     db-errors: \d+ matching entries in 60s", row)
