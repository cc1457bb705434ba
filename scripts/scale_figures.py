#!/usr/bin/env python3
"""Scale figures: SwiftKeeper next to Apache ZooKeeper 3.8.0, same machine, same run.

    .venv-interop/bin/python scripts/scale_figures.py [--quick] [--only 1,3] [--json-out FILE]

Each item runs on one server at a time (swiftkeeper, then ZooKeeper, each on a fresh
data directory unless said otherwise) and prints a markdown table with both figures and
the ratio swiftkeeper/zookeeper:

1. Memory with 1,000,000 znodes of 100-byte values, created through the client protocol
   (pipelined, 2 client processes x 4 connections), in two shapes: (a) 1000 parents x
   1000 children, (b) all under one parent. VmRSS of the empty server, right after the
   load and 12 s later (swiftkeeper hands freed memory back every 10 s; ZooKeeper's
   background snapshots are done by then), bytes per znode (settled RSS minus the empty
   server's, divided by the count); for ZooKeeper also the live heap after a full GC
   (`jcmd <pid> GC.run`, then `jcmd <pid> GC.heap_info`: used of the young plus the
   tenured generation; the smallest of 4 rounds, since SerialGC's full GC leaves up to 5%
   of the old generation as uncompacted dead space on 3 of every 4 full GCs). Then every
   znode is deleted (pipelined) and RSS (and ZooKeeper's heap after a full GC) is read
   again 15 s later.
2. Start-up with 1,000,000 znodes in a snapshot plus 100,000 logged setData txns after
   it. The tree is built by durability_figures.build_data_dir (swiftkeeper, pipelined
   creates, 1000 x 1000, 50-byte values); swiftkeeper is then started on it with a
   snapCount too large to snapshot again, so the snapshot it writes at start-up covers
   exactly the tree, and 100,000 setData (50 bytes) go to the log after it. Files a purge
   would remove (older snapshots, logs wholly before the snapshot) are deleted. Each
   server starts twice, each time on a fresh copy of that directory (both servers write
   a snapshot at start-up, which would change the next start); start-up is the wall time
   from spawn until a new session's getChildren of the last parent returns all its
   children (durability_figures' probe), and the last setData's value is checked then.
3. 10,000 sessions (timeout 30 s) on 10,000 connections from one client process, each
   pinging every third of its negotiated timeout: time to connect all (at most 200
   handshakes outstanding), then 30 s of pinging: server VmRSS, server CPU% (utime+stime
   from /proc/<pid>/stat over the window, 100% = one core), ping round trips, sessions
   lost; at the end every session must answer an exists("/").
4. Watches fired by one write, on the sessions of item 3 (they keep pinging): (a) every
   session sets a getData watch on one node, one setData from another session fires them
   all; (b) every session sets getData watches on 10 nodes (10 x 10,000 = 100,000
   watches, which `wchs` counts as such), one multi of 10 setData fires them all. Times
   are from sending the write to its reply and to the first and last notification, as
   this Python client reads them.
   ZooKeeper keeps one data watch per (path, connection) and fires each connection at
   most once per path, so N watches on ONE node need N connections; 100,000 connections
   do not fit in this machine's file descriptor limit, hence the 10-node multi.
5. 1,000,000 watches held by one session: exists(path, watch=true) on 1,000,000 distinct
   paths that do not exist (pipelined, 500 in flight): time to set them, VmRSS delta,
   `wchs`, ZooKeeper's live heap; then the session is closed and RSS is read 15 s later
   and 12 s after `wchs` shows 0 watches.

Both servers get maxClientCnxns=0 and clientPortListenBacklog=1024 (swiftkeeper's
default; ZooKeeper's default -1 leaves it to Java, 50), forceSync stays on (default), ZooKeeper runs
with -Xmx4g -XX:+UseSerialGC. RLIMIT_NOFILE is raised to its hard limit for this process
and the servers it starts.

--quick scales every count by 1/20 (50,000 znodes, 500 sessions, ...) and pings for
12 s instead of 30 s; use it for smoke tests. --only takes item numbers (1,2,3,4,5).

Figures come from whatever machine this runs on; the client is Python and shares the
cores with the server, so absolute numbers mean little and the ratio is the figure to
look at. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import durability_figures as df  # noqa: E402  (also puts Tests/Interop on sys.path)
from durability_figures import KINDS, out, raw, servers  # noqa: E402

REPO = df.REPO
SCALE_CFG = {"maxClientCnxns": 0, "clientPortListenBacklog": 1024}
VALUE_LEN = 100
FINDINGS: list[str] = []     # odd things seen, repeated at the end
RESULTS: dict = {"items": {}}


def finding(text: str) -> None:
    FINDINGS.append(text)
    out(f"  ! {text}")


# -- servers ------------------------------------------------------------------------

_BIN_SEEN: dict = {}


def _binary_stamp():
    path = Path(servers.swiftkeeper_bin())
    deadline = time.monotonic() + 600
    while True:
        try:
            st = path.stat()
            if os.access(path, os.X_OK) and st.st_size > 0:
                return (st.st_mtime, st.st_size)
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise servers.ServerStartError(f"{path} missing for 10 minutes")
        time.sleep(2.0)


def start(kind: str, tmp: Path, extra: dict | None = None, data_dir: Path | None = None,
          timeout: float = 120.0):
    cfg = {**SCALE_CFG, **(extra or {})}
    if kind == "swiftkeeper":
        stamp = _binary_stamp()      # waits while the binary is being rebuilt
        first = _BIN_SEEN.setdefault("stamp", stamp)
        if stamp != first and not _BIN_SEEN.get("warned"):
            _BIN_SEEN["warned"] = True
            finding("the swiftkeeper binary changed during this run (rebuilt?); later "
                    "swiftkeeper figures come from the new build")
        return servers.start_swiftkeeper(tmp, cfg, timeout=timeout, data_dir=data_dir)
    return servers.start_zookeeper(tmp, cfg, timeout=timeout, data_dir=data_dir,
                                   jvm_args=df.ZK_JVM_ARGS)


def stop(kind: str, srv) -> None:
    took, code = df.stop(srv, grace=300.0)
    if code not in (0, -15, 143):
        finding(f"{kind} exited with status {code} after SIGTERM ({took:.1f} s); log tail:\n"
                f"{df.log_tail(srv)}")


def rss_mb(pid: int) -> float | None:
    kb = df.proc_status(pid).get("VmRSS")
    return kb / 1024 if kb is not None else None


def hwm_mb(pid: int) -> float | None:
    kb = df.proc_status(pid).get("VmHWM")
    return kb / 1024 if kb is not None else None


def rss_parts_mb(pid: int) -> dict:
    """RssAnon / RssFile (MB) from /proc/<pid>/status."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                found[key] = int(value.split()[0]) / 1024
    return found


def java_tool(name: str) -> str | None:
    cand = Path(servers._find_java()).resolve().parent / name
    return str(cand) if os.access(cand, os.X_OK) else shutil.which(name)


GC_ROUNDS = 4


def zk_heap_after_gc(pid: int) -> dict:
    """ZooKeeper's live heap (MB): used young + tenured generation after a full GC
    (`jcmd <pid> GC.run`, then `GC.heap_info`). SerialGC's full GC leaves up to
    MarkSweepDeadRatio (5%) of the old generation as uncompacted dead space, except on
    every MarkSweepAlwaysCompactCount-th (4th) one, so this runs 4 full GCs in one jcmd
    call and takes the smallest figure."""
    jcmd = java_tool("jcmd")
    if not jcmd:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".jcmd", delete=False) as f:
        f.write("GC.run\nGC.heap_info\n" * GC_ROUNDS)
    t0 = time.monotonic()
    try:
        info = subprocess.run([jcmd, str(pid), "-f", f.name], capture_output=True, text=True,
                              timeout=600).stdout
    finally:
        os.unlink(f.name)
    gc_s = time.monotonic() - t0
    young = re.findall(r"def new generation\s+total (\d+)K, used (\d+)K", info)
    old = re.findall(r"tenured generation\s+total (\d+)K, used (\d+)K", info)
    if not young or len(young) != len(old):
        return {"raw": info.strip()}
    rounds = [((int(yt) + int(ot)) / 1024, (int(yu) + int(ou)) / 1024)
              for (yt, yu), (ot, ou) in zip(young, old)]
    committed, used = min(rounds, key=lambda r: r[1])
    return {"used_mb": used, "committed_mb": committed, "max_used_mb": max(r[1] for r in rounds),
            "gc_s": gc_s}


def four(srv, cmd: str) -> str:
    try:
        return srv.four_letter(cmd, timeout=30.0)
    except OSError as e:
        return f"({cmd} failed: {e})"


def srvr_field(srv, name: str) -> str | None:
    m = re.search(rf"^{re.escape(name)}: (.*)$", four(srv, "srvr"), re.M)
    return m.group(1).strip() if m else None


def wchs(srv) -> tuple[int | None, str]:
    text = four(srv, "wchs").strip()
    m = re.search(r"Total watches:\s*(\d+)", text)
    return (int(m.group(1)) if m else None), " / ".join(text.splitlines())


def mntr_value(srv, key: str) -> int | None:
    m = re.search(rf"^{re.escape(key)}\s+(\S+)$", four(srv, "mntr"), re.M)
    try:
        return int(float(m.group(1))) if m else None
    except ValueError:
        return None


def value_of(path: str, length: int = VALUE_LEN) -> bytes:
    return (path + ":").encode().ljust(length, b"v")[:length]


# -- request streams ---------------------------------------------------------------

def tree_children(parents, children: int, op: str):
    for p in parents:
        for c in range(children):
            path = f"/p{p:04d}/c{c:04d}"
            if op == "create":
                yield raw.OP_CREATE, df.enc_create(path, value_of(path))
            else:
                yield raw.OP_DELETE, raw.enc_path_version(path, -1)


def flat_children(indices, op: str):
    for i in indices:
        path = f"/flat/n{i:07d}"
        if op == "create":
            yield raw.OP_CREATE, df.enc_create(path, value_of(path))
        else:
            yield raw.OP_DELETE, raw.enc_path_version(path, -1)


def pipelined(srv, stream, window: int = 250) -> tuple[float, dict]:
    """One connection; (seconds, errors)."""
    t0 = time.monotonic()
    res = df.run_pipelined(srv.host, srv.port, [stream], window, 0.0, float("inf"))
    return time.monotonic() - t0, res["errors"]


def fanned(srv, p, make_stream) -> tuple[float, dict]:
    """make_stream(i, n) for i in range(n), spread over p.procs x p.conns connections."""
    n = p.procs * p.conns
    plan_sets = [[make_stream(c, n) for c in range(i, n, p.procs)] for i in range(p.procs)]
    t0 = time.monotonic()
    res = df.run_in_processes(srv.host, srv.port, plan_sets, p.window, 0.0, float("inf"))
    return time.monotonic() - t0, dict(res["errors"])


# -- 1. memory with many znodes ------------------------------------------------------

def measure_memory(kind: str, tmp: Path, p, shape: str) -> dict:
    srv = start(kind, tmp / f"mem-{shape}-{kind}")
    r: dict = {}
    try:
        time.sleep(2.0)
        r["rss_empty"] = rss_mb(srv.pid)
        if kind == "zookeeper":
            r["heap_empty"] = zk_heap_after_gc(srv.pid).get("used_mb")
        count = p.znodes
        if shape == "tree":
            t, errs = pipelined(srv, iter([(raw.OP_CREATE, df.enc_create(f"/p{i:04d}", b"parent"))
                                           for i in range(p.tree_parents)]))
            load_s, errs2 = fanned(srv, p, lambda i, n: tree_children(
                range(i, p.tree_parents, n), p.tree_children, "create"))
            load_s += t
        else:
            t, errs = pipelined(srv, iter([(raw.OP_CREATE, df.enc_create("/flat", b"parent"))]))
            load_s, errs2 = fanned(srv, p, lambda i, n: flat_children(range(i, count, n), "create"))
            load_s += t
        errs = {**errs, **errs2}
        if errs:
            finding(f"{kind} {shape}: errors while creating: {errs}")
        r["load_s"] = load_s
        r["load_rate"] = count / load_s
        r["node_count"] = int(srvr_field(srv, "Node count") or 0)
        r["rss_loaded"] = rss_mb(srv.pid)
        time.sleep(12.0)
        r["rss_settled"] = rss_mb(srv.pid)
        r["hwm"] = hwm_mb(srv.pid)
        r["bytes_per_znode"] = (r["rss_settled"] - r["rss_empty"]) * 1048576 / count
        if kind == "zookeeper":
            h = zk_heap_after_gc(srv.pid)
            r["heap_loaded"] = h.get("used_mb")
            r["heap_committed"] = h.get("committed_mb")
            if r["heap_loaded"] is not None and r["heap_empty"] is not None:
                r["heap_bytes_per_znode"] = (r["heap_loaded"] - r["heap_empty"]) * 1048576 / count
            r["rss_after_gc"] = rss_mb(srv.pid)
        # delete everything again
        if shape == "tree":
            del_s, errs = fanned(srv, p, lambda i, n: tree_children(
                range(i, p.tree_parents, n), p.tree_children, "delete"))
            t, errs2 = pipelined(srv, iter([(raw.OP_DELETE, raw.enc_path_version(f"/p{i:04d}", -1))
                                            for i in range(p.tree_parents)]))
        else:
            del_s, errs = fanned(srv, p, lambda i, n: flat_children(range(i, count, n), "delete"))
            t, errs2 = pipelined(srv, iter([(raw.OP_DELETE, raw.enc_path_version("/flat", -1))]))
        del_s += t
        errs = {**errs, **errs2}
        if errs:
            finding(f"{kind} {shape}: errors while deleting: {errs}")
        r["delete_s"] = del_s
        r["delete_rate"] = count / del_s
        r["node_count_after_delete"] = int(srvr_field(srv, "Node count") or 0)
        r["rss_right_after_delete"] = rss_mb(srv.pid)
        time.sleep(15.0)
        r["rss_after_delete"] = rss_mb(srv.pid)
        if kind == "zookeeper":
            r["heap_after_delete"] = zk_heap_after_gc(srv.pid).get("used_mb")
            r["rss_after_delete_gc"] = rss_mb(srv.pid)
        if not srv.is_running():
            finding(f"{kind} died during memory/{shape}; log tail:\n{df.log_tail(srv)}")
        return r
    finally:
        stop(kind, srv)


MEMORY_ROWS = [
    ("VmRSS, empty server (MB)", "rss_empty", 0, "lower"),
    ("create time (s)", "load_s", 1, "lower"),
    ("creates/s", "load_rate", 0, "higher"),
    ("node count after load (srvr)", "node_count", 0, ""),
    ("VmRSS right after load (MB)", "rss_loaded", 0, "lower"),
    ("VmRSS 12 s after load (MB)", "rss_settled", 0, "lower"),
    ("VmHWM, peak RSS (MB)", "hwm", 0, "lower"),
    ("RSS bytes per znode", "bytes_per_znode", 0, "lower"),
    ("ZK live heap, empty, after full GC (MB)", "heap_empty", 1, ""),
    ("ZK live heap, loaded, after full GC (MB)", "heap_loaded", 0, ""),
    ("ZK heap committed after that GC (MB)", "heap_committed", 0, ""),
    ("ZK live-heap bytes per znode", "heap_bytes_per_znode", 0, ""),
    ("ZK VmRSS after that GC (MB)", "rss_after_gc", 0, ""),
    ("delete time (s)", "delete_s", 1, "lower"),
    ("deletes/s", "delete_rate", 0, "higher"),
    ("node count after delete (srvr)", "node_count_after_delete", 0, ""),
    ("VmRSS right after delete (MB)", "rss_right_after_delete", 0, "lower"),
    ("VmRSS 15 s after delete (MB)", "rss_after_delete", 0, "lower"),
    ("ZK live heap after delete + full GC (MB)", "heap_after_delete", 1, ""),
    ("ZK VmRSS after that GC (MB)", "rss_after_delete_gc", 0, ""),
]


def item_memory(tmp: Path, p) -> None:
    for shape, title in (("tree", f"1a. Memory: {p.znodes:,} znodes, {p.tree_parents} parents x "
                                  f"{p.tree_children} children, {VALUE_LEN}-byte values"),
                         ("flat", f"1b. Memory: {p.znodes:,} znodes under one parent, "
                                  f"{VALUE_LEN}-byte values")):
        out()
        out(f"### {title}")
        res = run_both(lambda kind: measure_memory(kind, tmp, p, shape))
        table(f"1{'a' if shape == 'tree' else 'b'}", title, res, MEMORY_ROWS)


# -- 2. start-up from a snapshot plus logged txns -------------------------------------

def zxid_of(path: Path) -> int:
    return int(path.name.split(".", 1)[1], 16)


def prune(data_dir: Path) -> list[str]:
    """Delete what a purge keeping only the newest snapshot would: older snapshots and
    logs whose txns all precede it. Returns the names deleted."""
    v2 = data_dir / "version-2"
    snaps = sorted(v2.glob("snapshot.*"), key=zxid_of)
    logs = sorted(v2.glob("log.*"), key=zxid_of)
    if not snaps:
        return []
    z = zxid_of(snaps[-1])
    keep = {lg for lg in logs if zxid_of(lg) > z}
    if not any(zxid_of(lg) == z + 1 for lg in logs):
        older = [lg for lg in logs if zxid_of(lg) <= z]
        if older:
            keep.add(older[-1])
    gone = [f for f in snaps[:-1] + logs if f not in keep]
    for f in gone:
        f.unlink()
    return [f.name for f in gone]


def build_startup_dir(tmp: Path, p) -> tuple[Path, dict]:
    data_dir, info = df.build_data_dir(tmp, p)        # 1000 x 1000 creates, SIGTERM
    if "stop_log" in info:
        finding(f"swiftkeeper did not stop cleanly after the build; log tail:\n{info['stop_log']}")
    # A snapCount this large never snapshots; the start-up snapshot covers the tree.
    srv = start("swiftkeeper", tmp / "build-txns", {"snapCount": 1_000_000_000},
                data_dir=data_dir, timeout=600.0)
    try:
        z1 = int(srvr_field(srv, "Zxid") or "0", 16)
        n = p.logged_txns

        def sets(i, conns):
            for k in range(i, n - 1, conns):
                p_, c = (k * 7) % p.parents, (k * 13) % p.children
                path = f"/p{p_:04d}/c{c:04d}"
                yield raw.OP_SETDATA, raw.enc_setdata(path, value_of(f"{path}#{k}", 50), -1)
        t0 = time.monotonic()
        _, errs = fanned(srv, p, sets)
        if errs:
            finding(f"swiftkeeper: errors during the {n - 1:,} setData: {errs}")
        rc = raw.RawConnection(srv.host, srv.port, timeout=30.0)
        rc.handshake(df.SESSION_TIMEOUT_MS)
        err = df.sync_call(rc, 1, raw.OP_SETDATA, raw.enc_setdata(p.final_path, p.final_value, -1))
        df.sync_call(rc, 2, raw.OP_CLOSESESSION, b"")
        rc.close()
        if err:
            raise RuntimeError(f"final setData failed: {raw.errname(err)}")
        info["setdata_s"] = time.monotonic() - t0
        z2 = int(srvr_field(srv, "Zxid") or "0", 16)
        # the start-up snapshot is written in the background: wait for it
        want = data_dir / "version-2" / f"snapshot.{z1:x}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and (not want.exists() or
                                                list((data_dir / "version-2").glob("tmp.*"))):
            time.sleep(0.5)
    finally:
        stop("swiftkeeper", srv)
    info["snap_zxid"], info["last_zxid"] = z1, z2
    newest = df.newest(data_dir, "snapshot")
    if newest is None or zxid_of(newest) != z1:
        finding(f"expected the newest snapshot to be snapshot.{z1:x}, found "
                f"{newest.name if newest else 'none'}")
    info["pruned"] = prune(data_dir)
    return data_dir, info


def timed_start(kind: str, tmp: Path, data_dir: Path, p) -> dict:
    with df.timed_starts(p.probe_parent, p.children):
        srv = start(kind, tmp, data_dir=data_dir, timeout=p.start_timeout)
    try:
        parts = rss_parts_mb(srv.pid)
        r = {"start_s": srv.ready_at - srv.spawned_at, "rss": rss_mb(srv.pid), "hwm": hwm_mb(srv.pid),
             "rss_anon": parts.get("RssAnon"), "rss_file": parts.get("RssFile")}
        rc = raw.RawConnection(srv.host, srv.port, timeout=30.0)
        rc.handshake(10000)
        frames = rc.call(1, raw.OP_GETDATA, raw.enc_path_watch(p.final_path, False), timeout=30.0)
        with contextlib.suppress(Exception):
            rc.call(2, raw.OP_CLOSESESSION, b"", timeout=5.0)
        rc.close()
        r["final_ok"] = frames[-1].get("kind") == "reply" and frames[-1].get("data") == p.final_value
        if not r["final_ok"]:
            finding(f"{kind} served before the last logged setData was visible: {frames[-1]}")
        r["notes"] = df.load_notes(kind, srv)
        return r
    finally:
        stop(kind, srv)


def item_startup(tmp: Path, p) -> None:
    title = (f"2. Start-up: {p.parents * p.children:,} znodes in a snapshot + "
             f"{p.logged_txns:,} logged setData after it")
    out()
    out(f"### {title}")
    data_dir, info = build_startup_dir(tmp / "startup", p)
    apparent, allocated, kinds = df.dir_size(data_dir)
    snap = df.newest(data_dir, "snapshot")
    out(f"built by swiftkeeper: {info['creates']:,} creates in {info['build_s']:.1f} s, then "
        f"{p.logged_txns:,} setData in {info['setdata_s']:.1f} s; snapshot {snap.name} "
        f"({snap.stat().st_size / 1e6:.1f} MB), {info['last_zxid'] - info['snap_zxid']:,} txns "
        f"logged after it (the setData plus createSession/closeSession); data dir "
        f"{apparent / 1e6:.1f} MB apparent, {allocated / 1e6:.1f} MB on disk; removed as a purge "
        f"would: {', '.join(info['pruned']) or 'nothing'}")
    out(f"each start on a fresh copy; start-up = spawn until getChildren({p.probe_parent}) "
        f"returns {p.children} children; then getData({p.final_path}) must show the last setData")
    runs: dict = {kind: [] for kind in KINDS}
    for n in range(p.start_runs):
        for kind in KINDS:
            copy = tmp / "startup" / f"copy-{kind}-{n + 1}"
            shutil.copytree(data_dir, copy)
            try:
                runs[kind].append(timed_start(kind, tmp / "startup" / f"start-{kind}-{n + 1}", copy, p))
            except Exception as e:
                finding(f"{kind} start-up run {n + 1} failed: {type(e).__name__}: {e}")
                runs[kind].append({})
            finally:
                shutil.rmtree(copy, ignore_errors=True)
    res = {kind: {} for kind in KINDS}
    rows = []
    for n in range(p.start_runs):
        for kind in KINDS:
            for key in ("start_s", "rss", "hwm", "rss_anon", "rss_file"):
                res[kind][f"{key}_{n + 1}"] = runs[kind][n].get(key)
    for n in range(p.start_runs):
        rows.append((f"start-up, run {n + 1} (s)", f"start_s_{n + 1}", 2, "lower"))
    for n in range(p.start_runs):
        rows.append((f"VmRSS when serving, run {n + 1} (MB)", f"rss_{n + 1}", 0, "lower"))
        rows.append((f"  of which RssAnon, run {n + 1} (MB)", f"rss_anon_{n + 1}", 0, "lower"))
        rows.append((f"  of which RssFile, run {n + 1} (MB)", f"rss_file_{n + 1}", 0, ""))
        rows.append((f"VmHWM when serving, run {n + 1} (MB)", f"hwm_{n + 1}", 0, "lower"))
    table("2", title, res, rows)
    for n in range(p.start_runs):
        for kind in KINDS:
            if runs[kind][n]:
                out(f"- run {n + 1} {kind}: {runs[kind][n]['notes']}")
    RESULTS["items"]["2"]["build"] = {k: v for k, v in info.items() if k != "stop_log"}
    shutil.rmtree(data_dir.parent, ignore_errors=True)


# -- 3./4. many sessions ---------------------------------------------------------------

class Sess:
    __slots__ = ("sock", "state", "buf", "sid", "interval", "pings", "replies", "events", "xid",
                 "reply_t")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = bytearray()
        self.sid = 0
        self.interval = 10.0
        self.pings: collections.deque = collections.deque()   # send times
        self.replies: dict = {}                                 # xid -> err
        self.events = 0
        self.xid = 0
        self.reply_t = 0.0                                      # arrival of the last reply


PING = struct.pack(">iii", 8, raw.XID_PING, raw.OP_PING)


class Swarm:
    """Many sessions, one connection each, on non-blocking sockets in one selector loop.
    Every live session pings each third of its negotiated timeout; what they receive is
    counted (replies by xid, notifications with arrival times, ping round trips)."""

    def __init__(self, host: str, port: int, timeout_ms: int):
        self.host, self.port, self.timeout_ms = host, port, timeout_ms
        self.sel = selectors.DefaultSelector()
        self.sessions: list[Sess] = []
        self.ping_queue: collections.deque = collections.deque()
        self.rtts: list[float] = []
        self.pings_sent = 0
        self.failed: collections.Counter = collections.Counter()
        self.lost: collections.Counter = collections.Counter()
        self.event_times: list[float] = []
        self.handshaking = 0
        self.extra: list[Sess] = []      # live sessions that are not among self.sessions

    # connections
    def _open_one(self) -> Sess:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        s = Sess(sock)
        rc = sock.connect_ex((self.host, self.port))
        if rc not in (0, 115):   # EINPROGRESS
            self.failed[f"connect: {os.strerror(rc)}"] += 1
            sock.close()
            s.state = "dead"
            return s
        self.sel.register(sock, selectors.EVENT_WRITE, s)
        self.handshaking += 1
        return s

    def open(self, n: int, concurrency: int = 200, timeout: float = 600.0) -> list[Sess]:
        """Open n sessions, at most `concurrency` handshakes at a time."""
        new: list[Sess] = []
        deadline = time.monotonic() + timeout
        while len(new) < n or self.handshaking:
            while len(new) < n and self.handshaking < concurrency:
                new.append(self._open_one())
            self.poll(0.05)
            if time.monotonic() > deadline:
                self.failed["handshake still pending at the deadline"] += self.handshaking
                break
        self.sessions.extend(s for s in new if s.state == "live")
        return [s for s in new if s.state == "live"]

    def _dead(self, s: Sess, why: str) -> None:
        if s.state == "live":
            self.lost[why] += 1
        elif s.state in ("connecting", "handshake"):
            self.failed[why] += 1
            self.handshaking -= 1
        s.state = "dead"
        with contextlib.suppress(Exception):
            self.sel.unregister(s.sock)
        s.sock.close()

    def send(self, s: Sess, data: bytes) -> None:
        if s.state != "live":
            return
        try:
            sent = s.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            self._dead(s, f"send: {e.strerror}")
            return
        if sent < len(data):                 # rare: small frames; finish blocking
            s.sock.settimeout(30.0)
            try:
                s.sock.sendall(data[sent:])
            except OSError as e:
                self._dead(s, f"send: {e}")
                return
            finally:
                with contextlib.suppress(OSError):
                    s.sock.setblocking(False)

    def request(self, s: Sess, op: int, body: bytes) -> int:
        s.xid += 1
        self.send(s, df.frame(s.xid, op, body))
        return s.xid

    # the loop
    def poll(self, timeout: float) -> None:
        now = time.monotonic()
        q = self.ping_queue
        while q and q[0][0] <= now:
            _, s = q.popleft()
            if s.state != "live":
                continue
            s.pings.append(now)
            self.pings_sent += 1
            self.send(s, PING)
            q.append((now + s.interval, s))
        if q:
            timeout = max(0.0, min(timeout, q[0][0] - now))
        for key, mask in self.sel.select(timeout):
            s = key.data
            if s.state == "connecting":
                err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._dead(s, f"connect: {os.strerror(err)}")
                    continue
                body = raw.Writer().int(0).long(0).int(self.timeout_ms).long(0) \
                    .buffer(b"\x00" * 16).bool(False).bytes()
                s.sock.send(struct.pack(">i", len(body)) + body)
                s.state = "handshake"
                self.sel.modify(s.sock, selectors.EVENT_READ, s)
                continue
            try:
                data = s.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError as e:
                self._dead(s, f"recv: {e.strerror}")
                continue
            if not data:
                self._dead(s, "closed by server")
                continue
            self._frames(s, data, time.monotonic())

    def _frames(self, s: Sess, data: bytes, t: float) -> None:
        buf = s.buf
        buf += data
        off, end = 0, len(buf)
        while end - off >= 4:
            (n,) = struct.unpack_from(">i", buf, off)
            if end - off - 4 < n:
                break
            if s.state == "handshake":
                _pv, timeout_ms, sid = struct.unpack_from(">iiq", buf, off + 4)
                off += 4 + n
                self.handshaking -= 1
                if timeout_ms <= 0:
                    s.state = "refused"
                    self.failed["session refused (timeOut 0)"] += 1
                    self._dead(s, "refused")
                    return
                s.state, s.sid = "live", sid
                s.interval = timeout_ms / 3000.0
                self.ping_queue.append((t + s.interval, s))
                continue
            xid, _zxid, err = struct.unpack_from(">iqi", buf, off + 4)
            off += 4 + n
            if xid == raw.XID_PING:
                if s.pings:
                    self.rtts.append(t - s.pings.popleft())
            elif xid == raw.XID_NOTIFICATION:
                s.events += 1
                self.event_times.append(t)
            else:
                s.replies[xid] = err
                s.reply_t = t
        del buf[:off]

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll(min(0.2, max(0.0, end - time.monotonic())))

    def run_until(self, done, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not done():
            if time.monotonic() > end:
                return False
            self.poll(0.05)
        return True

    def live(self) -> list[Sess]:
        return [s for s in self.sessions if s.state == "live"]

    def ask_all(self, make_requests, timeout: float = 300.0) -> collections.Counter:
        """Send each live session its requests (make_requests(s) -> [(op, body)]) and wait
        for every reply; returns a count of the error names."""
        waits = []
        for s in self.live():
            xids = [self.request(s, op, body) for op, body in make_requests(s)]
            waits.append((s, xids))
            self.poll(0.0)
        self.run_until(lambda: all(s.state != "live" or xids[-1] in s.replies
                                   for s, xids in waits), timeout)
        errs: collections.Counter = collections.Counter()
        for s, xids in waits:
            for x in xids:
                if s.state != "live" and x not in s.replies:
                    errs["session lost"] += 1
                elif x not in s.replies:
                    errs["no reply"] += 1
                else:
                    errs[raw.errname(s.replies.pop(x))] += 1
        return errs

    def close_all(self) -> None:
        close = df.frame(0x7fff0000, raw.OP_CLOSESESSION, b"")
        everyone = self.sessions + self.extra
        for s in everyone:
            if s.state == "live":
                self.send(s, close)
                if s.state == "live":
                    s.state = "closing"       # its EOF is not a lost session
        self.run_until(lambda: all(s.state == "dead" for s in everyone), 10.0)
        for s in everyone:
            if s.state != "dead":
                with contextlib.suppress(Exception):
                    self.sel.unregister(s.sock)
                s.sock.close()
                s.state = "dead"
        self.sel.close()


def measure_sessions(kind: str, tmp: Path, p, items: set) -> dict:
    srv = start(kind, tmp / f"sessions-{kind}")
    r: dict = {}
    swarm = None
    try:
        time.sleep(2.0)
        r["rss_empty"] = rss_mb(srv.pid)
        swarm = Swarm(srv.host, srv.port, df.SESSION_TIMEOUT_MS)
        trigger = swarm.open(1)[0]              # the writer of item 4, not a watcher
        swarm.sessions.remove(trigger)
        swarm.extra.append(trigger)
        t0 = time.monotonic()
        got = swarm.open(p.sessions, concurrency=200)
        r["connect_s"] = time.monotonic() - t0
        r["connected"] = len(got)
        r["connect_rate"] = len(got) / r["connect_s"]
        r["connect_failures"] = dict(swarm.failed)
        if swarm.failed:
            finding(f"{kind}: {sum(swarm.failed.values())} of {p.sessions:,} sessions failed to "
                    f"connect: {dict(swarm.failed)}")
        r["rss_connected"] = rss_mb(srv.pid)
        r["srvr_connections"] = int(srvr_field(srv, "Connections") or 0)
        if 3 in items:
            swarm.rtts.clear()
            pings0 = swarm.pings_sent
            cpu0, w0 = df.proc_cpu_seconds(srv.pid), time.monotonic()
            swarm.run_for(p.ping_s)
            cpu1, w1 = df.proc_cpu_seconds(srv.pid), time.monotonic()
            r["cpu_pct"] = (cpu1 - cpu0) / (w1 - w0) * 100 if cpu0 is not None and cpu1 is not None else None
            r["rss_pinging"] = rss_mb(srv.pid)
            r["hwm"] = hwm_mb(srv.pid)
            r["bytes_per_session"] = (r["rss_pinging"] - r["rss_empty"]) * 1048576 / max(1, len(got))
            r["pings"] = swarm.pings_sent - pings0
            rtts = sorted(swarm.rtts)
            r["ping_replies"] = len(rtts)
            r["ping_p50_ms"] = df.percentile(rtts, 50) * 1000
            r["ping_p99_ms"] = df.percentile(rtts, 99) * 1000
            r["ping_max_ms"] = rtts[-1] * 1000 if rtts else None
            errs = swarm.ask_all(lambda s: [(raw.OP_EXISTS, raw.enc_path_watch("/", False))])
            r["alive_after"] = errs.get("OK", 0)
            r["lost"] = sum(swarm.lost.values())
            if swarm.lost or set(errs) - {"OK"}:
                finding(f"{kind}: sessions lost while pinging: {dict(swarm.lost)}; exists(/) "
                        f"answers: {dict(errs)}")
            if kind == "zookeeper":
                r["heap"] = zk_heap_after_gc(srv.pid).get("used_mb")
        if 4 in items:
            measure_watch_fanout(kind, srv, swarm, trigger, p, r)
        r["lost_total"] = sum(swarm.lost.values())
        if not srv.is_running():
            finding(f"{kind} died during the session items; log tail:\n{df.log_tail(srv)}")
        return r
    finally:
        if swarm is not None:
            swarm.close_all()
        stop(kind, srv)


def fire_and_time(swarm: Swarm, trigger: Sess, op: int, body: bytes, expect: int,
                  timeout: float) -> dict:
    swarm.event_times.clear()
    t0 = time.monotonic()
    xid = swarm.request(trigger, op, body)
    reply_at = [None]

    def done():
        if reply_at[0] is None and xid in trigger.replies:
            reply_at[0] = trigger.reply_t
        return reply_at[0] is not None and len(swarm.event_times) >= expect
    swarm.run_until(done, timeout)
    ev = swarm.event_times
    r = {"reply_ms": (reply_at[0] - t0) * 1000 if reply_at[0] else None,
         "err": raw.errname(trigger.replies.pop(xid)) if xid in trigger.replies else "no reply",
         "events": len(ev), "expected": expect,
         "first_ms": (min(ev) - t0) * 1000 if ev else None,
         "last_ms": (max(ev) - t0) * 1000 if ev else None}
    if reply_at[0] and ev:
        r["reply_to_last_ms"] = (max(ev) - reply_at[0]) * 1000
    return r


def measure_watch_fanout(kind: str, srv, swarm: Swarm, trigger: Sess, p, r: dict) -> None:
    # setup: the watched nodes
    nodes = ["/watched"] + [f"/watched{i}" for i in range(p.multi_nodes)]
    for path in nodes:
        swarm.request(trigger, raw.OP_CREATE, df.enc_create(path, b"0"))
    swarm.run_until(lambda: len(trigger.replies) >= len(nodes), 30.0)
    trigger.replies.clear()
    watchers = swarm.live()
    # (a) everyone watches one node
    t0 = time.monotonic()
    errs = swarm.ask_all(lambda s: [(raw.OP_GETDATA, raw.enc_path_watch("/watched", True))])
    r["a_set_s"] = time.monotonic() - t0
    r["a_wchs"], r["a_wchs_text"] = wchs(srv)
    if set(errs) - {"OK"}:
        finding(f"{kind}: getData watch answers: {dict(errs)}")
    fa = fire_and_time(swarm, trigger, raw.OP_SETDATA,
                       raw.enc_setdata("/watched", b"1" * VALUE_LEN, -1), len(watchers), 120.0)
    r.update({f"a_{k}": v for k, v in fa.items()})
    if fa["events"] != len(watchers) or fa["err"] != "OK":
        finding(f"{kind} (4a): setData {fa['err']}, {fa['events']} of {len(watchers)} "
                f"notifications arrived")
    # (b) everyone watches multi_nodes nodes; one multi of setData on all of them
    t0 = time.monotonic()
    errs = swarm.ask_all(lambda s: [(raw.OP_GETDATA, raw.enc_path_watch(n, True)) for n in nodes[1:]])
    r["b_set_s"] = time.monotonic() - t0
    r["b_wchs"], r["b_wchs_text"] = wchs(srv)
    r["b_watch_count"] = mntr_value(srv, "zk_watch_count")
    r["b_rss"] = rss_mb(srv.pid)
    if set(errs) - {"OK"}:
        finding(f"{kind}: getData watch answers (4b): {dict(errs)}")
    live_now = len(swarm.live())
    body = raw.enc_multi([(raw.OP_SETDATA, raw.enc_setdata(n, b"2" * VALUE_LEN, -1)) for n in nodes[1:]])
    fb = fire_and_time(swarm, trigger, raw.OP_MULTI, body, live_now * p.multi_nodes, 300.0)
    r.update({f"b_{k}": v for k, v in fb.items()})
    if fb["events"] != live_now * p.multi_nodes or fb["err"] != "OK":
        finding(f"{kind} (4b): multi {fb['err']}, {fb['events']:,} of "
                f"{live_now * p.multi_nodes:,} notifications arrived")
    r["b_wchs_after"], _ = wchs(srv)


SESSION_ROWS = [
    ("VmRSS, empty server (MB)", "rss_empty", 0, "lower"),
    ("sessions connected", "connected", 0, ""),
    ("time to connect all (s)", "connect_s", 2, "lower"),
    ("sessions/s", "connect_rate", 0, "higher"),
    ("srvr Connections", "srvr_connections", 0, ""),
    ("VmRSS, all connected (MB)", "rss_connected", 0, "lower"),
    ("VmRSS after the ping window (MB)", "rss_pinging", 0, "lower"),
    ("VmHWM (MB)", "hwm", 0, "lower"),
    ("RSS bytes per session", "bytes_per_session", 0, "lower"),
    ("server CPU % over the window (1 core = 100)", "cpu_pct", 1, "lower"),
    ("pings sent in the window", "pings", 0, ""),
    ("ping replies in the window", "ping_replies", 0, ""),
    ("ping round trip p50 (ms)", "ping_p50_ms", 2, "lower"),
    ("ping round trip p99 (ms)", "ping_p99_ms", 2, "lower"),
    ("ping round trip max (ms)", "ping_max_ms", 1, "lower"),
    ("sessions lost in the window", "lost", 0, "lower"),
    ("sessions answering exists(/) after it", "alive_after", 0, ""),
    ("ZK live heap after full GC (MB)", "heap", 0, ""),
]

FANOUT_ROWS_A = [
    ("time to set the watches (s)", "a_set_s", 2, "lower"),
    ("wchs total watches", "a_wchs", 0, ""),
    ("setData: send -> reply (ms)", "a_reply_ms", 1, "lower"),
    ("setData: send -> first notification (ms)", "a_first_ms", 1, "lower"),
    ("setData: send -> last notification (ms)", "a_last_ms", 1, "lower"),
    ("setData: reply -> last notification (ms)", "a_reply_to_last_ms", 1, "signed"),
    ("notifications received", "a_events", 0, ""),
]

FANOUT_ROWS_B = [
    ("time to set the watches (s)", "b_set_s", 2, "lower"),
    ("wchs total watches", "b_wchs", 0, ""),
    ("mntr zk_watch_count", "b_watch_count", 0, ""),
    ("VmRSS with them (MB)", "b_rss", 0, "lower"),
    ("multi: send -> reply (ms)", "b_reply_ms", 1, "lower"),
    ("multi: send -> first notification (ms)", "b_first_ms", 1, "lower"),
    ("multi: send -> last notification (ms)", "b_last_ms", 1, "lower"),
    ("multi: reply -> last notification (ms)", "b_reply_to_last_ms", 1, "signed"),
    ("notifications received", "b_events", 0, ""),
    ("wchs total watches afterwards", "b_wchs_after", 0, ""),
]


def item_sessions(tmp: Path, p, items: set) -> None:
    res = run_both(lambda kind: measure_sessions(kind, tmp, p, items))
    if 3 in items:
        title = (f"3. {p.sessions:,} sessions (timeout {df.SESSION_TIMEOUT_MS // 1000} s, ping every "
                 f"third of it), {p.ping_s:g} s of pinging")
        out()
        out(f"### {title}")
        table("3", title, res, SESSION_ROWS)
    if 4 in items:
        title = f"4a. {p.sessions:,} sessions each watching one node (getData), one setData fires them"
        out()
        out(f"### {title}")
        table("4a", title, res, FANOUT_ROWS_A)
        for kind in KINDS:
            if res[kind].get("a_wchs_text"):
                out(f"- {kind} wchs: {res[kind]['a_wchs_text']}")
        title = (f"4b. {p.sessions:,} sessions x {p.multi_nodes} nodes = {p.sessions * p.multi_nodes:,} "
                 f"getData watches, one multi of {p.multi_nodes} setData fires them")
        out()
        out(f"### {title}")
        table("4b", title, res, FANOUT_ROWS_B)
        for kind in KINDS:
            if res[kind].get("b_wchs_text"):
                out(f"- {kind} wchs: {res[kind]['b_wchs_text']}")
        out("- times are as this one Python client reads the notifications from all its sockets;"
            " ZooKeeper has one data watch per (path, connection), so N watches on one node "
            "take N connections")


# -- 5. a million watches on one session ----------------------------------------------

def keepalive(conn, seconds: float) -> None:
    """Ping the PipeConn's session every 3 s and drop what arrives, for `seconds`."""
    end = time.monotonic() + seconds
    next_ping = 0.0
    conn.sock.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(conn.sock, selectors.EVENT_READ)
        while not conn.dead:
            now = time.monotonic()
            if now >= end:
                return
            if now >= next_ping:
                with contextlib.suppress(BlockingIOError):
                    conn.sock.send(PING)
                next_ping = now + 3.0
            if sel.select(min(0.5, end - now)):
                with contextlib.suppress(BlockingIOError, OSError):
                    if not conn.sock.recv(1 << 16):
                        conn.dead = True


def pump(conn) -> collections.Counter:
    """Drive one PipeConn until its request stream is exhausted and answered."""
    errs: collections.Counter = collections.Counter()
    sel = selectors.DefaultSelector()
    sel.register(conn.sock, selectors.EVENT_READ)
    conn.top_up(time.monotonic(), True)
    while not conn.dead and (conn.inflight or not conn.exhausted):
        if not sel.select(60.0):
            errs["no reply for 60 s"] += 1
            break
        replies = conn.read_replies()
        if replies is None:
            errs["connection closed by server"] += 1
            break
        for err, _sent, _ok in replies:
            errs[raw.errname(err)] += 1
        conn.top_up(time.monotonic(), True)
    sel.close()
    return errs


def measure_many_watches(kind: str, tmp: Path, p) -> dict:
    srv = start(kind, tmp / f"watches-{kind}")
    r: dict = {}
    try:
        time.sleep(2.0)
        if kind == "zookeeper":
            r["heap_empty"] = zk_heap_after_gc(srv.pid).get("used_mb")
        r["rss_empty"] = rss_mb(srv.pid)
        n = p.watches
        stream = ((raw.OP_EXISTS, raw.enc_path_watch(f"/absent/w{i:07d}", True)) for i in range(n))
        conn = df.PipeConn(srv.host, srv.port, stream, 500)
        t0 = time.monotonic()
        errs = pump(conn)
        r["set_s"] = time.monotonic() - t0
        r["set_rate"] = n / r["set_s"]
        if set(errs) - {"NONODE"}:
            finding(f"{kind}: exists-watch answers: {dict(errs)}")
        r["rss_watching"] = rss_mb(srv.pid)
        r["rss_delta"] = r["rss_watching"] - r["rss_empty"]
        r["bytes_per_watch"] = r["rss_delta"] * 1048576 / n
        r["wchs"], r["wchs_text"] = wchs(srv)
        r["watch_count"] = mntr_value(srv, "zk_watch_count")
        keepalive(conn, 1.0)
        if kind == "zookeeper":
            h = zk_heap_after_gc(srv.pid)
            r["heap_watching"] = h.get("used_mb")
            if r["heap_watching"] is not None and r["heap_empty"] is not None:
                r["heap_bytes_per_watch"] = (r["heap_watching"] - r["heap_empty"]) * 1048576 / n
            keepalive(conn, 1.0)
        r["hwm"] = hwm_mb(srv.pid)
        if conn.dead:
            finding(f"{kind}: the watching session's connection closed before we closed it")
        conn.sock.setblocking(True)
        conn.close()
        closed_at = time.monotonic()
        released_at = None
        while time.monotonic() - closed_at < 300:
            total, _ = wchs(srv)
            if total == 0:
                released_at = time.monotonic()
                break
            time.sleep(0.5)
        r["release_s"] = released_at - closed_at if released_at else None
        if released_at is None:
            finding(f"{kind}: wchs still shows watches 300 s after the session closed")
        time.sleep(max(0.0, closed_at + 15.0 - time.monotonic()))
        r["rss_closed_15"] = rss_mb(srv.pid)
        if released_at is not None:
            time.sleep(max(0.0, released_at + 12.0 - time.monotonic()))
            r["rss_released_12"] = rss_mb(srv.pid)
        if kind == "zookeeper":
            r["heap_closed"] = zk_heap_after_gc(srv.pid).get("used_mb")
            r["rss_closed_gc"] = rss_mb(srv.pid)
        if not srv.is_running():
            finding(f"{kind} died during item 5; log tail:\n{df.log_tail(srv)}")
        return r
    finally:
        stop(kind, srv)


WATCH_ROWS = [
    ("VmRSS, empty server (MB)", "rss_empty", 0, "lower"),
    ("time to set the watches (s)", "set_s", 1, "lower"),
    ("watches set per second", "set_rate", 0, "higher"),
    ("wchs total watches", "wchs", 0, ""),
    ("mntr zk_watch_count", "watch_count", 0, ""),
    ("VmRSS with the watches (MB)", "rss_watching", 0, "lower"),
    ("VmRSS delta (MB)", "rss_delta", 0, "lower"),
    ("RSS bytes per watch", "bytes_per_watch", 0, "lower"),
    ("VmHWM (MB)", "hwm", 0, "lower"),
    ("ZK live heap, empty, after full GC (MB)", "heap_empty", 1, ""),
    ("ZK live heap with the watches (MB)", "heap_watching", 0, ""),
    ("ZK live-heap bytes per watch", "heap_bytes_per_watch", 0, ""),
    ("close -> wchs shows 0 (s)", "release_s", 1, "lower"),
    ("VmRSS 15 s after close (MB)", "rss_closed_15", 0, "lower"),
    ("VmRSS 12 s after wchs shows 0 (MB)", "rss_released_12", 0, "lower"),
    ("ZK live heap after close + full GC (MB)", "heap_closed", 1, ""),
    ("ZK VmRSS after that GC (MB)", "rss_closed_gc", 0, ""),
]


def item_watches(tmp: Path, p) -> None:
    title = (f"5. {p.watches:,} watches held by one session (exists, watch=true, on distinct "
             f"absent paths)")
    out()
    out(f"### {title}")
    res = run_both(lambda kind: measure_many_watches(kind, tmp, p))
    table("5", title, res, WATCH_ROWS)
    for kind in KINDS:
        if res[kind].get("wchs_text"):
            out(f"- {kind} wchs: {res[kind]['wchs_text']}")


# -- tables and main ------------------------------------------------------------------

def run_both(measure) -> dict:
    res = {}
    for kind in KINDS:
        try:
            res[kind] = measure(kind)
        except Exception as e:
            finding(f"{kind} failed: {type(e).__name__}: {e}\n"
                    + "".join(traceback.format_exception(e)[-4:]))
            res[kind] = {"error": f"{type(e).__name__}: {e}"}
    return res


def num_ratio(a, b):
    try:
        if a is None or b is None or b == 0 or a != a or b != b:
            return None
        return a / b
    except TypeError:
        return None


def table(key: str, title: str, res: dict, rows) -> None:
    sk, zk = res["swiftkeeper"], res["zookeeper"]
    out("| figure | swiftkeeper | zookeeper | sk/zk |")
    out("| --- | ---: | ---: | ---: |")
    entry = {"title": title, "rows": [], "raw": res}
    for label, k, digits, better in rows:
        a, b = sk.get(k), zk.get(k)
        if a is None and b is None:
            continue
        if better == "signed":      # a difference that may be negative: no ratio
            a, b = (round(v, digits) + 0.0 if isinstance(v, float) else v for v in (a, b))
            note, rat = " (negative: notifications before the reply)", None
        else:
            note, rat = (f" ({better} is better)" if better else ""), num_ratio(a, b)
        out(f"| {label}{note} | {df.fmt(a, digits)} | {df.fmt(b, digits)} | "
            f"{'n/a' if rat is None else f'{rat:.2f}'} |")
        entry["rows"].append({"figure": label, "key": k, "swiftkeeper": a, "zookeeper": b,
                              "ratio": rat, "better": better if better in ("lower", "higher") else None})
    RESULTS["items"][key] = entry


class Params:
    def __init__(self, quick: bool):
        f = 20 if quick else 1
        self.quick = quick
        # item 1
        self.tree_parents = 1000 // f
        self.tree_children = 1000
        self.znodes = self.tree_parents * self.tree_children
        self.procs, self.conns, self.window = 2, 4, 250
        # item 2 (names as durability_figures.build_data_dir wants them)
        self.parents, self.children = 1000 // f, 1000
        self.build_procs, self.build_conns, self.build_window = 2, 4, 250
        self.probe_parent = f"/p{self.parents - 1:04d}"
        self.logged_txns = 100_000 // f
        self.final_path = f"/p{self.parents - 1:04d}/c{self.children - 1:04d}"
        self.final_value = b"final:" + b"f" * 44
        self.start_timeout = 600.0
        self.start_runs = 2
        # items 3 and 4
        self.sessions = 10_000 // f
        self.ping_s = 12.0 if quick else 30.0
        self.multi_nodes = 10
        # item 5
        self.watches = 1_000_000 // f


def raise_nofile(need: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if target < need:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return f"RLIMIT_NOFILE {soft}/{hard} -> {need}/{need}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft2, hard2 = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft2 < need:
        finding(f"RLIMIT_NOFILE is {soft2}, below the {need} the session items need")
    return f"RLIMIT_NOFILE {soft}/{hard} -> {soft2}/{hard2}"


def print_header(p: Params, tmp: Path, nofile: str) -> None:
    out("## SwiftKeeper scale figures" + (" (--quick: counts / 20)" if p.quick else ""))
    out()
    out(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    out(f"- cores: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable); client (Python) "
        f"and server share them: compare the ratios")
    bin_path = Path(servers.swiftkeeper_bin())
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    stamp = _binary_stamp()
    _BIN_SEEN["stamp"] = stamp
    out(f"- swiftkeeper: {bin_path} (built "
        f"{datetime.datetime.fromtimestamp(stamp[0]).isoformat(timespec='seconds')}; repo at {rev})")
    java = servers._find_java()
    jv = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()
    out(f"- zookeeper: Apache ZooKeeper 3.8.0 (Debian), {jv[0] if jv else java}, "
        f"{' '.join(df.ZK_JVM_ARGS)} -XX:+UseSerialGC; live heap read with "
        f"{java_tool('jcmd') or '(no jcmd found)'} -f (GC.run + GC.heap_info) x {GC_ROUNDS}, smallest used")
    out(f"- config for both: {', '.join(f'{k}={v}' for k, v in SCALE_CFG.items())}, forceSync=yes "
        f"(default), tickTime=2000; {nofile}")
    out(f"- data dirs: {tmp} on {df.mount_of(tmp)}")
    RESULTS["header"] = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                         "quick": p.quick, "repo_rev": rev, "swiftkeeper_bin": str(bin_path),
                         "java": jv[0] if jv else java, "config": SCALE_CFG, "nofile": nofile}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every count / 20 (smoke test)")
    ap.add_argument("--only", default="1,2,3,4,5", help="items to run, e.g. 1,3 (default all)")
    ap.add_argument("--json-out", metavar="FILE", help="also write the figures as JSON here")
    args = ap.parse_args()
    try:
        items = {int(x) for x in args.only.replace(" ", "").split(",") if x}
    except ValueError:
        ap.error("--only takes item numbers 1-5, comma separated")
    if not items <= {1, 2, 3, 4, 5}:
        ap.error("--only takes item numbers 1-5")
    p = Params(args.quick)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with it ignored
    nofile = raise_nofile(p.sessions + 2000)
    df.BENCH_CFG.update(SCALE_CFG)      # durability_figures' build uses the same settings
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="scale-figures-", dir="/tmp"))
    RESULTS["params"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in vars(p).items()}
    try:
        print_header(p, tmp, nofile)
        if 1 in items:
            item_memory(tmp, p)
        if 2 in items:
            RESULTS["items"]["2"] = {}
            try:
                item_startup(tmp, p)
            except Exception as e:
                finding(f"item 2 failed: {type(e).__name__}: {e}\n"
                        + "".join(traceback.format_exception(e)[-4:]))
        if items & {3, 4}:
            item_sessions(tmp, p, items)
        if 5 in items:
            item_watches(tmp, p)
        out()
        if FINDINGS:
            out(f"### Findings ({len(FINDINGS)})")
            for f in FINDINGS:
                out(f"- {f.splitlines()[0]}")
        else:
            out("no errors, lost sessions or missing notifications seen")
        out(f"total time: {time.monotonic() - started:.0f} s")
        return 1 if FINDINGS and any("failed" in f for f in FINDINGS) else 0
    finally:
        servers._stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        RESULTS["findings"] = FINDINGS
        RESULTS["total_s"] = time.monotonic() - started
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print(f"interrupted ({e or 'SIGINT'}); servers stopped", file=sys.stderr, flush=True)
        sys.exit(130)
