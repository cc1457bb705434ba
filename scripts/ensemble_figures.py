#!/usr/bin/env python3
"""Prints a 3-member SwiftKeeper ensemble's figures beside a 3-member Apache ZooKeeper
3.8.0 ensemble's, measured in the same run on this machine (figures, never asserted):
write and read throughput through all members, p50/p99 latency, failover time after
`kill -9` of the leader, RSS per member.

    .venv-interop/bin/python scripts/ensemble_figures.py [--seconds 5] [--failovers 3]

Both ensembles use tickTime=200, initLimit=10, syncLimit=5, forceSync on. The load comes
from Python (kazoo) clients, one per member, each keeping `--window` async requests in
flight; on 2 cores the clients take a share of the CPU, so compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "Interop"))

from ensemble import Ensemble  # noqa: E402
from ensemble_checks import Writers, client  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(ens: Ensemble, seconds: float, window: int, kind: str) -> tuple[float, list[float]]:
    """ops/s through all members and every op's latency (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    done = [0]
    stop = time.monotonic() + seconds

    def run(member):
        zk = client(member.hosts)
        zk.ensure_path(f"/bench/{member.sid}")
        mine = []
        count = 0
        while time.monotonic() < stop:
            batch = []
            for i in range(window):
                sent = time.monotonic()
                if kind == "write":
                    batch.append((sent, zk.set_async(f"/bench/{member.sid}", b"x" * 100)))
                else:
                    batch.append((sent, zk.get_async(f"/bench/{member.sid}")))
            for sent, result in batch:
                result.get(timeout=30)
                mine.append((time.monotonic() - sent) * 1000)
                count += 1
        zk.stop()
        zk.close()
        with lock:
            latencies.extend(mine)
            done[0] += count

    zk = client(ens.members[0].hosts)
    zk.ensure_path("/bench")
    zk.stop()
    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(m,)) for m in ens.members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - start), latencies


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def failover_ms(ens: Ensemble) -> float:
    writers = Writers(ens.members).start()
    try:
        writers.wait_for_more(20)
        leader = ens.leader()
        killed_at = time.monotonic()
        ens.kill(leader)
        result = writers.failover_after(killed_at) * 1000
        writers.wait_for_more(writers.count() + 10)
    finally:
        writers.stop()
    ens.restart(leader)
    return result


def measure(kind: str, tmp: Path, args) -> dict:
    ens = Ensemble(tmp / kind, [kind] * 3, extra_cfg={"forceSync": "yes"}).start()
    try:
        figures = {}
        figures["write ops/s"], lat = load(ens, args.seconds, args.window, "write")
        figures["write p50 ms"], figures["write p99 ms"] = percentile(lat, 0.5), percentile(lat, 0.99)
        figures["read ops/s"], lat = load(ens, args.seconds, args.window, "read")
        figures["read p50 ms"], figures["read p99 ms"] = percentile(lat, 0.5), percentile(lat, 0.99)
        figures["RSS MB per member"] = statistics.mean(rss_mb(m.process.pid) for m in ens.members)
        times = [failover_ms(ens) for _ in range(args.failovers)]
        figures["failover median ms"] = statistics.median(times)
        figures["failover max ms"] = max(times)
        return figures
    finally:
        ens.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--failovers", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ensemble-figures-") as tmp:
        sk = measure("swiftkeeper", Path(tmp), args)
        zk = measure("zookeeper", Path(tmp), args)
    print(f"{'3 members, tickTime 200':28} {'SwiftKeeper':>12} {'ZooKeeper':>12} {'ratio':>7}")
    for key in sk:
        ratio = sk[key] / zk[key] if zk[key] else float("nan")
        print(f"{key:28} {sk[key]:12.1f} {zk[key]:12.1f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
