#!/usr/bin/env python3
"""Benchmark matrix: SwiftKeeper next to Apache ZooKeeper 3.8.0, same machine, same run.

    scripts/bench.sh [--quick] [--duration S] [--warmup S] [--rounds N]
                     [--only standalone|ensemble] [--workloads get,set,...]
                     [--json-out FILE] [--prime S] [--zk-heap 4g] [--tmp-dir DIR]
                     [--cell-timeout S] [--value-size N] [--keys N]

(or `.venv-interop/bin/python scripts/bench_matrix.py ...` directly.)

Starts a SwiftKeeper and an Apache ZooKeeper standalone server (then two 3-member
ensembles, one of each kind) on 127.0.0.1 in a temporary directory, and runs every cell
of the matrix as one

    swiftkeeper bench --hosts <swiftkeeper> --compare <zookeeper> --json ...

so the two servers take turns round by round. The cells:

    get exists set create delete multi mixed(90% reads)   at 8 sessions x 32 in flight
                                                          and 64 sessions x 8 in flight
    get set                                               at 1 session x 1 in flight

all with 100-byte values. Against an ensemble --hosts/--compare list all three members,
so the sessions spread over every member. Both servers keep fsync on (forceSync
default) and run with maxClientCnxns=0 (ZooKeeper's default of 60 connections per
address would refuse 64 sessions from 127.0.0.1); ZooKeeper gets a 4 GiB heap limit
(`--zk-heap`) instead of servers.py's 512 MiB / ensemble.py's 256 MiB. Before the first
cell of a topology both servers get an unrecorded priming run (`--prime`, mixed 50% reads),
so ZooKeeper's JIT has compiled its hot paths before anything is measured. Data
directories go under $TMPDIR or `--tmp-dir`; the header names that filesystem.

At the end one markdown table: per cell SwiftKeeper and ZooKeeper ops/s, the throughput
ratio swiftkeeper/zookeeper (median over round pairs and its min-max), p99 and p50 of
each and the p99 ratio; above it a header with date, CPUs, kernel and every server's
VmRSS after its topology's last cell. Cells that fail or time out appear as "failed"
(below the table: the bench's stderr tail and the warnings/errors the servers logged
during the cell; the servers' logs are copied out of the temporary directory) and make
the exit status 1; the run goes on with the next cell. Exit status 2: no usable
`swiftkeeper bench`; 130: interrupted (what was measured is still printed).

The load generator (`swiftkeeper bench`) shares the machine's cores with the servers, so
absolute numbers say little; the ratio is the figure to read.

Environment:
    SWIFTKEEPER_BENCH_BIN  command for `swiftkeeper bench` (split like a shell word list;
                           `bench` and the options are appended). Default: the
                           swiftkeeper binary below.
    SWIFTKEEPER_BIN        the swiftkeeper binary the servers run (servers.py);
                           default <repo>/.build/release/swiftkeeper
    ZOOKEEPER_CLASSPATH, ZOOKEEPER_JAVA   as in Tests/Interop/servers.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "Interop"))

import servers  # noqa: E402
from ensemble import Ensemble  # noqa: E402

DEFAULT_WORKLOADS = ("get", "exists", "set", "create", "delete", "multi", "mixed")
ALL_WORKLOADS = DEFAULT_WORKLOADS + ("watch", "churn")
BIG_LOADS = ((8, 32), (64, 8))          # (sessions, in flight) for every workload
SINGLE_LOAD_WORKLOADS = ("get", "set")  # also run at 1 session x 1 in flight
READ_PERCENT = 90
VALUE_SIZE = 100
LABEL_SK, LABEL_ZK = "swiftkeeper", "zookeeper"
# Same settings for both servers; forceSync stays at its default (yes).
SERVER_CFG = {"maxClientCnxns": "0"}
TOPOLOGIES = ("standalone", "ensemble")
# Log lines worth showing next to a failed cell (SwiftKeeper logs "warning"/"error",
# ZooKeeper's log4j "WARN"/"ERROR").
WARNING_RE = re.compile(r"\b(warning|error|critical|WARN|ERROR|FATAL)\b")


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def _on_sigterm(signum, frame):
    raise Interrupted(f"signal {signum}")


# -- machine facts ------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 0


def proc_mem(pid: int | None) -> dict[str, int]:
    """VmRSS / VmHWM in KiB from /proc/<pid>/status."""
    found: dict[str, int] = {}
    if pid is None:
        return found
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found


def mount_of(path: Path) -> str:
    """The filesystem the servers' data directories live on (fsync cost depends on it)."""
    best = ("?", "", "?")
    target = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[1]):
                best = (dev, mnt, fstype)
    except (OSError, ValueError):
        pass
    return f"{best[1] or '?'} ({best[2]})"


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev or "?") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


# -- the bench command ---------------------------------------------------------------------

def bench_command() -> list[str]:
    env = os.environ.get("SWIFTKEEPER_BENCH_BIN")
    if env:
        return shlex.split(env)
    return [servers.swiftkeeper_bin()]


def check_bench_command(cmd: list[str]) -> str | None:
    """None if `<cmd> bench --help` looks like the bench subcommand, else why not."""
    try:
        p = subprocess.run([*cmd, "bench", "--help"], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run {shlex.join(cmd)} bench --help: {e}"
    text = p.stdout + p.stderr
    if p.returncode != 0 or "--workload" not in text:
        return (f"`{shlex.join(cmd)} bench --help` (exit {p.returncode}) does not describe a "
                f"bench subcommand with --workload; is the binary older than `swiftkeeper bench`?\n"
                + "\n".join(text.splitlines()[:8]))
    return None


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_cell(cmd: list[str], sk_hosts: str, zk_hosts: str, cell: dict, a,
             read_percent: int = READ_PERCENT) -> dict:
    argv = [*cmd, "bench",
            "--hosts", sk_hosts, "--compare", zk_hosts,
            "--label", LABEL_SK, "--compare-label", LABEL_ZK,
            "--workload", cell["workload"],
            "--sessions", str(cell["sessions"]), "--in-flight", str(cell["inFlight"]),
            "--value-size", str(a.value_size), "--keys", str(a.keys),
            "--duration", fmt_num(a.duration), "--warmup", fmt_num(a.warmup),
            "--rounds", str(a.rounds), "--json"]
    if cell["workload"] == "mixed":
        argv[-1:-1] = ["--read-percent", str(read_percent)]
    timeout = a.cell_timeout or (240 + 3 * 2 * a.rounds * (a.duration + a.warmup))
    record = dict(cell, argv=argv, ok=False, timeoutS=timeout)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace",
                            preexec_fn=servers._set_pdeathsig)
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            record.update(error=f"timed out after {timeout:.0f}s", errorShort="timeout", stderrTail=tail(err),
                          stdoutTail=tail(out, 5), elapsedS=time.monotonic() - t0)
            return record
    finally:
        if proc.poll() is None:   # interrupted while waiting: take the bench down with us
            proc.kill()
            proc.wait()
    record["elapsedS"] = time.monotonic() - t0
    record["stderrTail"] = tail(err)
    if proc.returncode != 0:
        record["error"] = f"exit status {proc.returncode}"
        record["errorShort"] = f"exit {proc.returncode}"
        record["stdoutTail"] = tail(out, 5)
        return record
    try:
        result = parse_json(out)
    except ValueError as e:
        record["error"] = f"stdout is not one JSON object ({e})"
        record["errorShort"] = "bad JSON"
        record["stdoutTail"] = tail(out, 5)
        return record
    record["result"] = result
    problem = validate(result)
    if problem:
        record["error"] = problem
        record["errorShort"] = "bad JSON"
        return record
    record["ok"] = True
    return record


def parse_json(out: str):
    """The one JSON object on stdout; if something else got printed too, its last line
    that parses as an object."""
    try:
        return json.loads(out)
    except ValueError as first:
        for line in reversed(out.strip().splitlines()):
            if line.lstrip().startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    pass
        raise first


def prime(cmd: list[str], topo: "Topology", a) -> None:
    """An unrecorded run against both servers (ZooKeeper's JIT compiles its hot paths in the
    first seconds; the first cell should not pay for that). A failure is only reported."""
    cell = {"workload": "mixed", "sessions": 8, "inFlight": 32}
    quick = argparse.Namespace(**{**vars(a), "duration": a.prime, "warmup": 0.0, "rounds": 1})
    marks = topo.log_marks()
    rec = run_cell(cmd, topo.sk_hosts, topo.zk_hosts, cell, quick, read_percent=50)
    if rec.get("ok"):
        log(f"  primed both servers: {a.prime:g} s of mixed 50% reads each ({rec['elapsedS']:.0f}s)")
    else:
        details = "\n".join(x for x in (rec.get("stderrTail"), topo.log_news(marks)) if x)
        log(f"  warning: priming run failed ({rec.get('error')}); going on\n"
            + "\n".join("    " + l for l in details.splitlines()))


def target(result: dict, label: str, index: int) -> dict:
    targets = result.get("targets") or []
    for t in targets:
        if t.get("label") == label:
            return t
    return targets[index] if len(targets) > index else {}


def validate(result: dict) -> str | None:
    if not isinstance(result, dict):
        return "JSON is not an object"
    targets = result.get("targets")
    if not isinstance(targets, list) or len(targets) != 2:
        return f"expected 2 targets in the JSON, got {targets!r:.200}"
    for t in targets:
        if not isinstance(t.get("opsPerSec"), (int, float)):
            return f"target {t.get('label')!r} has no opsPerSec"
    if not isinstance(result.get("ratios"), dict):
        return "JSON has no ratios"
    return None


# -- servers --------------------------------------------------------------------------------

class Topology:
    """Two deployments, SwiftKeeper and ZooKeeper, started side by side."""

    def __init__(self, name: str, tmp: Path, zk_heap: str):
        self.name = name
        self.tmp = tmp
        self.zk_heap = zk_heap
        self.sk_procs: list[servers.ServerProcess] = []
        self.zk_procs: list[servers.ServerProcess] = []
        self.ensembles: list[Ensemble] = []
        self.sk_hosts = self.zk_hosts = ""

    def start(self, attempts: int = 3) -> None:
        """Starts both deployments; a start that fails (e.g. a port picked by free_port()
        got taken meanwhile) is retried on fresh ports."""
        for attempt in range(1, attempts + 1):
            try:
                self._start(self.tmp / f"attempt-{attempt}")
                return
            except Exception as e:
                self.stop()
                self.sk_procs, self.zk_procs, self.ensembles = [], [], []
                if attempt == attempts:
                    raise
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                log(f"  start attempt {attempt} failed ({first}); retrying on fresh ports")

    def _start(self, tmp: Path) -> None:
        if self.name == "standalone":
            sk = servers.start_swiftkeeper(tmp / "swiftkeeper", SERVER_CFG, timeout=60)
            self.sk_procs = [sk]
            zk = servers.start_zookeeper(tmp / "zookeeper", SERVER_CFG, timeout=120,
                                         jvm_args=(f"-Xmx{self.zk_heap}",))
            self.zk_procs = [zk]
            self.sk_hosts, self.zk_hosts = sk.hosts, zk.hosts
        else:
            sk = self._ensemble(tmp, "swiftkeeper")
            zk = self._ensemble(tmp, "zookeeper")
            self.sk_procs = [m.process for m in sk.members]
            self.zk_procs = [m.process for m in zk.members]
            self.sk_hosts, self.zk_hosts = sk.hosts(), zk.hosts()

    def _ensemble(self, tmp: Path, kind: str) -> Ensemble:
        ens = Ensemble(tmp / f"ensemble-{kind}", [kind] * 3, extra_cfg=SERVER_CFG)
        if kind == "zookeeper":
            for m in ens.members:
                # ensemble.py starts members with -Xmx256m; a later -Xmx wins in HotSpot.
                argv = m.process.argv
                argv.insert(argv.index("-cp"), f"-Xmx{self.zk_heap}")
        self.ensembles.append(ens)
        ens.start(timeout=120)
        ens.wait_stable(timeout=60)
        return ens

    def processes(self) -> list[servers.ServerProcess]:
        return self.sk_procs + self.zk_procs

    def log_files(self) -> list[tuple[str, Path]]:
        files = []
        for p in self.processes():
            for path in dict.fromkeys((p.log_path, p.stdout_path)):
                files.append((p.name, path))
        return files

    def log_marks(self) -> dict[Path, int]:
        marks = {}
        for _, path in self.log_files():
            try:
                marks[path] = path.stat().st_size
            except OSError:
                marks[path] = 0
        return marks

    def log_news(self, marks: dict[Path, int], per_server: int = 6) -> str:
        """Warnings and errors the servers logged since `marks`: per server the last
        `per_server` distinct ones (lines that differ only in numbers count as one)."""
        parts = []
        for name, path in self.log_files():
            try:
                with open(path, "rb") as f:
                    f.seek(marks.get(path, 0))
                    text = f.read(8 << 20).decode("utf-8", errors="replace")
            except OSError:
                continue
            seen: dict[str, tuple[int, str]] = {}
            for line in text.splitlines():
                if WARNING_RE.search(line):
                    seen[re.sub(r"\d+", "#", line)] = (seen.get(re.sub(r"\d+", "#", line), (0, ""))[0] + 1, line)
            if seen:
                lines = [f"{line[:300]}" + (f"  (x{n})" if n > 1 else "") for n, line in list(seen.values())[-per_server:]]
                parts.append(f"--- {name} ({path.name}) ---\n" + "\n".join(lines))
        return "\n".join(parts)

    def dead(self) -> list[servers.ServerProcess]:
        return [p for p in self.processes() if not p.is_running()]

    def memory(self) -> dict[str, dict]:
        return {p.name: {"pid": p.pid, **proc_mem(p.pid)} for p in self.processes() if p.is_running()}

    def stop(self) -> None:
        for p in self.processes():
            try:
                p.stop(grace=10)
            except Exception as e:  # keep stopping the others
                log(f"  stopping {p.name}: {e}")
        for ens in self.ensembles:
            try:
                ens.stop()
            except Exception:
                pass


# -- the matrix -----------------------------------------------------------------------------

def cells_for(workloads: list[str]) -> list[dict]:
    cells = []
    for w in workloads:
        for sessions, inflight in BIG_LOADS:
            cells.append({"workload": w, "sessions": sessions, "inFlight": inflight})
    for w in workloads:
        if w in SINGLE_LOAD_WORKLOADS:
            cells.append({"workload": w, "sessions": 1, "inFlight": 1})
    return cells


def fmt_num(v) -> str:
    return f"{v:g}"


def fmt_ops(v) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{v:,.0f}"


def fmt_ms(v) -> str:
    if not isinstance(v, (int, float)):
        return "n/a"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_ratio(r) -> str:
    if not isinstance(r, dict) or not isinstance(r.get("median"), (int, float)):
        return "n/a"
    s = f"{r['median']:.2f}"
    if isinstance(r.get("min"), (int, float)) and isinstance(r.get("max"), (int, float)):
        s += f" [{r['min']:.2f}-{r['max']:.2f}]"
    return s


def workload_label(cell: dict) -> str:
    return f"mixed {READ_PERCENT}% reads" if cell["workload"] == "mixed" else cell["workload"]


def errors_of(t: dict) -> int:
    return sum(int(r.get("errors") or 0) for r in (t.get("rounds") or []) if isinstance(r, dict))


def table_rows(records: list[dict]) -> list[list[str]]:
    rows = []
    for rec in records:
        head = [rec["topology"], workload_label(rec), f"{rec['sessions']}x{rec['inFlight']}"]
        if not rec.get("ok"):
            rows.append(head + ["failed", "failed"] + ["-"] * 7 + [md_escape(rec.get("errorShort", "see below"))])
            continue
        res = rec["result"]
        sk, zk = target(res, LABEL_SK, 0), target(res, LABEL_ZK, 1)
        ratios = res.get("ratios") or {}
        errs = f"{errors_of(sk)}/{errors_of(zk)}"
        rows.append(head + [
            fmt_ops(sk.get("opsPerSec")), fmt_ops(zk.get("opsPerSec")), fmt_ratio(ratios.get("opsPerSec")),
            fmt_ms(sk.get("p99Ms")), fmt_ms(zk.get("p99Ms")), fmt_ratio(ratios.get("p99Ms")),
            fmt_ms(sk.get("p50Ms")), fmt_ms(zk.get("p50Ms")), fmt_ratio(ratios.get("p50Ms")),
            errs])
    return rows


HEADERS = ["topology", "workload", "sessions x in-flight",
           "SK ops/s", "ZK ops/s", "ops ratio SK/ZK [min-max]",
           "SK p99 ms", "ZK p99 ms", "p99 ratio [min-max]",
           "SK p50 ms", "ZK p50 ms", "p50 ratio [min-max]", "errors SK/ZK (or failure)"]


def md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    numeric = set(range(3, len(HEADERS)))

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(HEADERS), sep, *(line(r) for r in rows)])


def mem_summary(memory: dict[str, dict[str, dict]]) -> str:
    parts = []
    for topo, procs in memory.items():
        for kind in ("swiftkeeper", "zookeeper"):
            mine = [(name, m) for name, m in procs.items() if name.startswith(kind)]
            if not mine:
                continue
            rss = "/".join(f"{m['VmRSS'] / 1024:.0f}" if "VmRSS" in m else "?" for _, m in mine)
            hwm = "/".join(f"{m['VmHWM'] / 1024:.0f}" if "VmHWM" in m else "?" for _, m in mine)
            parts.append(f"{topo} {kind} {rss} MiB (peak {hwm})")
    return "; ".join(parts) if parts else "n/a"


def report(meta: dict, records: list[dict], memory: dict, partial: bool) -> None:
    print()
    print(f"## SwiftKeeper vs Apache ZooKeeper 3.8.0{' (PARTIAL: interrupted)' if partial else ''}")
    print()
    print(f"{meta['date']} | nproc {meta['nproc']} | {meta['cpu']} | kernel {meta['kernel']} | "
          f"swiftkeeper {meta['gitRev']}")
    print(f"duration {fmt_num(meta['durationS'])} s, warmup {fmt_num(meta['warmupS'])} s, "
          f"{meta['rounds']} rounds per server (alternating), {meta['valueBytes']}-byte values, "
          f"{meta['keys']} keys, fsync on, data on {meta.get('dataFilesystem', '?')}, "
          f"maxClientCnxns=0, ZooKeeper -Xmx{meta['zkHeap']}, "
          f"{fmt_num(meta['primeS'])} s unrecorded priming per server; "
          f"figures are medians over rounds; ratios are SwiftKeeper/ZooKeeper per round pair, "
          f"median [min-max] (ops: higher favours SwiftKeeper; latency: lower does)")
    print(f"VmRSS after the run: {mem_summary(memory)}")
    print()
    print(markdown_table(table_rows(records)))
    failed = [r for r in records if not r.get("ok")]
    print_failures(failed, "cell", lambda r: f"{r['topology']} {workload_label(r)} {r['sessions']}x{r['inFlight']}",
                   ("stderrTail", "stdoutTail", "serverLogs"))
    print_kept_logs(meta)


def print_failures(failed: list[dict], noun: str, describe, tails: tuple[str, ...],
                   extra=lambda r: []) -> None:
    """Below a table: each failed run with its command and the output tails it kept."""
    if not failed:
        return
    print()
    print(f"### {len(failed)} failed {noun}(s)")
    for r in failed:
        print()
        print(f"- {describe(r)}: {r.get('error')}")
        if r.get("argv"):
            print(f"  command: {shlex.join(r['argv'])}")
        for line in extra(r):
            print(f"  {line}")
        for name in tails:
            if r.get(name):
                print(f"  {name}:")
                print("\n".join("    " + l for l in r[name].splitlines()))


def print_kept_logs(meta: dict) -> None:
    if meta.get("keptLogs"):
        print()
        print(f"server logs kept in {meta['keptLogs']}")
    sys.stdout.flush()


def keep_logs(tmp: Path) -> str | None:
    """Copies every server's log (not the data) out of the temporary directory."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    dest = tmp.parent / f"swiftkeeper-bench-logs-{stamp}"
    try:
        for path in tmp.rglob("*"):
            if path.is_file() and path.suffix in (".log", ".out", ".cfg"):
                target = dest / path.relative_to(tmp)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    except OSError as e:
        log(f"could not keep the server logs: {e}")
        return None
    return str(dest)


def progress(rec: dict) -> None:
    where = f"[{rec['topology']}] {workload_label(rec)} {rec['sessions']}x{rec['inFlight']}"
    took = f"{rec.get('elapsedS', 0):.0f}s"
    if not rec.get("ok"):
        log(f"  {where}: FAILED ({rec.get('error')}) after {took}")
        for name in ("stderrTail", "serverLogs"):
            if rec.get(name):
                log("\n".join("    " + l for l in rec[name].splitlines()))
        return
    res = rec["result"]
    sk, zk = target(res, LABEL_SK, 0), target(res, LABEL_ZK, 1)
    log(f"  {where}: sk {fmt_ops(sk.get('opsPerSec'))} ops/s p99 {fmt_ms(sk.get('p99Ms'))} ms | "
        f"zk {fmt_ops(zk.get('opsPerSec'))} ops/s p99 {fmt_ms(zk.get('p99Ms'))} ms | "
        f"ratio {fmt_ratio((res.get('ratios') or {}).get('opsPerSec'))} ({took})")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: duration 2 s, warmup 1 s, 2 rounds (explicit options still win)")
    p.add_argument("--duration", type=float, help="measured seconds per round (default 5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per round (default 1)")
    p.add_argument("--rounds", type=int, help="rounds per server (default 2)")
    p.add_argument("--only", choices=TOPOLOGIES, help="run only the standalone or only the ensemble part")
    p.add_argument("--workloads", help=f"comma list out of {','.join(ALL_WORKLOADS)} "
                                       f"(default {','.join(DEFAULT_WORKLOADS)})")
    p.add_argument("--value-size", type=int, default=VALUE_SIZE, help="bytes per value (default 100)")
    p.add_argument("--keys", type=int, default=1000, help="keys per cell (default 1000)")
    p.add_argument("--zk-heap", default="4g", help="ZooKeeper's -Xmx (default 4g)")
    p.add_argument("--cell-timeout", type=float,
                   help="seconds before a bench invocation is killed "
                        "(default 240 + 6 x rounds x (duration + warmup))")
    p.add_argument("--prime", type=float,
                   help="seconds of an unrecorded mixed 50%% read/write run against both servers "
                        "after they start, so ZooKeeper's JIT is warm before the first cell "
                        "(default 5, --quick 2; 0 = none)")
    p.add_argument("--json-out", type=Path, help="write every cell's full JSON here")
    p.add_argument("--tmp-dir", type=Path,
                   help="where the servers' data directories go (default: $TMPDIR or /tmp)")
    a = p.parse_args(argv)
    if a.duration is None:
        a.duration = 2.0 if a.quick else 5.0
    if a.warmup is None:
        a.warmup = 1.0
    if a.rounds is None:
        a.rounds = 2
    if a.prime is None:
        a.prime = 2.0 if a.quick else 5.0
    if a.duration <= 0 or a.warmup < 0 or a.rounds < 1:
        p.error("need --duration > 0, --warmup >= 0, --rounds >= 1")
    if a.workloads:
        a.workload_list = [w.strip() for w in a.workloads.split(",") if w.strip()]
        bad = [w for w in a.workload_list if w not in ALL_WORKLOADS]
        if bad or not a.workload_list:
            p.error(f"unknown workload(s) {','.join(bad) or '(none)'}; choose from {','.join(ALL_WORKLOADS)}")
    else:
        a.workload_list = list(DEFAULT_WORKLOADS)
    a.topologies = [a.only] if a.only else list(TOPOLOGIES)
    return a


def write_json(path: Path | None, meta: dict, records: list[dict], memory: dict, partial: bool) -> None:
    if path is None:
        return
    doc = {"meta": meta, "partial": partial, "memoryKiB": memory, "cells": records}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    log(f"wrote {path}")


def main(argv=None) -> int:
    a = parse_args(argv)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (from `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)

    cmd = bench_command()
    problem = check_bench_command(cmd)
    if problem:
        log(f"bench_matrix: {problem}")
        return 2

    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": nproc(), "cpu": cpu_model(), "kernel": os.uname().release,
        "gitRev": git_rev(), "benchCommand": cmd, "serverBinary": servers.swiftkeeper_bin(),
        "durationS": a.duration, "warmupS": a.warmup, "rounds": a.rounds,
        "valueBytes": a.value_size, "keys": a.keys, "readPercent": READ_PERCENT,
        "zkHeap": a.zk_heap, "serverCfg": SERVER_CFG, "primeS": a.prime,
    }
    cells = cells_for(a.workload_list)
    records: list[dict] = []
    memory: dict[str, dict] = {}
    partial = False
    started = time.monotonic()
    if a.tmp_dir:
        a.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="swiftkeeper-bench-", dir=a.tmp_dir) as tmpdir:
        tmp = Path(tmpdir)
        meta["dataFilesystem"] = mount_of(tmp)
        try:
            for topo_name in a.topologies:
                topo = Topology(topo_name, tmp / topo_name, a.zk_heap)
                log(f"== {topo_name}: starting SwiftKeeper and ZooKeeper")
                try:
                    try:
                        topo.start()
                    except Exception as e:  # every cell of this topology fails, the next one still runs
                        msg = f"servers did not start: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                        log(f"  {msg}\n{tail(str(e), 30)}")
                        for cell in cells:
                            rec = dict(cell, topology=topo_name, ok=False, error=msg, errorShort="no servers",
                                       stderrTail=tail(str(e)))
                            records.append(rec)
                        continue
                    log(f"  swiftkeeper {topo.sk_hosts}  zookeeper {topo.zk_hosts}")
                    if a.prime > 0:
                        prime(cmd, topo, a)
                    for cell in cells:
                        dead = topo.dead()
                        if dead:
                            rec = dict(cell, topology=topo_name, ok=False, errorShort="skipped",
                                       error="not run: server(s) exited earlier: " + ", ".join(
                                           f"{p.name} (status {p.proc.returncode})" for p in dead))
                        else:
                            marks = topo.log_marks()
                            rec = run_cell(cmd, topo.sk_hosts, topo.zk_hosts, cell, a)
                            rec["topology"] = topo_name
                            dead = topo.dead()
                            if dead:  # figures measured while a server went away mean little
                                rec.update(ok=False, errorShort="server died",
                                           error="server(s) exited during the cell: " + ", ".join(
                                               f"{p.name} (status {p.proc.returncode})" for p in dead),
                                           stderrTail=(rec.get("stderrTail") or "") + "\n" + "\n".join(
                                               f"--- {p.name} log ---\n" + servers._tail(p.log_path, 10) for p in dead))
                            if not rec.get("ok"):
                                rec["serverLogs"] = topo.log_news(marks)
                        records.append(rec)
                        progress(rec)
                finally:
                    if topo.processes():
                        memory[topo_name] = topo.memory()
                    topo.stop()
                    log(f"== {topo_name}: servers stopped")
        except (KeyboardInterrupt, Interrupted) as e:
            partial = True
            log(f"\ninterrupted ({str(e) or 'Ctrl-C'}): servers stopped; printing what was measured")
        if any(not r.get("ok") for r in records):
            meta["keptLogs"] = keep_logs(tmp)
    meta["elapsedS"] = round(time.monotonic() - started, 1)
    write_json(a.json_out, meta, records, memory, partial)
    report(meta, records, memory, partial)
    if partial:
        return 130
    return 1 if any(not r.get("ok") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
