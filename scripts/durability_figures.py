#!/usr/bin/env python3
"""Durability figures: SwiftKeeper next to Apache ZooKeeper 3.8.0, same machine, same run.

    .venv-interop/bin/python scripts/durability_figures.py [--quick]

Prints, for both servers side by side and as the ratio swiftkeeper/zookeeper:

1. Write throughput with the fsync'd log (forceSync on, the default):
   - pipelined: 16 connections, each keeping several requests in flight, half
     100-byte setData and half 100-byte creates, for a fixed time after a
     warm-up; completed ops/s and p50/p99 latency (send -> reply).
   - one synchronous writer (one setData at a time): ops/s and latency, which
     is about one group commit (write + fdatasync) per request.
2. Start-up with 1,000,000 znodes (1000 parents x 1000 children, ~50-byte
   values): one data directory is built by driving swiftkeeper with pipelined
   creates and stopping it with SIGTERM; it is copied twice, swiftkeeper
   starts on copy A and ZooKeeper on copy B. Start-up time is the wall time
   from spawning the process until a new session's getChildren of a known
   parent returns all its children (ZooKeeper answers `ruok` while it is
   still loading, so `ruok` is not used). Each server starts twice on its
   copy; both servers write a snapshot at start-up, so the second start loads
   that snapshot instead of replaying logs. VmRSS/VmHWM come from
   /proc/<pid>/status once the data is visible.

--quick scales everything down (100,000 znodes, 3 s runs) for a smoke test.

Figures come from whatever machine this runs on; the client is Python and
shares the cores with the server, so absolute numbers mean little and the
ratio is the figure to look at. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import multiprocessing
import os
import re
import selectors
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "Interop"))

import servers  # noqa: E402
from differential import rawclient as raw  # noqa: E402

KINDS = ("swiftkeeper", "zookeeper")
WORLD_ALL = [(31, "world", "anyone")]
SESSION_TIMEOUT_MS = 30000
# ZooKeeper runs with -Xmx512m from servers.py; a later -Xmx wins in HotSpot.
ZK_JVM_ARGS = ("-Xmx4g",)
# Both servers get the same settings; forceSync stays at its default (yes).
BENCH_CFG: dict[str, object] = {}


# -- small helpers ------------------------------------------------------------------

def out(line: str = "") -> None:
    print(line, flush=True)


def percentile(sorted_values, p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def ratio(a, b) -> str:
    try:
        if a is None or b is None or b == 0 or a != a or b != b:
            return "n/a"
        return f"{a / b:.2f}"
    except TypeError:
        return "n/a"


def fmt(v, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def row(label: str, sk, zk, digits: int = 0, higher_is: str = "") -> None:
    note = f"  ({higher_is} is better)" if higher_is else ""
    out(f"  {label:<34}{fmt(sk, digits):>14}{fmt(zk, digits):>14}{ratio(sk, zk):>10}{note}")


def header_row(title: str) -> None:
    out(f"  {title:<34}{'swiftkeeper':>14}{'zookeeper':>14}{'sk/zk':>10}")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in KiB from /proc/<pid>/status."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def dir_size(path: Path) -> tuple[int, int, collections.Counter]:
    """(apparent bytes, allocated bytes, count of files by kind)."""
    apparent = allocated = 0
    kinds: collections.Counter = collections.Counter()
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(root, name))
            apparent += st.st_size
            allocated += st.st_blocks * 512
            kinds[name.split(".", 1)[0]] += 1
    return apparent, allocated, kinds


def newest(path: Path, prefix: str) -> Path | None:
    files = sorted((p for p in (path / "version-2").glob(prefix + ".*")),
                   key=lambda p: int(p.name.split(".", 1)[1], 16))
    return files[-1] if files else None


def mount_of(path: Path) -> str:
    best = ("?", "?", "?")
    target = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[1]):
                best = (dev, mnt, fstype)
    except OSError:
        pass
    return f"{best[0]} on {best[1]} ({best[2]})"


def start(kind: str, tmp: Path, data_dir: Path | None = None, timeout: float = 120.0):
    if kind == "swiftkeeper":
        return servers.start_swiftkeeper(tmp, BENCH_CFG, timeout=timeout, data_dir=data_dir)
    return servers.start_zookeeper(tmp, BENCH_CFG, timeout=timeout, data_dir=data_dir,
                                   jvm_args=ZK_JVM_ARGS)


def stop(srv, grace: float = 120.0) -> tuple[float, object]:
    """SIGTERM and wait; (seconds taken, exit status). SIGKILL only after `grace`."""
    t0 = time.monotonic()
    srv.stop(grace=grace)
    took = time.monotonic() - t0
    code = srv.proc.returncode if srv.proc else None
    return took, code


def log_tail(srv, lines: int = 30) -> str:
    return servers._tail(srv.log_path, lines)


# -- a pipelined raw client ------------------------------------------------------------

def frame(xid: int, op: int, body: bytes) -> bytes:
    return struct.pack(">iii", len(body) + 8, xid, op) + body


class PipeConn:
    """One session on one connection with up to `window` requests in flight."""

    def __init__(self, host: str, port: int, requests, window: int):
        self.rc = raw.RawConnection(host, port, timeout=30.0)
        hs = self.rc.handshake(SESSION_TIMEOUT_MS)
        if "sessionId" not in hs or not hs.get("timeOut"):
            raise RuntimeError(f"handshake failed: {hs}")
        if self.rc.buf:
            raise RuntimeError("unexpected bytes after the handshake")
        self.sock = self.rc.sock
        self.requests = requests
        self.window = window
        self.inflight: collections.deque = collections.deque()
        self.xid = 0
        self.buf = bytearray()
        self.exhausted = False
        self.dead = False

    def top_up(self, now: float, sending: bool) -> None:
        if not sending or self.exhausted or self.dead:
            return
        parts = []
        while len(self.inflight) < self.window:
            try:
                op, body = next(self.requests)
            except StopIteration:
                self.exhausted = True
                break
            self.xid += 1
            parts.append(frame(self.xid, op, body))
            self.inflight.append((self.xid, now))
        if parts:
            try:
                self.sock.sendall(b"".join(parts))
            except OSError:
                self.dead = True

    def read_replies(self):
        """Yields (err, sent_at, ok_xid) for every reply that arrived; None on EOF."""
        try:
            data = self.sock.recv(1 << 18)
        except OSError:
            data = b""
        if not data:
            self.dead = True
            return None
        buf = self.buf
        buf += data
        replies = []
        off, end = 0, len(buf)
        while end - off >= 4:
            (n,) = struct.unpack_from(">i", buf, off)
            if end - off - 4 < n:
                break
            xid, _zxid, err = struct.unpack_from(">iqi", buf, off + 4)
            off += 4 + n
            if xid < 0:          # notification or ping
                continue
            want, sent = self.inflight.popleft()
            replies.append((err, sent, xid == want))
        del buf[:off]
        return replies

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.setblocking(True)
            self.sock.settimeout(2.0)
            self.sock.sendall(frame(self.xid + 1, raw.OP_CLOSESESSION, b""))
        self.rc.close()


def run_pipelined(host: str, port: int, plans, window: int, measure_from: float,
                  stop_at: float, drain_s: float = 30.0) -> dict:
    """Drive every plan (one request iterator per connection) until stop_at or until
    all are exhausted. Replies arriving in [measure_from, stop_at] are counted."""
    conns = [PipeConn(host, port, plan, window) for plan in plans]
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    latencies: list[float] = []
    errors: collections.Counter = collections.Counter()
    completed = 0
    total_replies = 0
    now = time.monotonic()
    for c in conns:
        c.top_up(now, True)
    drain_deadline = None
    while True:
        now = time.monotonic()
        sending = now < stop_at
        if not sending and drain_deadline is None:
            drain_deadline = now + drain_s
        live = [c for c in conns if not c.dead and (c.inflight or (sending and not c.exhausted))]
        if not live:
            break
        if drain_deadline is not None and now > drain_deadline:
            errors["still in flight at the end"] += sum(len(c.inflight) for c in conns)
            break
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            replies = c.read_replies()
            t = time.monotonic()
            if replies is None:
                errors["connection closed by server"] += 1
                sel.unregister(c.sock)
                continue
            for err, sent, xid_ok in replies:
                total_replies += 1
                if not xid_ok:
                    errors["reply out of order"] += 1
                if err != 0:
                    errors[raw.errname(err)] += 1
                elif measure_from <= t <= stop_at:
                    completed += 1
                    latencies.append(t - sent)
            c.top_up(t, t < stop_at)
    for c in conns:
        c.close()
    sel.close()
    return {"completed": completed, "latencies": latencies, "errors": dict(errors),
            "replies": total_replies}


def _worker(args, queue) -> None:
    try:
        cpu0 = time.process_time()
        result = run_pipelined(*args)
        result["client_cpu"] = time.process_time() - cpu0
    except Exception as e:  # reported by the parent
        result = {"exception": f"{type(e).__name__}: {e}"}
    queue.put(result)


def run_in_processes(host: str, port: int, plan_sets, window: int, measure_from: float,
                     stop_at: float, server_pid: int | None = None) -> dict:
    """run_pipelined in one process per plan set (Python's GIL would make a single
    client process the bottleneck). With server_pid, also the server's CPU seconds
    used inside [measure_from, stop_at]."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = []
    for plans in plan_sets:
        proc = ctx.Process(target=_worker,
                           args=((host, port, plans, window, measure_from, stop_at), queue))
        proc.start()
        procs.append(proc)
    cpu_start = cpu_end = None
    if server_pid is not None:
        while time.monotonic() < measure_from:
            time.sleep(min(0.05, max(0.0, measure_from - time.monotonic())))
        cpu_start = proc_cpu_seconds(server_pid)
        while time.monotonic() < stop_at:
            time.sleep(min(0.05, max(0.0, stop_at - time.monotonic())))
        cpu_end = proc_cpu_seconds(server_pid)
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    merged = {"completed": 0, "latencies": [], "errors": collections.Counter(), "replies": 0,
              "client_cpu": 0.0}
    for r in results:
        if "exception" in r:
            merged["errors"]["client exception: " + r["exception"]] += 1
            continue
        merged["completed"] += r["completed"]
        merged["latencies"].extend(r["latencies"])
        merged["errors"].update(r["errors"])
        merged["replies"] += r["replies"]
        merged["client_cpu"] += r["client_cpu"]
    merged["server_cpu_window"] = (cpu_end - cpu_start) if cpu_start is not None and cpu_end is not None else None
    return merged


# -- request streams ---------------------------------------------------------------

def enc_create(path: str, data: bytes) -> bytes:
    return raw.enc_create(path, data, WORLD_ALL, 0)


def mixed_writes(writer: int, value: bytes, set_targets: int):
    """Alternating 100-byte setData on a few existing nodes and 100-byte creates."""
    base = f"/bench/w{writer:02d}"
    k = 0
    while True:
        yield raw.OP_SETDATA, raw.enc_setdata(f"{base}/s{k % set_targets}", value, -1)
        yield raw.OP_CREATE, enc_create(f"{base}/c{k:09d}", value)
        k += 1


def build_creates(parents: range, children: int, value_of):
    for p in parents:
        for c in range(children):
            path = f"/p{p:04d}/c{c:04d}"
            yield raw.OP_CREATE, enc_create(path, value_of(path))


def sync_call(rc: raw.RawConnection, xid: int, op: int, body: bytes) -> int:
    """One blocking request; returns its error code."""
    rc.send(xid, op, body)
    while True:
        f = rc.read_frame(timeout=30.0)
        if f is None:
            raise raw.Closed("connection closed by server")
        rxid, _zxid, err = struct.unpack_from(">iqi", f, 0)
        if rxid == xid:
            return err


# -- 1. write throughput -------------------------------------------------------------

def prepare_bench_tree(srv, writers: int, set_targets: int, value: bytes) -> None:
    rc = raw.RawConnection(srv.host, srv.port, timeout=30.0)
    rc.handshake(SESSION_TIMEOUT_MS)
    xid = 0
    paths = ["/bench", "/bench/sync"]
    for w in range(writers):
        paths.append(f"/bench/w{w:02d}")
        paths.extend(f"/bench/w{w:02d}/s{k}" for k in range(set_targets))
    for path in paths:
        xid += 1
        err = sync_call(rc, xid, raw.OP_CREATE, enc_create(path, value))
        if err != 0:
            raise RuntimeError(f"create {path}: {raw.errname(err)}")
    rc.close()


def bench_pipelined(kind: str, tmp: Path, p) -> dict:
    srv = start(kind, tmp / f"pipelined-{kind}")
    try:
        value = b"v" * 100
        prepare_bench_tree(srv, p.writers, p.set_targets, value)
        per_proc = [list(range(i, p.writers, p.client_procs)) for i in range(p.client_procs)]
        t0 = time.monotonic() + 0.5     # let every client process connect first
        measure_from, stop_at = t0 + p.warmup, t0 + p.warmup + p.duration
        # Plans are generators: built here, inherited by the forked processes.
        plan_sets = [[mixed_writes(w, value, p.set_targets) for w in ws] for ws in per_proc]
        res = run_in_processes(srv.host, srv.port, plan_sets, p.window, measure_from, stop_at,
                               server_pid=srv.pid)
        cpu1 = res.pop("server_cpu_window")
        lat = sorted(res["latencies"])
        alive = srv.is_running()
        result = {
            "ops": res["completed"] / p.duration,
            "p50": percentile(lat, 50) * 1000, "p99": percentile(lat, 99) * 1000,
            "errors": dict(res["errors"]),
            "server_cpu": cpu1,
            "client_cpu": res["client_cpu"],
            "alive": alive,
        }
        if not alive:
            result["log"] = log_tail(srv)
        return result
    finally:
        result_stop = stop(srv)
        if result_stop[1] not in (0, -15, 143):
            out(f"  note: {kind} exited with status {result_stop[1]} after SIGTERM")


def bench_sync(kind: str, tmp: Path, p) -> dict:
    srv = start(kind, tmp / f"sync-{kind}")
    try:
        value = b"s" * 100
        prepare_bench_tree(srv, 0, 0, value)
        rc = raw.RawConnection(srv.host, srv.port, timeout=30.0)
        rc.handshake(SESSION_TIMEOUT_MS)
        body = raw.enc_setdata("/bench/sync", value, -1)
        xid = 0
        lat: list[float] = []
        errors: collections.Counter = collections.Counter()
        t_start = time.monotonic()
        measure_from = t_start + p.sync_warmup
        stop_at = measure_from + p.duration
        cpu_start = None
        while True:
            t = time.monotonic()
            if t >= stop_at:
                break
            if cpu_start is None and t >= measure_from:
                cpu_start = proc_cpu_seconds(srv.pid)
            xid += 1
            try:
                err = sync_call(rc, xid, raw.OP_SETDATA, body)
            except (raw.Closed, TimeoutError, OSError) as e:
                errors[f"{type(e).__name__}: {e}"] += 1
                break
            done = time.monotonic()
            if err:
                errors[raw.errname(err)] += 1
            elif t >= measure_from:
                lat.append(done - t)
        cpu_end = proc_cpu_seconds(srv.pid)
        rc.close()
        lat.sort()
        alive = srv.is_running()
        result = {
            "ops": len(lat) / p.duration,
            "p50": percentile(lat, 50) * 1000, "p99": percentile(lat, 99) * 1000,
            "errors": dict(errors),
            "server_cpu": (cpu_end - cpu_start) if cpu_start is not None and cpu_end is not None else None,
            "alive": alive,
        }
        if not alive:
            result["log"] = log_tail(srv)
        return result
    finally:
        stop(srv)


# -- 2. start-up with many znodes ------------------------------------------------------

def value_for(path: str) -> bytes:
    # ~50 bytes that differ from node to node
    return (path + ":" + "x" * 50).encode()[:50]


def build_data_dir(tmp: Path, p) -> tuple[Path, dict]:
    """Fill a fresh swiftkeeper with p.parents x p.children znodes; stop it with SIGTERM."""
    srv = start("swiftkeeper", tmp / "build")
    info: dict = {}
    try:
        # the parents, pipelined on one connection
        t0 = time.monotonic()
        parents = iter([(raw.OP_CREATE, enc_create(f"/p{i:04d}", b"parent")) for i in range(p.parents)])
        res = run_pipelined(srv.host, srv.port, [parents], 200, 0.0, float("inf"))
        if res["errors"]:
            raise RuntimeError(f"creating the parents failed: {res['errors']}\n{log_tail(srv)}")
        # the children: parents split over processes and connections
        conns = p.build_procs * p.build_conns
        shares = [range(i, p.parents, conns) for i in range(conns)]
        plan_sets = [[build_creates(shares[c], p.children, value_for)
                      for c in range(i, conns, p.build_procs)] for i in range(p.build_procs)]
        res = run_in_processes(srv.host, srv.port, plan_sets, p.build_window, 0.0, float("inf"))
        took = time.monotonic() - t0
        info["build_s"] = took
        info["creates"] = p.parents + res["replies"]
        if res["errors"]:
            raise RuntimeError(f"creating the children failed: {dict(res['errors'])}\n{log_tail(srv)}")
        if not probe(srv.host, srv.port, p.probe_parent, p.children):
            raise RuntimeError(f"built tree does not show {p.children} children under {p.probe_parent}")
        info["server_rss_kb"] = proc_status(srv.pid).get("VmRSS")
    except BaseException:
        srv.kill()
        raise
    took, code = stop(srv, grace=300.0)
    info["stop_s"], info["stop_status"] = took, code
    if code not in (0, -15, 143):
        info["stop_log"] = log_tail(srv)
    return srv.data_dir, info


def probe(host: str, port: int, parent: str, expect: int) -> bool:
    """A new session sees `expect` children under `parent`."""
    try:
        rc = raw.RawConnection(host, port, timeout=5.0)
    except OSError:
        return False
    try:
        hs = rc.handshake(10000)
        if "sessionId" not in hs or not hs.get("timeOut"):
            return False
        frames = rc.call(1, raw.OP_GETCHILDREN, raw.enc_path_watch(parent, False), timeout=60.0)
        last = frames[-1]
        ok = last.get("kind") == "reply" and last.get("err") == 0 \
            and len(last.get("children") or []) == expect
        with contextlib.suppress(Exception):
            rc.call(2, raw.OP_CLOSESESSION, b"", timeout=5.0)
        return ok
    except (OSError, raw.Closed, raw.DecodeError, TimeoutError):
        return False
    finally:
        rc.close()


class _TimedStart(servers.ServerProcess):
    """A ServerProcess whose readiness check is `probe`, timed from the spawn."""

    probe_parent = "/p0000"
    probe_expect = 1000

    def start(self, timeout=servers.START_TIMEOUT):
        self.spawned_at = time.monotonic()
        return super().start(timeout)

    def wait_ready(self, timeout=servers.START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise servers.ServerStartError(
                    f"{self.name} exited with status {code} while loading\n{self._log_tails()}")
            if probe(self.host, self.port, self.probe_parent, self.probe_expect):
                self.ready_at = time.monotonic()
                return
            time.sleep(0.02)
        raise servers.ServerStartError(
            f"{self.name} did not serve the data within {timeout:.0f}s\n{self._log_tails()}")


@contextlib.contextmanager
def timed_starts(parent: str, expect: int):
    # servers.start_* build their ServerProcess by this module-level name.
    original = servers.ServerProcess
    _TimedStart.probe_parent, _TimedStart.probe_expect = parent, expect
    servers.ServerProcess = _TimedStart
    try:
        yield
    finally:
        servers.ServerProcess = original


def load_notes(kind: str, srv) -> str:
    """What the server itself logged about loading, newest start only."""
    text = srv.log_text()
    if kind == "swiftkeeper":
        hits = re.findall(r"swiftkeeper: (.*) \[\w+\] data directory loaded", text)
        return hits[-1] if hits else "(no 'data directory loaded' line)"
    loaded = re.findall(r"Snapshot loaded in (\d+) ms, highest zxid is (0x[0-9a-f]+)", text)
    replayed = re.findall(r"(\d+) txns loaded in (\d+) ms", text)
    taken = re.findall(r"Snapshot taken in (\d+) ms", text)
    parts = []
    if loaded:
        parts.append(f"snapshot loaded in {loaded[-1][0]} ms (zxid {loaded[-1][1]})")
    if replayed:
        parts.append(f"{replayed[-1][0]} txns replayed in {replayed[-1][1]} ms")
    if taken:
        parts.append(f"start-up snapshot taken in {taken[-1]} ms")
    return "; ".join(parts) or "(no load lines found)"


def timed_start(kind: str, tmp: Path, data_dir: Path, p) -> dict:
    before = newest(data_dir, "snapshot")
    with timed_starts(p.probe_parent, p.children):
        srv = start(kind, tmp, data_dir=data_dir, timeout=p.start_timeout)
    result = {
        "start_s": srv.ready_at - srv.spawned_at,
        "status": proc_status(srv.pid),
        "loaded_from": f"{before.name if before else 'no snapshot'} "
                       f"({before.stat().st_size / 1e6:.1f} MB)" if before else "no snapshot",
    }
    result["notes"] = load_notes(kind, srv)
    took, code = stop(srv, grace=300.0)
    result["stop_s"], result["stop_status"] = took, code
    if code not in (0, -15, 143):
        result["stop_log"] = log_tail(srv)
    return result


# -- main --------------------------------------------------------------------------

class Params:
    def __init__(self, quick: bool):
        self.quick = quick
        self.writers = 16
        self.client_procs = 2
        self.window = 8
        self.set_targets = 8
        self.duration = 3.0 if quick else 10.0
        self.warmup = 1.0 if quick else 2.0
        self.sync_warmup = 1.0 if quick else 2.0
        self.parents = 100 if quick else 1000
        self.children = 1000
        self.build_procs = 2
        self.build_conns = 4
        self.build_window = 250
        self.probe_parent = f"/p{self.parents - 1:04d}"
        self.start_timeout = 600.0
        self.start_runs = 2


def print_header(p: Params, tmp: Path) -> None:
    out("SwiftKeeper durability figures" + (" (--quick)" if p.quick else ""))
    out(f"date:        {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    out(f"cores:       {os.cpu_count()} (os.cpu_count), {len(os.sched_getaffinity(0))} usable")
    out("note:        figures are from a shared, noisy 2-core machine; client (Python) and")
    out("             server share the cores; compare the ratios, not the absolute numbers")
    bin_path = Path(servers.swiftkeeper_bin())
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    mtime = datetime.datetime.fromtimestamp(bin_path.stat().st_mtime).isoformat(timespec="seconds") \
        if bin_path.exists() else "missing"
    out(f"swiftkeeper: {bin_path} (built {mtime}; repo at {rev}{' + local changes' if dirty else ''})")
    java = servers._find_java()
    jv = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()
    out(f"zookeeper:   Apache ZooKeeper 3.8.0 (Debian), {jv[0] if jv else java}, "
        f"{' '.join(ZK_JVM_ARGS)} -XX:+UseSerialGC")
    out(f"data dirs:   {tmp} on {mount_of(tmp)}; forceSync=yes (default) for both")


def cpu_rows(results: dict, p: Params) -> None:
    sk, zk = results["swiftkeeper"], results["zookeeper"]
    row("server CPU s in the window", sk["server_cpu"], zk["server_cpu"], 2)

    def per_op(r):
        if r["server_cpu"] is None or not r["ops"]:
            return None
        return r["server_cpu"] / (r["ops"] * p.duration) * 1e6
    row("server CPU us per op", per_op(sk), per_op(zk), 1, "lower")


def report_errors(label: str, results: dict) -> None:
    for kind in KINDS:
        r = results[kind]
        if r.get("errors"):
            out(f"  ! {kind} {label} errors: {r['errors']}")
        if not r.get("alive", True):
            out(f"  ! {kind} died during {label}; log tail:\n{r.get('log', '')}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="scaled-down smoke test")
    args = ap.parse_args()
    p = Params(args.quick)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="durability-figures-", dir="/tmp"))
    try:
        print_header(p, tmp)

        # 1. write throughput ---------------------------------------------------
        out()
        out(f"1. Write throughput, forceSync on: {p.writers} connections x {p.window} in flight "
            f"({p.client_procs} client processes),")
        out(f"   alternating 100-byte setData and 100-byte create, {p.duration:g} s measured "
            f"after {p.warmup:g} s warm-up")
        pipelined = {kind: bench_pipelined(kind, tmp, p) for kind in KINDS}
        header_row("")
        row("ops/s", pipelined["swiftkeeper"]["ops"], pipelined["zookeeper"]["ops"], 0, "higher")
        row("p50 latency (ms)", pipelined["swiftkeeper"]["p50"], pipelined["zookeeper"]["p50"], 2, "lower")
        row("p99 latency (ms)", pipelined["swiftkeeper"]["p99"], pipelined["zookeeper"]["p99"], 2, "lower")
        cpu_rows(pipelined, p)
        row("client CPU s (whole run, all procs)", pipelined["swiftkeeper"]["client_cpu"],
            pipelined["zookeeper"]["client_cpu"], 2)
        report_errors("pipelined writes", pipelined)

        out()
        out(f"   One synchronous writer: setData of 100 bytes, one request at a time, "
            f"{p.duration:g} s after {p.sync_warmup:g} s warm-up")
        sync = {kind: bench_sync(kind, tmp, p) for kind in KINDS}
        header_row("")
        row("ops/s", sync["swiftkeeper"]["ops"], sync["zookeeper"]["ops"], 0, "higher")
        row("p50 latency (ms)", sync["swiftkeeper"]["p50"], sync["zookeeper"]["p50"], 3, "lower")
        row("p99 latency (ms)", sync["swiftkeeper"]["p99"], sync["zookeeper"]["p99"], 3, "lower")
        cpu_rows(sync, p)
        report_errors("synchronous writes", sync)

        # 2. start-up -----------------------------------------------------------
        total = p.parents * p.children
        out()
        out(f"2. Start-up with {total:,} znodes ({p.parents} parents x {p.children} children, "
            f"50-byte values)")
        data_dir, info = build_data_dir(tmp, p)
        out(f"   built by swiftkeeper with pipelined creates: {info['creates']:,} creates in "
            f"{info['build_s']:.1f} s ({info['creates'] / info['build_s']:,.0f}/s), "
            f"swiftkeeper VmRSS then {info['server_rss_kb'] / 1024:,.0f} MB; "
            f"SIGTERM stop took {info['stop_s']:.2f} s (status {info['stop_status']})")
        if "stop_log" in info:
            out(f"   ! swiftkeeper did not stop cleanly; log tail:\n{info['stop_log']}")
        apparent, allocated, kinds = dir_size(data_dir)
        snap = newest(data_dir, "snapshot")
        out(f"   data directory: {apparent / 1e6:,.1f} MB apparent, {allocated / 1e6:,.1f} MB on disk; "
            f"{kinds.get('snapshot', 0)} snapshots, {kinds.get('log', 0)} logs; newest snapshot "
            f"{snap.name if snap else '-'} {snap.stat().st_size / 1e6 if snap else 0:.1f} MB")
        copies = {}
        for kind, label in (("swiftkeeper", "A"), ("zookeeper", "B")):
            copies[kind] = tmp / f"copy-{label}"
            shutil.copytree(data_dir, copies[kind])
        shutil.rmtree(data_dir.parent, ignore_errors=True)
        out(f"   copied twice: copy A -> swiftkeeper, copy B -> zookeeper; start-up = spawn until a new "
            f"session's getChildren({p.probe_parent}) returns {p.children} children")
        runs = {kind: [] for kind in KINDS}
        for n in range(p.start_runs):
            for kind in KINDS:
                runs[kind].append(timed_start(kind, tmp / f"start-{kind}-{n + 1}", copies[kind], p))
        header_row("")
        for n in range(p.start_runs):
            sk, zk = runs["swiftkeeper"][n], runs["zookeeper"][n]
            row(f"start-up run {n + 1} (s)", sk["start_s"], zk["start_s"], 2, "lower")
        for n in range(p.start_runs):
            sk, zk = runs["swiftkeeper"][n], runs["zookeeper"][n]
            row(f"VmRSS after load, run {n + 1} (MB)", sk["status"].get("VmRSS", 0) / 1024,
                zk["status"].get("VmRSS", 0) / 1024, 0, "lower")
            row(f"VmHWM (peak RSS), run {n + 1} (MB)", sk["status"].get("VmHWM", 0) / 1024,
                zk["status"].get("VmHWM", 0) / 1024, 0, "lower")
        for n in range(p.start_runs):
            sk, zk = runs["swiftkeeper"][n], runs["zookeeper"][n]
            row(f"SIGTERM stop, run {n + 1} (s)", sk["stop_s"], zk["stop_s"], 2)
        for n in range(p.start_runs):
            for kind in KINDS:
                r = runs[kind][n]
                out(f"   run {n + 1} {kind}: newest snapshot {r['loaded_from']}; exit status after "
                    f"SIGTERM {r['stop_status']}; log: {r['notes']}")
                if "stop_log" in r:
                    out(f"   ! {kind} exited with status {r['stop_status']}; log tail:\n{r['stop_log']}")
        for kind in KINDS:
            apparent, allocated, _ = dir_size(copies[kind])
            out(f"   {kind}'s copy after its starts: {apparent / 1e6:,.1f} MB apparent, "
                f"{allocated / 1e6:,.1f} MB on disk")
        out()
        out(f"total time: {time.monotonic() - started:.0f} s")
        return 0
    finally:
        servers._stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
