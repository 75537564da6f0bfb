"""Quotas from ``lfs quota``: parsing, running the fake lfs, fake bsub."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time

import pytest

from utils.report.quota import (
    NO_QUOTA,
    Quota,
    QuotaFailure,
    QuotaParseError,
    parse_lfs_quota,
    query_quota,
    query_quotas,
)

MOUNT = "/lustre/scratch118"
KIB = 1024


# --- parse_lfs_quota ---------------------------------------------------------

PLAIN = "     /lustre/s1    1234       0    2048       -      56       0       0       -\n"
WRAPPED = (
    "/lustre/scratch118\n"
    "                 123456       0 1073741824       -      42       0       0       -\n"
)


@pytest.mark.parametrize(
    "output, expected",
    [
        pytest.param(PLAIN, Quota(1234 * KIB, 2048 * KIB, 56, None), id="plain"),
        pytest.param(WRAPPED, Quota(123456 * KIB, 1073741824 * KIB, 42, None), id="wrapped"),
        pytest.param(
            "     /lustre/s1    2049*   1024    2048 6d23h59m59s     100*     50     100    none\n",
            Quota(2049 * KIB, 2048 * KIB, 100, 100), id="star-on-used-and-files",
        ),
        pytest.param(
            "/lustre/s1 10 5 8* - 7 0 9* -\n", Quota(10 * KIB, 8 * KIB, 7, 9), id="star-on-hard-limits",
        ),
        pytest.param("/lustre/s1 10* 5 0 none 7 0 0 -\n", Quota(10 * KIB, None, 7, None), id="grace-none"),
        pytest.param("/lustre/s1 10* 5 20 [7d] 7 0 0 1w2d3h4m5s\n", Quota(10 * KIB, 20 * KIB, 7, None),
                     id="grace-durations"),
        pytest.param("/lustre/s1 0 0 0 - 0 0 0 -\n", Quota(0, None, 0, None), id="hard-zero-no-limit"),
        pytest.param("/lustre/s1 999 0 0 - 3 0 0 -", Quota(999 * KIB, None, 3, None), id="no-newline"),
        pytest.param(
            "/lustre/scratch118\n                 5       0      10       -       0       0       0       -\n"
            "gid 1234 is using default block quota setting\n",
            Quota(5 * KIB, 10 * KIB, 0, None), id="default-quota-notice",
        ),
        pytest.param("\n" + PLAIN + "\n\n", Quota(1234 * KIB, 2048 * KIB, 56, None), id="blank-lines"),
    ],
)
def test_parse_accepts_well_formed_records(output: str, expected: Quota) -> None:
    assert parse_lfs_quota(output) == expected


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("", id="empty"),
        pytest.param("  \n\n", id="only-whitespace"),
        pytest.param("hello world\n", id="garbage"),
        pytest.param("/lustre/s1 1234 0 2048 - 56 0 0\n", id="too-few-tokens"),
        pytest.param("/lustre/s1 1234 0 2048 - 56 0 0 - extra\n", id="too-many-tokens"),
        pytest.param("/lustre/s1\n", id="wrapped-without-numbers"),
        pytest.param("/lustre/s1\n 1234 0 2048 - 56 0 0\n", id="wrapped-too-few"),
        pytest.param("/lustre/s1 abc 0 2048 - 56 0 0 -\n", id="non-numeric-used"),
        pytest.param("/lustre/s1 1234 0 lots - 56 0 0 -\n", id="non-numeric-hard"),
        pytest.param("/lustre/s1 1234 0 2048 - many 0 0 -\n", id="non-numeric-files"),
        pytest.param("/lustre/s1 -5 0 2048 - 56 0 0 -\n", id="negative"),
        pytest.param("/lustre/s1 1.2G 0 2G - 56 0 0 -\n", id="human-readable-units"),
        pytest.param("/lustre/s1 *1234 0 2048 - 56 0 0 -\n", id="leading-star"),
        pytest.param("/lustre/s1 1234 0 2048 soon 56 0 0 -\n", id="bad-block-grace"),
        pytest.param("/lustre/s1 1234 0 2048 - 56 0 0 7\n", id="bad-file-grace"),
        pytest.param("/lustre/s1 [1234] 0 [2048] - 56 0 0 -\n", id="inaccurate-brackets"),
        pytest.param(PLAIN + PLAIN, id="two-records"),
        pytest.param(
            PLAIN + 'Some errors happened when getting quota info. The data in "[]" is inaccurate.\n',
            id="error-footer",
        ),
        pytest.param(
            "Disk quotas for group g (gid 1):\n     Filesystem  kbytes   quota   limit   grace"
            "   files   quota   limit   grace\n" + PLAIN,
            id="header-without-q",
        ),
    ],
)
def test_parse_rejects_anything_else(output: str) -> None:
    with pytest.raises(QuotaParseError):
        parse_lfs_quota(output)


def test_parse_error_is_a_value_error_naming_the_bad_value() -> None:
    with pytest.raises(ValueError, match="'abc' is not a number"):
        parse_lfs_quota("/lustre/s1 abc 0 2048 - 56 0 0 -\n")
    with pytest.raises(QuotaParseError, match="marked inaccurate"):
        parse_lfs_quota("/lustre/s1 [1234] 0 2048 - 56 0 0 -\n")


# --- query_quota through the fake lfs ---------------------------------------

def test_query_quota_reads_the_fake_wrapped_output(fake_lfs) -> None:
    fake_lfs.set("hgi", used=123456, soft=900000, hard=1000000, files=42)
    assert query_quota("lfs", "hgi", MOUNT, timeout=10) == Quota(123456 * KIB, 1000000 * KIB, 42, None)
    assert fake_lfs.calls() == [["quota", "-q", "-g", "hgi", MOUNT]]


@pytest.mark.parametrize("wrap", [True, False])
def test_query_quota_over_quota_and_unlimited(fake_lfs, wrap: bool) -> None:
    fake_lfs.set("over", used=2000, soft=1000, hard=1500, files=9, over=True, files_over=True, wrap=wrap)
    fake_lfs.set("soft", used=1200, soft=1000, hard=1500, over=True, wrap=wrap)
    fake_lfs.set("free", used=77, hard=0, wrap=wrap)
    assert query_quota("lfs", "over", MOUNT, 10) == Quota(2000 * KIB, 1500 * KIB, 9, None)
    assert query_quota("lfs", "soft", MOUNT, 10) == Quota(1200 * KIB, 1500 * KIB, 0, None)
    assert query_quota("lfs", "free", MOUNT, 10) == Quota(77 * KIB, None, 0, None)


def test_query_quota_passes_a_numeric_gid_as_the_group(fake_lfs) -> None:
    fake_lfs.default(used=1, hard=2)
    assert query_quota("lfs", "1234", "/lustre/s1", 10) == Quota(KIB, 2 * KIB, 0, None)
    assert fake_lfs.calls() == [["quota", "-q", "-g", "1234", "/lustre/s1"]]


def test_lfs_command_may_carry_arguments(fake_lfs) -> None:
    lfs = shlex.join(["env", "LURGE_TEST_MARK=1", fake_lfs.command])
    fake_lfs.set("grp", used=3, hard=4)
    assert query_quota(lfs, "grp", MOUNT, 10) == Quota(3 * KIB, 4 * KIB, 0, None)
    assert fake_lfs.calls() == [["quota", "-q", "-g", "grp", MOUNT]]


@pytest.mark.parametrize(
    "status, reason",
    [
        (1, "exit status 1 (EPERM, permission denied): Permission denied."),
        (3, "exit status 3 (ESRCH, quotas not enabled): group quotas are not enabled."),
        (4, "exit status 4 (usage error or unknown group): error: can't find id for name grp"),
        (5, "exit status 5 (EIO, quota data inaccurate): Unexpected quotactl error: Input/output error"),
    ],
)
def test_non_zero_exit_is_a_failure(fake_lfs, status: int, reason: str) -> None:
    fake_lfs.set("grp", used=1, hard=2, exit=status)
    with pytest.raises(QuotaFailure) as caught:
        query_quota("lfs", "grp", MOUNT, 10)
    assert caught.value.reason == reason
    assert query_quotas("lfs", ["grp"], MOUNT, 10, 2) == {"grp": NO_QUOTA}


def test_non_zero_exit_with_valid_stdout_is_still_a_failure(fake_lfs) -> None:
    fake_lfs.set("grp", raw=PLAIN, exit=5, stderr="")
    with pytest.raises(QuotaFailure, match=r"^exit status 5 \(EIO, quota data inaccurate\)$"):
        query_quota("lfs", "grp", MOUNT, 10)


def test_unknown_group_in_fake_exits_3(fake_lfs) -> None:
    with pytest.raises(QuotaFailure, match="exit status 3"):
        query_quota("lfs", "nobody", MOUNT, 10)


def test_unparseable_output_is_a_failure(fake_lfs) -> None:
    fake_lfs.set("grp", raw="something went sideways\n")
    with pytest.raises(QuotaFailure) as caught:
        query_quota("lfs", "grp", MOUNT, 10)
    assert caught.value.reason == (
        "unparseable output: expected 8 values after the filesystem, got 2: something went sideways"
    )
    assert query_quotas("lfs", ["grp"], MOUNT, 10, 1) == {"grp": NO_QUOTA}


def test_missing_command_is_a_failure(fake_lfs, tmp_path) -> None:
    with pytest.raises(QuotaFailure, match="^command not found: lurge-no-such-lfs$"):
        query_quota("lurge-no-such-lfs", "grp", MOUNT, 10)
    missing = str(tmp_path / "nowhere" / "lfs")
    with pytest.raises(QuotaFailure, match="^command not found: "):
        query_quota(missing, "grp", MOUNT, 10)
    assert query_quotas(missing, ["a", "b"], MOUNT, 10, 2) == {"a": NO_QUOTA, "b": NO_QUOTA}


def test_command_that_is_not_executable_is_a_failure(tmp_path) -> None:
    script = tmp_path / "lfs"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    with pytest.raises(QuotaFailure, match="^command not executable: "):
        query_quota(str(script), "grp", MOUNT, 10)


def test_invalid_command_string_gives_no_quota(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="utils.report.quota")
    assert query_quotas("'unterminated", ["a"], MOUNT, 10, 1) == {"a": NO_QUOTA}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "invalid lfs command" in warnings[0].getMessage()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_timeout_kills_the_process(fake_lfs) -> None:
    fake_lfs.set("slow", used=1, hard=2, sleep=60)
    started = time.monotonic()
    with pytest.raises(QuotaFailure, match=r"^timed out after 0\.5 s$"):
        query_quota("lfs", "slow", MOUNT, timeout=0.5)
    assert time.monotonic() - started < 2.0
    pids = fake_lfs.pids()
    assert len(pids) == 1 and _gone(pids[0])


def test_hanging_groups_time_out_concurrently(fake_lfs) -> None:
    for group in ("h1", "h2", "h3", "h4"):
        fake_lfs.set(group, used=1, hard=2, sleep=60)
    fake_lfs.set("fine", used=5, hard=6)
    timeout = 1.0
    started = time.monotonic()
    result = query_quotas("lfs", ["h1", "h2", "fine", "h3", "h4"], MOUNT, timeout, concurrency=5)
    elapsed = time.monotonic() - started
    assert result == {"h1": NO_QUOTA, "h2": NO_QUOTA, "fine": Quota(5 * KIB, 6 * KIB, 0, None),
                      "h3": NO_QUOTA, "h4": NO_QUOTA}
    assert elapsed < timeout + 1.0
    assert all(_gone(pid) for pid in fake_lfs.pids())


def test_disabled_lfs_runs_nothing(fake_lfs, caplog) -> None:
    fake_lfs.default(used=1, hard=2)
    caplog.set_level(logging.DEBUG, logger="utils.report.quota")
    assert query_quotas("", ["a", "b"], MOUNT, 10, 4) == {"a": NO_QUOTA, "b": NO_QUOTA}
    assert fake_lfs.calls() == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_no_groups_runs_nothing(fake_lfs) -> None:
    assert query_quotas("lfs", [], MOUNT, 10, 4) == {}
    assert fake_lfs.calls() == []


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bound_is_honoured(fake_lfs, concurrency: int) -> None:
    sleep = 0.5
    fake_lfs.default(used=1, hard=2, sleep=sleep)
    groups = [f"g{i}" for i in range(2 * concurrency)]
    started = time.monotonic()
    result = query_quotas("lfs", groups, MOUNT, 10, concurrency)
    elapsed = time.monotonic() - started
    assert result == {g: Quota(KIB, 2 * KIB, 0, None) for g in groups}
    assert fake_lfs.max_concurrent() == concurrency
    assert elapsed >= 2 * sleep  # two waves: never more than `concurrency` at once


def test_each_group_is_queried_once_with_exact_argv(fake_lfs) -> None:
    fake_lfs.default(used=1, hard=2)
    result = query_quotas("lfs", ["hgi", "1234", "hgi", "team 1"], MOUNT, 10, 3)
    assert list(result) == ["hgi", "1234", "team 1"]
    assert sorted(fake_lfs.calls()) == sorted(
        [["quota", "-q", "-g", group, MOUNT] for group in ("hgi", "1234", "team 1")]
    )


def test_one_summary_warning_per_call(fake_lfs, caplog) -> None:
    fake_lfs.set("ok", used=1, hard=2)
    fake_lfs.set("perm", exit=1)
    caplog.set_level(logging.DEBUG, logger="utils.report.quota")
    result = query_quotas("lfs", ["ok", "perm", "absent"], MOUNT, 10, 2)
    assert result == {"ok": Quota(KIB, 2 * KIB, 0, None), "perm": NO_QUOTA, "absent": NO_QUOTA}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"lfs quota failed for 2 of 3 groups on {MOUNT} (their quota is left empty): "
        "[perm] exit status 1 (EPERM, permission denied): Permission denied.; "
        "[absent] exit status 3 (ESRCH, quotas not enabled): group quotas are not enabled."
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sorted(m for m in debug if "failed" in m) == [
        f"lfs quota for group absent on {MOUNT} failed: "
        "exit status 3 (ESRCH, quotas not enabled): group quotas are not enabled.",
        f"lfs quota for group perm on {MOUNT} failed: "
        "exit status 1 (EPERM, permission denied): Permission denied.",
    ]


def test_summary_names_at_most_five_groups(fake_lfs, caplog) -> None:
    fake_lfs.default(exit=3)
    groups = [f"g{i}" for i in range(7)]
    caplog.set_level(logging.DEBUG, logger="utils.report.quota")
    assert query_quotas("lfs", groups, MOUNT, 10, 4) == {g: NO_QUOTA for g in groups}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0]
    assert message.startswith(f"lfs quota failed for 7 of 7 groups on {MOUNT} ")
    assert [f"[g{i}]" in message for i in range(7)] == [True] * 5 + [False] * 2
    assert message.endswith("; and 2 more")
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 7


def test_no_warning_when_every_group_succeeds(fake_lfs, caplog) -> None:
    fake_lfs.default(used=1, hard=2)
    caplog.set_level(logging.DEBUG, logger="utils.report.quota")
    query_quotas("lfs", ["a", "b", "c"], MOUNT, 10, 2)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- the fake lfs itself ------------------------------------------------------

def test_fake_lfs_rejects_other_usage(fake_lfs) -> None:
    bad = subprocess.run(["lfs", "quota", "-g", "grp", MOUNT], capture_output=True, text=True)
    assert bad.returncode == 4 and "missing quota argument" in bad.stderr
    other = subprocess.run(["lfs", "df", MOUNT], capture_output=True, text=True)
    assert other.returncode == 1 and "'df' is not a valid command" in other.stderr
    assert fake_lfs.calls() == [["quota", "-g", "grp", MOUNT], ["df", MOUNT]]


def test_fake_lfs_output_matches_lfs_layout(fake_lfs) -> None:
    fake_lfs.set("g", used=5, soft=0, hard=10, files=3)
    short = subprocess.run(["lfs", "quota", "-q", "-g", "g", "/lustre/s1"],
                           capture_output=True, text=True, check=True)
    assert short.stdout == "     /lustre/s1       5       0      10       -       3       0       0       -\n"
    wrapped = subprocess.run(["lfs", "quota", "-q", "-g", "g", MOUNT],
                             capture_output=True, text=True, check=True)
    assert wrapped.stdout == (MOUNT + "\n" + " " * 15
                              + "       5       0      10       -       3       0       0       -\n")


# --- the fake bsub ------------------------------------------------------------

def test_fake_bsub_records_argv_and_does_not_run_the_job(fake_bsub, tmp_path) -> None:
    marker = tmp_path / "ran"
    args = ["-q", "long", "-J", "lurge report", "-M", "8000", "touch", str(marker)]
    done = subprocess.run(["bsub", *args], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "Job <12345> is submitted to queue <long>.\n")
    plain = subprocess.run(["bsub", "echo", "hi"], capture_output=True, text=True)
    assert plain.stdout == "Job <12345> is submitted to queue <normal>.\n"
    assert fake_bsub.calls() == [args, ["echo", "hi"]]
    assert not marker.exists()


def test_fake_bsub_can_fail(fake_bsub) -> None:
    fake_bsub.fail(255)
    done = subprocess.run(["bsub", "-q", "nope", "true"], capture_output=True, text=True)
    assert done.returncode == 255 and done.stdout == ""
    assert "Job not submitted" in done.stderr
    assert fake_bsub.calls() == [["-q", "nope", "true"]]
