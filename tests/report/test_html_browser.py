"""The HTML report in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Two pages: one rendered from a hand-made model with every hard case, and one
written by real runs (``report.py`` on three nights of generated snapshots
with quotas from the fake ``lfs``, then ``project_inspector.py --tosql``).
Each is opened from a file with every other request aborted and recorded;
the tests check that nothing was requested, nothing was logged as an error,
the group tables hold one row per group (per TSV row for the real run),
sorting and filtering work, and every history chart is drawn.  Screenshots
of the whole pages (``html-report.png``, ``html-report-run.png``) are kept
under the tests' ``tmp_path`` and copied to ``$LURGE_TEST_ARTIFACTS`` when
that is set.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, sync_playwright

from tests.configs import base_sections, write_config
from tests.fixtures.fakes import FakeLfs
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.report.html_samples import SCRIPT, sample_report
from tests.report.test_html_model import PAGE_ORDER
from utils.report.html import html_path, shown, write_html
from tests.scripts import run_script
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot
from utils.report.html_charts import USAGE_COLOUR
from utils.report.html_model import page_order
from utils.snapshots.discovery import snapshot_filename

CHROMIUM = os.environ.get("LURGE_CHROMIUM", "/usr/bin/chromium")
QUIET_FLAGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--disable-quic", "--disable-gpu",
               "--host-resolver-rules=MAP * ~NOTFOUND"]  # no name lookups either
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                    "(bash .ci/run does) or set $LURGE_CHROMIUM")
    flags = QUIET_FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags,
                                             timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            browser.close()


class OpenedPage:
    """A page opened from a file, with what it asked for and what it complained about."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                           service_workers="block")
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error"
                     and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.errors.append(f"dialog: {dialog.message}"),
                                               dialog.dismiss()))
        self.page.goto(self.url, wait_until="load")

    def _route(self, route: Route) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def column(self, table: str, index: int) -> list[str]:
        return self.page.eval_on_selector_all(
            f"{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent.trim())")

    def visible_rows(self, table: str) -> list[str]:
        return self.page.eval_on_selector_all(
            f"{table} tbody tr", "rows => rows.filter(r => r.offsetParent !== null)"
                                 ".map(r => r.cells[0].textContent.trim())")


@pytest.fixture(scope="module")
def opened(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenedPage]:
    folder = tmp_path_factory.mktemp("html")
    path = Path(html_path(str(folder), sample_report().record_date))
    write_html(str(path), sample_report())
    opened = OpenedPage(browser, path)
    try:
        yield opened
    finally:
        opened.context.close()


def groups_table(number: int) -> str:
    return f"#volume-{number}-groups"


def click_heading(opened: OpenedPage, table: str, label: str) -> None:
    opened.page.locator(f"{table} thead th button", has_text=label).first.click()


def keep_screenshot(opened: OpenedPage, path: Path) -> None:
    """A screenshot of the whole page at ``path``, copied to ``$LURGE_TEST_ARTIFACTS`` if set."""
    opened.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    artifacts = os.environ.get("LURGE_TEST_ARTIFACTS")
    if artifacts:
        os.makedirs(artifacts, exist_ok=True)
        shutil.copy(path, os.path.join(artifacts, path.name))


def test_page_loads_quietly_and_fetches_nothing(opened: OpenedPage, tmp_path: Path) -> None:
    opened.page.wait_for_timeout(500)  # let anything the page would start do so
    assert opened.errors == []
    assert opened.blocked == []
    assert opened.requests == [opened.url]
    assert opened.page.title() == "Lustre usage report 2024-03-14"
    keep_screenshot(opened, tmp_path / "html-report.png")


def test_one_table_row_per_group_row(opened: OpenedPage) -> None:
    for number, volume in enumerate(sample_report().volumes, 1):
        names = opened.column(groups_table(number), 0)
        assert names == [shown(row.group_name) for row in sorted(volume.groups, key=page_order)]
    assert SCRIPT in opened.column(groups_table(1), 0)  # a name, not markup that ran
    assert "caf\\xe9" in opened.column(groups_table(1), 0)


def test_sorting_by_a_column(opened: OpenedPage) -> None:
    table = groups_table(1)
    groups = {shown(row.group_name): row for row in sample_report().volumes[0].groups}
    by_used = sorted(groups, key=lambda name: -groups[name].used)

    click_heading(opened, table, "Used")
    assert opened.column(table, 0) == by_used  # sizes: largest first
    heading = opened.page.locator(f"{table} thead th", has_text="Used").first
    assert heading.get_attribute("aria-sort") == "descending"
    click_heading(opened, table, "Used")
    assert opened.column(table, 0) == by_used[::-1]
    assert heading.get_attribute("aria-sort") == "ascending"

    click_heading(opened, table, "Quota")  # groups without a quota stay last either way
    with_quota = [n for n in by_used if groups[n].quota is not None]
    quotas = [groups[n].quota for n in opened.column(table, 0)[:len(with_quota)]]
    assert quotas == sorted(quotas, reverse=True)
    assert {groups[n].quota for n in opened.column(table, 0)[len(with_quota):]} == {None}

    click_heading(opened, table, "Days until full (bytes)")  # soonest first, blanks in page order
    soonest = ["bravo", "alpha", "charlie"]
    assert opened.column(table, 0) == soonest + [shown(n) for n in PAGE_ORDER if n not in soonest]


def test_sorting_text_and_status(opened: OpenedPage) -> None:
    table = groups_table(2)
    click_heading(opened, table, "Group")
    assert opened.column(table, 0) == ["alpha", "mike"]
    click_heading(opened, table, "Group")
    assert opened.column(table, 0) == ["mike", "alpha"]
    click_heading(opened, table, "Status")  # Not OK first
    assert opened.column(table, 11) == ["Not OK", "OK"]


def test_filtering_by_group_or_pi(opened: OpenedPage) -> None:
    table = groups_table(1)
    box = opened.page.locator("#volume-1-filter")
    everyone = opened.visible_rows(table)
    assert len(everyone) == 14

    box.fill("ALPHA")
    assert opened.visible_rows(table) == ["alpha"]
    assert opened.visible_rows("#volume-1-users") == ["ann", "bob"]
    charts = opened.page.locator("#volume-1 figure.chart")
    assert [c.locator("figcaption").inner_text() for c in charts.all() if c.is_visible()] \
        == ["alpha (Smith) Not OK"]
    assert opened.page.locator("#volume-1 output.shown").inner_text() == "1 of 14 groups shown"
    assert len(opened.visible_rows(groups_table(2))) == 2  # other volumes keep their rows

    box.fill("lefèvre")  # by PI
    assert opened.visible_rows(table) == ["caf\\xe9"]
    box.fill("<script>")
    assert opened.visible_rows(table) == [SCRIPT]
    box.fill("no such group")
    assert opened.visible_rows(table) == []
    box.fill("")
    assert sorted(opened.visible_rows(table)) == sorted(everyone)
    assert opened.errors == []


def shown_chart(charts: Locator, index: int) -> Locator:
    """The ``index``-th chart, scrolled into view; it must be drawn at a readable size."""
    chart = charts.nth(index)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 80
    return chart


def test_every_history_chart_renders(opened: OpenedPage) -> None:
    for number, volume in enumerate(sample_report().volumes, 1):
        charts = opened.page.locator(f"#volume-{number} figure.chart svg")
        assert charts.count() == len(volume.histories)
        for index in range(charts.count()):
            chart = shown_chart(charts, index)
            drawn = chart.evaluate(
                "svg => Array.from(svg.querySelectorAll('path'))"
                ".filter(p => { const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length")
            assert drawn > 5
            if len(volume.histories[index].points) > 1:  # the usage line spans the days it has
                line = chart.evaluate(
                    "svg => Math.max(...Array.from(svg.querySelectorAll('[id*=line2d] path'))"
                    ".map(p => p.getBBox().width))")
                assert line > 100
    assert opened.errors == []


def test_the_harness_sees_a_page_that_fetches_or_fails(browser: Browser, tmp_path: Path) -> None:
    """The checks above can fail: a page with outside references and a script error is caught."""
    path = tmp_path / "leaky.html"
    path.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/a.css">'
                    '</head><body><img src="http://127.0.0.1:9/b.png">'
                    '<script>console.error("boom"); undefinedFunction();</script></body></html>')
    leaky = OpenedPage(browser, path)
    try:
        leaky.page.wait_for_timeout(500)
        assert sorted(leaky.blocked) == ["http://127.0.0.1:9/a.css", "http://127.0.0.1:9/b.png"]
        assert "boom" in leaky.errors
        assert any("undefinedFunction" in error for error in leaky.errors)
    finally:
        leaky.context.close()


# ------------------------------------------------------------ a page written by real runs

RUN_TIME = 1_764_000_000  # the last night's snapshot time
RUN_VOLUMES = (118, 119)
NIGHTS = 3
KiB = 1024


@dataclass(frozen=True)
class ReportedRun:
    """The page and TSV of the last of three reported nights."""

    page: Path
    tsv_rows: list[list[str]]  # cells of every TSV row


def report_nights(folder: Path) -> ReportedRun:
    """Report three nights of growing snapshots (quotas from the fake lfs), inspect the last."""
    lfs = FakeLfs(folder)
    lfs.default(used=100, soft=0, hard=10 ** 9)
    lfs.set("hgi", used=900, soft=0, hard=1000)  # 90 % of its quota: Not OK
    lfs.set("mueller-lab", used=820, soft=0, hard=1000)  # 82 %: Kinda OK
    env = {"FAKE_LFS_DATA": str(lfs.data_path), "FAKE_LFS_LOG": str(lfs.log_path)}
    volumes = [{"number": n, "mount": f"/lustre/scratch{n}",
                "inspect_roots": [f"/lustre/scratch{n}/humgen/projects"]} for n in RUN_VOLUMES]
    sections = base_sections(folder, f"sqlite:///{folder}/lurge.db", f"ldif:{DIRECTORY_LDIF}",
                             volumes, quota={"lfs": lfs.command, "timeout": 10})
    sections["paths"]["max_days_ago"] = 100_000
    config = str(write_config(folder / "lurge.toml", sections))
    for night in range(NIGHTS):
        snapshot_time = RUN_TIME - (NIGHTS - 1 - night) * 86400
        date = dt.datetime.fromtimestamp(snapshot_time).date()
        files = []
        for number in RUN_VOLUMES:
            path = folder / "mpistat" / snapshot_filename(date, number)
            options = SyntheticOptions(seed=number, lines=3000 + 500 * night,
                                       snapshot_time=snapshot_time)
            write_snapshot(str(path), synthetic_lines(f"/lustre/scratch{number}", options),
                           mtime=snapshot_time)
            files.append(str(path))
        run_script("report.py", "--config", config, date.isoformat(), *files, env=env, check=0)
    run_script("project_inspector.py", "--config", config, "--tosql", "--date", date.isoformat(),
               check=0)
    page = Path(html_path(str(folder / "reports"), date))
    tsv = page.with_suffix(".tsv").read_text(encoding="utf-8")
    return ReportedRun(page, [line.split("\t") for line in tsv.splitlines()[1:]])


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    return report_nights(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def run_opened(browser: Browser, reported: ReportedRun) -> Iterator[OpenedPage]:
    opened = OpenedPage(browser, reported.page)
    try:
        yield opened
    finally:
        opened.context.close()


def tsv_volume(reported: ReportedRun, number: int) -> list[list[str]]:
    return [cells for cells in reported.tsv_rows if cells[0] == f"scratch{RUN_VOLUMES[number - 1]}"]


def test_a_reported_page_loads_quietly_and_fetches_nothing(run_opened: OpenedPage,
                                                           tmp_path: Path) -> None:
    run_opened.page.wait_for_timeout(500)
    assert run_opened.errors == []
    assert run_opened.blocked == []
    assert run_opened.requests == [run_opened.url]
    assert all(url.startswith(("file://", "data:")) for url in run_opened.requests)
    keep_screenshot(run_opened, tmp_path / "html-report-run.png")


def test_a_reported_page_has_one_row_per_tsv_row(run_opened: OpenedPage,
                                                 reported: ReportedRun) -> None:
    for number in (1, 2):
        expected = tsv_volume(reported, number)
        names = run_opened.column(groups_table(number), 0)
        assert sorted(names) == sorted(cells[2] for cells in expected) and len(names) > 5
        statuses = run_opened.column(groups_table(number), 11)
        assert sorted(statuses) == sorted(cells[14] for cells in expected)
    assert run_opened.column(groups_table(1), 11)[:2] == ["Not OK", "Kinda OK"]
    assert run_opened.column(groups_table(1), 0)[:2] == ["hgi", "mueller-lab"]


def test_a_reported_page_sorts_and_filters(run_opened: OpenedPage, reported: ReportedRun) -> None:
    table = groups_table(1)
    used = lambda: [int(value) for value in run_opened.page.eval_on_selector_all(  # noqa: E731
        f"{table} tbody tr", "rows => rows.map(r => r.cells[3].dataset.value)")]
    click_heading(run_opened, table, "Used")
    expected = sorted((int(cells[3]) for cells in tsv_volume(reported, 1)), reverse=True)
    assert used() == expected
    click_heading(run_opened, table, "Used")
    assert used() == expected[::-1]

    box = run_opened.page.locator("#volume-1-filter")
    box.fill("Mueller")
    matching = [cells[2] for cells in tsv_volume(reported, 1)
                if "mueller" in cells[2].lower() or "mueller" in cells[1].lower()]
    assert sorted(run_opened.visible_rows(table)) == sorted(matching) == ["mueller-lab"]
    assert len(run_opened.visible_rows(groups_table(2))) == len(tsv_volume(reported, 2))
    box.fill("")
    assert len(run_opened.visible_rows(table)) == len(tsv_volume(reported, 1))
    assert run_opened.errors == []


def test_every_chart_of_a_reported_page_renders(run_opened: OpenedPage,
                                                reported: ReportedRun) -> None:
    for number in (1, 2):
        rows = tsv_volume(reported, number)
        troubled = {cells[2] for cells in rows if cells[14] in ("Not OK", "Kinda OK")}
        largest = {cells[2] for cells in sorted(rows, key=lambda c: -int(c[3]))[:10]}
        figures = run_opened.page.locator(f"#volume-{number} figure.chart")
        captions = [figures.nth(i).locator(".group").inner_text() for i in range(figures.count())]
        assert sorted(captions) == sorted(troubled | largest)
        charts = run_opened.page.locator(f"#volume-{number} figure.chart svg")
        assert charts.count() == len(captions)
        nights: dict[str, list[int]] = {}
        for index in range(charts.count()):
            chart = shown_chart(charts, index)
            # the usage line (in USAGE_COLOUR, clipped to the axes, unlike the legend's sample):
            # one vertex per night the group was reported
            vertices = chart.evaluate(
                "(svg, colour) => Array.from(svg.querySelectorAll('path[clip-path]'))"
                ".filter(p => (p.getAttribute('style') || '').includes('stroke: ' + colour))"
                ".map(p => p.getAttribute('d').trim().split(/[ML]/).filter(s => s.trim()).length)",
                USAGE_COLOUR)
            nights[captions[index]] = vertices
        assert nights["hgi"] == [NIGHTS] and nights["mueller-lab"] == [NIGHTS]
        assert all(len(v) == 1 and 1 <= v[0] <= NIGHTS for v in nights.values())
    projects = run_opened.page.locator("#volume-1-projects tbody tr")
    assert projects.count() > 0
    assert run_opened.errors == []
