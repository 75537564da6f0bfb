"""S3 faults during the splitter's sync: 500s, dropped connections, a server that goes away.

The faults come from the fault-injecting proxy in front of a real moto server;
every failing run must exit 1 naming the files, leave the local split set
complete, and a rerun against a working server must finish the sync.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.common import ENTRIES, make_config, run, write_snapshots
from tests.fixtures.s3 import (INJECTED_CAUSE, FaultyS3Proxy, S3Bucket, retry_warning,
                                retry_warnings)

PREFIX = "mpistat/"
FILES = ["groupfile", "hgi.dat.gz", "index.txt", "mueller-lab.dat.gz", "passwdfile",
         "tanaka-lab.dat.gz"]


def splitter_setup(tmp_path: Path, bucket: S3Bucket, endpoint: str,
                   **s3: Any) -> tuple[Path, Path, dict[str, bytes]]:
    """Config, output directory and the expected group files for volume 118's snapshot."""
    out = tmp_path / "out" / "groups"
    settings = {"bucket": bucket.bucket, "prefix": PREFIX, "endpoint_url": endpoint,
                "region": "us-east-1", "max_attempts": 3,
                "connect_timeout": 5.0, "read_timeout": 10.0, **s3}
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                         splitter={"volumes": [118], "output_dir": str(out)}, s3=settings)
    snapshot_time = int(time.time()) - 60
    write_snapshots(tmp_path / "mpistat", ENTRIES, dt.date.fromtimestamp(snapshot_time),
                    snapshot_time)
    lines = {entry.gid: entry.line(snapshot_time) for entry in ENTRIES if entry.volume == 118}
    groups = {"hgi.dat.gz": lines[1001], "mueller-lab.dat.gz": lines[1002],
              "tanaka-lab.dat.gz": lines[1003]}
    return config, out, groups


def assert_local_set(out: Path, groups: dict[str, bytes]) -> None:
    assert sorted(p.name for p in out.iterdir()) == [".lurge-split-set", *FILES]
    for name, content in groups.items():
        assert gzip.decompress((out / name).read_bytes()) == content, name
    assert [p.name for p in out.parent.iterdir() if ".new-" in p.name or ".old-" in p.name] == []


def assert_bucket_matches(bucket: S3Bucket, out: Path) -> None:
    assert bucket.keys() == [PREFIX + name for name in FILES]
    for name in FILES:
        assert bucket.read(PREFIX + name) == (out / name).read_bytes(), name


def retry_lines(stderr: str) -> list[str]:
    """The retry warnings a run wrote (without the log prefix), with the wait written ``W``."""
    return retry_warnings(line.split(": ", 1)[1] for line in stderr.splitlines() if " WARNING " in line)


def failure_message(bucket: S3Bucket, out: Path, names: list[str]) -> str:
    failed = ", ".join(PREFIX + name for name in names)
    return (f"group_splitter.py: failed: upload to s3://{bucket.bucket}/{PREFIX} failed for: "
            f"{failed}; the local set in {out} is complete, the next run retries\n")


@pytest.mark.s3
def test_500s_and_dropped_connections_fail_after_retries_and_a_rerun_completes(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    config, out, groups = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url)
    faulty_s3_proxy.fail_always("PUT", path_contains="mueller-lab.dat.gz")
    faulty_s3_proxy.drop_next(3, "PUT", path_contains="hgi.dat.gz")
    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 1, result.stderr
    assert failure_message(s3_bucket, out, ["hgi.dat.gz", "mueller-lab.dat.gz"]) in result.stderr
    assert ("  cause: InternalError (HTTP 500): failure injected by the test proxy "
            f"({PREFIX}mueller-lab.dat.gz)\n") in result.stderr
    assert f"  cause: {faulty_s3_proxy.closed_cause} ({PREFIX}hgi.dat.gz)\n" in result.stderr
    put = f"PutObject of s3://{s3_bucket.bucket}/{PREFIX}"
    causes = {"hgi.dat.gz": faulty_s3_proxy.closed_cause, "mueller-lab.dat.gz": INJECTED_CAUSE}
    assert sorted(retry_lines(result.stderr)) == [  # one line per retry, nothing else
        retry_warning(put + name, attempt, 3, cause) for name, cause in causes.items()
        for attempt in (1, 2)]
    for name, cause in causes.items():
        assert f"giving up on {PREFIX}{name} after 3 attempts: {cause}\n" in result.stderr
    assert faulty_s3_proxy.count("PUT", "mueller-lab.dat.gz", "failed") == 3  # every attempt
    assert faulty_s3_proxy.count("PUT", "hgi.dat.gz", "dropped") == 3
    assert_local_set(out, groups)
    assert s3_bucket.keys() == [PREFIX + name for name in FILES
                                if name not in ("hgi.dat.gz", "mueller-lab.dat.gz")]

    faulty_s3_proxy.clear_faults()
    rerun, _ = run("group_splitter.py", "--config", str(config))
    assert rerun.returncode == 0, rerun.stderr
    assert_local_set(out, groups)
    assert_bucket_matches(s3_bucket, out)
    # only the two missing files were sent again
    assert faulty_s3_proxy.count("PUT", outcome="forwarded") == len(FILES)
    assert "2 uploaded" in rerun.stderr and "4 skipped as unchanged" in rerun.stderr


@pytest.mark.s3
def test_server_gone_mid_sync_fails_naming_the_rest_and_a_rerun_completes(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    # One file at a time, in name order; the server goes away when the PUT of index.txt
    # arrives (unanswered), so the cut falls exactly there, whatever the timing.
    config, out, groups = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url,
                                         concurrency=1, max_attempts=2)
    faulty_s3_proxy.stop_on("PUT", path_contains="index.txt")
    result, _ = run("group_splitter.py", "--config", str(config))
    err = result.stderr

    assert result.returncode == 1, err
    assert failure_message(s3_bucket, out, FILES[2:]) in err
    gone = faulty_s3_proxy.refused_cause
    assert f"\n  cause: {gone}\n" in err  # the retry of index.txt, and every later file
    assert s3_bucket.keys() == [PREFIX + name for name in FILES[:2]]
    assert faulty_s3_proxy.count("PUT", "index.txt") == faulty_s3_proxy.count(outcome="stopped") == 1
    put = f"PutObject of s3://{s3_bucket.bucket}/{PREFIX}"
    assert retry_lines(err) == [
        retry_warning(put + name, 1, 2, faulty_s3_proxy.closed_cause if name == "index.txt" else gone)
        for name in FILES[2:]]
    for name in FILES[2:]:
        assert f"giving up on {PREFIX}{name} after 2 attempts: {gone}\n" in err
    assert_local_set(out, groups)

    text = config.read_text().replace(faulty_s3_proxy.endpoint_url, s3_bucket.endpoint_url)
    config.write_text(text)  # the server is back (reached directly)
    rerun, _ = run("group_splitter.py", "--config", str(config))
    assert rerun.returncode == 0, rerun.stderr
    assert "4 uploaded" in rerun.stderr and "2 skipped as unchanged" in rerun.stderr
    assert_local_set(out, groups)
    assert_bucket_matches(s3_bucket, out)


# ------------------------------------------------------------------ the bucket check before the split


def assert_nothing_split(tmp_path: Path, stderr: str) -> None:
    assert not (tmp_path / "out").exists()
    assert "kept" not in stderr and "split set" not in stderr  # no snapshot was even read
    assert "retrying" not in stderr


@pytest.mark.s3
def test_no_credentials_fail_before_the_split_without_a_request(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, _, _ = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent" / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent" / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "absent"))  # no ~/.aws either

    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 1, result.stderr
    assert (f"group_splitter.py: failed: no S3 credentials for s3://{s3_bucket.bucket} at "
            f"{faulty_s3_proxy.endpoint_url}: boto3 found none in the environment") in result.stderr
    assert "; nothing was split" in result.stderr
    assert faulty_s3_proxy.requests == []
    assert_nothing_split(tmp_path, result.stderr)


@pytest.mark.s3
def test_a_missing_bucket_fails_before_the_split_without_retries(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    config, _, _ = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url)
    config.write_text(config.read_text().replace(s3_bucket.bucket, "lurge-no-such-bucket"))

    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 1, result.stderr
    assert (f"group_splitter.py: failed: S3 bucket s3://lurge-no-such-bucket at "
            f"{faulty_s3_proxy.endpoint_url} cannot be used: the bucket does not exist (HTTP 404); "
            "nothing was split") in result.stderr
    assert faulty_s3_proxy.count() == faulty_s3_proxy.count("HEAD", "lurge-no-such-bucket") == 1
    assert_nothing_split(tmp_path, result.stderr)


@pytest.mark.s3
def test_access_denied_fails_before_the_split_without_retries(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    config, _, _ = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url)
    faulty_s3_proxy.fail_always("HEAD", status=403)

    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 1, result.stderr
    assert ("cannot be used: access is denied (HTTP 403): the credentials boto3 found (env) are not "
            "valid there or may not use the bucket; nothing was split") in result.stderr
    assert faulty_s3_proxy.count() == faulty_s3_proxy.count("HEAD", outcome="failed") == 1
    assert_nothing_split(tmp_path, result.stderr)


@pytest.mark.s3
def test_a_passing_server_error_at_the_check_is_retried(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    config, out, groups = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url)
    faulty_s3_proxy.fail_next(2, "HEAD", status=503)

    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 0, result.stderr
    check = f"HeadBucket of s3://{s3_bucket.bucket}"
    unavailable = "503 (HTTP 503): Service Unavailable"
    assert retry_lines(result.stderr) == [retry_warning(check, 1, 3, unavailable),
                                          retry_warning(check, 2, 3, unavailable)]
    assert faulty_s3_proxy.count("HEAD", outcome="failed") == 2
    assert faulty_s3_proxy.count("HEAD", outcome="forwarded") == 1
    assert_local_set(out, groups)
    assert_bucket_matches(s3_bucket, out)


@pytest.mark.s3
def test_an_unreachable_server_fails_before_the_split(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    config, _, _ = splitter_setup(tmp_path, s3_bucket, faulty_s3_proxy.endpoint_url, max_attempts=2)
    faulty_s3_proxy.stop()

    result, _ = run("group_splitter.py", "--config", str(config))

    assert result.returncode == 1, result.stderr
    gone = faulty_s3_proxy.refused_cause
    assert f"cannot be used: still failing after 2 attempts: {gone}; nothing was split" in result.stderr
    check = f"HeadBucket of s3://{s3_bucket.bucket}"
    assert retry_lines(result.stderr) == [retry_warning(check, 1, 2, gone)]
    assert "; nothing was split" in result.stderr
    assert not (tmp_path / "out").exists()
