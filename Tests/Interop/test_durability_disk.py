"""Disk trouble is loud and safe.

When the disk fills up or an fsync fails, swiftkeeper stops taking writes but
keeps running: the connections of the writes in flight are closed (the client
sees ConnectionLoss), later writes are refused with NOTREADONLY (-119, kazoo's
NotReadOnlyCallError), reads keep working, and the log says what happened.
After a restart with a healthy disk, every acknowledged write is there and
writes work again.

  test_disk_full:     the dataDir is a small tmpfs (mounted by the test, root
                      only), filled by creates; it is grown before the restart.
  test_fsync_fails:   swiftkeeper runs under strace, which makes fsync and
                      fdatasync fail with EIO after the server has started and
                      taken a few writes; the restart runs without strace.

Apache ZooKeeper is not the reference here: it exits when its log cannot be
written.

    .venv-interop/bin/python -m pytest Tests/Interop/test_durability_disk.py -v
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (ConnectionClosedError, ConnectionLoss, NotReadOnlyCallError,
                              SessionExpiredError)
from kazoo.handlers.threading import KazooTimeoutError

import servers
from kazoo_clients import client as _client, close as _close

REFUSED = (NotReadOnlyCallError, ConnectionLoss)
REPLY_TIMEOUT = 30.0   # a write that gets no answer at all is a failure too
# What a log line about the trouble should contain (checked only in what the
# server logged after the writes began).
TROUBLE_RE = re.compile(
    r"no space left|ENOSPC|input/output error|\bEIO\b|fsync|fdatasync|disk|I/O error|"
    r"read-only|read only|readonly|not writable|write failed|cannot write",
    re.IGNORECASE)


def _need_swiftkeeper() -> None:
    if not os.access(servers.swiftkeeper_bin(), os.X_OK):
        pytest.skip(f"swiftkeeper binary not built: {servers.swiftkeeper_bin()}")




def _retry_read(fn, what: str, timeout: float = 30.0):
    """Reads after a ConnectionLoss: kazoo reconnects (resuming its session) in
    the background; retry while it does."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            return fn()
        except (ConnectionLoss, ConnectionClosedError) as e:
            last = e
            time.sleep(0.1)
    pytest.fail(f"{what}: reads did not work within {timeout:.0f}s after the disk trouble "
                f"(last error {last!r})", pytrace=False)


def _answer(async_result, what: str):
    try:
        return async_result.get(timeout=REPLY_TIMEOUT)
    except KazooTimeoutError:
        pytest.fail(f"{what}: no answer within {REPLY_TIMEOUT:.0f}s", pytrace=False)


def fill_until_refused(zk: KazooClient, payload: bytes, max_writes: int) -> tuple[list[str], str, Exception]:
    """Create /fill/n<i> until a create is refused. Returns the acknowledged
    paths, the path of the refused create (indeterminate) and its error."""
    zk.ensure_path("/fill")
    acked: list[str] = []
    for i in range(max_writes):
        path = f"/fill/n{i}"
        try:
            _answer(zk.create_async(path, payload), f"create {path}")
        except REFUSED as e:
            return acked, path, e
        except SessionExpiredError as e:
            pytest.fail(f"the session expired at write {i}: {e!r}", pytrace=False)
        acked.append(path)
    pytest.fail(f"{max_writes} writes of {len(payload)} bytes were all acknowledged: "
                "the disk trouble never reached the client", pytrace=False)


def check_degraded(srv, zk: KazooClient, acked: list[str], payload: bytes, log_offset: int,
                   first_error: Exception) -> None:
    """The server after disk trouble: alive, reads work, writes refused, loud log."""
    time.sleep(0.5)
    assert srv.is_running(), (
        f"server exited after the disk trouble (status {srv.proc.returncode})\n"
        f"{servers._tail(srv.log_path)}")
    # reads keep working, on the session that saw the failure
    data = _retry_read(lambda: zk.get(acked[-1])[0], "getData")
    assert data == payload
    children = set(_retry_read(lambda: zk.get_children("/fill"), "getChildren"))
    missing = [p for p in acked if p.rsplit("/", 1)[1] not in children]
    assert not missing, f"acknowledged nodes not readable after the disk trouble: {missing[:10]}"
    # writes stay refused: create, setData, delete, multi
    attempts = [
        ("create", lambda: _answer(zk.create_async("/after-trouble", b""), "create")),
        ("setData", lambda: _answer(zk.set_async(acked[0], b"changed"), "setData")),
        ("delete", lambda: _answer(zk.delete_async(acked[-1]), "delete")),
        ("multi", lambda: _answer(_multi_create(zk, "/after-trouble-multi"), "multi")),
    ]
    for name, attempt in attempts:
        deadline = time.monotonic() + 30
        while True:
            try:
                result = attempt()
            except NotReadOnlyCallError:
                break
            except ConnectionLoss:
                # a reconnect in progress, or the server cut the connection again:
                # either way not accepted; try once more to see the steady answer
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
                continue
            if name == "multi" and isinstance(result, list) and result and \
                    all(isinstance(r, Exception) for r in result):
                break  # refused as a whole
            pytest.fail(f"{name} was accepted after the disk trouble (first error: "
                        f"{first_error!r}): {result!r}", pytrace=False)
    assert srv.is_running(), f"server exited after refusing writes\n{servers._tail(srv.log_path)}"
    logged = srv.log_text()[log_offset:]
    assert TROUBLE_RE.search(logged), (
        "the server log says nothing about the disk trouble; it logged after the writes began:\n"
        + logged[-3000:])
    assert _retry_read(lambda: zk.exists("/after-trouble"), "exists") is None


def _multi_create(zk: KazooClient, path: str):
    t = zk.transaction()
    t.create(path, b"")
    return t.commit_async()


def check_recovered(srv, acked: list[str], refused_path: str, payload: bytes) -> None:
    zk = _client(srv)
    try:
        if zk.exists("/fill") is None:
            pytest.fail(f"/fill and all {len(acked)} acknowledged writes under it are gone after "
                        f"the restart\n{servers._tail(srv.log_path)}", pytrace=False)
        children = set(zk.get_children("/fill"))
        missing = [p for p in acked if p.rsplit("/", 1)[1] not in children]
        assert not missing, (f"{len(missing)} acknowledged writes lost after the restart: "
                             f"{missing[:10]}\n{servers._tail(srv.log_path)}")
        allowed = {p.rsplit("/", 1)[1] for p in acked} | {refused_path.rsplit("/", 1)[1]}
        extra = sorted(children - allowed)
        assert not extra, f"nodes nobody wrote (or refused writes applied): {extra[:10]}"
        for path in acked[:: max(1, len(acked) // 50)] + [acked[-1]]:
            assert zk.get(path)[0] == payload, path
        for path in ("/after-trouble", "/after-trouble-multi"):
            assert zk.exists(path) is None, f"{path}: a refused write is present after the restart"
        assert zk.get(acked[0])[0] == payload, "a refused setData is visible after the restart"
        zk.create("/after-restart", b"writes work again")
        zk.set(acked[0], b"changed")
        zk.delete(acked[-1])
        assert zk.get("/after-restart")[0] == b"writes work again"
    finally:
        _close(zk)


# -- (a) full disk ----------------------------------------------------------------------

TMPFS_SIZE = "2m"
TMPFS_GROWN = "64m"


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs as a small dataDir")
    if not shutil.which("mount") or not shutil.which("umount"):
        pytest.skip("mount/umount not installed")
    mnt = tmp_path / "tmpfs-data"
    mnt.mkdir()
    r = _run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "swiftkeeper-diskfull", str(mnt)])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        r = _run(["umount", str(mnt)])
        if r.returncode != 0:
            _run(["umount", "-l", str(mnt)])


def test_disk_full(small_tmpfs, tmp_path):
    _need_swiftkeeper()
    cfg = {"preAllocSize": 64}   # KiB; ZooKeeper's default (64 MiB) would not fit
    srv = servers.start_swiftkeeper(tmp_path / "sk", cfg, data_dir=small_tmpfs)
    zk = None
    try:
        zk = _client(srv)
        payload = b"d" * 8192
        log_offset = len(srv.log_text())
        acked, refused_path, error = fill_until_refused(zk, payload, max_writes=2000)
        assert acked, f"the first write was refused already: {error!r}"
        print(f"{len(acked)} writes acknowledged before {refused_path} failed with {error!r}; "
              f"df: {_run(['df', '-k', str(small_tmpfs)]).stdout.splitlines()[-1]}")
        check_degraded(srv, zk, acked, payload, log_offset, error)
        srv.stop()
        _close(zk)
        zk = None
        r = _run(["mount", "-o", f"remount,size={TMPFS_GROWN}", str(small_tmpfs)])
        assert r.returncode == 0, f"cannot grow the tmpfs: {r.stderr}"
        srv.start()
        check_recovered(srv, acked, refused_path, payload)
    finally:
        _close(zk)
        srv.stop()


# -- (b) fsync fails --------------------------------------------------------------------

SYNC_CALLS = ("fsync", "fdatasync")
SYNCS_BEFORE_FAILING = 15   # fsync/fdatasync calls that still succeed after start-up


def _strace_base() -> list[str]:
    # -D keeps swiftkeeper itself the process servers.py spawned and signals.
    return ["strace", "-D", "-f", "--seccomp-bpf", "-e", "trace=" + ",".join(SYNC_CALLS)]


def _count_startup_syncs(tmp: Path) -> dict[str, int]:
    """Start swiftkeeper on a fresh dataDir under strace and count each sync
    call made until it serves (the faulty run starts on a fresh dir too)."""
    trace = tmp / "startup.strace"
    srv = servers.start_swiftkeeper(tmp / "sk", data_dir=tmp / "data",
                                    argv_prefix=[*_strace_base(), "-o", str(trace)])
    try:
        time.sleep(1.0)
        text = trace.read_text(errors="replace")
    finally:
        srv.stop()
    return {call: len(re.findall(rf"\b{call}\(", text)) for call in SYNC_CALLS}


def test_fsync_fails(tmp_path):
    _need_swiftkeeper()
    if not shutil.which("strace"):
        pytest.skip("strace not installed (scripts/test.sh installs it)")
    probe = _run(["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=fsync", "true"])
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.strip()}")
    startup = _count_startup_syncs(tmp_path / "calibration")
    injects = []
    for call in SYNC_CALLS:
        injects += ["-e", f"inject={call}:error=EIO:when={startup[call] + SYNCS_BEFORE_FAILING + 1}+"]
    print(f"sync calls during start-up: {startup}; injecting EIO with {injects}")
    data_dir = tmp_path / "data"
    srv = servers.start_swiftkeeper(tmp_path / "sk-strace", data_dir=data_dir,
                                    argv_prefix=[*_strace_base(), "-o", "/dev/null", *injects],
                                    timeout=60)
    zk = None
    try:
        zk = _client(srv)
        payload = b"f" * 100
        log_offset = len(srv.log_text())
        acked, refused_path, error = fill_until_refused(zk, payload, max_writes=500)
        assert acked, f"the first write was refused already: {error!r}"
        print(f"{len(acked)} writes acknowledged before {refused_path} failed with {error!r}")
        check_degraded(srv, zk, acked, payload, log_offset, error)
    finally:
        _close(zk)
        srv.stop()
    # the same directory, without strace
    srv = servers.start_swiftkeeper(tmp_path / "sk-after", data_dir=data_dir)
    try:
        check_recovered(srv, acked, refused_path, payload)
    finally:
        srv.stop()
