"""Signals: SIGTERM and SIGINT stop swiftkeeper gracefully, a second signal exits
at once, SIGHUP is ignored; nothing acknowledged is lost either way.

  test_stop_signal_under_write_load: writers run on several sessions; the
      signal arrives mid-load; the process exits 0 (the graceful stop finished
      inside shutdownTimeoutMs, or it would have exited 1) and a restart finds
      every write that was acknowledged. Standalone, SIGTERM and SIGINT.
  test_stop_signal_ensemble_leader: the same on a 3-member ensemble, with the
      signal sent to the leader: it exits 0, the others elect a new leader and
      hold every acknowledged write.
  test_sighup_is_ignored: the server keeps serving the same session.
  test_second_signal_during_hung_fsync: the log's fdatasync hangs (strace
      delays it by a minute); the first SIGTERM cannot finish its stop, the
      second exits at once (status 128+15); a restart has every write
      acknowledged before the hang.
  test_stop_bound_on_hung_fsync: the same hang with shutdownTimeoutMs=1000
      and a single SIGTERM: the process exits 1 by itself.

No wall-clock figure is asserted: the bounds are the exit statuses, and the
waits below only keep a broken build from hanging the run.

    .venv-interop/bin/python -m pytest Tests/Interop/test_lifecycle.py -v
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

import servers
from ensemble import Ensemble
from kazoo_clients import client as _client, close as _close

EXIT_WAIT = 60.0        # a hang guard, not a figure: the stop bound is shutdownTimeoutMs
WRITERS = 4
LOAD_BEFORE_SIGNAL = 1.5


def _need_swiftkeeper() -> None:
    if not os.access(servers.swiftkeeper_bin(), os.X_OK):
        pytest.skip(f"swiftkeeper binary not built: {servers.swiftkeeper_bin()}")


class Writers:
    """WRITERS sessions, connected before the load starts, creating unique paths as fast
    as they are answered; `acked` holds every path whose create was acknowledged."""

    def __init__(self, connect, prefix: str):
        self.clients = [connect() for _ in range(WRITERS)]
        self.prefix = prefix
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(WRITERS)]

    def _run(self, index: int) -> None:
        zk = self.clients[index]
        n = 0
        while not self.done.is_set():
            path = f"{self.prefix}/w{index}-{n}"
            n += 1
            try:
                zk.create(path, b"x" * 64)
            except (KazooException, KazooTimeoutError):
                return      # the stop reached this session: later writes are not ours to check
            with self.lock:
                self.acked.append(path)

    def __enter__(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        for t in self.threads:
            t.join(timeout=30)
        for zk in self.clients:
            _close(zk)


def _wait_exit(proc: subprocess.Popen, what: str) -> int:
    try:
        return proc.wait(timeout=EXIT_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{what}: still running {EXIT_WAIT:.0f}s after the signal")


def _missing(zk, paths: list[str]) -> list[str]:
    return [p for p in paths if zk.exists(p) is None]


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_under_write_load(tmp_path, signo):
    _need_swiftkeeper()
    srv = servers.start_swiftkeeper(tmp_path / "sk", data_dir=tmp_path / "data")
    try:
        setup = _client(srv)
        setup.create("/load")
        _close(setup)
        with Writers(lambda: _client(srv), "/load") as writers:
            time.sleep(LOAD_BEFORE_SIGNAL)
            srv.proc.send_signal(signo)
            status = _wait_exit(srv.proc, signo.name)
        log = srv.log_text()
        assert status == 0, f"exit status {status} after {signo.name}\n{log[-3000:]}"
        assert "stopping gracefully" in log and "swiftkeeper stopped" in log, log[-3000:]
        assert len(writers.acked) > WRITERS, f"the load barely ran: {len(writers.acked)} writes"
        srv._reap()
        srv.start()
        zk = _client(srv)
        try:
            assert _missing(zk, writers.acked) == []
            print(f"{signo.name}: {len(writers.acked)} acknowledged writes, all found after the restart")
        finally:
            _close(zk)
    finally:
        srv.kill()


def test_stop_signal_ensemble_leader(tmp_path):
    _need_swiftkeeper()
    ensemble = Ensemble(tmp_path, ["swiftkeeper"] * 3).start()
    try:
        leader = ensemble.wait_stable()
        others = [m for m in ensemble.members if m is not leader]
        setup = _client(leader.process)
        setup.create("/load")
        _close(setup)
        hosts = ensemble.hosts(others)

        def connect():
            from kazoo.client import KazooClient
            from kazoo_clients import FAST_RECONNECT
            zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry=dict(FAST_RECONNECT), command_retry=None)
            zk.start(timeout=30)
            return zk

        with Writers(connect, "/load") as writers:
            time.sleep(LOAD_BEFORE_SIGNAL)
            leader.process.proc.send_signal(signal.SIGTERM)
            status = _wait_exit(leader.process.proc, "leader after SIGTERM")
        assert status == 0, f"leader's exit status {status}\n{leader.process.log_text()[-3000:]}"
        leader.process._reap()
        ensemble.wait_stable(timeout=60)
        zk = connect()
        try:
            zk.sync("/")
            assert _missing(zk, writers.acked) == []
            print(f"ensemble: {len(writers.acked)} acknowledged writes, all held by the new leader's ensemble")
        finally:
            _close(zk)
    finally:
        ensemble.stop()


def test_sighup_is_ignored(tmp_path):
    _need_swiftkeeper()
    srv = servers.start_swiftkeeper(tmp_path / "sk", data_dir=tmp_path / "data")
    zk = None
    try:
        zk = _client(srv)
        zk.create("/before", b"1")
        session = zk.client_id
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert srv.is_running(), srv.log_text()[-2000:]
        zk.create("/after", b"2")
        assert zk.client_id == session
        assert srv.four_letter("ruok") == "imok"
    finally:
        _close(zk)
        srv.kill()


# -- a hung fsync --------------------------------------------------------------------

# strace holds the hung call this long. The tracee's exit is reported only when it ends
# (as a real fsync stuck in the kernel keeps the process until the I/O returns), so the
# exit statuses below tell which path ended the process: 0 would be the graceful stop
# finishing after the hang.
HANG_MICROSECONDS = 20_000_000
SYNCS_BEFORE_HANG = 3


def _need_strace() -> None:
    if not shutil.which("strace"):
        pytest.skip("strace not installed (scripts/test.sh installs it)")
    probe = subprocess.run(["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=fdatasync", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.strip()}")


def _startup_fdatasyncs(tmp_path) -> int:
    trace = tmp_path / "startup.strace"
    srv = servers.start_swiftkeeper(
        tmp_path / "calibration", data_dir=tmp_path / "calibration-data",
        argv_prefix=["strace", "-D", "-f", "--seccomp-bpf", "-e", "trace=fdatasync", "-o", str(trace)])
    try:
        time.sleep(1.0)
        return len(re.findall(r"\bfdatasync\(", trace.read_text(errors="replace")))
    finally:
        srv.kill()


def _start_with_hanging_log(tmp_path, extra_cfg=None):
    """swiftkeeper whose log fdatasync hangs for a minute from the (SYNCS_BEFORE_HANG+1)th
    write on; returns the server and the paths acknowledged before the hang."""
    startup = _startup_fdatasyncs(tmp_path)
    # One fdatasync makes the client's session durable, then one per create.
    inject = f"inject=fdatasync:delay_enter={HANG_MICROSECONDS}:when={startup + 1 + SYNCS_BEFORE_HANG + 1}+"
    srv = servers.start_swiftkeeper(
        tmp_path / "sk", data_dir=tmp_path / "data", extra_cfg=extra_cfg, timeout=60,
        argv_prefix=["strace", "-D", "-f", "--seccomp-bpf", "-e", "trace=fdatasync", "-o", "/dev/null", "-e", inject])
    zk = _client(srv)
    acked = []
    for i in range(SYNCS_BEFORE_HANG):
        zk.create(f"/acked-{i}")
        acked.append(f"/acked-{i}")
    zk.create_async("/hangs")     # its fdatasync is the one that hangs
    time.sleep(0.5)
    return srv, zk, acked


def _check_after_restart(srv, acked) -> None:
    srv._reap()
    srv.argv = [servers.swiftkeeper_bin(), *srv.argv[srv.argv.index(servers.swiftkeeper_bin()) + 1:]]
    srv.start()
    zk = _client(srv)
    try:
        assert _missing(zk, acked) == []
    finally:
        _close(zk)


def _threads_left_soon(pid: int, wait: float = 10.0) -> int:
    """The process's thread count once it stops falling (0 when it is gone): an exit leaves
    only the thread strace holds in the hung call and the main thread's entry, which stays
    until the whole process is reaped (a serving one has six on 2 cores)."""
    deadline = time.monotonic() + wait
    count = 0
    while time.monotonic() < deadline:
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            return 0
        match = re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE)
        count = int(match.group(1)) if match else 0
        if count <= 2:
            return count
        time.sleep(0.1)
    return count


def test_second_signal_during_hung_fsync(tmp_path):
    _need_swiftkeeper()
    _need_strace()
    srv, zk, acked = _start_with_hanging_log(tmp_path, extra_cfg={"shutdownTimeoutMs": 120_000})
    try:
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert srv.is_running(), "the graceful stop finished although the log's fsync hangs"
        srv.proc.send_signal(signal.SIGTERM)
        assert _threads_left_soon(srv.proc.pid) <= 2, "the process did not start exiting at the second signal"
        status = _wait_exit(srv.proc, "second SIGTERM")
        assert status == 128 + signal.SIGTERM, f"exit status {status}\n{srv.log_text()[-2000:]}"
        assert "second stop signal" in srv.log_text()
        _close(zk)
        zk = None
        _check_after_restart(srv, acked)
    finally:
        _close(zk)
        srv.kill()


def test_stop_bound_on_hung_fsync(tmp_path):
    _need_swiftkeeper()
    _need_strace()
    srv, zk, acked = _start_with_hanging_log(tmp_path, extra_cfg={"shutdownTimeoutMs": 1000})
    try:
        srv.proc.send_signal(signal.SIGTERM)
        status = _wait_exit(srv.proc, "SIGTERM with shutdownTimeoutMs=1000")
        assert status == 1, f"exit status {status}\n{srv.log_text()[-2000:]}"
        assert "did not finish in time" in srv.log_text()
        _close(zk)
        zk = None
        _check_after_restart(srv, acked)
    finally:
        _close(zk)
        srv.kill()


# -- log level -----------------------------------------------------------------------

def test_log_level_option_and_variable(tmp_path):
    """`--log-level` and SWIFTKEEPER_LOG_LEVEL choose what is logged; the option wins; an
    unknown level is refused before anything starts."""
    _need_swiftkeeper()
    quiet = servers.start_swiftkeeper(tmp_path / "quiet", env={"SWIFTKEEPER_LOG_LEVEL": "warning"})
    quiet.stop()
    assert "swiftkeeper serving" not in quiet.log_text()
    srv = servers.start_swiftkeeper(tmp_path / "loud", env={"SWIFTKEEPER_LOG_LEVEL": "warning"},
                                    argv_suffix=["--log-level", "info"])
    srv.stop()
    assert "swiftkeeper serving" in srv.log_text()
    bad = subprocess.run([servers.swiftkeeper_bin(), "server", "--log-level", "loud"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown log level 'loud'" in bad.stderr, bad


# -- what the log says -----------------------------------------------------------------

def test_log_lines_for_sessions_and_elections(tmp_path):
    """One line per significant event at the default level, none per request: a session
    established (with its id and client address), one expired, one closed; an ensemble
    member's election result with its duration."""
    _need_swiftkeeper()
    import socket
    import hostile_support as hs

    srv = servers.start_swiftkeeper(tmp_path / "sk")
    try:
        zk = _client(srv)
        for i in range(50):
            zk.create(f"/quiet-{i}", b"x")      # requests: no line each
        session = f"0x{zk.client_id[0]:x}"
        _close(zk)
        raw = socket.create_connection((srv.host, srv.port))
        raw.sendall(hs.connect_request(timeout_ms=4000))   # a whole frame
        raw.recv(64)
        raw.close()                              # silent: the session expires
        deadline = time.monotonic() + 30
        while "session expired" not in srv.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = srv.log_text()
        established = [line for line in log.splitlines() if "session established" in line]
        assert len(established) == 2 and f"sessionId={session}" in established[0], log
        assert "client=127.0.0.1:" in established[0]
        assert f"sessionId={session}" in next(line for line in log.splitlines() if "session closed" in line)
        assert "session expired" in log, log[-2000:]
        assert len(log.splitlines()) < 40, f"{len(log.splitlines())} lines for 50 requests and 2 sessions:\n{log}"
    finally:
        srv.kill()

    ensemble = Ensemble(tmp_path, ["swiftkeeper"] * 3).start()
    try:
        leader = ensemble.wait_stable()
        for member in ensemble.members:
            lines = member.process.log_text().splitlines()
            done = [line for line in lines if "election done" in line]
            serving = [line for line in lines if "serving" in line and "role=" in line]
            assert done and serving, "\n".join(lines[-30:])
            role = "leader" if member is leader else "follower"
            assert "electionMs=" in done[-1] and f"leader={leader.sid}" in done[-1], done
            assert f"role={role}" in serving[-1] and f"leader={leader.sid}" in serving[-1], serving
    finally:
        ensemble.stop()
