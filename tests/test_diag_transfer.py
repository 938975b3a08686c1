"""Download and upload diagnostics against a loopback HTTP server: TR-143 times and byte
counts, several connections, time-based tests with increments, errors, cancel, memory."""

import re
import threading
import time
import tracemalloc

import pytest

from _diag_servers import Http
from tr069client.diagnostics import common, transfer

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
MiB = 1024 * 1024


@pytest.fixture
def server():
    srv = Http()
    yield srv
    srv.close()


def cancel():
    return common.Cancel()


def check_times(res, prefix=""):
    for name in ("ROMTime", "BOMTime", "EOMTime", "TCPOpenRequestTime", "TCPOpenResponseTime"):
        assert STAMP.match(res[prefix + name]), name
    assert res[prefix + "TCPOpenRequestTime"] <= res[prefix + "TCPOpenResponseTime"]
    assert res[prefix + "ROMTime"] <= res[prefix + "BOMTime"] <= res[prefix + "EOMTime"]


def test_download_counts_the_bytes_and_the_times(server):
    res = transfer.download({"DownloadURL": server.url + "/bytes/%d" % (4 * MiB)}, cancel())
    assert res["DiagnosticsState"] == "Complete" and res["IPAddressUsed"] == "127.0.0.1"
    check_times(res)
    received = int(res["TestBytesReceived"])
    assert 4 * MiB < received < 4 * MiB + 500   # the body and the response's headers
    assert res["TotalBytesReceived"] == "0"      # no Interface: cannot be determined
    assert not any(k.startswith("PerConnectionResult.") for k in res)


def test_several_connections_with_per_connection_results(server):
    res = transfer.download({"DownloadURL": server.url + "/chunked/%d" % MiB, "NumberOfConnections": "3",
                             "EnablePerConnectionResults": "true"}, cancel())
    check_times(res)
    rows = [int(res["PerConnectionResult.%d.TestBytesReceived" % i]) for i in (1, 2, 3)]
    assert all(r > MiB for r in rows) and sum(rows) == int(res["TestBytesReceived"])
    for i in (1, 2, 3):
        check_times(res, "PerConnectionResult.%d." % i)
    assert "PerConnectionResult.4.ROMTime" not in res
    assert res["ROMTime"] == min(res["PerConnectionResult.%d.ROMTime" % i] for i in (1, 2, 3))
    assert res["EOMTime"] == max(res["PerConnectionResult.%d.EOMTime" % i] for i in (1, 2, 3))
    assert int(res["TestBytesReceivedUnderFullLoading"]) <= int(res["TestBytesReceived"])


def test_upload_sends_the_file_length_on_each_connection(server):
    res = transfer.upload({"UploadURL": server.url + "/up", "TestFileLength": str(3 * MiB),
                           "NumberOfConnections": "2", "EnablePerConnectionResults": "1"}, cancel())
    assert res["DiagnosticsState"] == "Complete"
    check_times(res)
    assert server.received == [3 * MiB, 3 * MiB]
    assert 6 * MiB < int(res["TestBytesSent"]) < 6 * MiB + 1000   # bodies and request headers
    assert int(res["PerConnectionResult.1.TestBytesSent"]) > 3 * MiB


def test_time_based_download_and_upload_with_increments(server):
    inputs = {"DownloadURL": server.url + "/bytes/%d" % (1 << 40), "TimeBasedTestDuration": "2",
              "TimeBasedTestMeasurementInterval": "1", "NumberOfConnections": "2"}
    res = transfer.download(inputs, cancel())
    assert res["DiagnosticsState"] == "Complete"
    rows = [k for k in res if k.startswith("IncrementalResult.") and k.endswith(".StartTime")]
    assert len(rows) == 2
    assert res["IncrementalResult.1.EndTime"] == res["IncrementalResult.2.StartTime"]
    assert res["IncrementalResult.1.StartTime"] < res["IncrementalResult.1.EndTime"]
    assert sum(int(res["IncrementalResult.%d.TestBytesReceived" % i]) for i in (1, 2)) \
        <= int(res["TestBytesReceived"])
    res = transfer.upload({"UploadURL": server.url + "/up", "TimeBasedTestDuration": "1"}, cancel())
    assert res["DiagnosticsState"] == "Complete" and len(server.received) == 1
    assert server.received[0] > 0 and int(res["TestBytesSent"]) > server.received[0]
    assert not any(k.startswith("IncrementalResult.") for k in res)   # no interval asked


@pytest.mark.parametrize("url, state", [
    ("/status/404", "Error_TransferFailed"),
    ("ftp://127.0.0.1/x", "Error_InitConnectionFailed"),
    ("http://127.0.0.1:1/x", "Error_InitConnectionFailed"),
    ("http://no-such-host.invalid/x", "Error_CannotResolveHostName"),
])
def test_download_errors(server, url, state):
    if url.startswith("/"):
        url = server.url + url
    with pytest.raises(common.Failure) as e:
        transfer.download({"DownloadURL": url}, cancel())
    assert e.value.state == state


def test_upload_refused_by_the_server(server):
    with pytest.raises(common.Failure) as e:
        transfer.upload({"UploadURL": server.url.replace(str(server.port), "1") + "/up"}, cancel())
    assert e.value.state == "Error_InitConnectionFailed"
    with pytest.raises(common.Failure) as e:
        transfer.download({"DownloadURL": server.url + "/x", "NumberOfConnections": "9"}, cancel())
    assert e.value.state == "Error_Other"


def test_cancel_ends_a_stalled_transfer_at_once(server):
    c = cancel()
    threading.Timer(0.3, c.set).start()
    start = time.monotonic()
    with pytest.raises(common.Canceled):
        transfer.download({"DownloadURL": server.url + "/stall", "NumberOfConnections": "2"}, c)
    assert time.monotonic() - start < transfer.IDLE_TIMEOUT


@pytest.mark.parametrize("upload", [False, True])
def test_memory_does_not_grow_with_the_test_size(server, upload):
    size = 64 * MiB
    tracemalloc.start()
    try:
        if upload:
            transfer.upload({"UploadURL": server.url + "/up", "TestFileLength": str(size)}, cancel())
        else:
            transfer.download({"DownloadURL": server.url + "/bytes/%d" % size}, cancel())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MiB   # the server thread's buffers included
