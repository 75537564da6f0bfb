"""sync_directory against a real moto_server (and a fault-injecting proxy)."""

from __future__ import annotations

import hashlib
import http.client
import logging
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.s3 import (INJECTED_CAUSE, FaultyS3Proxy, S3Bucket, retry_warning,
                                retry_warnings)
from utils.common.config import S3Config
from utils.common.errors import UploadError
from utils.splitter.s3 import (MiB, SyncError, local_etag, make_client, sync_directory,
                               transfer_config)

pytestmark = pytest.mark.s3

PREFIX = "mpistat/"


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The sync's warnings about retries, in order, with botocore's wait written ``W``."""
    return retry_warnings(record.getMessage() for record in caplog.records
                          if record.name == "utils.splitter.s3" and record.levelno == logging.WARNING)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The sync's error lines, in order."""
    return [record.getMessage() for record in caplog.records
            if record.name == "utils.splitter.s3" and record.levelno == logging.ERROR]


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """A split set: three group files, an empty file, a temp file and a subdirectory."""
    out = tmp_path / "groups"
    out.mkdir()
    (out / "hgi.dat.gz").write_bytes(_payload(3000, 1))
    (out / "team1.dat.gz").write_bytes(_payload(70_000, 2))
    (out / "index.txt").write_bytes(b"Group\tBuild time (sec)\tMemory use (bytes)\nhgi\t100\t1\n")
    (out / "empty").write_bytes(b"")
    (out / ".index.txt.tmp").write_bytes(b"half written")
    (out / "sub").mkdir()
    (out / "sub" / "nested.txt").write_bytes(b"not synced")
    return out


EXPECTED_KEYS = [PREFIX + name for name in ("empty", "hgi.dat.gz", "index.txt", "team1.dat.gz")]


def _local_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.iterdir() if p.is_file() and not p.name.startswith("."))


def test_first_sync_uploads_every_file(outdir: Path, s3_bucket: S3Bucket,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="utils.splitter.s3")
    report = sync_directory(str(outdir), s3_bucket.config(prefix=PREFIX))

    assert report.uploaded == EXPECTED_KEYS
    assert report.skipped == [] and report.failed == {} and report.deleted == []
    assert report.bytes_uploaded == _local_bytes(outdir) == 3000 + 70_000 + 52
    assert s3_bucket.keys() == EXPECTED_KEYS
    for key in EXPECTED_KEYS:
        assert s3_bucket.read(key) == (outdir / key[len(PREFIX):]).read_bytes()
    summaries = [r.getMessage() for r in caplog.records if "uploaded (" in r.getMessage()]
    assert len(summaries) == 1
    assert "4 uploaded (73,052 bytes), 0 skipped as unchanged (0 bytes), 0 failed" in summaries[0]


def test_second_sync_sends_nothing(outdir: Path, s3_bucket: S3Bucket,
                                   faulty_s3_proxy: FaultyS3Proxy) -> None:
    sync_directory(str(outdir), s3_bucket.config(prefix=PREFIX))
    again = sync_directory(str(outdir), s3_bucket.config(prefix=PREFIX,
                                                         endpoint_url=faulty_s3_proxy.endpoint_url))

    assert again.uploaded == [] and again.failed == {}
    assert again.skipped == EXPECTED_KEYS
    assert again.bytes_skipped == 73_052 and again.bytes_uploaded == 0
    assert faulty_s3_proxy.count("PUT") == 0 and faulty_s3_proxy.count("POST") == 0
    assert faulty_s3_proxy.count("GET") == 1  # one listing, nothing else


def test_changed_file_of_same_size_is_resent(outdir: Path, s3_bucket: S3Bucket) -> None:
    config = s3_bucket.config(prefix=PREFIX)
    sync_directory(str(outdir), config)
    changed = _payload(3000, 99)
    (outdir / "hgi.dat.gz").write_bytes(changed)

    report = sync_directory(str(outdir), config)

    assert report.uploaded == [PREFIX + "hgi.dat.gz"]
    assert report.skipped == [k for k in EXPECTED_KEYS if k != PREFIX + "hgi.dat.gz"]
    assert report.bytes_uploaded == 3000
    assert s3_bucket.read(PREFIX + "hgi.dat.gz") == changed
    assert s3_bucket.etag(PREFIX + "hgi.dat.gz") == hashlib.md5(changed).hexdigest()


def test_empty_prefix_uses_bare_file_names(outdir: Path, s3_bucket: S3Bucket) -> None:
    report = sync_directory(str(outdir), s3_bucket.config())
    assert report.uploaded == ["empty", "hgi.dat.gz", "index.txt", "team1.dat.gz"]
    assert s3_bucket.keys() == report.uploaded


def _multipart_config(s3_bucket: S3Bucket, **overrides: object) -> S3Config:
    return s3_bucket.config(prefix=PREFIX, multipart_threshold=5 * MiB,
                            multipart_chunksize=5 * MiB, **overrides)


def test_large_file_goes_multipart_and_is_then_skipped(tmp_path: Path, s3_bucket: S3Bucket,
                                                       faulty_s3_proxy: FaultyS3Proxy) -> None:
    data = _payload(12 * MiB + 123, 5)
    (tmp_path / "big.dat.gz").write_bytes(data)
    config = _multipart_config(s3_bucket, endpoint_url=faulty_s3_proxy.endpoint_url)

    first = sync_directory(str(tmp_path), config)

    key = PREFIX + "big.dat.gz"
    assert first.uploaded == [key] and first.bytes_uploaded == len(data)
    assert faulty_s3_proxy.count("PUT", "partNumber=") == 3
    assert faulty_s3_proxy.count("PUT") == 3  # no single-part PUT
    parts = [hashlib.md5(data[i:i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    expected = hashlib.md5(b"".join(parts)).hexdigest() + "-3"
    assert s3_bucket.etag(key) == expected == local_etag(str(tmp_path / "big.dat.gz"), 5 * MiB, 5 * MiB)
    assert s3_bucket.read(key) == data
    assert s3_bucket.open_multipart_uploads() == []

    second = sync_directory(str(tmp_path), config)
    assert second.uploaded == [] and second.skipped == [key] and second.bytes_skipped == len(data)
    assert faulty_s3_proxy.count("PUT") == 3


def _upload_in_parts(s3_bucket: S3Bucket, key: str, data: bytes, part: int) -> str:
    client = s3_bucket.client
    upload = client.create_multipart_upload(Bucket=s3_bucket.bucket, Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), part), start=1):
        response = client.upload_part(Bucket=s3_bucket.bucket, Key=key, UploadId=upload,
                                      PartNumber=number, Body=data[start:start + part])
        parts.append({"PartNumber": number, "ETag": response["ETag"]})
    client.complete_multipart_upload(Bucket=s3_bucket.bucket, Key=key, UploadId=upload,
                                     MultipartUpload={"Parts": parts})
    return s3_bucket.etag(key)


def test_foreign_part_size_is_recognised(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    """Uploaded by another tool with 8 MiB parts ("-2"): same content is still skipped."""
    data = _payload(12 * MiB, 6)
    (tmp_path / "big").write_bytes(data)
    assert _upload_in_parts(s3_bucket, PREFIX + "big", data, 8 * MiB).endswith("-2")

    report = sync_directory(str(tmp_path), _multipart_config(s3_bucket))
    assert report.skipped == [PREFIX + "big"] and report.uploaded == []

    changed = bytearray(data)
    changed[-1] ^= 0xFF
    (tmp_path / "big").write_bytes(changed)
    report = sync_directory(str(tmp_path), _multipart_config(s3_bucket))
    assert report.uploaded == [PREFIX + "big"]
    assert s3_bucket.etag(PREFIX + "big").endswith("-3")
    assert s3_bucket.read(PREFIX + "big") == bytes(changed)


def test_failed_puts_are_retried(outdir: Path, s3_bucket: S3Bucket,
                                 faulty_s3_proxy: FaultyS3Proxy,
                                 caplog: pytest.LogCaptureFixture) -> None:
    faulty_s3_proxy.fail_next(2, "PUT", path_contains="team1")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=5, concurrency=2)

    report = sync_directory(str(outdir), config)

    assert report.uploaded == EXPECTED_KEYS and report.failed == {}
    assert faulty_s3_proxy.count("PUT", "team1", outcome="failed") == 2
    assert faulty_s3_proxy.count("PUT", "team1", outcome="forwarded") == 1
    assert faulty_s3_proxy.count("PUT") == 6  # 4 files + 2 retries
    assert s3_bucket.read(PREFIX + "team1.dat.gz") == (outdir / "team1.dat.gz").read_bytes()
    put = f"PutObject of s3://{s3_bucket.bucket}/{PREFIX}team1.dat.gz"
    assert retry_lines(caplog) == [retry_warning(put, 1, 5), retry_warning(put, 2, 5)]  # one line per retry
    assert errors(caplog) == []


def test_persistent_failure_raises_after_max_attempts(tmp_path: Path, s3_bucket: S3Bucket,
                                                      faulty_s3_proxy: FaultyS3Proxy,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "doomed.dat.gz").write_bytes(b"x" * 100)
    faulty_s3_proxy.fail_always("PUT")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=4)

    with pytest.raises(UploadError, match=r"1 files failed: mpistat/doomed\.dat\.gz") as caught:
        sync_directory(str(tmp_path), config)

    assert isinstance(caught.value, SyncError)
    report = caught.value.report
    assert report.uploaded == [] and report.skipped == []
    assert report.failed == {PREFIX + "doomed.dat.gz": INJECTED_CAUSE}
    assert faulty_s3_proxy.count("PUT", "doomed") == 4  # max_attempts, no more
    assert s3_bucket.keys() == []
    put = f"PutObject of s3://{s3_bucket.bucket}/{PREFIX}doomed.dat.gz"
    assert retry_lines(caplog) == [retry_warning(put, n, 4) for n in (1, 2, 3)]
    assert errors(caplog) == [f"giving up on {PREFIX}doomed.dat.gz after 4 attempts: {INJECTED_CAUSE}"]


def test_dropped_connections_are_retried(outdir: Path, s3_bucket: S3Bucket,
                                         faulty_s3_proxy: FaultyS3Proxy,
                                         caplog: pytest.LogCaptureFixture) -> None:
    faulty_s3_proxy.drop_next(2, "PUT", path_contains="hgi")
    faulty_s3_proxy.drop_next(1, "GET")  # the listing, too
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url)

    report = sync_directory(str(outdir), config)

    assert report.uploaded == EXPECTED_KEYS and report.failed == {}
    assert faulty_s3_proxy.count("PUT", "hgi", outcome="dropped") == 2
    assert faulty_s3_proxy.count("GET", outcome="dropped") == 1
    assert faulty_s3_proxy.count("GET", outcome="forwarded") == 1
    assert s3_bucket.read(PREFIX + "hgi.dat.gz") == (outdir / "hgi.dat.gz").read_bytes()
    closed = faulty_s3_proxy.closed_cause
    listing = f"ListObjectsV2 of s3://{s3_bucket.bucket}/{PREFIX}"
    put = f"PutObject of s3://{s3_bucket.bucket}/{PREFIX}hgi.dat.gz"
    assert retry_lines(caplog) == [retry_warning(listing, 1, 5, closed), retry_warning(put, 1, 5, closed),
                                   retry_warning(put, 2, 5, closed)]


def test_a_failed_part_is_sent_again_by_itself(tmp_path: Path, s3_bucket: S3Bucket,
                                               faulty_s3_proxy: FaultyS3Proxy,
                                               caplog: pytest.LogCaptureFixture) -> None:
    data = _payload(11 * MiB, 8)
    (tmp_path / "big").write_bytes(data)
    faulty_s3_proxy.fail_next(1, "PUT", path_contains="partNumber=2")
    config = _multipart_config(s3_bucket, endpoint_url=faulty_s3_proxy.endpoint_url)

    report = sync_directory(str(tmp_path), config)

    assert report.uploaded == [PREFIX + "big"] and report.failed == {}
    assert faulty_s3_proxy.count("POST", "?uploads") == 1  # one multipart upload, not restarted
    assert faulty_s3_proxy.count("PUT", "partNumber=2", outcome="failed") == 1
    assert faulty_s3_proxy.count("PUT", "partNumber=2", outcome="forwarded") == 1  # sent again
    assert faulty_s3_proxy.count("PUT", "partNumber=1") == faulty_s3_proxy.count("PUT", "partNumber=3") == 1
    assert faulty_s3_proxy.count("POST", "uploadId=") == 1  # completed once
    assert faulty_s3_proxy.count("DELETE") == 0  # nothing aborted
    assert s3_bucket.open_multipart_uploads() == []
    assert s3_bucket.read(PREFIX + "big") == data
    part = f"UploadPart of s3://{s3_bucket.bucket}/{PREFIX}big (part 2)"
    assert retry_lines(caplog) == [retry_warning(part, 1, 5)]


def test_multipart_that_keeps_failing_is_aborted(tmp_path: Path, s3_bucket: S3Bucket,
                                                 faulty_s3_proxy: FaultyS3Proxy,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "big").write_bytes(_payload(6 * MiB, 9))
    faulty_s3_proxy.fail_always("PUT", path_contains="partNumber=2")
    config = _multipart_config(s3_bucket, endpoint_url=faulty_s3_proxy.endpoint_url,
                               max_attempts=2)

    with pytest.raises(SyncError) as caught:
        sync_directory(str(tmp_path), config)

    assert caught.value.report.failed == {PREFIX + "big": INJECTED_CAUSE}
    assert faulty_s3_proxy.count("POST", "?uploads") == 1
    assert faulty_s3_proxy.count("PUT", "partNumber=2") == 2  # max_attempts
    assert faulty_s3_proxy.count("DELETE", "uploadId=") == 1  # aborted, once
    assert faulty_s3_proxy.count("POST", "uploadId=") == 0  # never completed
    assert s3_bucket.open_multipart_uploads() == []  # no orphaned parts
    assert s3_bucket.keys() == []
    part = f"UploadPart of s3://{s3_bucket.bucket}/{PREFIX}big (part 2)"
    assert retry_lines(caplog) == [retry_warning(part, 1, 2)]
    assert errors(caplog) == [f"giving up on {PREFIX}big after 2 attempts: {INJECTED_CAUSE}"]


def test_unreachable_server_fails_every_file(outdir: Path, s3_bucket: S3Bucket,
                                             faulty_s3_proxy: FaultyS3Proxy) -> None:
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=2, connect_timeout=1.0)
    faulty_s3_proxy.stop()

    with pytest.raises(SyncError) as caught:
        sync_directory(str(outdir), config)

    reason = (f"listing s3://{s3_bucket.bucket}/{PREFIX} failed after 2 attempts: "
              f"{faulty_s3_proxy.refused_cause}")
    assert str(caught.value) == f"S3 sync to s3://{s3_bucket.bucket}/{PREFIX} failed: {reason}"
    report = caught.value.report
    assert report.failed == {key: reason for key in EXPECTED_KEYS}
    assert report.uploaded == [] and report.skipped == []
    assert s3_bucket.keys() == []


def test_when_botocore_stops_retrying_no_message_counts_attempts_not_made(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy,
        caplog: pytest.LogCaptureFixture) -> None:
    """The server goes away after the listing: botocore's retry budget for the sync runs out
    (after about 35 retries with botocore 1.44), and the last files get one attempt each."""
    names = [f"g{n:02d}.dat.gz" for n in range(45)]
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    faulty_s3_proxy.stop_on("PUT")  # the first upload; the listing was answered
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=2, concurrency=1)

    with pytest.raises(SyncError) as caught:
        sync_directory(str(tmp_path), config)

    keys = [PREFIX + name for name in names]
    gone = faulty_s3_proxy.refused_cause
    assert caught.value.report.failed == {key: gone for key in keys}
    lines = retry_lines(caplog)
    assert 0 < len(lines) < len(keys)
    retried_keys, once = keys[:len(lines)], keys[len(lines):]  # one file at a time, in order
    closed = faulty_s3_proxy.closed_cause
    assert lines == [retry_warning(f"PutObject of s3://{s3_bucket.bucket}/{key}", 1, 2,
                             closed if index == 0 else gone) for index, key in enumerate(retried_keys)]
    assert errors(caplog) == ([f"giving up on {key} after 2 attempts: {gone}" for key in retried_keys]
                              + [f"giving up on {key}: {gone}" for key in once])


def test_stale_objects_are_kept_unless_delete_removed(outdir: Path, s3_bucket: S3Bucket) -> None:
    for key in (PREFIX + "oldgroup.dat.gz", PREFIX + "archive/keep.txt", "other/x", PREFIX + ".hidden"):
        s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=key, Body=b"old")
    config = s3_bucket.config(prefix=PREFIX)

    kept = sync_directory(str(outdir), config)
    assert kept.deleted == []
    assert PREFIX + "oldgroup.dat.gz" in s3_bucket.keys()

    removed = sync_directory(str(outdir), config, delete_removed=True)
    assert removed.deleted == [PREFIX + "oldgroup.dat.gz"]
    assert removed.skipped == EXPECTED_KEYS and removed.uploaded == []
    # Objects below the prefix's level, outside it, or hidden are never touched.
    assert s3_bucket.keys() == sorted(EXPECTED_KEYS + [PREFIX + ".hidden", PREFIX + "archive/keep.txt",
                                                       "other/x"])


def test_deletes_are_retried_and_a_failed_one_is_reported(
        outdir: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy,
        caplog: pytest.LogCaptureFixture) -> None:
    for name in ("flaky.dat.gz", "stuck.dat.gz"):
        s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=PREFIX + name, Body=b"old")
    faulty_s3_proxy.fail_next(1, "DELETE", path_contains="flaky")
    faulty_s3_proxy.fail_always("DELETE", path_contains="stuck")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=3)

    with pytest.raises(SyncError) as caught:
        sync_directory(str(outdir), config, delete_removed=True)

    report = caught.value.report
    assert report.uploaded == EXPECTED_KEYS and report.deleted == [PREFIX + "flaky.dat.gz"]
    assert report.failed == {PREFIX + "stuck.dat.gz": f"delete failed after 3 attempts: {INJECTED_CAUSE}"}
    assert faulty_s3_proxy.count("DELETE", "flaky") == 2 and faulty_s3_proxy.count("DELETE", "stuck") == 3
    assert s3_bucket.keys() == sorted(EXPECTED_KEYS + [PREFIX + "stuck.dat.gz"])
    flaky = f"DeleteObject of s3://{s3_bucket.bucket}/{PREFIX}flaky.dat.gz"
    stuck = f"DeleteObject of s3://{s3_bucket.bucket}/{PREFIX}stuck.dat.gz"
    assert retry_lines(caplog) == [retry_warning(flaky, 1, 3), retry_warning(stuck, 1, 3),
                                   retry_warning(stuck, 2, 3)]
    assert errors(caplog) == [f"could not delete stale object {PREFIX}stuck.dat.gz after 3 attempts: "
                              f"{INJECTED_CAUSE}"]


def test_no_deletion_when_an_upload_failed(outdir: Path, s3_bucket: S3Bucket,
                                           faulty_s3_proxy: FaultyS3Proxy) -> None:
    s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=PREFIX + "oldgroup.dat.gz", Body=b"old")
    faulty_s3_proxy.fail_always("PUT", path_contains="index.txt")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=2)

    with pytest.raises(SyncError) as caught:
        sync_directory(str(outdir), config, delete_removed=True)

    report = caught.value.report
    assert list(report.failed) == [PREFIX + "index.txt"]
    assert report.uploaded == [k for k in EXPECTED_KEYS if k != PREFIX + "index.txt"]
    assert report.deleted == []
    assert faulty_s3_proxy.count("DELETE") == 0
    assert PREFIX + "oldgroup.dat.gz" in s3_bucket.keys()


def test_many_files_concurrently(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    expected = {}
    for n in range(40):
        data = _payload(1000 + n, 100 + n)
        (tmp_path / f"g{n:02d}.dat.gz").write_bytes(data)
        expected[f"g{n:02d}.dat.gz"] = data
    report = sync_directory(str(tmp_path), s3_bucket.config(concurrency=8))
    assert report.uploaded == sorted(expected)
    assert {key: s3_bucket.read(key) for key in s3_bucket.keys()} == expected


def test_missing_bucket_or_directory_is_an_upload_error(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    with pytest.raises(UploadError, match="no S3 bucket"):
        sync_directory(str(tmp_path), s3_bucket.config(bucket=""))
    with pytest.raises(UploadError, match="not a directory"):
        sync_directory(str(tmp_path / "absent"), s3_bucket.config())


def test_client_settings(s3_bucket: S3Bucket) -> None:
    client = make_client(s3_bucket.config(region="", connect_timeout=3.0, read_timeout=7.0,
                                          max_attempts=7))
    assert client.meta.region_name == "us-east-1"
    assert client.meta.endpoint_url == s3_bucket.endpoint_url
    assert client.meta.config.retries == {"total_max_attempts": 7, "mode": "standard"}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3.0, 7.0)
    assert client.meta.config.signature_version == "s3v4"


def test_proxy_forwards_chunked_bodies_exactly(s3_bucket: S3Bucket,
                                               faulty_s3_proxy: FaultyS3Proxy) -> None:
    url = urlsplit(faulty_s3_proxy.endpoint_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("PUT", f"/{s3_bucket.bucket}/chunked", body=iter([b"abc", b"", b"defg"]),
                     encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert s3_bucket.read("chunked") == b"abcdefg"
    assert faulty_s3_proxy.count("PUT", "/chunked", outcome="forwarded") == 1


# --------------------------------------------------------------------------- names, causes, permanent errors


def test_names_that_are_not_utf8_get_escaped_keys_that_stay_distinct(tmp_path: Path,
                                                                     s3_bucket: S3Bucket) -> None:
    """A group name with the byte 0xff, one literally spelled ``\\xff`` and one with a backslash."""
    files = {b"caf\xff.dat.gz": b"raw byte", b"caf\\xff.dat.gz": b"literal backslash-x",
             b"back\\slash.dat.gz": b"backslash", "équipe.dat.gz".encode(): b"utf-8"}
    for name, content in files.items():
        with open(bytes(tmp_path) + b"/" + name, "wb") as handle:
            handle.write(content)
    expected = {PREFIX + "caf\\xff.dat.gz": b"raw byte",
                PREFIX + "caf\\\\xff.dat.gz": b"literal backslash-x",
                PREFIX + "back\\\\slash.dat.gz": b"backslash",
                PREFIX + "équipe.dat.gz": b"utf-8"}
    config = s3_bucket.config(prefix=PREFIX)

    report = sync_directory(str(tmp_path), config)

    assert report.uploaded == sorted(expected) and report.failed == {}
    assert {key: s3_bucket.read(key) for key in s3_bucket.keys()} == expected
    again = sync_directory(str(tmp_path), config, delete_removed=True)
    assert again.skipped == sorted(expected)
    assert again.uploaded == [] and again.deleted == [] and again.failed == {}


def test_the_failure_message_names_the_cause(tmp_path: Path, s3_bucket: S3Bucket,
                                             faulty_s3_proxy: FaultyS3Proxy) -> None:
    (tmp_path / "a.dat.gz").write_bytes(b"a")
    (tmp_path / "b.dat.gz").write_bytes(b"b")
    faulty_s3_proxy.fail_always("PUT", path_contains="a.dat.gz")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=2)

    with pytest.raises(SyncError) as caught:
        sync_directory(str(tmp_path), config)

    assert str(caught.value) == (f"S3 sync to s3://{s3_bucket.bucket}/{PREFIX}: 1 files failed: "
                                 f"{PREFIX}a.dat.gz; cause: InternalError (HTTP 500): failure "
                                 "injected by the test proxy")
    assert s3_bucket.keys() == [PREFIX + "b.dat.gz"]


@pytest.mark.parametrize("status", [403, 404])
def test_permanent_errors_are_not_retried(tmp_path: Path, s3_bucket: S3Bucket,
                                          faulty_s3_proxy: FaultyS3Proxy, status: int,
                                          caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "denied.dat.gz").write_bytes(b"x" * 100)
    faulty_s3_proxy.fail_always("PUT", status=status)
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=5)

    with pytest.raises(SyncError, match=rf"cause: InternalError \(HTTP {status}\)"):
        sync_directory(str(tmp_path), config)

    assert faulty_s3_proxy.count("PUT", "denied") == 1  # one try: waiting cannot mend it
    assert retry_lines(caplog) == []
    assert errors(caplog) == [f"giving up on {PREFIX}denied.dat.gz: InternalError (HTTP {status}): "
                              "failure injected by the test proxy"]


def test_no_credentials_fail_without_retries(tmp_path: Path, s3_bucket: S3Bucket,
                                             faulty_s3_proxy: FaultyS3Proxy,
                                             monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "x.dat.gz").write_bytes(b"x")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = s3_bucket.config(prefix=PREFIX, endpoint_url=faulty_s3_proxy.endpoint_url,
                              max_attempts=5)

    with pytest.raises(SyncError, match="NoCredentialsError: Unable to locate credentials") as caught:
        sync_directory(str(tmp_path), config)

    assert caught.value.report.failed == {  # no attempt was made, so none is counted
        PREFIX + "x.dat.gz": f"listing s3://{s3_bucket.bucket}/{PREFIX} failed: "
                             "NoCredentialsError: Unable to locate credentials"}
    assert faulty_s3_proxy.requests == []
    assert not [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]


def test_the_transfer_follows_the_configured_sizes_and_concurrency(s3_bucket: S3Bucket) -> None:
    config = s3_bucket.config(multipart_threshold=0, multipart_chunksize=8 * MiB, concurrency=3)
    settings = transfer_config(config)
    assert (settings.multipart_threshold, settings.multipart_chunksize, settings.max_request_concurrency) \
        == (1, 8 * MiB, 3)
    assert make_client(config).meta.config.max_pool_connections >= 3 * 3


def test_an_empty_folder_never_deletes(tmp_path: Path, s3_bucket: S3Bucket,
                                       caplog: pytest.LogCaptureFixture) -> None:
    s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=PREFIX + "hgi.dat.gz", Body=b"old")

    report = sync_directory(str(tmp_path), s3_bucket.config(prefix=PREFIX), delete_removed=True)

    assert report.deleted == [] and report.uploaded == []
    assert s3_bucket.keys() == [PREFIX + "hgi.dat.gz"]
    assert any(f"not deleting 1 objects under s3://{s3_bucket.bucket}/{PREFIX}" in r.getMessage()
               and r.levelno == logging.WARNING for r in caplog.records)
