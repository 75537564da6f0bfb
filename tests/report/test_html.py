"""The HTML page as text: tables, safe names, inline charts, nothing external, atomic writes."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.report.html_samples import DATE, GiB, SCRIPT, TiB, demo_sized_report, sample_report
from tests.report.test_html_model import PAGE_ORDER
from utils.report.html import html_path, render_html, shown, write_html
from utils.report.html_charts import history_svg, size_unit
from utils.report.html_model import GroupHistory, HistoryPoint, HtmlReport, VolumeReport

VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr", "col", "area", "base"}
MAX_BYTES = 5 * 1000 * 1000


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def iter(self, tag: str | None = None):
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            yield from child.iter(tag)

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        return [e for e in self.iter(tag)
                if all(v in e.attrs.get(k.rstrip("_"), "").split() for k, v in attrs.items())]

    def find(self, tag: str, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    @property
    def content(self) -> str:
        """All text inside, whitespace collapsed."""
        return " ".join("".join(self._texts()).split())

    def _texts(self):
        yield from self.text
        for child in self.children:
            yield from child._texts()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].text.append(data)


def parse(data: bytes) -> Element:
    builder = _TreeBuilder()
    builder.feed(data.decode("utf-8"))  # strict: the page is valid UTF-8
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


@pytest.fixture(scope="module")
def page() -> bytes:
    return render_html(sample_report())


@pytest.fixture(scope="module")
def document(page: bytes) -> Element:
    return parse(page)


def volume_section(document: Element, number: int) -> Element:
    return next(s for s in document.find_all("section") if s.attrs.get("id") == f"volume-{number}")


def group_cells(section: Element) -> list[list[str]]:
    table = section.find("table", class_="groups")
    return [[cell.content for cell in row.find_all("td")] for row in table.find("tbody").find_all("tr")]


def test_one_row_per_group_in_page_order(document: Element) -> None:
    report = sample_report()
    for number, volume in enumerate(report.volumes, 1):
        rows = group_cells(volume_section(document, number))
        assert len(rows) == len(volume.groups)
        assert [row[0] for row in rows] == [shown(r.group_name) for r in volume.ordered_groups]
    assert [row[0] for row in group_cells(volume_section(document, 1))] == [
        shown(name) for name in PAGE_ORDER]


def test_group_row_cells(document: Element) -> None:
    rows = {row[0]: row for row in group_cells(volume_section(document, 1))}
    assert rows["bravo"] == ["bravo", "Smith", "yes", "8.00 TiB", "10.00 TiB", "85%", "1,000", "-",
                             "no quota", "2.5", "-", "Not OK", "2.5", ""]
    assert rows["charlie"][5:12] == ["83%", "4,200", "5,000", "84%", "30.0", "-", "Kinda OK"]
    assert rows["golf"][3:12] == ["12.00 TiB", "-", "no quota", "1,000", "-", "no quota", "-", "-",
                                  "-"]
    assert rows["foxtrot"][1:4] == ["-", "no", "10.00 GiB"]
    assert rows["foxtrot"][-1] == "/archive/foxtrot"
    assert rows["lima"][8] == "90%"


def test_bars_show_the_share_of_the_quota(document: Element) -> None:
    table = volume_section(document, 1).find("table", class_="groups")
    bravo = next(r for r in table.find("tbody").find_all("tr") if r.find_all("td")[0].content == "bravo")
    share = bravo.find_all("td", class_="share")[0]
    assert share.attrs["data-value"] == "0.85"  # lfs's quota_used (8.5 TiB) of 10 TiB
    assert share.attrs["title"] == "8.50 TiB of 10.00 TiB"
    bar = share.find("span", class_="bar")
    assert bar.attrs["class"] == "bar high"
    assert bar.children[0].attrs["style"] == "width: 85.0%"
    mike = volume_section(document, 2).find("table", class_="groups").find("tbody").find_all("tr")[0]
    assert mike.find_all("td")[0].content == "mike"
    assert mike.find("span", class_="bar").attrs["class"] == "bar low"  # 50 GiB of 60 GiB: 83%


def test_names_are_shown_as_text(page: bytes, document: Element) -> None:
    assert b"<script>alert" not in page
    assert b"<b>Evil" not in page and b"<i>carl" not in page
    assert b"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    names = [row[0] for row in group_cells(volume_section(document, 1))]
    assert "caf\\xe9" in names  # the byte that is not UTF-8
    assert SCRIPT in names  # the markup is the group's name, as text
    assert "o'brien \"q\"\\x09x" in names  # the tab is shown, not collapsed
    row = next(r for r in group_cells(volume_section(document, 1)) if r[0] == SCRIPT)
    assert row[1] == "<b>Evil</b>"
    assert len(document.find_all("script")) == 1  # the page's own


def test_filter_keys_hold_group_and_pi(document: Element) -> None:
    section = volume_section(document, 1)
    keys = [row.attrs["data-filter"] for row in section.find("table", class_="groups").find_all("tr")
            if "data-filter" in row.attrs]
    assert keys[:3] == ["bravo smith", "alpha smith", "lima smith"]
    assert "<script>alert('x')</script> <b>evil</b>" in keys
    assert "caf\\xe9 lefèvre" in keys
    assert "echo" in keys  # no PI
    users = section.find("table", class_="users").find("tbody").find_all("tr")
    assert [u.attrs["data-filter"] for u in users] == [
        "alpha smith", "alpha smith", "caf\\xe9 lefèvre", "<script>alert('x')</script> <b>evil</b>"]


def test_every_charted_group_has_an_inline_chart(document: Element) -> None:
    report = sample_report()
    for number, volume in enumerate(report.volumes, 1):
        figures = volume_section(document, number).find_all("figure", class_="chart")
        assert [f.find("span", class_="group").content for f in figures] == [
            shown(h.group_name) for h in volume.histories]
        for figure in figures:
            svg = figure.find("svg")
            assert float(svg.attrs["width"].rstrip("pt")) > 0
            assert len(svg.find_all("path")) > 5  # axes, ticks and the lines
    assert len(document.find_all("svg")) == 11 + 2 + 1


def test_chart_ids_are_unique_and_references_resolve(document: Element) -> None:
    ids = [e.attrs["id"] for e in document.iter() if "id" in e.attrs]
    assert len(ids) == len(set(ids))
    references = [e.attrs.get("xlink:href") or e.attrs.get("href") for e in document.iter("use")]
    assert references and all(ref[1:] in set(ids) for ref in references)
    clips = [e.attrs["clip-path"] for e in document.iter() if "clip-path" in e.attrs]
    assert clips and all(re.fullmatch(r"url\(#(.+)\)", c)[1] in set(ids) for c in clips)


def test_nothing_is_fetched(page: bytes, document: Element) -> None:
    text = page.decode()
    assert re.search(r"(?i)(https?|ftp|file|ws):", text) is None  # no address anywhere
    assert "@import" not in text and "srcset" not in text
    for element in document.iter():
        assert "src" not in element.attrs, element.tag
        for name in ("href", "xlink:href"):
            if name in element.attrs:
                assert element.attrs[name].startswith("#") or element.attrs[name] == "data:,"
    assert [link.attrs for link in document.find_all("link")] == [{"rel": "icon", "href": "data:,"}]
    assert all(url.startswith("url(#") for url in re.findall(r"url\([^)]*\)", text))


def test_sections_present_only_when_there_is_data(document: Element) -> None:
    first, second, third = (volume_section(document, n) for n in (1, 2, 3))
    projects = first.find("table", class_="projects")
    assert [th.content for th in projects.find_all("th")] == [
        "Project", "Group", "PI", "Total", "BAM", "CRAM", "VCF", "PED/BED", "Files",
        "Last modified (days)"]
    assert [[td.content for td in tr.find_all("td")] for tr in projects.find("tbody").find_all("tr")] == [
        ["projects/big", "alpha", "Smith", "6.00 TiB", "3.00 TiB", "1.00 TiB", "0.00 B", "10.00 GiB",
         "1,200", "1.5"],
        ["projects/<odd>", "-", "-", "1.00 TiB", "0.00 B", "0.00 B", "1.00 TiB", "0.00 B", "3", "-"]]
    assert "From the inspection of the snapshot of 2024-03-14." in first.content
    assert "Largest projects" not in second.content and not second.find_all("table", class_="projects")
    assert "No project directories found." in third.content
    assert "No per-user usage recorded for this date." in third.content


def test_totals_are_shown(document: Element) -> None:
    summary = document.find("table", class_="summary").find("tbody").find_all("tr")
    assert [[td.content for td in tr.find_all("td")] for tr in summary] == [
        ["scratch118", "14", "40.78 TiB", "106.00 TiB", "17,100", "2", "2"],
        ["scratch119", "2", "2.05 TiB", "3.06 TiB", "2,000", "1", "0"],
        ["scratch123", "1", "5.00 GiB", "-", "1,000", "0", "0"]]


def test_rendering_is_deterministic(page: bytes) -> None:
    assert render_html(sample_report()) == page


def test_shown() -> None:
    assert shown("plain é ✓") == "plain é ✓"
    assert shown("caf\udce9") == "caf\\xe9"
    assert shown("a\tb\nc\x7f") == "a\\x09b\\x0ac\\x7f"
    assert shown("\ud800") == "\\ud800"
    assert shown("back\\slash") == "back\\slash"


def test_size_unit() -> None:
    assert size_unit(0) == ("B", 1)
    assert size_unit(1023) == ("B", 1)
    assert size_unit(1024) == ("KiB", 1024)
    assert size_unit(3 * TiB) == ("TiB", TiB)
    assert size_unit(5000 * 1024 ** 5) == ("PiB", 1024 ** 5)


def test_chart_svg_is_inline_ready() -> None:
    points = tuple(HistoryPoint(DATE - dt.timedelta(days=back), (100 - back) * GiB, None,
                                200 * GiB if back < 40 else None) for back in range(89, -1, -1))
    svg = history_svg(GroupHistory("g", True, points), DATE, "t1")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "xmlns" not in svg
    assert all(name.startswith("t1-") for name in re.findall(r'\bid="([^"]+)"', svg))
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "GiB" in texts and "usage" in texts and "quota" in texts
    lonely = history_svg(GroupHistory("g", True, points[-1:]), DATE, "t2")
    assert "quota" in re.findall(r">([^<>]+)</text>", lonely)
    unlimited = history_svg(GroupHistory("g", True, tuple(
        HistoryPoint(p.date, p.used, None, None) for p in points)), DATE, "t3")
    assert "quota" not in re.findall(r">([^<>]+)</text>", unlimited)


def test_write_html_replaces_the_file_whole(tmp_path: Path) -> None:
    path = html_path(str(tmp_path), DATE)
    assert path == str(tmp_path / "report-output-files" / "report-20240314.html")
    write_html(path, HtmlReport(DATE, sample_report().volumes[1:]))
    write_html(path, sample_report())
    assert Path(path).read_bytes() == render_html(sample_report())
    assert os.listdir(os.path.dirname(path)) == ["report-20240314.html"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_a_failed_render_leaves_the_previous_page(tmp_path: Path) -> None:
    path = html_path(str(tmp_path), DATE)
    write_html(path, sample_report())
    before = Path(path).read_bytes()
    row = sample_report().volumes[2].groups[0]
    broken = HtmlReport(DATE, (VolumeReport(volume="scratch999", groups=(row,), histories=(
        GroupHistory(row.group_name, row.is_humgen, ()),)),))
    with pytest.raises(ValueError):
        write_html(path, broken)  # a history without points cannot be drawn
    assert Path(path).read_bytes() == before
    assert os.listdir(os.path.dirname(path)) == ["report-20240314.html"]


def test_a_demo_sized_page_stays_under_five_megabytes() -> None:
    report = demo_sized_report()
    assert [len(v.groups) for v in report.volumes] == [40, 40, 40]
    assert [len(v.histories) for v in report.volumes] == [16, 16, 16]
    assert all(len(h.points) == 90 for v in report.volumes for h in v.histories)
    assert [(len(v.users), len(v.projects)) for v in report.volumes] == [(20, 20)] * 3
    page = render_html(report)
    assert len(page) < MAX_BYTES, len(page)
    assert page.count(b"<svg ") == 48
