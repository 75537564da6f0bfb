"""utils/ldif.py (LDIF parser, filter evaluator, DN helpers) and the offline ldif: backend."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from tests.fixtures.slapd import DIRECTORY_LDIF, EXPECTED_DIRECTORY, ldap_config
from utils.common.config import LdapConfig
from utils.common.errors import DirectoryError
from utils.directory.ldap import DirectorySnapshot, load_directory
from utils.directory.ldif import (
    escape_filter_value,
    in_subtree,
    is_direct_child,
    normalise_dn,
    parse_filter,
    parse_ldif,
    read_ldif,
    split_dn,
    uid_from_dn,
)

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
    first, second = parse_ldif(text, "t.ldif")
    assert first.dn == "cn=hgi,ou=group,dc=example,dc=org"
    assert first.attributes == {
        "objectclass": ["posixGroup", "sangerHumgenProjectGroup"],
        "cn": ["hgi"],
        "gidnumber": ["1001"],
    }
    assert first.values("GIDNUMBER") == ["1001"]
    assert first.values("sn") == []
    assert first.line == 1
    assert second.attributes == {"cn": ["ops"]}
    assert second.line == 8


def test_folded_lines_drop_exactly_one_space() -> None:
    text = (
        "dn: cn=a,dc=exa\n"
        " mple,dc=org\n"
        "description: one\n"
        "  two\n"
        " three\n"
    )
    (entry,) = parse_ldif(text)
    assert entry.dn == "cn=a,dc=example,dc=org"
    assert entry.attributes["description"] == ["one twothree"]


def test_base64_values_are_decoded_as_utf8() -> None:
    text = "dn:: Y249w6lxdWlwZSxkYz1vcmc=\nsn:: TcO8bGxlcg==\ncn::\n"
    (entry,) = parse_ldif(text)
    assert entry.dn == "cn=équipe,dc=org"
    assert entry.attributes == {"sn": ["Müller"], "cn": [""]}


def test_folded_base64_value() -> None:
    text = "dn: cn=a,dc=org\nsn:: TcO8\n bGxl\n cg==\n"
    (entry,) = parse_ldif(text)
    assert entry.attributes["sn"] == ["Müller"]


def test_non_utf8_base64_value_keeps_its_bytes() -> None:
    (entry,) = parse_ldif("dn: cn=a,dc=org\ndescription:: /w==\n")  # the single byte 0xff
    value = entry.attributes["description"][0]
    assert value == "\udcff"
    assert value.encode("utf-8", "surrogateescape") == b"\xff"


def test_non_utf8_plain_bytes_keep_their_bytes() -> None:
    (entry,) = parse_ldif(b"dn: cn=a,dc=org\ndescription: caf\xe9\n")
    assert entry.attributes["description"][0].encode("utf-8", "surrogateescape") == b"caf\xe9"


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
    (entry,) = parse_ldif(text)
    assert entry.dn == "cn=a,dc=org"
    assert entry.attributes == {"cn": ["a"]}
    assert entry.line == 5


def test_version_line_and_crlf_line_ends() -> None:
    for text in ("version: 1\r\n\r\ndn: cn=a,dc=org\r\ncn: a\r\n", "version: 1\ndn: cn=a,dc=org\ncn: a"):
        (entry,) = parse_ldif(text)
        assert entry.dn == "cn=a,dc=org"
        assert entry.attributes == {"cn": ["a"]}


def test_empty_input_has_no_entries() -> None:
    assert parse_ldif("") == []
    assert parse_ldif("\n\n# only a comment\n") == []


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("cn: a\n", 1, "expected a 'dn:' line"),
        ("dn: cn=a,dc=org\ncn: a\n\n\nsn: b\n", 5, "expected a 'dn:' line"),
        ("dn: cn=a,dc=org\nno colon here\n", 2, "expected 'attribute: value'"),
        ("dn: cn=a,dc=org\ncn:: not*base64\n", 2, "invalid base64"),
        ("dn: cn=a,dc=org\njpegPhoto:< file:///tmp/x.jpg\n", 2, "URL values are not supported"),
        ("dn: cn=a,dc=org\n\n continued\n", 3, "continuation line"),
        ("dn: cn=a,dc=org\ndn: cn=b,dc=org\n", 2, "a second 'dn:' line"),
        ("dn: cn=a,dc=org\nchangetype: add\n", 2, "change records"),
        ("dn: cn=a,dc=org\nbad name: x\n", 2, "invalid attribute name"),
        ("dn: not a dn\ncn: a\n", 1, "invalid DN"),
        ("version: 2\n\ndn: cn=a,dc=org\n", 1, "unsupported LDIF version"),
    ],
)
def test_errors_name_the_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        parse_ldif(text, "export.ldif")
    message = str(caught.value)
    assert message.startswith(f"export.ldif, line {line}: ")
    assert reason in message


def test_read_ldif_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ldif"
    with pytest.raises(DirectoryError, match=f"LDIF file {missing} does not exist"):
        read_ldif(str(missing))


def test_read_ldif_reports_the_real_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.ldif"
    path.write_text("dn: cn=a,dc=org\ncn: a\n\ngarbage\n")
    with pytest.raises(DirectoryError, match=rf"^{path}, line 4: "):
        read_ldif(str(path))


def test_test_directory_file_uses_every_ldif_feature() -> None:
    raw = DIRECTORY_LDIF.read_text(encoding="utf-8")
    assert "\n#" in raw and ":: " in raw and "\n  folded" in raw
    entries = {entry.dn: entry for entry in read_ldif(str(DIRECTORY_LDIF))}
    assert entries["cn=tanaka-lab,ou=group,dc=example,dc=org"].values("sangerProjectPI") == [
        "uid=kt3,ou=people,dc=example,dc=org"
    ]
    assert entries["uid=mm2,ou=people,dc=example,dc=org"].values("sn") == ["Müller-Lüdenscheidt"]
    assert "cn=équipe-rouge,ou=group,dc=example,dc=org" in entries
    assert entries["cn=hgi,ou=group,dc=example,dc=org"].values("description") == [
        ("Human Genetics Informatics: looks after the pipelines, the compute farm and "
         "the storage reports that this test directory stands in for.")
    ]


# --------------------------------------------------------------------------- filters

GROUP = {
    "objectclass": ["posixGroup", "sangerHumgenProjectGroup"],
    "cn": ["Tanaka-Lab", "alias"],
    "gidnumber": ["1003"],
    "description": ["a (b) *c* \\d", "Multiple   spaces  here"],
}


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
        ("(cn=t*k*-*b)", True),
        ("(cn=t*b*k)", False),
        ("(cn=tan*nak*)", False),  # pieces may not overlap
        ("(cn=tanaka-lab*)", True),
        ("(cn=*-*)", True),
        ("(description=a \\28b\\29 \\2ac\\2a \\5cd)", True),
        ("(description=*\\2a*)", True),
        ("(description=multiple spaces here)", True),
        ("(&(objectClass=posixGroup)(gidNumber=1003))", True),
        ("(&(objectClass=posixGroup)(gidNumber=1004))", False),
        ("(|(gidNumber=1)(gidNumber=1003))", True),
        ("(|(gidNumber=1)(gidNumber=2))", False),
        ("(|(cn=x)(gidNumber>=1000))", True),
        ("(|(cn=x)(sn=alias)(cn=*lab))", True),
        ("(|(cn=x)(sn=alias)(cn=*zzz))", False),
        ("(!(cn=hgi))", True),
        ("(!(cn=alias))", False),
        ("(&)", True),
        ("(|)", False),
        ("(gidNumber>=1003)", True),
        ("(gidNumber>=200)", True),  # numeric, not text, comparison
        ("(gidNumber<=1002)", False),
        ("( &(cn=alias) (gidNumber=1003) )", True),
        ("(&(|(cn=x)(cn=alias))(!(objectClass=person)))", True),
    ],
)
def test_filter_evaluation(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(GROUP) is expected


def test_filter_hex_escapes_build_utf8_characters() -> None:
    assert parse_filter("(cn=\\c3\\a9quipe)").matches({"cn": ["équipe"]})
    assert parse_filter("(cn=équipe)").matches({"cn": ["ÉQUIPE"]})
    assert not parse_filter("(cn=equipe)").matches({"cn": ["équipe"]})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("objectClass=posixGroup", "expected '('"),
        ("(cn=a", "missing ')'"),
        ("(cn=a))", "unexpected text"),
        ("(cn=a(b)", "must be escaped"),
        ("(cn=\\zz)", "two hex digits"),
        ("(cn~=a)", "not supported"),
        ("(cn:caseExactMatch:=a)", "not supported"),
        ("(=a)", "invalid attribute description"),
        ("(!(cn=a)(cn=b))", "expected ')'"),
        ("(gidNumber>=1*)", "'*' is only allowed"),
        ("", "expected '('"),
    ],
)
def test_filter_syntax_errors(text: str, reason: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        parse_filter(text)
    assert f"invalid LDAP filter {text!r}" in str(caught.value)
    assert reason in str(caught.value)


def test_escape_filter_value_round_trips() -> None:
    nasty = "a*(b)\\c\0d é \udcff"
    escaped = escape_filter_value(nasty)
    assert escaped == "a\\2a\\28b\\29\\5cc\\00d é \\ff"
    assert parse_filter(f"(cn={escaped})").matches({"cn": [nasty]})
    assert not parse_filter(f"(cn={escaped})").matches({"cn": ["a"]})


# --------------------------------------------------------------------------- DNs


def test_split_dn() -> None:
    assert split_dn("uid=ab1, ou=People ,dc=example,dc=org") == [
        [("uid", "ab1")], [("ou", "People")], [("dc", "example")], [("dc", "org")]
    ]
    assert split_dn("cn=Doe\\, Jane+uid=jd1,dc=org") == [[("cn", "Doe, Jane"), ("uid", "jd1")], [("dc", "org")]]
    assert split_dn("cn=\\c3\\a9quipe\\20,dc=org") == [[("cn", "équipe ")], [("dc", "org")]]
    assert split_dn('cn="Doe, Jane",dc=org') == [[("cn", "Doe, Jane")], [("dc", "org")]]
    assert split_dn("") == []


@pytest.mark.parametrize("bad", ["no equals sign", "cn=a,", "cn=a,,dc=org", "cn=a\\q", 'cn="open,dc=org'])
def test_split_dn_rejects_invalid_dns(bad: str) -> None:
    with pytest.raises(DirectoryError, match="invalid DN"):
        split_dn(bad)


def test_normalise_dn_ignores_case_and_spaces() -> None:
    expected = "uid=ab1,ou=people,dc=example,dc=org"
    assert normalise_dn("UID=AB1 , ou = People,DC=Example, dc=org") == expected
    assert normalise_dn("uid=ab1,ou=people,dc=example,dc=org") == expected
    assert normalise_dn("cn=Doe\\, Jane,dc=org") == normalise_dn("CN=doe\\2c jane,DC=org") == "cn=doe\\, jane,dc=org"
    assert normalise_dn("uid=jd1+cn=Jane,dc=org") == normalise_dn("cn=jane+uid=JD1,dc=org")
    assert normalise_dn("cn=a,dc=org") != normalise_dn("cn=b,dc=org")


def test_direct_child_and_subtree() -> None:
    base = "ou=group,dc=example,dc=org"
    assert is_direct_child("cn=hgi,ou=group,dc=example,dc=org", base)
    assert is_direct_child("CN=hgi, OU=Group, dc=Example, dc=org", base)
    assert not is_direct_child(base, base)
    assert not is_direct_child("cn=old,ou=legacy,ou=group,dc=example,dc=org", base)
    assert not is_direct_child("cn=hgi,ou=people,dc=example,dc=org", base)
    assert not is_direct_child("cn=x,ou=group,dc=example,dc=com", base)
    assert in_subtree(base, base)
    assert in_subtree("cn=old,ou=legacy,ou=group,dc=example,dc=org", base)
    assert not in_subtree("ou=people,dc=example,dc=org", base)
    assert not in_subtree("dc=org", base)
    assert in_subtree("dc=org", "")


def test_uid_from_dn() -> None:
    assert uid_from_dn("uid=ab1,ou=people,dc=sanger,dc=ac,dc=uk") == "ab1"
    assert uid_from_dn("UID = Ab1 ,ou=people") == "Ab1"
    assert uid_from_dn("cn=Jane+uid=jd1,ou=people") == "jd1"
    assert uid_from_dn("uid=a\\2cb,ou=people") == "a,b"
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
    assert f"ldif:{DIRECTORY_LDIF}: read 8 humgen groups, 5 PIs, 12 posix groups" in messages


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
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot


def test_snapshot_prefers_humgen_name_and_ignores_pis_of_non_humgen_gids() -> None:
    snapshot = DirectorySnapshot(humgen={5: "project"}, pis={5: "Lee", 6: "Stray"}, posix={5: "posix5", 6: "six"})
    assert snapshot.name(5) == "project"
    assert snapshot.pi(6) is None


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


def small_layout(path: Path) -> LdapConfig:
    """Config for the hand-written exports below: groups in ou=g,dc=t, people in ou=p,dc=t."""
    return ldap_config(f"ldif:{path}", group_base="ou=g,dc=t", people_base="ou=p,dc=t")


def test_offline_backend_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "gone.ldif"
    with pytest.raises(DirectoryError, match=f"LDIF file {missing} does not exist"):
        load_directory(ldap_config(f"ldif:{missing}"))


def test_offline_backend_rejects_a_bad_filter() -> None:
    with pytest.raises(DirectoryError, match="invalid LDAP filter"):
        load_directory(ldap_config(f"ldif:{DIRECTORY_LDIF}", humgen_filter="objectClass=x"))


def test_many_pi_uids_are_looked_up_in_batches(tmp_path: Path) -> None:
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
