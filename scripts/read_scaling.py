#!/usr/bin/env python3
"""Read scaling: does read throughput grow with cores, for SwiftKeeper and Apache ZooKeeper 3.8.0?

    .venv-interop/bin/python scripts/read_scaling.py [--quick] [--duration S] [--warmup S]
        [--rounds N] [--only swiftkeeper|zookeeper] [--workloads get,exists]
        [--json-out FILE] [--prime S] [--zk-heap 4g] [--tmp-dir DIR]

A benchmark, not a test: it prints figures and never judges them.

Each server (a SwiftKeeper and an Apache ZooKeeper standalone server on 127.0.0.1, data
directories in a temporary directory) is started twice, each time fresh, since an
affinity mask set by `taskset` at process start is what the JVM and the thread pools size
themselves by:

    cores  server                 load generator (`swiftkeeper bench`)
    1      taskset -c 0 <server>  taskset -c 1   (a core of its own)
    2      taskset -c 0,1         taskset -c 0,1 (unpinned on a 2-core machine)

At each core count both servers run side by side (the idle one costs next to nothing),
get an unrecorded priming run per workload (`--prime` seconds, so ZooKeeper's JIT has
compiled the read path), and then every cell is measured as `--rounds` separate

    swiftkeeper bench --hosts <server> --workload W --sessions S --in-flight N
                      --value-size 100 --rounds 1 --json ...

invocations, alternating between SwiftKeeper and ZooKeeper (the order flips every round,
so a drift in the machine's speed hits both alike). The cells: `get` (and with
`--workloads get,exists` also `exists`) at 8 sessions x 32 in flight and at 64 sessions
x 8 in flight, over 1000 keys with 100-byte values. Both servers run as bench_matrix.py
runs them: fsync on (forceSync default; reads do not sync anyway), maxClientCnxns=0,
ZooKeeper with a 4 GiB heap limit (`--zk-heap`).

How to read the table: per server and cell the median ops/s over the rounds at 1 core
and at 2 cores [min-max over rounds], and the scaling factor (2-core median / 1-core
median; 2.00 would be perfect scaling, 1.00 none). The "SK/ZK" row under each cell gives
the throughput ratio SwiftKeeper/ZooKeeper at each core count (median [min-max] over the
round pairs, which ran back to back) and, in the scaling column, SwiftKeeper's scaling
factor divided by ZooKeeper's (above 1: SwiftKeeper gains more from the second core).

Where the server's CPU goes: the script reads the server's /proc/<pid>/stat and
/proc/<pid>/task/*/stat and comm (utime + stime, fields 14 and 15, in clock ticks of
1/SC_CLK_TCK s) at the start and at the end of each measured bench run's measured window
(the bench, run with SWIFTKEEPER_BENCH_TRACE=1, says on stderr when its load phase starts;
the window opens --warmup seconds later and lasts --duration seconds), and also just
before and just after the whole invocation. "server CPU % 1c / 2c" is the server's CPU
time over the window's wall time in % of one core (at most 100 at 1 core, 200 at 2), and
"server µs/op 1c / 2c" is that CPU time divided by the ops the bench counted in the window:
the server's CPU per request (medians over rounds, like ops/s). A bench that does not mark
its load phase gets the invocation-wide figures instead (µs/op = CPU seconds / (ops/s x
the invocation's wall time)); those take in the bench's start, its setup (creating the
keys, fsync'd) and its cleanup (deleting them), which on a busy machine can be most of a
second, so they understate both figures. --json-out has both per run (serverCpu, and
serverCpu.invocation). Under the table, one line per cell, server and core count splits
the median round (by server CPU %; the lower middle one of an even count) by thread name
(comm, at most 15 characters; threads sharing a name are added up, "xN" says how many
there were), the top three and the rest, in % of one core. SwiftKeeper's NIO-ELT-1-#k are
the client connection loops (reads are answered there), NIO-ELT-2-#1 is the replica loop
(the one thread every write goes through); ZooKeeper's NIOWorkerThread pool does the
request processing, NIOServerCxnFac(tory) selector threads the socket I/O, and the request
processor chain (RequestThrottle, ProcessThread(s), SyncThread:0, CommitProcessor) sits
behind them. "C1/C2 CompilerThre(ad)" is the JVM's JIT; if it shows up with a large
share, ZooKeeper's read path was still being compiled (raise --prime).

How to read these: on a 2-core machine the single-threaded load generator is often the
ceiling in the 2-core case (it shares both cores with the server and can itself use at
most one), so a scaling factor well below 2.00 does not by itself say that the server
does not scale. The evidence that reads scale with cores is (a) how little of the
replica loop a read-only load uses: when it stays at a few per cent, reads have no
serial section that a second core would wait on; and (b) the server CPU per op staying
flat from 1 to 2 cores: the server's read capacity is then about cores / (µs per op)
(2 cores at 2.5 µs/op: some 800k ops/s), whatever the generator manages to offer. A µs
per op that rises from 1 to 2 cores says the second core goes on contention (locks,
cross-thread hand-offs, cache-line traffic) rather than on more reads. Two things move
µs/op besides that: a server that is far from busy (low CPU %) answers fewer requests per
wake-up and per read()/write(), so its µs/op comes out higher than when saturated; and
the 1-core figures share their core with nothing, the 2-core ones with the generator. A
server CPU % near 100 at 1 core says the server, not the generator, was the ceiling; well
below 100 says the generator (or the machine) was.

Caveat: on a 2-core machine the load generator has a core to itself in the 1-core case
but shares both cores with the server in the 2-core case, so the 2-core figures (and the
scaling factors) are lower bounds of what the server would do with two cores of its own.
The generator is one thread, so it takes at most one core's worth. The header also shows
how many threads each server had (both size their pools by the affinity mask: SwiftKeeper
starts one connection loop per allowed core, the JVM's availableProcessors() follows it).

Exit status: 0; 1 if a bench run or a server failed (the run goes on; failures are
listed under the table and the servers' logs are copied out); 2 if there is no usable
`swiftkeeper bench` or CPUs 0 and 1 are not both available; 130 if interrupted
(Ctrl-C, SIGTERM, SIGHUP: servers are stopped and what was measured is printed).

Environment: SWIFTKEEPER_BIN, SWIFTKEEPER_BENCH_BIN, ZOOKEEPER_CLASSPATH, ZOOKEEPER_JAVA
as in scripts/bench_matrix.py and Tests/Interop/servers.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_matrix as bm  # noqa: E402  (also puts Tests/Interop on sys.path)
import servers  # noqa: E402

KINDS = (bm.LABEL_SK, bm.LABEL_ZK)
SHORT = {bm.LABEL_SK: "SK", bm.LABEL_ZK: "ZK"}
READ_WORKLOADS = ("get", "exists")
LOADS = ((8, 32), (64, 8))
# cores -> (server's CPU list, load generator's CPU list)
CORE_CONFIGS = {1: ("0", "1"), 2: ("0,1", "0,1")}
NEEDED_CPUS = {0, 1}


def log(msg: str = "") -> None:
    bm.log(msg)


def median_or_none(values: list[float]):
    return statistics.median(values) if values else None


def proc_facts(pid: int | None) -> dict:
    """Threads, Cpus_allowed_list, VmRSS/VmHWM (KiB) of a running process."""
    facts: dict = {}
    if pid is None:
        return facts
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "Threads":
                facts["threads"] = int(value)
            elif key == "Cpus_allowed_list":
                facts["cpusAllowed"] = value
            elif key in ("VmRSS", "VmHWM"):
                facts[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return facts


# -- where the server's CPU goes --------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc stat line after the `(comm)` one: index 0 is field 3 (state),
    so field N is index N - 3 (utime 14 -> 11, stime 15 -> 12, starttime 22 -> 19)."""
    return text[text.rindex(")") + 2:].split()


def cpu_snapshot(pid: int | None) -> dict | None:
    """The process's utime+stime (ticks; /proc/<pid>/stat, which also counts threads that
    have exited) and every thread's comm and utime+stime, keyed by (tid, starttime) so that
    a reused tid is not taken for the old thread; None if the process is gone."""
    if pid is None:
        return None
    t = time.monotonic()
    try:
        f = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
        total = int(f[11]) + int(f[12])
        tids = os.listdir(f"/proc/{pid}/task")
    except (OSError, ValueError, IndexError):
        return None
    threads: dict = {}
    for tid in tids:
        try:
            f = _stat_fields(Path(f"/proc/{pid}/task/{tid}/stat").read_text())
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().rstrip("\n")
            threads[(int(tid), f[19])] = (comm, int(f[11]) + int(f[12]))
        except (OSError, ValueError, IndexError):
            continue  # the thread exited meanwhile
    return {"t": t, "ticks": total, "threads": threads}


def cpu_between(before: dict | None, after: dict | None, ops_per_sec=None, ops=None) -> dict | None:
    """The server's CPU between two snapshots: seconds, % of one core over the wall time,
    µs per op (CPU seconds / ops if the op count is given, else CPU seconds / (ops/s x wall
    seconds)), and per thread name (threads sharing a comm added up; a thread born in
    between counts with all its time, the time of one that exited in between shows only in
    the total, as "(exited threads)"; threads that used nothing are listed too)."""
    if not before or not after:
        return None
    wall = after["t"] - before["t"]
    if wall <= 0:
        return None
    cpu_s = (after["ticks"] - before["ticks"]) / CLK_TCK
    names: dict[str, list] = {}
    for key, (comm, ticks) in after["threads"].items():
        old = before["threads"].get(key)
        d = ticks - (old[1] if old else 0)
        entry = names.setdefault(comm, [0, 0])
        entry[0] += d
        entry[1] += 1
    threads = [{"name": n, "threads": c, "cpuS": round(d / CLK_TCK, 3), "pct": round(100 * d / CLK_TCK / wall, 1)}
               for n, (d, c) in names.items()]
    # The process's own count also has the threads that exited in between; a tick or two
    # either way is rounding (process and thread times are rounded to ticks separately).
    rest = cpu_s - sum(d for d, _ in names.values()) / CLK_TCK
    if rest > 2.5 / CLK_TCK:
        threads.append({"name": "(exited threads)", "threads": 0, "cpuS": round(rest, 3),
                        "pct": round(100 * rest / wall, 1)})
    threads.sort(key=lambda x: (-x["cpuS"], x["name"]))
    out = {"wallS": round(wall, 3), "cpuS": round(cpu_s, 3), "cpuPct": round(100 * cpu_s / wall, 1),
           "clockTicksPerS": CLK_TCK, "threads": threads}
    if isinstance(ops, int) and ops > 0:
        out["ops"] = ops
        out["usPerOp"] = round(1e6 * cpu_s / ops, 3)
    elif isinstance(ops_per_sec, (int, float)) and ops_per_sec > 0:
        out["opsEstimated"] = round(ops_per_sec * wall)
        out["usPerOp"] = round(1e6 * cpu_s / (ops_per_sec * wall), 3)
    return out


TRACE_PREFIX = "bench: waiting for "  # what the bench writes at each phase with SWIFTKEEPER_BENCH_TRACE


class WindowSampler:
    """Snapshots the server's CPU at the start and the end of the bench's measured window.

    Run with SWIFTKEEPER_BENCH_TRACE set, the bench writes "bench: waiting for the <workload>
    run" to stderr as it starts the load phase, whose measured window opens `warmup` seconds
    later and lasts `duration` seconds; feed() gets the bench's stderr line by line and,
    at that line, starts a thread that takes the two snapshots at those moments. A bench
    that prints no such line (an older one) leaves `start`/`end` None."""

    def __init__(self, pid: int | None, workload: str, warmup: float, duration: float):
        self.pid = pid
        self.marker = f"{TRACE_PREFIX}the {workload} run"
        self.warmup, self.duration = warmup, duration
        self.start: dict | None = None
        self.end: dict | None = None
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def feed(self, line: str) -> None:
        if self.thread is None and line.strip() == self.marker:
            self.thread = threading.Thread(target=self._run, args=(time.monotonic(),), daemon=True)
            self.thread.start()

    def _run(self, t_mark: float) -> None:
        if self.stopped.wait(max(0.0, t_mark + self.warmup - time.monotonic())):
            return
        self.start = cpu_snapshot(self.pid)
        if self.stopped.wait(max(0.0, t_mark + self.warmup + self.duration - time.monotonic())):
            return
        self.end = cpu_snapshot(self.pid)

    def finish(self) -> None:
        """After the bench has exited: a window it did not live through is dropped."""
        if self.thread is not None:
            self.thread.join(timeout=0.5)
        self.stopped.set()
        if self.end is None:
            self.start = None


# -- servers --------------------------------------------------------------------------------

def start_server(kind: str, tmp: Path, cpus: str, zk_heap: str, attempts: int = 3) -> servers.ServerProcess:
    """A fresh server under `taskset -c cpus`; a failed start is retried on fresh ports."""
    prefix = ["taskset", "-c", cpus]
    for attempt in range(1, attempts + 1):
        where = tmp / f"{kind}-attempt-{attempt}"
        try:
            if kind == bm.LABEL_SK:
                return servers.start_swiftkeeper(where, bm.SERVER_CFG, timeout=60, argv_prefix=prefix)
            return servers.start_zookeeper(where, bm.SERVER_CFG, timeout=120,
                                           jvm_args=(f"-Xmx{zk_heap}",), argv_prefix=prefix)
        except Exception as e:
            if attempt == attempts:
                raise
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            log(f"  {kind}: start attempt {attempt} failed ({first}); retrying on fresh ports")
    raise AssertionError("unreachable")


def warnings_since(srv: servers.ServerProcess, mark: int, limit: int = 6) -> str:
    try:
        with open(srv.log_path, "rb") as f:
            f.seek(mark)
            text = f.read(4 << 20).decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [l[:300] for l in text.splitlines() if bm.WARNING_RE.search(l)]
    return "\n".join(lines[-limit:])


def log_size(srv: servers.ServerProcess) -> int:
    try:
        return srv.log_path.stat().st_size
    except OSError:
        return 0


# -- one bench invocation ---------------------------------------------------------------------

def run_bench(cmd: list[str], bench_cpus: str, srv: servers.ServerProcess, workload: str,
              sessions: int, inflight: int, duration: float, warmup: float, a) -> dict:
    """One `swiftkeeper bench --rounds 1 --json` against one server; a dict with ok,
    opsPerSec, p50Ms, p99Ms, errors, serverCpu or error/errorShort/stderrTail.

    serverCpu (see cpu_between) is the server's CPU over the bench's measured window
    (window "measured", µs/op = CPU / the ops the bench counted in it) when the bench
    marked its load phase, else over the whole invocation (window "invocation", µs/op =
    CPU / (ops/s x the invocation's wall time)); serverCpu["invocation"] always holds the
    latter, from snapshots taken just before and just after the invocation."""
    argv = ["taskset", "-c", bench_cpus, *cmd, "bench",
            "--hosts", srv.hosts, "--label", srv.name,
            "--workload", workload, "--sessions", str(sessions), "--in-flight", str(inflight),
            "--value-size", str(a.value_size), "--keys", str(a.keys),
            "--duration", bm.fmt_num(duration), "--warmup", bm.fmt_num(warmup),
            "--rounds", "1", "--json"]
    timeout = 120 + 3 * (duration + warmup)
    rec: dict = {"argv": argv, "ok": False}
    mark = log_size(srv)
    window = WindowSampler(srv.pid, workload, warmup, duration)
    out_parts: list[str] = []
    err_lines: list[str] = []

    def read_stdout(stream):
        out_parts.append(stream.read())

    def read_stderr(stream):
        for line in stream:
            err_lines.append(line)
            window.feed(line)

    cpu_before = cpu_snapshot(srv.pid)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace",
                            env={**os.environ, "SWIFTKEEPER_BENCH_TRACE": "1"},
                            preexec_fn=servers._set_pdeathsig)
    readers = [threading.Thread(target=read_stdout, args=(proc.stdout,), daemon=True),
               threading.Thread(target=read_stderr, args=(proc.stderr,), daemon=True)]
    for th in readers:
        th.start()
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rec.update(error=f"timed out after {timeout:.0f}s", errorShort="timeout")
    finally:
        if proc.poll() is None:  # interrupted while waiting: take the bench down with us
            proc.kill()
            proc.wait()
        window.finish()
    cpu_after = cpu_snapshot(srv.pid)
    for th in readers:
        th.join(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass
    phases = [l.strip() for l in err_lines if l.startswith(TRACE_PREFIX)]
    out = "".join(out_parts)
    err = "".join(l for l in err_lines if not l.startswith(TRACE_PREFIX))
    rec["elapsedS"] = round(time.monotonic() - t0, 2)
    rec["stderrTail"] = bm.tail(err)
    if phases:
        rec["lastPhase"] = phases[-1][len(TRACE_PREFIX):]
    if "error" not in rec:
        if proc.returncode != 0:
            rec.update(error=f"exit status {proc.returncode}", errorShort=f"exit {proc.returncode}")
        else:
            try:
                result = bm.parse_json(out)
                t = (result.get("targets") or [{}])[0]
                if not isinstance(t.get("opsPerSec"), (int, float)):
                    raise ValueError("no opsPerSec in targets[0]")
                rec.update(ok=True, opsPerSec=t["opsPerSec"], p50Ms=t.get("p50Ms"), p99Ms=t.get("p99Ms"),
                           errors=bm.errors_of(t), result=result)
                measured_ops = (t.get("rounds") or [{}])[0].get("ops")
                whole = cpu_between(cpu_before, cpu_after, ops_per_sec=t["opsPerSec"])
                inner = cpu_between(window.start, window.end, ops=measured_ops if isinstance(measured_ops, int)
                                    else None, ops_per_sec=t["opsPerSec"])
                if inner is not None:
                    rec["serverCpu"] = {"window": "measured", **inner, "invocation": whole}
                elif whole is not None:
                    rec["serverCpu"] = {"window": "invocation", **whole, "invocation": whole}
            except (ValueError, AttributeError) as e:
                rec.update(error=f"stdout is not the expected JSON ({e})", errorShort="bad JSON",
                           stdoutTail=bm.tail(out, 5))
    if not srv.is_running():
        rec.update(ok=False, error=f"{srv.name} exited (status {srv.proc.returncode})",
                   errorShort="server died")
    if not rec["ok"]:
        rec["serverLog"] = warnings_since(srv, mark) or servers._tail(srv.log_path, 10)
    return rec


# -- the measurement --------------------------------------------------------------------------

def cells_for(workloads: list[str]) -> list[tuple[str, int, int]]:
    return [(w, s, n) for w in workloads for s, n in LOADS]


def cell_name(cell) -> str:
    w, s, n = cell
    return f"{w} {s}x{n}"


def measure_core_count(cores: int, kinds: list[str], cmd: list[str], tmp: Path, a,
                       runs: list[dict], server_info: dict) -> None:
    server_cpus, bench_cpus = CORE_CONFIGS[cores]
    log(f"== {cores} core(s): servers on CPU {server_cpus}, load generator on CPU {bench_cpus}")
    live: dict[str, servers.ServerProcess] = {}
    cells = cells_for(a.workload_list)
    try:
        for kind in kinds:
            try:
                live[kind] = start_server(kind, tmp / f"{cores}core", server_cpus, a.zk_heap)
            except Exception as e:
                msg = f"did not start: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                log(f"  {kind} {msg}\n{bm.tail(str(e), 20)}")
                server_info[f"{kind}@{cores}"] = {"error": msg}
                for cell in cells:
                    for r in range(a.rounds):
                        runs.append(dict(kind=kind, cores=cores, workload=cell[0], sessions=cell[1],
                                         inFlight=cell[2], round=r, ok=False, error=f"{kind} {msg}",
                                         errorShort="no server", stderrTail=bm.tail(str(e))))
        if not live:
            return
        log("  " + "  ".join(f"{k} {s.hosts} (pid {s.pid}, CPUs {proc_facts(s.pid).get('cpusAllowed', '?')})"
                             for k, s in live.items()))
        for kind, srv in live.items():
            allowed = proc_facts(srv.pid).get("cpusAllowed")
            if allowed is not None and allowed != server_cpus.replace(",", "-") and allowed != server_cpus:
                log(f"  warning: {kind} runs on CPUs {allowed}, expected {server_cpus}")
        if a.prime > 0:
            for workload in a.workload_list:
                for kind, srv in live.items():
                    rec = run_bench(cmd, bench_cpus, srv, workload, 8, 32, a.prime, 0.0, a)
                    if rec["ok"]:
                        log(f"  primed {kind}: {a.prime:g} s of {workload} 8x32 "
                            f"({bm.fmt_ops(rec['opsPerSec'])} ops/s, not recorded)")
                    else:
                        log(f"  warning: priming {kind} with {workload} failed ({rec.get('error')}); going on")
        for cell in cells:
            workload, sessions, inflight = cell
            for r in range(a.rounds):
                order = list(live) if r % 2 == 0 else list(reversed(list(live)))
                for kind in order:
                    srv = live[kind]
                    head = dict(kind=kind, cores=cores, workload=workload, sessions=sessions,
                                inFlight=inflight, round=r)
                    if not srv.is_running():
                        rec = dict(head, ok=False, errorShort="skipped",
                                   error=f"not run: {kind} exited earlier (status {srv.proc.returncode})")
                    else:
                        rec = dict(head, **run_bench(cmd, bench_cpus, srv, workload, sessions, inflight,
                                                     a.duration, a.warmup, a))
                    runs.append(rec)
                    where = f"  [{cores}c] {kind} {cell_name(cell)} round {r + 1}/{a.rounds}"
                    if rec["ok"]:
                        log(f"{where}: {bm.fmt_ops(rec['opsPerSec'])} ops/s, p99 {bm.fmt_ms(rec.get('p99Ms'))} ms"
                            f"{', errors ' + str(rec['errors']) if rec.get('errors') else ''}")
                    else:
                        log(f"{where}: FAILED ({rec.get('error')})")
                        for name in ("stderrTail", "serverLog"):
                            if rec.get(name):
                                log("\n".join("    " + l for l in rec[name].splitlines()))
    finally:
        for kind, srv in live.items():
            if srv.is_running():
                server_info[f"{kind}@{cores}"] = {"pid": srv.pid, "argv": srv.argv, **proc_facts(srv.pid)}
            try:
                srv.stop(grace=10)
            except Exception as e:
                log(f"  stopping {kind}: {e}")
        if live:
            log(f"== {cores} core(s): servers stopped")


# -- the report --------------------------------------------------------------------------------

def summarize(runs: list[dict], kinds: list[str], workloads: list[str]) -> list[dict]:
    """Per cell and server: ops/s per core count (median, min, max, rounds ok/failed) and
    the scaling factor; per cell the SK/ZK ratios over round pairs."""
    cells = []
    for cell in cells_for(workloads):
        w, s, n = cell

        def mine(kind, cores):
            return [r for r in runs if r["kind"] == kind and r["cores"] == cores
                    and (r["workload"], r["sessions"], r["inFlight"]) == cell]

        entry: dict = {"workload": w, "sessions": s, "inFlight": n, "servers": {}, "ratio": {}}
        for kind in kinds:
            per: dict = {}
            for cores in CORE_CONFIGS:
                rs = mine(kind, cores)
                ok = [r for r in rs if r.get("ok")]
                ops = [r["opsPerSec"] for r in ok]
                p99 = [r["p99Ms"] for r in ok if isinstance(r.get("p99Ms"), (int, float))]
                with_cpu = [r for r in ok if r.get("serverCpu")]
                cpu_pct = [r["serverCpu"]["cpuPct"] for r in with_cpu]
                us_op = [r["serverCpu"]["usPerOp"] for r in with_cpu if "usPerOp" in r["serverCpu"]]
                per[cores] = {"opsPerSec": median_or_none(ops), "min": min(ops) if ops else None,
                              "max": max(ops) if ops else None, "p99Ms": median_or_none(p99),
                              "roundsOk": len(ok), "roundsFailed": len(rs) - len(ok),
                              "errors": sum(int(r.get("errors") or 0) for r in ok),
                              "serverCpuPct": median_or_none(cpu_pct), "serverUsPerOp": median_or_none(us_op),
                              "serverCpuRounds": len(with_cpu)}
                if with_cpu:  # the median round by server CPU % (the lower middle one of an even count)
                    mid = sorted(with_cpu, key=lambda r: r["serverCpu"]["cpuPct"])[(len(with_cpu) - 1) // 2]
                    per[cores]["threadsMedianRound"] = {"round": mid["round"],
                                                        "cpuPct": mid["serverCpu"]["cpuPct"],
                                                        "threads": mid["serverCpu"]["threads"]}
            one, two = per[1]["opsPerSec"], per[2]["opsPerSec"]
            per["scaling"] = two / one if one and two is not None else None
            entry["servers"][kind] = per
        if all(k in kinds for k in KINDS):
            for cores in CORE_CONFIGS:
                sk = {r["round"]: r["opsPerSec"] for r in mine(bm.LABEL_SK, cores) if r.get("ok")}
                zk = {r["round"]: r["opsPerSec"] for r in mine(bm.LABEL_ZK, cores) if r.get("ok")}
                ratios = [sk[i] / zk[i] for i in sorted(sk) if i in zk and zk[i]]
                entry["ratio"][cores] = {"median": median_or_none(ratios),
                                         "min": min(ratios) if ratios else None,
                                         "max": max(ratios) if ratios else None, "pairs": len(ratios)}
            s1 = entry["servers"][bm.LABEL_SK]["scaling"]
            z1 = entry["servers"][bm.LABEL_ZK]["scaling"]
            entry["ratio"]["scaling"] = s1 / z1 if s1 and z1 else None
        cells.append(entry)
    return cells


def fmt_ops_spread(per: dict, rounds: int) -> str:
    if per["opsPerSec"] is None:
        return "failed" if per["roundsFailed"] else "not run"
    s = bm.fmt_ops(per["opsPerSec"])
    if per["roundsOk"] > 1:
        s += f" [{bm.fmt_ops(per['min'])}-{bm.fmt_ops(per['max'])}]"
    if per["roundsFailed"]:
        s += f" ({per['roundsOk']}/{rounds} ok)"
    return s


def fmt_factor(v) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{v:.2f}"


def fmt_pct(v) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{v:.0f}"


def fmt_us(v) -> str:
    if not isinstance(v, (int, float)):
        return "n/a"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def table_rows(cells: list[dict], kinds: list[str], rounds: int) -> list[list[str]]:
    rows = []
    for c in cells:
        wl, load = c["workload"], f"{c['sessions']}x{c['inFlight']}"
        for kind in kinds:
            per = c["servers"][kind]
            errs = "/".join(str(per[k]["errors"]) for k in CORE_CONFIGS)
            rows.append([kind, wl, load, fmt_ops_spread(per[1], rounds), fmt_ops_spread(per[2], rounds),
                         fmt_factor(per["scaling"]),
                         f"{fmt_pct(per[1]['serverCpuPct'])} / {fmt_pct(per[2]['serverCpuPct'])}",
                         f"{fmt_us(per[1]['serverUsPerOp'])} / {fmt_us(per[2]['serverUsPerOp'])}",
                         f"{bm.fmt_ms(per[1]['p99Ms'])} / {bm.fmt_ms(per[2]['p99Ms'])}", errs])
        if c["ratio"]:
            rat = c["ratio"]
            rows.append(["SK/ZK", wl, load, bm.fmt_ratio(rat[1]), bm.fmt_ratio(rat[2]),
                         fmt_factor(rat["scaling"]), "", "", "", ""])
    return rows


HEADERS = ["server", "workload", "sessions x in-flight", "ops/s 1 core [min-max]",
           "ops/s 2 cores [min-max]", "scaling 2c/1c", "server CPU % 1c / 2c", "server µs/op 1c / 2c",
           "p99 ms 1c / 2c", "errors 1c/2c"]


def markdown_table(headers: list[str], rows: list[list[str]], first_numeric: int) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.rjust(widths[i]) if i >= first_numeric else c.ljust(widths[i])
                                 for i, c in enumerate(cells)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i >= first_numeric else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def breakdown_lines(cells: list[dict], kinds: list[str], top: int = 3) -> list[str]:
    """Per cell, server and core count: the median round's server CPU by thread name."""
    lines = []
    for c in cells:
        name = cell_name((c["workload"], c["sessions"], c["inFlight"]))
        for kind in kinds:
            for cores in CORE_CONFIGS:
                per = c["servers"][kind][cores]
                med = per.get("threadsMedianRound")
                head = f"{kind} {cores}c {name}:"
                if not med:
                    lines.append(f"{head} n/a (no round with CPU figures)")
                    continue
                threads = med["threads"]
                bits = [f"{t['name']}{' x' + str(t['threads']) if t['threads'] > 1 else ''} {t['pct']:.0f}%"
                        for t in threads[:top]]
                rest = sum(t["pct"] for t in threads[top:])
                if rest >= 0.5:
                    bits.append(f"other {rest:.0f}%")
                lines.append(f"{head} {', '.join(bits)} (total {med['cpuPct']:.0f}%, round {med['round'] + 1})")
    return lines


def cpu_window_text(runs: list[dict]) -> str:
    """What the server CPU figures were taken over."""
    windows = [r["serverCpu"]["window"] for r in runs if r.get("serverCpu")]
    measured, whole = windows.count("measured"), windows.count("invocation")
    if whole == 0:
        return "each bench run's measured window"
    if measured == 0:
        return "each bench invocation's wall time (the bench did not mark its measured window)"
    return (f"each bench run's measured window ({whole} of {len(windows)} runs: over the whole "
            f"invocation, the bench did not mark the window)")


def threads_summary(server_info: dict, kinds: list[str]) -> str:
    parts = []
    for kind in kinds:
        bits = []
        for cores in CORE_CONFIGS:
            info = server_info.get(f"{kind}@{cores}") or {}
            rss = f", {info['VmRSS'] / 1024:.0f} MiB" if "VmRSS" in info else ""
            bits.append(f"{cores}c: {info.get('threads', '?')} threads on CPU {info.get('cpusAllowed', '?')}{rss}")
        parts.append(f"{kind} " + ", ".join(bits))
    return "; ".join(parts)


def report(meta: dict, cells: list[dict], runs: list[dict], server_info: dict, kinds: list[str],
           partial: bool) -> None:
    print()
    print("## Read scaling, 1 core vs 2 cores: "
          + " vs ".join({"swiftkeeper": "SwiftKeeper", "zookeeper": "Apache ZooKeeper 3.8.0"}[k] for k in kinds)
          + (" (PARTIAL: interrupted)" if partial else ""))
    print()
    print(f"{meta['date']} | nproc {meta['nproc']} | {meta['cpu']} | kernel {meta['kernel']} | "
          f"swiftkeeper {meta['gitRev']}")
    print(f"servers pinned with taskset -c 0 (1 core) / 0,1 (2 cores), load generator on CPU 1 / 0,1 "
          f"(it shares the cores in the 2-core case, so 2-core figures are lower bounds); "
          f"each server started fresh per core count and primed {bm.fmt_num(meta['primeS'])} s per workload; "
          f"duration {bm.fmt_num(meta['durationS'])} s, warmup {bm.fmt_num(meta['warmupS'])} s, "
          f"{meta['rounds']} rounds per server (alternating), {meta['valueBytes']}-byte values, "
          f"{meta['keys']} keys, fsync on, data on {meta.get('dataFilesystem', '?')}, maxClientCnxns=0, "
          f"ZooKeeper -Xmx{meta['zkHeap']}; ops/s are medians over rounds; SK/ZK rows: "
          f"ratio per round pair, median [min-max], scaling column = SK scaling / ZK scaling; "
          f"server CPU % (of one core) and µs/op from the server's /proc utime+stime over "
          f"{cpu_window_text(runs)}")
    print(f"servers after their last run: {threads_summary(server_info, kinds)}")
    print()
    print(markdown_table(HEADERS, table_rows(cells, kinds, meta["rounds"]), 3))
    print()
    print(f"Server CPU by thread name, median round, % of one core over {cpu_window_text(runs)}:")
    print()
    for line in breakdown_lines(cells, kinds):
        print(f"- {line}")
    failed = [r for r in runs if not r.get("ok")]
    bm.print_failures(
        failed, "run",
        lambda r: f"{r['kind']} at {r['cores']} core(s), {r['workload']} {r['sessions']}x{r['inFlight']} round {r['round'] + 1}",
        ("stderrTail", "stdoutTail", "serverLog"),
        extra=lambda r: [f"the bench was last waiting for {r['lastPhase']}"] if r.get("lastPhase") else [])
    bm.print_kept_logs(meta)


def write_json(path: Path | None, meta: dict, cells: list[dict], runs: list[dict], server_info: dict,
               partial: bool) -> None:
    if path is None:
        return
    slim = [{k: v for k, v in r.items() if k != "result"} | ({"bench": r["result"]} if "result" in r else {})
            for r in runs]
    doc = {"meta": meta, "partial": partial, "servers": server_info,
           "cells": json.loads(json.dumps(cells, default=str)),
           "serverCpuBreakdown": breakdown_lines(cells, list(cells[0]["servers"]) if cells else []),
           "runs": slim}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    log(f"wrote {path}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: duration 2 s, warmup 1 s, 2 rounds, 2 s priming (explicit options win)")
    p.add_argument("--duration", type=float, help="measured seconds per round (default 5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per round (default 1)")
    p.add_argument("--rounds", type=int, help="rounds per server and core count (default 3)")
    p.add_argument("--only", choices=KINDS, help="measure only one of the two servers")
    p.add_argument("--workloads", default="get",
                   help=f"comma list out of {','.join(READ_WORKLOADS)} (default get)")
    p.add_argument("--prime", type=float,
                   help="seconds of unrecorded load per workload after each start (default 5, --quick 2; 0 = none)")
    p.add_argument("--value-size", type=int, default=bm.VALUE_SIZE, help="bytes per value (default 100)")
    p.add_argument("--keys", type=int, default=1000, help="keys the reads pick from (default 1000)")
    p.add_argument("--zk-heap", default="4g", help="ZooKeeper's -Xmx (default 4g)")
    p.add_argument("--json-out", type=Path, help="write every run's figures and the summary here")
    p.add_argument("--tmp-dir", type=Path, help="where the data directories go (default: $TMPDIR or /tmp)")
    a = p.parse_args(argv)
    if a.duration is None:
        a.duration = 2.0 if a.quick else 5.0
    if a.warmup is None:
        a.warmup = 1.0
    if a.rounds is None:
        a.rounds = 2 if a.quick else 3
    if a.prime is None:
        a.prime = 2.0 if a.quick else 5.0
    if a.duration <= 0 or a.warmup < 0 or a.rounds < 1 or a.prime < 0:
        p.error("need --duration > 0, --warmup >= 0, --rounds >= 1, --prime >= 0")
    a.workload_list = list(dict.fromkeys(w.strip() for w in a.workloads.split(",") if w.strip()))
    bad = [w for w in a.workload_list if w not in READ_WORKLOADS]
    if bad or not a.workload_list:
        p.error(f"unknown workload(s) {','.join(bad) or '(none)'}; choose from {','.join(READ_WORKLOADS)}")
    a.kinds = [a.only] if a.only else list(KINDS)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, bm._on_sigterm)
    signal.signal(signal.SIGHUP, bm._on_sigterm)

    if shutil.which("taskset") is None:
        log("read_scaling: taskset not found (Debian package util-linux)")
        return 2
    try:
        available = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        available = set(range(os.cpu_count() or 0))
    if not NEEDED_CPUS <= available:
        log(f"read_scaling: needs CPUs 0 and 1; this process may use {sorted(available)}")
        return 2
    cmd = bm.bench_command()
    problem = bm.check_bench_command(cmd)
    if problem:
        log(f"read_scaling: {problem}")
        return 2

    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": bm.nproc(), "cpu": bm.cpu_model(), "kernel": os.uname().release,
        "gitRev": bm.git_rev(), "benchCommand": cmd, "serverBinary": servers.swiftkeeper_bin(),
        "durationS": a.duration, "warmupS": a.warmup, "rounds": a.rounds, "primeS": a.prime,
        "valueBytes": a.value_size, "keys": a.keys, "zkHeap": a.zk_heap, "serverCfg": bm.SERVER_CFG,
        "workloads": a.workload_list, "loads": [list(l) for l in LOADS],
        "pinning": {str(c): {"server": s, "bench": b} for c, (s, b) in CORE_CONFIGS.items()},
    }
    runs: list[dict] = []
    server_info: dict = {}
    partial = False
    started = time.monotonic()
    if a.tmp_dir:
        a.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="swiftkeeper-read-scaling-", dir=a.tmp_dir) as tmpdir:
        tmp = Path(tmpdir)
        meta["dataFilesystem"] = bm.mount_of(tmp)
        try:
            for cores in CORE_CONFIGS:
                measure_core_count(cores, a.kinds, cmd, tmp, a, runs, server_info)
        except (KeyboardInterrupt, bm.Interrupted) as e:
            partial = True
            log(f"\ninterrupted ({str(e) or 'Ctrl-C'}): servers stopped; printing what was measured")
        if any(not r.get("ok") for r in runs):
            meta["keptLogs"] = bm.keep_logs(tmp)
    meta["elapsedS"] = round(time.monotonic() - started, 1)
    cells = summarize(runs, a.kinds, a.workload_list)
    write_json(a.json_out, meta, cells, runs, server_info, partial)
    report(meta, cells, runs, server_info, a.kinds, partial)
    if partial:
        return 130
    return 1 if any(not r.get("ok") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
