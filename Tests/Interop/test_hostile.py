"""Hostile clients against a real server process, each with a well-behaved canary alongside.

Every case runs against swiftkeeper and against Apache ZooKeeper 3.8.0 (parametrized
`server`). For each case:

* the server stays up (its process lives and a new session can be opened afterwards);
* the canary (hostile_support.Canary: its own session in a child process, one small
  read every ~50 ms and a small write every 10th op) never loses its session and its
  worst latency stays under CANARY_WORST_MS_MAX;
* the server's RSS grows by at most the case's RSS_GROWTH_MAX_MB while the abuse runs,
  and comes back to within RSS_RETURN_SLACK_MB (or RSS_RETURN_FRACTION of the growth)
  of where it started once the abusive client is gone;
* for the single abusive connection cases, swiftkeeper's log holds exactly
  ABUSE_LOG_LINES lines matching ABUSE_LOG_PATTERN (the throttle/close line);
* case-specific bounds (how long a cleanup may take, bytes per watch, ...).

The JVM keeps the heap it grew, so ZooKeeper's RSS is measured against its own baseline and
its "RSS returns" check is recorded but not asserted. Where ZooKeeper itself misses a
bound on this machine, ZK_EXEMPT names the check and why: the check still runs for
swiftkeeper, and ZooKeeper's figure is still recorded.

Each case prints a `FIGURES ...` line and, with HOSTILE_FIGURES=<file>, appends a JSON
line with the same figures, so both servers can be compared side by side:

    HOSTILE_FIGURES=/tmp/hostile.jsonl SWIFTKEEPER_BIN=... \\
        .venv-interop/bin/python -m pytest Tests/Interop/test_hostile.py -s

A server whose RSS passes SAFETY_RSS_MB is SIGKILLed at once (the case then fails), so a
runaway server cannot take the machine's memory. Every wait has a deadline; every case
has a pytest-timeout backstop (method=signal, so the run goes on with the next case).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
import time

import pytest

import hostile_support as hs

# -- bounds -----------------------------------------------------------------------------

CANARY_WORST_MS_MAX = 1000          # the canary's worst single op, during and after abuse
NEW_SESSION_MS_MAX = 2000           # a fresh connection gets a session within this
SAFETY_RSS_MB = 2500                # SIGKILL the server above this (machine protection)
RSS_RETURN_SLACK_MB = 48            # RSS after = before + at most this ...
RSS_RETURN_FRACTION = 0.25          # ... or this fraction of the growth, whichever is larger
RSS_SETTLE_S = 10                   # how long RSS and fds may take to come back
ZK_HEAP_SLACK_MB = 300              # added to ZooKeeper's growth bounds: its -Xmx512m heap
                                    # fills with garbage before a collection

RSS_GROWTH_MAX_MB = {               # peak RSS minus RSS before the case
    "unread_big_reads": 200,
    "unread_small_writes": 200,
    "multiread_2gib": 200,
    "half_open_handshakes": 100,
    "many_sessions": 400,
    "connect_close_cycles": 200,
    "ephemerals_dropped": 600,
    "million_watches": 600,
    "acl_40000": 200,
    "writes_in_flight": 200,
}

ABUSE_WATCH_S = 12                  # how long the unread-pipeline cases watch the server
ABUSE_SEND_TIMEOUT_S = 20           # the abuser's sendall gives up after this (blocked = throttled)

# The line swiftkeeper logs when it throttles or closes an abusive connection. The wording
# is not settled yet: adjust the pattern here. Cases in ABUSE_LOG_CASES expect exactly
# ABUSE_LOG_LINES matching lines from the case (ZooKeeper's log is not checked); with
# ABUSE_LOG_NAMES_CLIENT only lines naming the abuser's source address (each abusive
# client binds its own, e.g. 127.1.0.1) count.
ABUSE_LOG_PATTERN = re.compile(r"(?i)(throttl|; closing\b|closing connection|closed connection)")
ABUSE_LOG_LINES = 1
ABUSE_LOG_NAMES_CLIENT = True
ABUSE_LOG_CASES = {"unread_big_reads", "unread_small_writes", "multiread_2gib"}

BIG_DATA_BYTES = 1024 * 1024 - 300  # under jute.maxbuffer (0xfffff) with the create's framing
UNREAD_BIG_READS = 20_000
UNREAD_SMALL_WRITES = 200_000
MULTIREAD_OPS = 2_100               # 2,100 x ~1 MiB: a reply past 2 GiB
MULTIREAD_REPLY_WAIT_S = 30
HALF_OPEN = 2_000
HALF_OPEN_PER_ADDR = 40
SESSIONLESS_TIMEOUT_S = 10          # zookeeper.nio.sessionlessCnxnTimeout (both servers)
# ZooKeeper's connection expiry queue rounds deadlines up to the next multiple of the
# timeout, so it closes them 10-20 s after their last byte (19 s seen here).
HALF_OPEN_CLOSE_S_MAX = 2 * SESSIONLESS_TIMEOUT_S + 3
MANY_SESSIONS = 10_000
PER_ADDR = 50                       # under maxClientCnxns = 60
CYCLES = 20_000
CYCLE_THREADS = 8
CYCLES_FD_SLACK = 3
CYCLES_RSS_LEAK_MB_MAX = 32         # RSS after 20,000 cycles minus RSS after warm-up
EPH_SESSIONS = 5_000
EPH_PER_SESSION = 20
EPH_SESSION_TIMEOUT_MS = 4000       # the minimum with tickTime 2000
EPH_CREATE_DEADLINE_S = 60          # open 5,000 sessions and create 100,000 ephemerals
EPH_CLEANUP_S_MAX = 30              # all 100,000 ephemerals gone this long after the drop
EPH_CLEANUP_DEADLINE_S = 45         # stop waiting here (the case then fails)
WATCHES = 1_000_000
WATCHES_IN_FLIGHT = 20_000
WATCH_BYTES_MAX = 200               # RSS growth per watch
WATCH_CLOSE_S_MAX = 0.5             # closeSession of the session with 1,000,000 watches
ACL_ENTRIES = 40_000
ACL_REPLY_S_MAX = 5
WRITES_IN_FLIGHT = 20_000
WRITES_IN_FLIGHT_S_MAX = 4.0        # ZooKeeper: 2.2-3.0 s here

_ZK_ACL_DEDUP = ("ZooKeeper's PrepRequestProcessor.removeDuplicates is O(n^2) (ArrayList.contains): "
                 "6-7 s for 40,000 distinct entries, stalling every request meanwhile")
_ZK_BURST = "ZooKeeper's own canary worst is 0.7-1.8 s on this 2-core machine during the burst"

# (case, check) -> why Apache ZooKeeper 3.8.0 is exempt from that check on this machine.
# The check still runs and is recorded for ZooKeeper; only swiftkeeper must pass it.
ZK_EXEMPT: dict[tuple[str, str], str] = {
    ("multiread_2gib", "*"): "ZooKeeper 3.8.0 (-Xmx512m) dies: OutOfMemoryError in SyncThread "
                             "(OpResult$GetDataResult copies each 1 MiB result), then exits",
    ("acl_40000", "distinct_reply"): _ZK_ACL_DEDUP,
    ("acl_40000", "canary_worst_distinct_ms"): _ZK_ACL_DEDUP,
    ("acl_40000", "canary_worst_ms"): _ZK_ACL_DEDUP,
    ("million_watches", "bytes_per_watch"): "the JVM's RSS grows ~420 B per watch here (heap, not live data)",
    ("ephemerals_dropped", "canary_worst_cleanup_ms"): _ZK_BURST,
    ("ephemerals_dropped", "canary_worst_ms"): _ZK_BURST,
    ("many_sessions", "canary_worst_ms"): _ZK_BURST,
    ("million_watches", "canary_worst_ms"): "ZooKeeper's own canary worst is 0.4-0.7 s here while "
                                            "1,000,000 exists(watch) stream in: near the bound",
}


# -- fixtures -----------------------------------------------------------------------------

hs.raise_nofile()


class Case:
    """One case's bookkeeping: baseline, canary, RSS sampler, soft checks, figures."""

    def __init__(self, name: str, srv, tmp_path):
        self.name = name
        self.srv = srv
        self.kind = srv.name
        self.tmp = tmp_path
        self.fig: dict = {"case": name, "server": self.kind}
        self.failures: list[str] = []
        self.exempted: list[str] = []
        self.recorded = False
        self.abuser: str | None = None   # the abusive client's source address, if one
        self.t0 = time.monotonic()

    def __enter__(self) -> "Case":
        pid = self.srv.pid
        self.log_offset = len(self.srv.log_text())
        self.canary = hs.Canary(self.srv.host, self.srv.port, self.tmp).start()
        time.sleep(0.3)
        self.rss_before = hs.rss_mb(pid)
        self.fd_before = hs.fd_count(pid)
        self.sampler = hs.RssSampler(self.srv, SAFETY_RSS_MB).__enter__()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.sampler.__exit__()
        self.canary.stop()
        if exc_type is not None and not self.recorded:
            # An unexpected error or the pytest-timeout backstop: still record what we have.
            self.fig["exception"] = f"{exc_type.__name__}: {exc}"[:300]
            self.fig["server_up"] = self.up()
            self.fig["seconds"] = round(time.monotonic() - self.t0, 1)
            if self.failures:
                self.fig["failures"] = self.failures
            self.fig.setdefault("canary_worst_ms", self.canary.stats()["worst_ms"])
            hs.record_figures(self.fig)

    # -- checks ----------------------------------------------------------------
    def check(self, ok: bool, check: str, detail: str) -> bool:
        if ok:
            return True
        why = None
        if self.kind == "zookeeper":
            why = ZK_EXEMPT.get((self.name, check)) or ZK_EXEMPT.get((self.name, "*"))
        target = self.exempted if why else self.failures
        line = f"{check}: {detail}" + (f" (exempt: {why})" if why else "")
        if line not in target:
            target.append(line)
        return False

    def up(self) -> bool:
        return self.srv.is_running() and hs.alive(self.srv.pid)

    def check_up(self) -> None:
        killed = self.sampler.killed_at_mb
        self.fig["server_up"] = self.up()
        if killed:
            self.fig["killed_at_rss_mb"] = round(killed)
        self.check(self.fig["server_up"], "server_up",
                   f"server process gone (rc={self.srv.proc.poll()})"
                   + (f", SIGKILLed by the safety cap at {killed:.0f} MB RSS" if killed else ""))

    def check_new_session(self, label: str = "new_session_ms") -> None:
        ms = hs.new_session_ms(self.srv.host, self.srv.port, timeout=NEW_SESSION_MS_MAX / 1000 + 3)
        self.fig[label] = None if ms is None else round(ms, 1)
        self.check(ms is not None and ms <= NEW_SESSION_MS_MAX, label,
                   f"a new session took {ms} ms (bound {NEW_SESSION_MS_MAX})")

    def rss_peak(self) -> float:
        return max(self.sampler.peak, hs.rss_mb(self.srv.pid) or 0.0)

    def check_rss_growth(self) -> None:
        peak = self.rss_peak()
        self.fig["rss_before_mb"] = round(self.rss_before or 0, 1)
        self.fig["rss_peak_mb"] = round(peak, 1)
        bound = RSS_GROWTH_MAX_MB[self.name] + (ZK_HEAP_SLACK_MB if self.kind == "zookeeper" else 0)
        self.check(peak - (self.rss_before or 0) <= bound, "rss_growth",
                   f"RSS peaked at {peak:.0f} MB from {self.rss_before:.0f} MB (growth bound {bound} MB)")

    def settle_and_check_rss(self, before: float | None = None) -> None:
        before = self.rss_before if before is None else before
        growth = max(0.0, self.rss_peak() - (before or 0))
        target = (before or 0) + max(RSS_RETURN_SLACK_MB, RSS_RETURN_FRACTION * growth)
        # The JVM keeps its heap, so ZooKeeper gets a short look only.
        wait = RSS_SETTLE_S if self.kind == "swiftkeeper" else 2
        after = hs.settle_rss(self.srv.pid, target, wait) if self.up() else None
        self.fig["rss_after_mb"] = None if after is None else round(after, 1)
        if self.kind == "zookeeper":
            return  # the JVM keeps its heap: recorded only
        self.check(after is not None and after <= target, "rss_returns",
                   f"RSS {after} MB after the case, {before:.0f} MB before (allowed {target:.0f} MB)")

    def settle_and_check_fds(self, slack: int = 3) -> None:
        after = hs.settle_fds(self.srv.pid, (self.fd_before or 0) + slack, RSS_SETTLE_S) if self.up() else None
        self.fig["fd_before"] = self.fd_before
        self.fig["fd_after"] = after
        self.check(after is not None and after <= (self.fd_before or 0) + slack, "fds_return",
                   f"{after} fds after, {self.fd_before} before (slack {slack})")

    def check_canary(self, since: float | None = None, label: str = "canary_worst_ms") -> dict:
        st = self.canary.stats(since)
        self.fig[label] = st["worst_ms"]
        if label == "canary_worst_ms":
            self.fig["canary_ops"] = st["ops"]
            self.fig["canary_lost"] = len(st["lost"])
        self.check(st["worst_ms"] <= CANARY_WORST_MS_MAX, label,
                   f"canary worst latency {st['worst_ms']} ms (bound {CANARY_WORST_MS_MAX} ms)")
        self.check(not st["lost"], "canary_session", f"canary lost its session: {st['lost'][:3]}")
        return st

    def check_abuse_log(self) -> None:
        if self.kind != "swiftkeeper" or self.name not in ABUSE_LOG_CASES:
            return
        text = self.srv.log_text()[self.log_offset:]
        lines = [line for line in text.splitlines() if ABUSE_LOG_PATTERN.search(line)]
        if ABUSE_LOG_NAMES_CLIENT and self.abuser:
            named = re.compile(re.escape(self.abuser) + r"(?!\d)")
            lines = [line for line in lines if named.search(line)]
        self.fig["abuse_log_lines"] = len(lines)
        self.check(len(lines) == ABUSE_LOG_LINES, "abuse_log_line",
                   f"{len(lines)} log lines match {ABUSE_LOG_PATTERN.pattern!r} "
                   f"(want {ABUSE_LOG_LINES}): {lines[:3]}")

    def finish(self) -> None:
        """Final checks common to every case, record figures, then fail on any failure."""
        self.check_up()
        if self.up():
            self.check_new_session("new_session_after_ms")
        self.check_canary()
        self.check_abuse_log()
        self.fig["seconds"] = round(time.monotonic() - self.t0, 1)
        if self.exempted:
            self.fig["zk_exempt"] = self.exempted
        if self.failures:
            self.fig["failures"] = self.failures
        hs.record_figures(self.fig)
        self.recorded = True
        assert not self.failures, f"{self.name} on {self.kind}:\n  " + "\n  ".join(self.failures)


def start_sender(sock: socket.socket, data: bytes, result: dict, timeout: float) -> threading.Thread:
    """Send `data` in 64 KiB pieces from a thread. `result` gets 'sent_kb' as it goes, then
    'sent_s' when all of it is out, or 'send_error' (a timeout means the server stopped
    reading for `timeout` seconds: it throttles)."""
    def run():
        t0 = time.monotonic()
        sock.settimeout(timeout)
        view = memoryview(data)
        sent = 0
        result["sent_kb"] = 0
        try:
            while sent < len(data):
                sock.sendall(view[sent:sent + 65536])
                sent = min(len(data), sent + 65536)
                result["sent_kb"] = sent // 1024
            result["sent_s"] = round(time.monotonic() - t0, 2)
        except socket.timeout:
            result["send_error"] = f"blocked {timeout:.0f}s (server stopped reading)"
        except OSError as e:
            result["send_error"] = f"{type(e).__name__}: {e}"
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def abandon(sock: socket.socket) -> None:
    """Close a socket that may have unread data (the kernel then sends RST)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def unread_pipeline(case: Case, payload: bytes, src: str) -> None:
    """Send `payload` (many pipelined requests) on one session and never read a reply."""
    srv = case.srv
    case.abuser = src
    abuser = hs.RawSession(srv.host, srv.port, src=src, timeout=10).handshake(30000)
    result: dict = {}
    sender = start_sender(abuser.sock, payload, result, ABUSE_SEND_TIMEOUT_S)
    time.sleep(ABUSE_WATCH_S / 2)
    case.check_new_session("new_session_during_ms")
    time.sleep(ABUSE_WATCH_S / 2)
    case.fig["abuser_tcp_state"] = hs.tcp_state(abuser.sock)
    case.fig["abuser_unread_kb"] = round(hs.unread_bytes(abuser.sock) / 1024)
    case.fig["request_kb"] = len(payload) // 1024
    case.fig["sent_kb_at_close"] = result.get("sent_kb")
    case.fig["still_sending_at_close"] = sender.is_alive()
    case.check_rss_growth()
    case.check_canary(label="canary_worst_during_ms")
    abandon(abuser.sock)
    sender.join(timeout=ABUSE_SEND_TIMEOUT_S + 5)
    result.pop("sent_kb", None)
    if "send_error" in result and case.fig["still_sending_at_close"]:
        result["send_error"] = "still blocked when the abuser closed"
    case.fig.update(result)
    case.check_up()
    case.settle_and_check_rss()


# -- 1. unread pipelined 1 MiB reads ---------------------------------------------------------

@pytest.mark.timeout(150, method="signal")
def test_hostile_unread_big_reads(server, tmp_path):
    hs.ensure_node(server.host, server.port, "/big", b"x" * BIG_DATA_BYTES)
    payload = b"".join(hs.get_data(i + 1, "/big") for i in range(UNREAD_BIG_READS))
    with Case("unread_big_reads", server, tmp_path) as case:
        case.fig["requests"] = UNREAD_BIG_READS
        unread_pipeline(case, payload, "127.1.0.1")
        case.finish()


# -- 2. 200,000 unread pipelined small writes --------------------------------------------------

@pytest.mark.timeout(150, method="signal")
def test_hostile_unread_small_writes(server, tmp_path):
    hs.ensure_node(server.host, server.port, "/small", b"s")
    payload = b"".join(hs.set_data(i + 1, "/small", b"v%05d" % (i % 100000))
                       for i in range(UNREAD_SMALL_WRITES))
    with Case("unread_small_writes", server, tmp_path) as case:
        case.fig["requests"] = UNREAD_SMALL_WRITES
        unread_pipeline(case, payload, "127.2.0.1")
        case.finish()


# -- 3. a multiRead whose reply would pass 2 GiB ---------------------------------------------

@pytest.mark.timeout(120, method="signal")
def test_hostile_multiread_2gib(server, tmp_path):
    hs.ensure_node(server.host, server.port, "/big", b"x" * BIG_DATA_BYTES)
    request = hs.multi_read_get_data(7, "/big", MULTIREAD_OPS)
    with Case("multiread_2gib", server, tmp_path) as case:
        case.fig["ops"] = MULTIREAD_OPS
        case.fig["request_bytes"] = len(request)
        case.abuser = "127.3.0.1"
        abuser = hs.RawSession(server.host, server.port, src=case.abuser, timeout=10).handshake(30000)
        t0 = time.monotonic()
        abuser.send(request)
        # Read only the reply's length and header: a real reply could be huge.
        abuser.sock.settimeout(MULTIREAD_REPLY_WAIT_S)
        head = b""
        outcome = None
        try:
            while len(head) < 20:
                chunk = abuser.sock.recv(20 - len(head))
                if not chunk:
                    outcome = "eof" + (f" after {len(head)} bytes" if head else "")
                    break
                head += chunk
        except ConnectionResetError:
            outcome = "reset"
        except socket.timeout:
            outcome = f"nothing within {MULTIREAD_REPLY_WAIT_S}s"
        if len(head) == 20:
            length, xid, zxid, err = struct.unpack(">iiqi", head)
            outcome = f"reply len={length} xid={xid} zxid={zxid} err={err}"
            case.fig["reply_err"] = err
            case.fig["reply_len"] = length
            if err == 0:
                case.fig["then"] = abuser.outcome(5)
        case.fig["abuser_saw"] = outcome
        case.fig["abuser_s"] = round(time.monotonic() - t0, 2)
        abandon(abuser.sock)
        time.sleep(1)
        case.check_up()
        # The abusive client must get an error reply or a closed connection, not a success.
        ok = outcome is not None and (outcome.startswith(("eof", "reset")) or case.fig.get("reply_err", 0) != 0)
        case.check(ok, "abuser_refused", f"the abusive multiRead got: {outcome}")
        case.check_rss_growth()
        case.settle_and_check_rss()
        case.finish()


# -- 4. 2,000 half-open handshakes ------------------------------------------------------------

@pytest.mark.timeout(150, method="signal")
def test_hostile_half_open_handshakes(server, tmp_path):
    partial = hs.connect_request(30000)[:20]      # the length and part of a ConnectRequest
    with Case("half_open_handshakes", server, tmp_path) as case:
        pool = hs.Pool(server.host, server.port)
        try:
            sources = hs.spread(HALF_OPEN, HALF_OPEN_PER_ADDR, 4)
            t0 = time.monotonic()
            half, silent = [], []
            # In batches, each accepted by the server before the next: a connection that
            # overflows the listen backlog looks established to a client that sends nothing,
            # yet the server never had it (and so can never close it).
            for k in range(0, HALF_OPEN, HALF_OPEN_PER_ADDR):
                batch = sources[k:k + HALF_OPEN_PER_ADDR]
                half += pool.open(batch[0::2], handshake=False, prefix=partial, deadline=10)
                silent += pool.open(batch[1::2], handshake=False, prefix=b"", deadline=10)
                want = (case.fd_before or 0) + len(half) + len(silent)
                end = time.monotonic() + 3
                while (hs.fd_count(server.pid) or 0) < want and time.monotonic() < end:
                    time.sleep(0.01)
            opened_at = time.monotonic()
            case.fig["opened"] = len(half) + len(silent)
            case.fig["open_failed"] = pool.failed
            case.fig["open_s"] = round(opened_at - t0, 2)
            case.check(len(half) + len(silent) == HALF_OPEN, "opened",
                       f"only {len(half) + len(silent)} of {HALF_OPEN} connections opened: {pool.fail_reasons}")
            time.sleep(2)
            case.fig["fd_during"] = hs.fd_count(server.pid)
            case.check_new_session("new_session_during_ms")
            # The server must close every one of them after its sessionless timeout.
            closed_at = {"partial": None, "silent": None}
            end = opened_at + HALF_OPEN_CLOSE_S_MAX + 5
            while time.monotonic() < end and None in closed_at.values():
                for label, group in (("partial", half), ("silent", silent)):
                    if closed_at[label] is None and pool.count_closed_by_peer(group) == len(group):
                        closed_at[label] = time.monotonic() - opened_at
                time.sleep(0.25)
            for label, at in closed_at.items():
                case.fig[f"{label}_closed_s"] = None if at is None else round(at, 1)
                left = len(half if label == "partial" else silent) - pool.count_closed_by_peer(half if label == "partial" else silent)
                case.check(at is not None and at <= HALF_OPEN_CLOSE_S_MAX, f"{label}_closed",
                           f"{left} {label} half-open connections still open after "
                           f"{HALF_OPEN_CLOSE_S_MAX}s (sessionless timeout {SESSIONLESS_TIMEOUT_S}s)")
            case.check_rss_growth()
        finally:
            pool.close_all()
        case.settle_and_check_fds()
        case.settle_and_check_rss()
        case.finish()


# -- 5. 10,000 sessions ----------------------------------------------------------------------------

@pytest.mark.timeout(180, method="signal")
def test_hostile_many_sessions(server, tmp_path):
    with Case("many_sessions", server, tmp_path) as case:
        pool = hs.Pool(server.host, server.port)
        try:
            t0 = time.monotonic()
            got = pool.open(hs.spread(MANY_SESSIONS, PER_ADDR, 5), timeout_ms=40000, deadline=90)
            case.fig["canary_worst_open_ms"] = case.canary.stats()["worst_ms"]
            case.fig["sessions"] = len(got)
            case.fig["open_s"] = round(time.monotonic() - t0, 1)
            case.check(len(got) == MANY_SESSIONS, "sessions_opened",
                       f"{len(got)} of {MANY_SESSIONS} sessions established: {pool.fail_reasons}")
            pool.pump(lambda: False, deadline=3)
            case.fig["fd_during"] = hs.fd_count(server.pid)
            case.fig["rss_per_session_kb"] = round(
                ((hs.rss_mb(server.pid) or 0) - (case.rss_before or 0)) * 1024 / max(1, len(got)), 1)
            case.check_new_session("new_session_during_ms")
            case.check_rss_growth()
            # Close every session properly, then the sockets.
            t1 = time.monotonic()
            case.fig["canary_worst_hold_ms"] = case.canary.stats(since=t0 + case.fig["open_s"])["worst_ms"]
            for c in got:
                pool.send(c, hs.close_session(1))
            done = pool.pump(lambda: all(c.replies or c.state == "closed" for c in got), deadline=60)
            case.fig["close_s"] = round(time.monotonic() - t1, 1)
            case.fig["canary_worst_close_ms"] = case.canary.stats(since=t1)["worst_ms"]
            case.check(done, "sessions_closed", "not every closeSession was answered within 60s")
        finally:
            pool.close_all()
        case.settle_and_check_fds()
        case.settle_and_check_rss()
        case.finish()


# -- 6. 20,000 connect/close cycles ------------------------------------------------------------

def _cycles(srv, count: int, sources: list[str], errors: list, deadline: float) -> None:
    for i in range(count):
        if time.monotonic() > deadline:
            errors.append("deadline")
            return
        try:
            s = hs.RawSession(srv.host, srv.port, src=sources[i % len(sources)], timeout=10)
            try:
                s.handshake(4000)
                if i % 2 == 0:
                    s.send(hs.close_session(1))
                    s.read_reply(1)
            finally:
                s.close()
        except (OSError, ConnectionError, ValueError) as e:
            errors.append(type(e).__name__)
            if len(errors) > 100:
                return


def _run_cycles(srv, total: int, block: int, deadline_s: float) -> tuple[float, list]:
    per = total // CYCLE_THREADS
    errors: list = []
    addrs = hs.source_addresses(block, CYCLE_THREADS * 20)
    end = time.monotonic() + deadline_s
    threads = [threading.Thread(target=_cycles, args=(srv, per, addrs[k * 20:(k + 1) * 20], errors, end),
                                daemon=True) for k in range(CYCLE_THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=deadline_s + 15)
    return time.monotonic() - t0, errors


@pytest.mark.timeout(180, method="signal")
def test_hostile_connect_close_cycles(server, tmp_path):
    with Case("connect_close_cycles", server, tmp_path) as case:
        # Warm up (one-time allocations, JIT), then take the baseline.
        _run_cycles(server, 800, 6, 30)
        time.sleep(1)
        rss0, fd0 = hs.rss_mb(server.pid), hs.fd_count(server.pid)
        case.sampler.reset_peak()
        secs, errors = _run_cycles(server, CYCLES, 7, 100)
        case.fig["cycles"] = CYCLES
        case.fig["cycles_s"] = round(secs, 1)
        case.fig["cycle_errors"] = len(errors)
        case.check(not errors, "cycles_ok", f"{len(errors)} cycles failed: {sorted(set(errors))[:5]}")
        # Half the cycles just close (their sessions expire after 4 s): let them.
        time.sleep(EPH_SESSION_TIMEOUT_MS / 1000 + 4)
        fd1 = hs.settle_fds(server.pid, fd0 + CYCLES_FD_SLACK, RSS_SETTLE_S)
        rss1 = hs.rss_mb(server.pid)
        case.fig["fd_before"], case.fig["fd_after"] = fd0, fd1
        case.fig["rss_before_mb"], case.fig["rss_after_mb"] = round(rss0, 1), round(rss1 or 0, 1)
        case.fig["rss_peak_mb"] = round(case.rss_peak(), 1)
        case.check(fd1 is not None and fd1 <= fd0 + CYCLES_FD_SLACK, "fds_return",
                   f"{fd1} fds after {CYCLES} cycles, {fd0} before")
        leak = (rss1 or 0) - rss0
        if server.name == "swiftkeeper":
            case.check(leak <= CYCLES_RSS_LEAK_MB_MAX, "rss_leak",
                       f"RSS grew {leak:.0f} MB over {CYCLES} cycles (bound {CYCLES_RSS_LEAK_MB_MAX} MB)")
        bound = RSS_GROWTH_MAX_MB[case.name] + (ZK_HEAP_SLACK_MB if server.name == "zookeeper" else 0)
        case.check(case.rss_peak() - rss0 <= bound, "rss_growth",
                   f"RSS peaked {case.rss_peak() - rss0:.0f} MB above the baseline")
        case.finish()


# -- 7. 5,000 sessions x 20 ephemerals, dropped at once ------------------------------------------

def _in_background(fn):
    """Run fn() in a thread; returns (thread, result dict with 'value')."""
    out: dict = {}
    t = threading.Thread(target=lambda: out.__setitem__("value", fn()), daemon=True)
    t.start()
    return t, out


@pytest.mark.timeout(240, method="signal")
def test_hostile_ephemerals_dropped(server, tmp_path):
    hs.ensure_node(server.host, server.port, "/eph", b"")
    with Case("ephemerals_dropped", server, tmp_path) as case:
        pool = hs.Pool(server.host, server.port)
        mark = time.monotonic()
        try:
            t0 = time.monotonic()
            index: dict = {}

            def creates(c):
                i = index.setdefault(id(c), len(index))
                pool.send(c, b"".join(hs.create(j + 1, f"/eph/s{i:04d}-{j:02d}", b"e", flags=hs.EPHEMERAL)
                                      for j in range(EPH_PER_SESSION)))

            # Sessions have the minimum timeout (4 s): ping every second all along.
            got = pool.open(hs.spread(EPH_SESSIONS, PER_ADDR, 8), timeout_ms=EPH_SESSION_TIMEOUT_MS,
                            deadline=EPH_CREATE_DEADLINE_S, on_established=creates, ping_every=1.0)
            want = len(got) * EPH_PER_SESSION
            left = max(1.0, EPH_CREATE_DEADLINE_S - (time.monotonic() - t0))
            done = pool.pump(lambda: sum(c.replies for c in got) >= want, deadline=left, ping_every=1.0)
            errs: dict = {}
            for c in got:
                for e, n in c.errors.items():
                    errs[e] = errs.get(e, 0) + n
            case.fig["sessions"] = len(got)
            case.fig["created"] = sum(c.replies for c in got) - sum(errs.values())
            case.fig["create_errors"] = errs
            case.fig["create_s"] = round(time.monotonic() - t0, 1)
            case.fig["canary_worst_create_ms"] = case.canary.stats()["worst_ms"]
            if pool.fail_reasons:
                case.fig["connections_lost"] = dict(pool.fail_reasons)
            # Count the ephemerals while the sessions are kept alive.
            th, res = _in_background(
                lambda: hs.mntr_value(server.host, server.port, "zk_ephemerals_count", timeout=10))
            pool.pump(lambda: not th.is_alive(), deadline=12, ping_every=1.0)
            count = res.get("value")
            case.fig["ephemerals_before_drop"] = count
            case.check(len(got) == EPH_SESSIONS and done and not errs
                       and count == EPH_SESSIONS * EPH_PER_SESSION, "ephemerals_created",
                       f"{len(got)} sessions, {case.fig['created']} creates answered OK, errors {errs}, "
                       f"{count} ephemerals before the drop, connections lost {pool.fail_reasons}")
            case.check_rss_growth()
            mark = time.monotonic()
            pool.close_all(linger_reset=True)   # abruptly: RST, no closeSession
        finally:
            pool.close_all()
        drop_at = time.monotonic()
        gone_at = None
        last = None
        while time.monotonic() - drop_at < EPH_CLEANUP_DEADLINE_S:
            if not case.up():
                break
            last = hs.mntr_value(server.host, server.port, "zk_ephemerals_count", timeout=3)
            if last == 0:
                gone_at = time.monotonic() - drop_at
                break
            time.sleep(0.25)
        case.fig["ephemerals_left"] = last
        case.fig["cleanup_s"] = None if gone_at is None else round(gone_at, 1)
        case.check(gone_at is not None and gone_at <= EPH_CLEANUP_S_MAX, "cleanup_time",
                   f"ephemerals left {last} after {time.monotonic() - drop_at:.0f}s "
                   f"(bound {EPH_CLEANUP_S_MAX}s after the drop; session timeout {EPH_SESSION_TIMEOUT_MS} ms)")
        case.check_canary(since=mark, label="canary_worst_cleanup_ms")
        case.settle_and_check_fds()
        case.settle_and_check_rss()
        case.finish()


# -- 8. 1,000,000 watches from one session, then closed ---------------------------------------------

def _exists_watch_frames(start: int, count: int) -> bytes:
    parts = []
    for i in range(start, start + count):
        path = b"/w/%07d" % i
        body = struct.pack(">ii", i + 1, hs.OP_EXISTS) + struct.pack(">i", len(path)) + path + b"\x01"
        parts.append(struct.pack(">i", len(body)) + body)
    return b"".join(parts)


@pytest.mark.timeout(240, method="signal")
def test_hostile_million_watches(server, tmp_path):
    with Case("million_watches", server, tmp_path) as case:
        s = hs.RawSession(server.host, server.port, src="127.9.0.1", timeout=30).handshake(40000)
        replies = {"n": 0, "bad": 0, "nonode": 0}
        stop = threading.Event()
        cond = threading.Condition()
        sent = {"n": 0, "error": None}

        def sender():
            chunk = 5000
            try:
                for start in range(0, WATCHES, chunk):
                    with cond:
                        while sent["n"] - replies["n"] > WATCHES_IN_FLIGHT and not stop.is_set():
                            cond.wait(0.5)
                    if stop.is_set():
                        return
                    s.sock.sendall(_exists_watch_frames(start, chunk))
                    sent["n"] += chunk
            except OSError as e:
                sent["error"] = repr(e)

        t0 = time.monotonic()
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        splitter = hs.FrameSplitter()
        s.sock.settimeout(30)
        try:
            while replies["n"] < WATCHES and time.monotonic() - t0 < 150:
                data = s.sock.recv(1 << 20)
                if not data:
                    break
                for p in splitter.feed(data):
                    err = struct.unpack_from(">i", p, 12)[0]
                    if err == -101:
                        replies["nonode"] += 1
                    else:
                        replies["bad"] += 1
                with cond:
                    replies["n"] = replies["nonode"] + replies["bad"]
                    cond.notify_all()
        except (socket.timeout, OSError) as e:
            sent["error"] = sent["error"] or repr(e)
        stop.set()
        th.join(timeout=10)
        case.fig["canary_worst_set_ms"] = case.canary.stats()["worst_ms"]
        case.fig["watches_set"] = replies["nonode"]
        case.fig["set_s"] = round(time.monotonic() - t0, 1)
        case.check(replies["nonode"] == WATCHES, "watches_set",
                   f"{replies['nonode']} of {WATCHES} exists(watch) answered NONODE "
                   f"({replies['bad']} other, error {sent['error']})")
        time.sleep(1.5)
        rss_with = hs.rss_mb(server.pid) or 0
        case.fig["rss_with_watches_mb"] = round(rss_with, 1)
        case.fig["watch_count"] = hs.mntr_value(server.host, server.port, "zk_watch_count", timeout=10)
        per_watch = (rss_with - (case.rss_before or 0)) * 1024 * 1024 / max(1, replies["nonode"])
        case.fig["bytes_per_watch"] = round(per_watch)
        case.check(per_watch <= WATCH_BYTES_MAX, "bytes_per_watch",
                   f"{per_watch:.0f} bytes of RSS per watch (bound {WATCH_BYTES_MAX})")
        case.check_rss_growth()
        # Close the session; its watches must go quickly and without stalling anyone.
        mark = time.monotonic()
        close_s = None
        try:
            s.sock.settimeout(30)
            s.send(hs.close_session(WATCHES + 10))
            r = s.read_reply(WATCHES + 10)
            if r is not None:
                close_s = time.monotonic() - mark
        except (OSError, ValueError):
            pass
        s.close()
        time.sleep(1)
        case.fig["close_s"] = None if close_s is None else round(close_s, 3)
        case.check(close_s is not None and close_s <= WATCH_CLOSE_S_MAX, "close_time",
                   f"closeSession with {WATCHES} watches answered after {close_s} s (bound {WATCH_CLOSE_S_MAX} s)")
        case.fig["watch_count_after"] = hs.mntr_value(server.host, server.port, "zk_watch_count", timeout=10)
        case.check_canary(since=mark, label="canary_worst_close_ms")
        case.settle_and_check_rss()
        case.finish()


# -- 9. 40,000 ACL entries ------------------------------------------------------------------------

def _acl_list(distinct: bool) -> list:
    acl = [(31, "world", "anyone")]
    for i in range(1, ACL_ENTRIES):
        k = i if distinct else 1
        acl.append((1, "ip", f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"))
    return acl


@pytest.mark.timeout(150, method="signal")
def test_hostile_acl_40000(server, tmp_path):
    with Case("acl_40000", server, tmp_path) as case:
        s = hs.RawSession(server.host, server.port, src="127.10.0.1", timeout=60).handshake(40000)
        try:
            for label, distinct in (("distinct", True), ("duplicates", False)):
                acl = _acl_list(distinct)
                req = hs.create(1 if distinct else 3, f"/acl-{label}", b"a", acl=acl)
                case.fig[f"{label}_request_bytes"] = len(req)
                assert len(req) - 4 <= 0xFFFFF, "the request must fit jute.maxbuffer"
                mark = time.monotonic()
                try:
                    r = s.call(req, 1 if distinct else 3)
                except (OSError, ValueError) as e:
                    r = None
                    case.fig[f"{label}_error"] = repr(e)
                secs = time.monotonic() - mark
                case.fig[f"{label}_reply_s"] = round(secs, 2)
                err = hs.reply_header(r)[2] if r else None
                case.fig[f"{label}_err"] = err if r else "closed"
                if err == 0:
                    g = s.call(hs.get_acl(2 if distinct else 4, f"/acl-{label}"), 2 if distinct else 4)
                    if g and hs.reply_header(g)[2] == 0:
                        case.fig[f"{label}_stored_entries"] = struct.unpack_from(">i", g, 16)[0]
                case.check(r is not None and secs <= ACL_REPLY_S_MAX, f"{label}_reply",
                           f"create with {ACL_ENTRIES} {label} ACL entries: {case.fig[f'{label}_err']} "
                           f"after {secs:.1f}s (bound {ACL_REPLY_S_MAX}s)")
                case.check_canary(since=mark, label=f"canary_worst_{label}_ms")
        finally:
            s.close()
        case.check_rss_growth()
        case.settle_and_check_rss()
        case.finish()


# -- 10. 20,000 writes in flight -----------------------------------------------------------------

@pytest.mark.timeout(120, method="signal")
def test_hostile_writes_in_flight(server, tmp_path):
    hs.ensure_node(server.host, server.port, "/inflight", b"0")
    payload = b"".join(hs.set_data(i + 1, "/inflight", b"w%05d" % i) for i in range(WRITES_IN_FLIGHT))
    with Case("writes_in_flight", server, tmp_path) as case:
        s = hs.RawSession(server.host, server.port, src="127.11.0.1", timeout=30).handshake(40000)
        result: dict = {}
        t0 = time.monotonic()
        sender = start_sender(s.sock, payload, result, 60)
        splitter = hs.FrameSplitter()
        got, bad_order, errs, last = 0, 0, {}, 0
        try:
            while got < WRITES_IN_FLIGHT and time.monotonic() - t0 < 60:
                data = s.sock.recv(1 << 20)
                if not data:
                    break
                for p in splitter.feed(data):
                    xid, _zxid, err = hs.reply_header(p)
                    if xid < 0:
                        continue
                    got += 1
                    if xid != last + 1:
                        bad_order += 1
                    last = xid
                    if err:
                        errs[err] = errs.get(err, 0) + 1
        except (socket.timeout, OSError) as e:
            result["recv_error"] = repr(e)
        secs = time.monotonic() - t0
        sender.join(timeout=5)
        s.close()
        result.pop("sent_kb", None)
        case.fig.update(result)
        case.fig.update({"writes": WRITES_IN_FLIGHT, "replies": got, "out_of_order": bad_order,
                         "errors": errs, "all_replies_s": round(secs, 2),
                         "writes_per_s": round(got / secs) if secs else None})
        case.check(got == WRITES_IN_FLIGHT and not bad_order and not errs, "replies",
                   f"{got} replies, {bad_order} out of order, errors {errs}")
        case.check(secs <= WRITES_IN_FLIGHT_S_MAX, "throughput",
                   f"{WRITES_IN_FLIGHT} pipelined writes took {secs:.1f}s (bound {WRITES_IN_FLIGHT_S_MAX}s)")
        case.check_rss_growth()
        case.settle_and_check_rss()
        case.finish()
