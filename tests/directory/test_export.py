"""utils/directory/export.py (LDIF exports on the ldif package and ldap3's offline server) and the ldif: backend."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from tests.fixtures.slapd import (
    DIRECTORY_LDIF,
    EXPECTED_DIRECTORY,
    NOT_UTF8_GROUP,
    NOT_UTF8_SURNAME,
    ldap_config,
)
from utils.common.config import LdapConfig
from utils.common.errors import DirectoryError
from utils.demo.synthetic import SyntheticOptions
from utils.directory.export import parse_export, read_export
from utils.directory.ldap import Directory, DirectorySnapshot, Scope, load_directory, open_directory, uid_from_dn

# --------------------------------------------------------------------------- parser


def test_entries_attributes_and_value_order() -> None:
    text = (
        "dn: cn=hgi,ou=group,dc=example,dc=org\n"
        "objectClass: posixGroup\n"
        "ObjectClass: sangerHumgenProjectGroup\n"
        "CN: hgi\n"
        "gidNumber: 1001\n"
        "\n"
        "\n"
        "dn: cn=ops,ou=group,dc=example,dc=org\n"
        "cn:ops\n"
    )
    first, second = parse_export(text, "t.ldif")
    assert first.dn == "cn=hgi,ou=group,dc=example,dc=org"
    assert first.attributes == {
        "objectclass": [b"posixGroup", b"sangerHumgenProjectGroup"],
        "cn": [b"hgi"],
        "gidnumber": [b"1001"],
    }
    assert first.values("GIDNUMBER") == ["1001"]
    assert first.values("sn") == []
    assert first.line == 1
    assert second.attributes == {"cn": [b"ops"]}
    assert second.line == 8


def test_folded_lines_drop_exactly_one_space() -> None:
    text = (
        "dn: cn=a,dc=exa\n"
        " mple,dc=org\n"
        "description: one\n"
        "  two\n"
        " three\n"
    )
    (entry,) = parse_export(text)
    assert entry.dn == "cn=a,dc=example,dc=org"
    assert entry.values("description") == ["one twothree"]


def test_base64_values_are_decoded_as_utf8() -> None:
    text = "dn:: Y249w6lxdWlwZSxkYz1vcmc=\nsn:: TcO8bGxlcg==\ncn::\n"
    (entry,) = parse_export(text)
    assert entry.dn == "cn=équipe,dc=org"
    assert entry.attributes == {"sn": ["Müller".encode()], "cn": [b""]}


def test_folded_base64_value() -> None:
    text = "dn: cn=a,dc=org\nsn:: TcO8\n bGxl\n cg==\n"
    (entry,) = parse_export(text)
    assert entry.values("sn") == ["Müller"]


def test_non_utf8_base64_value_keeps_its_bytes() -> None:
    (entry,) = parse_export("dn: cn=a,dc=org\ndescription:: /w==\n")  # the single byte 0xff
    assert entry.attributes["description"] == [b"\xff"]
    value = entry.values("description")[0]
    assert value == "\udcff"
    assert value.encode("utf-8", "surrogateescape") == b"\xff"


def test_non_utf8_plain_bytes_keep_their_bytes() -> None:
    (entry,) = parse_export(b"dn: cn=a,dc=org\ndescription: caf\xe9\n")
    assert entry.attributes["description"] == [b"caf\xe9"]
    assert entry.values("description")[0].encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_non_utf8_dn_bytes_become_dn_hex_escapes() -> None:
    (entry,) = parse_export("dn:: Y249YmFk/y5kYz1vcmc=\ncn:: YmFk/w==\n")  # cn=bad\xff.dc=org
    assert entry.dn == "cn=bad\\ff.dc=org"
    assert entry.attributes["cn"] == [b"bad\xff"]


def test_comments_and_folded_comments_are_ignored() -> None:
    text = (
        "# a comment before everything\n"
        "\n"
        "# a comment that is folded\n"
        " dn: cn=not-an-entry\n"
        "dn: cn=a,dc=org\n"
        "# a comment inside an entry\n"
        "cn: a\n"
        "\n"
        "# trailing comment\n"
    )
    (entry,) = parse_export(text)
    assert entry.dn == "cn=a,dc=org"
    assert entry.attributes == {"cn": [b"a"]}
    assert entry.line == 5


def test_version_line_and_crlf_line_ends() -> None:
    for text in ("version: 1\r\n\r\ndn: cn=a,dc=org\r\ncn: a\r\n", "version: 1\ndn: cn=a,dc=org\ncn: a"):
        (entry,) = parse_export(text)
        assert entry.dn == "cn=a,dc=org"
        assert entry.attributes == {"cn": [b"a"]}


def test_empty_input_has_no_entries() -> None:
    assert parse_export("") == []
    assert parse_export("\n\n# only a comment\n") == []


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("cn: a\n", 1, "First line of record does not start with 'dn:'"),
        ("dn: cn=a,dc=org\ncn: a\n\n\nsn: b\n", 5, "First line of record does not start with 'dn:'"),
        ("dn: cn=a,dc=org\nno colon here\n", 2, "expected 'attribute: value'"),
        ("dn: cn=a,dc=org\ncn:: not*base64\n", 2, "invalid base64"),
        ("dn: cn=a,dc=org\njpegPhoto:< file:///tmp/x.jpg\n", 2, "URL values are not supported"),
        ("dn: cn=a,dc=org\n\n continued\n", 3, "continuation line"),
        (" continued\ndn: cn=a,dc=org\n", 1, "continuation line"),
        ("dn: cn=a,dc=org\ndn: cn=b,dc=org\n", 2, "Two lines starting with dn: in one record"),
        ("dn: cn=a,dc=org\nchangetype: add\n", 2, "change records"),
        ("dn: cn=a,dc=org\nbad name: x\n", 2, "invalid attribute name"),
        ("dn: not a dn\ncn: a\n", 1, "No valid string-representation of distinguished name"),
        ("version: 2\n\ndn: cn=a,dc=org\n", 1, "unsupported LDIF version"),
        ("dn: cn=a,dc=org\ncn: a\n\n# note\n folded note\ndn: cn=b,dc=org\nsn:: ==\n", 7, "invalid base64"),
    ],
)
def test_errors_name_the_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        parse_export(text, "export.ldif")
    message = str(caught.value)
    assert message.startswith(f"export.ldif, line {line}: ")
    assert reason in message


def test_read_export_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ldif"
    with pytest.raises(DirectoryError, match=f"LDIF file {missing} does not exist"):
        read_export(str(missing))


def test_read_export_reports_the_real_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.ldif"
    path.write_text("dn: cn=a,dc=org\ncn: a\n\ngarbage\n")
    with pytest.raises(DirectoryError, match=rf"^{path}, line 4: "):
        read_export(str(path))


def test_a_dn_ldap3_cannot_parse_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad-dn.ldif"
    path.write_text("dn: ou=g,dc=t\nou: g\n\ndn: cn=a\\q,ou=g,dc=t\ncn: a\n")
    with pytest.raises(DirectoryError, match=rf"^{path}, line 4: invalid DN 'cn=a\\\\q,ou=g,dc=t': "):
        load_directory(small_layout(path))


def test_a_repeated_dn_keeps_the_first_entry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "twice.ldif"
    path.write_text("dn: cn=a,ou=g,dc=t\nobjectClass: posixGroup\ncn: a\ngidNumber: 1\n\n"
                    "dn: CN=a, ou=g,dc=t\nobjectClass: posixGroup\ncn: a\ngidNumber: 2\n")
    assert load_directory(small_layout(path)).posix == {1: "a"}
    assert f"{path}, line 6: DN CN=a, ou=g,dc=t appears again; the later entry is ignored" in caplog.messages


def test_test_directory_file_uses_every_ldif_feature() -> None:
    raw = DIRECTORY_LDIF.read_text(encoding="utf-8")
    assert "\n#" in raw and ":: " in raw and "\n  folded" in raw
    entries = {entry.dn: entry for entry in read_export(str(DIRECTORY_LDIF))}
    assert entries["cn=tanaka-lab,ou=group,dc=example,dc=org"].values("sangerProjectPI") == [
        "uid=kt3,ou=people,dc=example,dc=org"
    ]
    assert entries["uid=mm2,ou=people,dc=example,dc=org"].values("sn") == ["Müller-Lüdenscheidt"]
    assert "cn=équipe-rouge,ou=group,dc=example,dc=org" in entries
    assert entries["cn=hgi,ou=group,dc=example,dc=org"].values("description") == [
        ("Human Genetics Informatics: looks after the pipelines, the compute farm and "
         "the storage reports that this test directory stands in for.")
    ]
    assert entries["cn=odd-bytes,ou=group,dc=example,dc=org"].attributes["cn"][0] == b"bad\xff\xfeutf8"


# --------------------------------------------------------------------------- searches on an export

GROUP_ENTRY = (
    "dn: cn=Tanaka-Lab,ou=g,dc=t\n"
    "objectClass: posixGroup\nobjectClass: sangerHumgenProjectGroup\n"
    "cn: Tanaka-Lab\ncn: alias\ngidNumber: 1003\n"
    "description: a (b) *c* \\d\n"
    "description:: YmFk/3RhaWw=\n"  # b"bad\xfftail": substring and ordering tests meet bytes that are not UTF-8
)


@pytest.fixture
def group_export(tmp_path: Path) -> Directory:
    path = tmp_path / "group.ldif"
    path.write_text(f"dn: ou=g,dc=t\nobjectClass: organizationalUnit\nou: g\n\n{GROUP_ENTRY}")
    return open_directory(small_layout(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(objectClass=posixGroup)", True),
        ("(OBJECTCLASS=POSIXGROUP)", True),
        ("(objectClass=person)", False),
        ("(cn=alias)", True),
        ("(cn=tanaka-lab)", True),
        ("(cn=*)", True),
        ("(sn=*)", False),
        ("(cn=tanaka*)", True),
        ("(cn=*lab)", True),
        ("(cn=*tanaka)", False),  # anchored at the end
        ("(cn=*ali)", False),
        ("(cn=t*k*-*b)", True),
        ("(cn=t*b*k)", False),
        ("(cn=tan*nak*)", False),  # pieces may not overlap
        ("(cn=tanaka-lab*)", True),
        ("(cn=*-*)", True),
        ("(description=*tail)", True),
        ("(description=bad*)", True),
        ("(&(objectClass=posixGroup)(gidNumber=1003))", True),
        ("(&(objectClass=posixGroup)(gidNumber=1004))", False),
        ("(|(gidNumber=1)(gidNumber=1003))", True),
        ("(|(gidNumber=1)(gidNumber=2))", False),
        ("(|(cn=x)(gidNumber>=1000))", True),
        ("(|(cn=x)(sn=alias)(cn=*lab))", True),
        ("(|(cn=x)(sn=alias)(cn=*zzz))", False),
        ("(!(cn=hgi))", True),
        ("(!(cn=alias))", False),
        ("(gidNumber>=1003)", True),
        ("(gidNumber>=200)", True),  # numeric, not text, comparison
        ("(gidNumber<=1002)", False),
        ("(description>=b)", True),  # the value that is not UTF-8 still compares
        ("( &(cn=alias) (gidNumber=1003) )", True),
        ("(&(|(cn=x)(cn=alias))(!(objectClass=person)))", True),
    ],
)
def test_filter_evaluation(group_export: Directory, text: str, expected: bool) -> None:
    found = group_export.search("ou=g,dc=t", Scope.ONE_LEVEL, text, ["cn"])
    assert [entry.dn for entry in found] == (["cn=Tanaka-Lab,ou=g,dc=t"] if expected else [])


def test_filter_hex_escapes_build_utf8_characters(tmp_path: Path) -> None:
    path = tmp_path / "e.ldif"
    path.write_text("dn: cn=équipe,ou=g,dc=t\ncn: équipe\n")
    directory = open_directory(small_layout(path))
    for text, expected in (("(cn=\\c3\\a9quipe)", True), ("(cn=ÉQUIPE)", True), ("(cn=equipe)", False)):
        assert bool(directory.search("ou=g,dc=t", Scope.ONE_LEVEL, text, ["cn"])) is expected, text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("objectClass=posixGroup", "invalid filter"),
        ("(cn=a", "invalid filter"),
        ("(cn=a))", "invalid filter"),
        ("(cn=a(b)", "invalid filter"),
        ("(&)", "malformed filter"),
        ("(!(cn=a)(cn=b))", "NOT (!) clause in filter cannot be multiple"),
        ("", "invalid filter"),
    ],
)
def test_filter_syntax_errors(group_export: Directory, text: str, reason: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        group_export.search("ou=g,dc=t", Scope.ONE_LEVEL, text, ["cn"])
    assert str(caught.value) == f"{group_export.description}: one-level search under 'ou=g,dc=t' for {text} failed: {reason}"


@pytest.mark.parametrize("text", ["(description=a \\28b\\29 \\2ac\\2a \\5cd)", "(description=*\\2a*)",
                                  "(cn:caseExactMatch:=Tanaka-Lab)", "(cn:dn:=g)"])
def test_filters_the_export_cannot_answer(group_export: Directory, text: str) -> None:
    with pytest.raises(DirectoryError, match="an LDIF export cannot answer extensible matches"):
        group_export.search("ou=g,dc=t", Scope.ONE_LEVEL, text, ["cn"])


def test_values_come_back_byte_exact(group_export: Directory) -> None:
    (entry,) = group_export.search("ou=g,dc=t", Scope.ONE_LEVEL, "(cn=alias)", ["description", "cn"])
    assert [value.encode("utf-8", "surrogateescape") for value in entry.attributes["description"]] == [
        b"a (b) *c* \\d", b"bad\xfftail"]
    assert entry.attributes["cn"] == ["Tanaka-Lab", "alias"]


# --------------------------------------------------------------------------- scopes on an export

TREE = (
    "dn: dc=t\ndc: t\nobjectClass: dcObject\n\n"
    "dn: ou=people,dc=t\nou: people\nobjectClass: organizationalUnit\n\n"
    "dn: uid=a,ou=people,dc=t\nuid: a\nobjectClass: person\n\n"
    "dn: cn=Doe\\, Jane,ou=people,dc=t\ncn: Doe, Jane\nobjectClass: person\n\n"
    "dn: cn=Lee\\2C Ann , OU=People, dc=t\ncn: Lee, Ann\nobjectClass: person\n\n"
    "dn: ou=old,ou=people,dc=t\nou: old\nobjectClass: organizationalUnit\n\n"
    "dn: uid=b,ou=old,ou=people,dc=t\nuid: b\nobjectClass: person\n\n"
    "dn: uid=c,ou=xpeople,dc=t\nuid: c\nobjectClass: person\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> Directory:
    path = tmp_path / "tree.ldif"
    path.write_text(TREE)
    return open_directory(small_layout(path))


@pytest.mark.parametrize(
    ("base", "scope", "expected"),
    [
        ("ou=people,dc=t", Scope.ONE_LEVEL,
         ["uid=a,ou=people,dc=t", "cn=Doe\\, Jane,ou=people,dc=t", "cn=Lee\\2C Ann,OU=People,dc=t", "ou=old,ou=people,dc=t"]),
        ("OU=People , DC=T", Scope.ONE_LEVEL,
         ["uid=a,ou=people,dc=t", "cn=Doe\\, Jane,ou=people,dc=t", "cn=Lee\\2C Ann,OU=People,dc=t", "ou=old,ou=people,dc=t"]),
        ("ou=people,dc=t", Scope.SUBTREE,
         ["ou=people,dc=t", "uid=a,ou=people,dc=t", "cn=Doe\\, Jane,ou=people,dc=t", "cn=Lee\\2C Ann,OU=People,dc=t",
          "ou=old,ou=people,dc=t", "uid=b,ou=old,ou=people,dc=t"]),
        ("ou=old,ou=people,dc=t", Scope.ONE_LEVEL, ["uid=b,ou=old,ou=people,dc=t"]),
        ("uid=b,ou=old,ou=people,dc=t", Scope.ONE_LEVEL, []),  # exists, no children
    ],
)
def test_scopes_follow_the_tree(tree: Directory, base: str, scope: Scope, expected: list[str]) -> None:
    found = tree.search(base, scope, "(objectClass=*)", ["uid"])
    assert sorted(entry.dn for entry in found) == sorted(expected)


def test_a_base_with_nothing_under_it_gives_nothing_and_a_warning(tree: Directory,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    assert tree.search("ou=nowhere,dc=t", Scope.SUBTREE, "(objectClass=*)", ["uid"]) == []
    assert f"{tree.description}: the export holds nothing at or under ou=nowhere,dc=t" in caplog.messages


def test_an_export_without_its_base_entries_still_answers(tmp_path: Path) -> None:
    path = tmp_path / "partial.ldif"  # people only: no dc=t, no ou=people, no groups at all
    path.write_text("dn: uid=a,ou=people,dc=t\nobjectClass: posixAccount\nuid: a\nuidNumber: 7\n")
    config = ldap_config(f"ldif:{path}", group_base="ou=group,dc=t", people_base="ou=people,dc=t")
    assert load_directory(config) == DirectorySnapshot(humgen={}, pis={}, posix={}, users={7: "a"})


# --------------------------------------------------------------------------- DNs


def test_uid_from_dn() -> None:
    assert uid_from_dn("uid=ab1,ou=people,dc=sanger,dc=ac,dc=uk") == "ab1"
    assert uid_from_dn("UID = Ab1 ,ou=people") == "Ab1"
    assert uid_from_dn("cn=Jane+uid=jd1,ou=people") == "jd1"
    assert uid_from_dn("uid=a\\2cb,ou=people") == "a,b"
    assert uid_from_dn("uid=a\\,b\\ff,ou=people") == "a,b\udcff"
    assert uid_from_dn("cn=Jane Doe,ou=people") is None
    assert uid_from_dn("ou=people,uid=ab1") is None
    assert uid_from_dn("") is None
    assert uid_from_dn("not a dn") is None


# --------------------------------------------------------------------------- the offline backend


def test_offline_backend_answers_from_the_test_directory(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="utils.directory.ldap")
    snapshot = load_directory(ldap_config(f"ldif:{DIRECTORY_LDIF}"))
    assert snapshot == EXPECTED_DIRECTORY
    messages = [record.getMessage() for record in caplog.records]
    assert any("'alpha' and 'zeta' share gidNumber 2004" in m for m in messages)
    assert any("cn=no-gid,ou=group,dc=example,dc=org" in m and "gidNumber is missing" in m for m in messages)
    assert any("PI uid=left99 of humgen group ghosts (gid 1006)" in m for m in messages)
    assert any("humgen group by-name (gid 1007)" in m and "not a uid=... DN" in m for m in messages)
    assert f"ldif:{DIRECTORY_LDIF}: users 'aa9' and 'zz9' share uidNumber 10020; using 'aa9'" in messages
    assert (f"ldif:{DIRECTORY_LDIF}: skipping user uid=odd1,ou=people,dc=example,dc=org: uidNumber is "
            "missing or not an integer ('ten')") in messages
    assert f"ldif:{DIRECTORY_LDIF}: read 9 humgen groups, 6 PIs, 13 posix groups, 9 users" in messages


def test_names_that_are_not_utf8_keep_their_bytes() -> None:
    snapshot = load_directory(ldap_config(f"ldif:{DIRECTORY_LDIF}"))
    assert snapshot.group_name(2100).encode("utf-8", "surrogateescape") == b"bad\xff\xfeutf8"
    assert snapshot.pi(2100).encode("utf-8", "surrogateescape") == b"M\xfcller"
    assert snapshot.user_name(10050).encode("utf-8", "surrogateescape") == b"bad\xff\xfeutf8"
    assert (snapshot.group_name(2100), snapshot.pi(2100)) == (NOT_UTF8_GROUP, NOT_UTF8_SURNAME)


def test_snapshot_lookups() -> None:
    snapshot = EXPECTED_DIRECTORY
    assert snapshot.is_humgen(1001) and not snapshot.is_humgen(2001) and not snapshot.is_humgen(9)
    assert snapshot.pi(1001) == "Doe"
    assert snapshot.pi(1005) is None  # humgen without PI
    assert snapshot.pi(2001) is None
    assert snapshot.name(1002) == "mueller-lab"
    assert snapshot.name(2003) == "équipe-rouge"
    assert snapshot.name(4242) is None
    assert snapshot.group_name(2004) == "alpha"
    assert snapshot.group_name(4242) == "4242"
    assert snapshot.user_name(10001) == "jd1"
    assert snapshot.user_name(10012) == "jürgen"
    assert snapshot.user_name(10004) == "10004"  # filed one level deeper
    assert snapshot.user_name(10005) == "10005"  # no entry
    assert snapshot.user_name(0) == "0"
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot


def test_snapshot_prefers_humgen_name_and_ignores_pis_of_non_humgen_gids() -> None:
    snapshot = DirectorySnapshot(humgen={5: "project"}, pis={5: "Lee", 6: "Stray"}, posix={5: "posix5", 6: "six"})
    assert snapshot.name(5) == "project"
    assert snapshot.pi(6) is None
    assert snapshot.users == {} and snapshot.user_name(5) == "5"


def test_offline_backend_with_a_humgen_filter_override() -> None:
    config = ldap_config(f"ldif:{DIRECTORY_LDIF}",
                         humgen_filter="(&(objectClass=sangerHumgenProjectGroup)(|(cn=*lab)(gidNumber=1001)))")
    snapshot = load_directory(config)
    assert snapshot.humgen == {1001: "hgi", 1002: "mueller-lab", 1003: "tanaka-lab"}
    assert snapshot.pis == {1001: "Doe", 1002: "Müller-Lüdenscheidt", 1003: "Tanaka"}
    assert snapshot.posix == EXPECTED_DIRECTORY.posix


def test_offline_backend_skips_bad_groups_and_resolves_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "export.ldif"
    path.write_text(
        "dn: cn=b-second,ou=g,dc=t\nobjectClass: posixGroup\ncn: b-second\ngidNumber: 7\n\n"
        "dn: cn=a-first,ou=g,dc=t\nobjectClass: posixGroup\ncn: a-first\ngidNumber: 7\n\n"
        "dn: cn=c-third,ou=g,dc=t\nobjectClass: posixGroup\ncn: c-third\ngidNumber: 7\n\n"
        "dn: cn=words,ou=g,dc=t\nobjectClass: posixGroup\ncn: words\ngidNumber: seven\n\n"
        "dn: cn=nameless,ou=g,dc=t\nobjectClass: posixGroup\ncn:\ngidNumber: 8\n\n"
        "dn: cn=spaced,ou=g,dc=t\nobjectClass: posixGroup\ncn: spaced\ngidNumber:  9 \n\n"
        "dn: cn=h,ou=g,dc=t\nobjectClass: posixGroup\nobjectClass: sangerHumgenProjectGroup\n"
        "cn: h\ngidNumber: 10\nsangerProjectPI: uid=Pi1,ou=p,dc=t\nsangerProjectPI: uid=pi2,ou=p,dc=t\n\n"
        "dn: uid=pi1,ou=p,dc=t\nuid: PI1\nsn: First\nsn: Second\n\n"
        "dn: uid=pi2,ou=p,dc=t\nuid: pi2\nsn: Other\n"
    )
    snapshot = load_directory(small_layout(path))
    assert snapshot == DirectorySnapshot(
        humgen={10: "h"}, pis={10: "First"}, posix={7: "a-first", 9: "spaced", 10: "h"}
    )


def test_offline_backend_users_skip_bad_entries_and_resolve_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "users.ldif"
    account = "objectClass: posixAccount\n"
    path.write_text(
        f"dn: uid=b,ou=p,dc=t\n{account}uid: b\nuidNumber: 7\n\n"
        f"dn: uid=a,ou=p,dc=t\n{account}uid: a\nuidNumber: 7\n\n"
        f"dn: uid=c,ou=p,dc=t\n{account}uid: c\nuidNumber: 7\n\n"
        f"dn: uid=words,ou=p,dc=t\n{account}uid: words\nuidNumber: seven\n\n"
        f"dn: cn=nameless,ou=p,dc=t\n{account}cn: nameless\nuidNumber: 8\n\n"
        f"dn: uid=nonumber,ou=p,dc=t\n{account}uid: nonumber\n\n"
        f"dn: uid=person,ou=p,dc=t\nobjectClass: inetOrgPerson\nuid: person\nuidNumber: 11\n\n"
        f"dn: uid=deep,ou=sub,ou=p,dc=t\n{account}uid: deep\nuidNumber: 12\n\n"
        f"dn: cn=Doe\\, Jo,ou=p,dc=t\n{account}cn: Doe, Jo\nuid: jo\nuid: jo-alias\nuidNumber:  13 \n"
    )
    assert load_directory(small_layout(path)).users == {7: "a", 13: "jo"}


def small_layout(path: Path) -> LdapConfig:
    """Config for the hand-written exports here: groups in ou=g,dc=t, people in ou=p,dc=t."""
    return ldap_config(f"ldif:{path}", group_base="ou=g,dc=t", people_base="ou=p,dc=t")


def test_offline_backend_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "gone.ldif"
    with pytest.raises(DirectoryError, match=f"LDIF file {missing} does not exist"):
        load_directory(ldap_config(f"ldif:{missing}"))


def test_offline_backend_rejects_a_bad_filter() -> None:
    with pytest.raises(DirectoryError) as caught:
        load_directory(ldap_config(f"ldif:{DIRECTORY_LDIF}", humgen_filter="objectClass=x"))
    assert str(caught.value) == (f"ldif:{DIRECTORY_LDIF}: one-level search under 'ou=group,dc=example,dc=org' "
                                 "for objectClass=x failed: invalid filter")


def test_many_pi_uids_are_looked_up_in_one_search(tmp_path: Path) -> None:
    lines = []
    for number in range(450):
        lines.append(f"dn: cn=g{number},ou=g,dc=t\nobjectClass: posixGroup\nobjectClass: sangerHumgenProjectGroup\n"
                     f"cn: g{number}\ngidNumber: {number}\nsangerProjectPI: uid=p{number}*(x),ou=p,dc=t\n")
        if number % 3:
            lines.append(f"dn: uid=p{number}\\2a(x),ou=p,dc=t\nuid: p{number}*(x)\nsn: S{number}\n")
    path = tmp_path / "many.ldif"
    path.write_text("\n".join(lines))
    snapshot = load_directory(small_layout(path))
    assert snapshot.humgen == {n: f"g{n}" for n in range(450)}
    assert snapshot.pis == {n: f"S{n}" for n in range(450) if n % 3}


def test_demo_directory_names_the_synthetic_users() -> None:
    demo = Path(__file__).resolve().parents[2] / "demo" / "directory.ldif"
    snapshot = load_directory(ldap_config(f"ldif:{demo}"))
    options = SyntheticOptions()
    assert {uid: snapshot.user_name(uid) for uid in options.uids} == {
        501: options.users[0], 502: options.users[1], 503: options.users[2], 504: "504"}  # 504 is unknown
