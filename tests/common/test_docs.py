"""The user documentation keeps up with the code: the example configuration and docs/.

Keys come from the configuration's dataclasses and headers from the modules
that write them, so a new key or column without documentation fails here.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing

import pytest

import utils.report.tsv as report_tsv
from tests.scripts import CONTRACT_MARKS, REPO
from utils.common.config import Config, parse_config
from utils.inspector.output import headers as inspector_headers
from utils.splitter.index import INDEX_HEADER

EXAMPLE = REPO / "lurge.example.toml"
DOCS = REPO / "docs"
KEY_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
SECTION_LINE = re.compile(r"^\s*\[\[?([A-Za-z_][A-Za-z0-9_]*)\]\]?\s*(#.*)?$")


def schema() -> dict[str, list[str]]:
    """Section name -> its keys, from the dataclasses ``Config`` is made of."""
    hints = typing.get_type_hints(Config)
    sections = {}
    for field in dataclasses.fields(Config):
        if field.name == "source":
            continue
        hint = hints[field.name]
        if field.name == "volumes":  # tuple[VolumeConfig, ...] from [[volume]] tables
            name, hint = "volume", typing.get_args(hint)[0]
        else:
            name = field.name
        sections[name] = [f.name for f in dataclasses.fields(hint)]
    return sections


def example_lines() -> list[tuple[str | None, str, str]]:
    """(section, key, the line and the comment lines just above it) for every key line."""
    found = []
    section = None
    comments: list[str] = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := SECTION_LINE.match(line):
            section, comments = match.group(1), []
        elif line.lstrip().startswith("#"):
            comments.append(line)
        elif match := KEY_LINE.match(line):
            found.append((section, match.group(1), "\n".join([*comments, line])))
            comments = []
        elif not line.strip():
            comments = []
    return found


def test_the_example_parses_and_is_valid() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    config = parse_config(raw, str(EXAMPLE))
    assert [volume.number for volume in config.volumes] == [118, 119]


def test_the_example_sets_every_key_of_every_section() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, keys in schema().items():
        tables = raw[section] if isinstance(raw[section], list) else [raw[section]]
        for table in tables:
            missing = [key for key in keys if key not in table]
            if section == "volume":
                missing = [key for key in missing if key not in ("archive_roots", "inspect_roots")]
            assert missing == [], (section, missing)
            assert [key for key in table if key not in keys] == [], section  # none ignored
    assert set(raw) == set(schema())


def test_every_key_of_the_example_is_explained_by_a_comment() -> None:
    lines = example_lines()
    assert {(section, key) for section, key, _ in lines} >= {
        (section, key) for section, keys in schema().items() for key in keys}
    for section, key, text in lines:
        value_and_comment = text.splitlines()[-1].split("=", 1)[1]
        explained = "#" in value_and_comment.replace("'#'", "") or "\n#" in "\n" + text
        assert explained, (section, key, text)


@pytest.mark.parametrize("section, key", [(s, k) for s, keys in schema().items() for k in keys])
def test_every_key_is_in_the_configuration_reference(section: str, key: str) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    heading = "## [[volume]]" if section == "volume" else f"## [{section}]"
    assert heading in text, heading
    body = text.split(heading, 1)[1].split("\n## ", 1)[0]
    assert f"| `{key}` |" in body, (section, key)


def tsv_headers() -> list[str]:
    """Every column header lurge writes in a TSV file."""
    found = []
    for name, value in vars(report_tsv).items():  # the report TSVs' headers
        if name.endswith("HEADER") and isinstance(value, tuple):
            found.extend(value)
    found.extend(inspector_headers(["BAM", "CRAM", "VCF", "PEDBED"], generic=False))
    found.extend(inspector_headers(["BAM", "CRAM", "VCF", "PEDBED"], generic=True))
    found.extend(INDEX_HEADER)
    return sorted(set(found))


NEWER_COLUMNS = (  # the per-user TSV and the newest report columns, written by other modules
    "Inodes", "Inode Quota", "Inode Quota Used", "Days Until Full (bytes)",
    "Days Until Full (inodes)", "Status", "User")


@pytest.mark.parametrize("header", tsv_headers() + list(NEWER_COLUMNS))
def test_every_output_column_is_explained(header: str) -> None:
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    assert f"`{header}`" in text, header


def test_no_private_references_in_what_users_read() -> None:
    files = [REPO / "README.md", EXAMPLE, *DOCS.glob("*.md"),
             *(REPO / name for name in ("manager.py", "report.py", "project_inspector.py",
                                        "group_splitter.py", "cron.sh", "group_splitter_cron.sh")),
             *(path for folder in ("utils", "db", "bench", "tests") for pattern in ("*.py", "*.sh", "*.j2",
                                                                                 "*.html")
               for path in (REPO / folder).rglob(pattern))]
    for path in files:  # any occurrence, identifiers included
        assert not re.search(CONTRACT_MARKS, path.read_text(encoding="utf-8")), path


def test_the_architecture_map_names_modules_that_exist() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:utils|db)/[\w/]+\.(?:py|sh))", text))
    assert len(named) > 20
    assert sorted(name for name in named if not (REPO / name).is_file()) == []


def test_the_docs_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, page.name
