"""The dashboard page in a real browser: Playwright driving Debian's Chromium.

The page runs under its Content-Security-Policy (no eval): wait predicates are written as
functions (``"() => ..."``), which Playwright calls without evaluating a string in the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import generate_records

#: The screenshot README.md shows, taken by the test below so that it stays current.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"

CHROMIUM = os.environ.get("LOG_ANALYTICS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000  # how long to wait for the page before failing (not a performance limit)

pytestmark = pytest.mark.skipif(not (os.path.isfile(CHROMIUM) or shutil.which("chromium")),
                                reason="chromium is not installed")
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("log_analytics_engine.dashboard")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(lambda e: e, name="start")
    engine.add_pre_ingest_hook(lambda e: e, name="warn", when={"level": "WARN"})
    engine.add_pre_ingest_hook(lambda e: e, name="general")
    engine.ingest_logs(generate_records(500, seed=11))
    return engine


def count(page: Any, selector: str) -> int:
    return int(page.inner_text(selector).replace(",", ""))


def test_page_counts_live_searches_and_screenshots(browser: Any, engine: LogAnalyticsEngine,
                                                    tmp_path: Path) -> None:
    page_errors: list[str] = []
    requests: list[str] = []
    with engine.serve(port=0) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto(server.url + "?refresh=300")

        page.wait_for_function("() => document.getElementById('c-total').textContent === '500'",
                               timeout=WAIT_MS)
        # the numbers change while entries are ingested
        engine.ingest_logs([LogEntry(1_753_000_100 + k, "ERROR", f"disk full on node{k}", "db")
                            for k in range(25)])
        page.wait_for_function("() => document.getElementById('c-total').textContent === '525'",
                               timeout=WAIT_MS)
        assert count(page, "#c-ingested") == 525
        page.wait_for_function(
            "() => Number(document.getElementById('chart').dataset.total) === 525", timeout=WAIT_MS)
        assert "start" in page.inner_text("#processors")

        # a search through the search box
        page.fill("#q", "disk full")
        page.click("#search-button")
        page.wait_for_function(
            "() => document.getElementById('results').dataset.query === 'disk full'"
            " && document.getElementById('results').dataset.total !== ''", timeout=WAIT_MS)
        expected = engine.count_logs({"keyword": "disk full"})
        assert int(page.get_attribute("#results", "data-total") or -1) == expected
        rows = page.locator("#results tbody tr")
        assert 0 < rows.count() <= 20
        assert all("disk" in rows.nth(k).inner_text() for k in range(rows.count()))

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page_errors == []
    assert all(url.startswith(server.url) for url in requests)


def test_page_shows_a_search_error(browser: Any, engine: LogAnalyticsEngine) -> None:
    with engine.serve(port=0) as server:
        page = browser.new_page()
        page.goto(server.url + "?refresh=300")
        page.fill("#q", "!!!")
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('search-error').textContent !== ''",
                               timeout=WAIT_MS)
        assert "q" in page.inner_text("#search-error")
        page.close()


def test_page_with_token_in_the_url_reaches_the_api(browser: Any,
                                                    engine: LogAnalyticsEngine) -> None:
    with engine.serve(port=0, token="s3cret") as server:
        page = browser.new_page()
        page.goto(server.url + "?token=s3cret&refresh=300")
        page.wait_for_function("() => document.getElementById('c-total').textContent === '500'",
                               timeout=WAIT_MS)
        assert "error" not in page.inner_text("#status")
        page.close()


def test_a_bad_query_clears_the_previous_count_and_page(browser: Any,
                                                       engine: LogAnalyticsEngine) -> None:
    with engine.serve(port=0) as server:
        page = browser.new_page()
        page.goto(server.url + "?refresh=300")
        page.fill("#q", "level:INFO")
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('results').dataset.query === "
                               "'level:INFO' && document.getElementById('page').textContent",
                               timeout=WAIT_MS)
        assert "matching" in page.inner_text("#results-count")
        page.fill("#q", "level:(")
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('search-error').textContent !== ''",
                               timeout=WAIT_MS)
        assert page.inner_text("#results-count") == ""
        assert page.inner_text("#page") == ""
        assert page.locator("#results tbody tr").count() == 0
        assert page.is_disabled("#next")
        assert page.is_disabled("#prev")
        page.close()


def test_a_typo_in_a_field_shows_a_hint(browser: Any, engine: LogAnalyticsEngine) -> None:
    with engine.serve(port=0) as server:
        page = browser.new_page()
        page.goto(server.url + "?refresh=300")
        page.fill("#q", "levle:ERROR")
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('search-note').textContent !== ''",
                               timeout=WAIT_MS)
        assert "did you mean 'level'?" in page.inner_text("#search-note")
        page.close()


def test_no_sideways_scrolling_at_420_pixels(browser: Any, engine: LogAnalyticsEngine) -> None:
    with engine.serve(port=0) as server:
        page = browser.new_page(viewport={"width": 420, "height": 900})
        page.goto(server.url + "?refresh=300")
        page.wait_for_function("() => document.getElementById('c-total').textContent === '500'",
                               timeout=WAIT_MS)
        page.fill("#q", "level:ERROR")
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('results').dataset.total > '0'",
                               timeout=WAIT_MS)
        widths = page.evaluate("[document.documentElement.scrollWidth, "
                               "document.body.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[2]
        assert widths[1] <= widths[2]
        page.close()


def test_screenshot_for_the_readme(browser: Any) -> None:
    """A realistic dashboard (the sample command's logs, processors, an alert rule, a search)
    saved to docs/dashboard.png, which README.md shows."""
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(lambda e: e, name="enrich")
    engine.add_pre_ingest_hook(lambda e: e, name="page_oncall", when={"min_severity": "ERROR"})
    engine.add_alert_rule(AlertRule("payment errors", conditions={"source": "shop.payments",
                                                                  "level": "ERROR"},
                                    threshold=3, time_window=60, cooldown=120))
    engine.ingest_logs(generate_records(6000, seed=5, style="realistic"))
    with engine.serve(port=0) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url + "?refresh=300")
        page.wait_for_function("() => document.getElementById('c-total').textContent === '6,000'",
                               timeout=WAIT_MS)
        page.fill("#q", 'level:ERROR source:shop.*')
        page.click("#search-button")
        page.wait_for_function("() => document.getElementById('results').dataset.total > '0'",
                               timeout=WAIT_MS)
        page.wait_for_function("() => Number(document.getElementById('chart').dataset.total) > 0",
                               timeout=WAIT_MS)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.close()
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme = (SCREENSHOT.parent.parent / "README.md").read_text()
    assert "](docs/dashboard.png)" in readme
