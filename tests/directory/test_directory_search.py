"""utils/directory/ldap.py against a real slapd (tests/fixtures/slapd.py), and slapd against its own export."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import ldap3
import pytest

from tests.fixtures.slapd import (
    DIRECTORY_LDIF,
    EXPECTED_SERVED,
    LIMITED_DN,
    LIMITED_PASSWORD,
    NOT_UTF8_GROUP,
    READER_DN,
    READER_PASSWORD,
    UNPAGED_SIZE_LIMIT,
    SlapdServer,
    free_port,
    ldap_config,
)
from utils.common.errors import DirectoryError
from utils.directory.ldap import PASSWORD_ENV, DirectorySnapshot, Scope, load_directory, open_directory

pytestmark = pytest.mark.slapd

SMALL_TIMEOUT = 1.0  # seconds, for the unreachable-server tests
SLACK = 3.0  # how much longer than the timeout a failure may take


def test_server_gives_the_expected_snapshot(slapd_server: SlapdServer) -> None:
    assert load_directory(slapd_server.config()) == EXPECTED_SERVED


def test_export_taken_with_ldapsearch_gives_the_same_snapshot(slapd_server: SlapdServer, tmp_path: Path) -> None:
    export = slapd_server.export(tmp_path / "export.ldif")
    text = export.read_text(encoding="utf-8")
    assert "dn:: " in text and "sn:: " in text  # ldapsearch base64-encodes the non-ASCII values
    from_export = load_directory(ldap_config(f"ldif:{export}"))
    assert from_export == load_directory(slapd_server.config()) == EXPECTED_SERVED


def test_humgen_filter_override_on_both_backends(slapd_server: SlapdServer, tmp_path: Path) -> None:
    override = "(&(objectClass=sangerHumgenProjectGroup)(|(cn=*lab)(gidNumber=1001)))"
    expected = DirectorySnapshot(
        humgen={1001: "hgi", 1002: "mueller-lab", 1003: "tanaka-lab"},
        pis={1001: "Doe", 1002: "Müller-Lüdenscheidt", 1003: "Tanaka"},
        posix=EXPECTED_SERVED.posix,
        users=EXPECTED_SERVED.users,
    )
    assert load_directory(slapd_server.config(humgen_filter=override)) == expected
    export = slapd_server.export(tmp_path / "export.ldif")
    assert load_directory(ldap_config(f"ldif:{export}", humgen_filter=override)) == expected


def test_server_and_file_give_the_same_users(slapd_server: SlapdServer) -> None:
    served = load_directory(slapd_server.config()).users
    from_file = load_directory(ldap_config(f"ldif:{DIRECTORY_LDIF}")).users
    assert served == EXPECTED_SERVED.users
    assert from_file == {**served, 10050: NOT_UTF8_GROUP}  # the one account only the file can hold
    assert 10004 not in served and 10005 not in served  # a level deeper; no entry


def test_slapd_refuses_names_that_are_not_utf8(slapd_server: SlapdServer) -> None:
    """Only an LDIF export can carry such a name (docs/directory.md says so)."""
    with pytest.raises(AssertionError, match="invalid per syntax"):
        slapd_server.add(f"dn: cn=odd-bytes,{slapd_server.group_base}\nobjectClass: posixGroup\n"
                         "cn: odd-bytes\ncn:: YmFk//51dGY4\ngidNumber: 2100\n")
    assert load_directory(slapd_server.config()) == EXPECTED_SERVED


# Searches the export answers exactly as slapd does: scopes (escaped commas in RDNs, bases
# never in one-level results), anchored substrings, numeric ordering, boolean filters.
SAME_ANSWER = [
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(cn=*lab)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(cn=*-*)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(cn=tan*lab)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(cn=*name)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(cn=MUL*)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(gidNumber>=2002)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(gidNumber<=1003)"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(&(objectClass=posixGroup)(!(cn=a*)))"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(|(cn=HGI)(cn=alpha)(cn=équipe-rouge))"),
    ("ou=group,dc=example,dc=org", Scope.ONE_LEVEL, "(objectClass=*)"),
    ("ou=group,dc=example,dc=org", Scope.SUBTREE, "(objectClass=sangerHumgenProjectGroup)"),
    ("ou=people,dc=example,dc=org", Scope.ONE_LEVEL, "(objectClass=*)"),
    ("ou=people,dc=example,dc=org", Scope.ONE_LEVEL, "(objectClass=posixAccount)"),
    ("ou=people,dc=example,dc=org", Scope.SUBTREE, "(uid=*)"),
    ("ou=people,dc=example,dc=org", Scope.SUBTREE, "(sn=*smith)"),
    ("ou=emeritus,ou=people,dc=example,dc=org", Scope.ONE_LEVEL, "(objectClass=*)"),
    ("uid=ro4,ou=emeritus,ou=people,dc=example,dc=org", Scope.ONE_LEVEL, "(objectClass=*)"),
]


def test_the_export_answers_searches_as_slapd_does(slapd_server: SlapdServer, tmp_path: Path) -> None:
    export = slapd_server.export(tmp_path / "export.ldif")
    server = open_directory(slapd_server.config())
    offline = open_directory(ldap_config(f"ldif:{export}"))
    try:
        for base, scope, search_filter in SAME_ANSWER:
            answers = [sorted((entry.dn, sorted(entry.attributes.get("cn", []))) for entry in
                              directory.search(base, scope, search_filter, ["cn"]))
                       for directory in (server, offline)]
            assert answers[0] == answers[1], (base, scope, search_filter)
            assert answers[0] or search_filter == "(objectClass=*)" and base.startswith("uid=")
    finally:
        server.close()
        offline.close()


def test_more_groups_than_the_server_size_limit(slapd_server: SlapdServer, tmp_path: Path) -> None:
    groups_base = "ou=many-groups,dc=example,dc=org"
    people_base = "ou=many-people,dc=example,dc=org"
    count = 1234
    records = [
        f"dn: {groups_base}\nobjectClass: organizationalUnit\nou: many-groups\n",
        f"dn: {people_base}\nobjectClass: organizationalUnit\nou: many-people\n",
    ]
    for number in range(count):
        gid = 50000 + number
        group = f"dn: cn=g{number:04d},{groups_base}\nobjectClass: posixGroup\ncn: g{number:04d}\ngidNumber: {gid}\n"
        if number % 2 == 0:  # every other group is humgen, with a PI; every 10th PI does not exist
            group += f"objectClass: sangerHumgenProjectGroup\nsangerProjectPI: uid=p{number},{people_base}\n"
            if number % 10:
                records.append(f"dn: uid=p{number},{people_base}\nobjectClass: inetOrgPerson\n"
                               f"uid: p{number}\ncn: Person {number}\nsn: Surname{number}\n")
        records.append(group)
    slapd_server.add("\n".join(records))

    # The server really does cap unpaged searches, so only paging gets everything.
    server = ldap3.Server("127.0.0.1", port=slapd_server.port, get_info=ldap3.NONE)
    with ldap3.Connection(server, auto_bind=True) as plain:
        plain.search(groups_base, "(objectClass=posixGroup)", search_scope=ldap3.LEVEL)
        assert plain.result["description"] == "sizeLimitExceeded"
        assert len(plain.response) == UNPAGED_SIZE_LIMIT

    snapshot = load_directory(slapd_server.config(group_base=groups_base, people_base=people_base))
    assert snapshot.posix == {50000 + n: f"g{n:04d}" for n in range(count)}
    assert snapshot.humgen == {50000 + n: f"g{n:04d}" for n in range(0, count, 2)}
    assert snapshot.pis == {50000 + n: f"Surname{n}" for n in range(0, count, 2) if n % 10}

    export = slapd_server.export(tmp_path / "many.ldif", base=slapd_server.base)
    assert load_directory(ldap_config(f"ldif:{export}", group_base=groups_base, people_base=people_base)) == snapshot


def test_bind_with_the_right_password(slapd_server: SlapdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    assert load_directory(slapd_server.config(bind_dn=READER_DN)) == EXPECTED_SERVED


def test_bind_with_a_wrong_password(slapd_server: SlapdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "not-the-Password-42"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    with pytest.raises(DirectoryError) as caught:
        load_directory(slapd_server.config(bind_dn=READER_DN))
    message = str(caught.value)
    assert message.startswith(f"LDAP {slapd_server.url}: binding as {READER_DN} failed: invalidCredentials")
    assert wrong not in message


def test_results_cut_short_by_a_server_limit_are_an_error(
    slapd_server: SlapdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, LIMITED_PASSWORD)
    with pytest.raises(DirectoryError) as caught:
        load_directory(slapd_server.config(bind_dn=LIMITED_DN))
    assert str(caught.value) == (
        f"LDAP {slapd_server.url}: one-level search under 'ou=group,dc=example,dc=org' for "
        "(objectClass=sangerHumgenProjectGroup) returned partial results: sizeLimitExceeded (result code 4)"
    )


def test_bind_dn_without_a_password(slapd_server: SlapdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(DirectoryError, match=f"\\${PASSWORD_ENV} is not set"):
        load_directory(slapd_server.config(bind_dn=READER_DN))


def test_a_base_that_does_not_exist(slapd_server: SlapdServer) -> None:
    with pytest.raises(DirectoryError) as caught:
        load_directory(slapd_server.config(group_base="ou=nowhere,dc=example,dc=org"))
    message = str(caught.value)
    assert message.startswith(f"LDAP {slapd_server.url}: one-level search under 'ou=nowhere,dc=example,dc=org'")
    assert "noSuchObject" in message


def _fails_quickly(url: str) -> tuple[str, float]:
    """Load from ``url`` with a small timeout; the error text and how long it took."""
    started = time.monotonic()
    with pytest.raises(DirectoryError) as caught:
        load_directory(ldap_config(url, timeout=SMALL_TIMEOUT))
    return str(caught.value), time.monotonic() - started


def test_closed_port_is_a_clear_error() -> None:
    url = f"ldap://127.0.0.1:{free_port()}"
    message, elapsed = _fails_quickly(url)
    assert elapsed < SMALL_TIMEOUT + SLACK
    assert message.startswith(f"LDAP {url}: connecting and binding anonymously failed:")
    assert "refused" in message


def test_server_that_never_answers_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel but nobody ever reads or replies
        url = f"ldap://127.0.0.1:{silent.getsockname()[1]}"
        message, elapsed = _fails_quickly(url)
    assert SMALL_TIMEOUT * 0.9 <= elapsed < SMALL_TIMEOUT + SLACK
    assert message.startswith(f"LDAP {url}: connecting and binding anonymously failed:")
    assert "timed out" in message


def test_stopped_then_restarted_server(slapd_server: SlapdServer) -> None:
    slapd_server.stop()
    try:
        with pytest.raises(DirectoryError, match=f"LDAP {slapd_server.url}: connecting"):
            load_directory(slapd_server.config(timeout=SMALL_TIMEOUT))
    finally:
        slapd_server.start()
    assert load_directory(slapd_server.config()) == EXPECTED_SERVED
