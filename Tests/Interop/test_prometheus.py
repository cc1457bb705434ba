"""A real Prometheus (Debian's `prometheus` package) scrapes swiftkeeper's
`/metrics`, configured with ZooKeeper's keys (metricsProvider.className =
PrometheusMetricsProvider, httpHost, httpPort), after a known workload. PromQL
queries through Prometheus's HTTP API then return the series ZooKeeper's dashboard
and alert rules read, with the values the workload implies:

  - updatelatency_count equals the writes the test sent (creates, sets, deletes,
    multi), readlatency_count at least the reads, and their quantile series exist;
  - znode_count, ephemerals_count, watch_count, global_sessions are the tree's;
  - fsynctime_count grew with the writes, dbinittime_count is 1;
  - node_changed_watch_count_count counts the data change that fired a watch;
  - each of ZooKeeper's example alert rules (zookeeperMonitor.md) parses and runs.

Standalone and a 3-member ensemble (the leader's quorum gauges and commit_count).

    .venv-interop/bin/python -m pytest Tests/Interop/test_prometheus.py -v
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from kazoo.client import KazooClient

import servers
from ensemble import Ensemble

HOST = "127.0.0.1"
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
SCRAPE_INTERVAL = "1s"

# ZooKeeper's example alert rules (zookeeperMonitor.md), as PromQL.
ALERT_RULES = [
    "up == 0",
    "znode_count > 1000000",
    "num_alive_connections > 50",
    "approximate_data_size /1024 /1024 > 1 * 1024",
    "watch_count > 10000",
    "increase(election_time_count[5m]) > 0",
    "open_file_descriptor_count > 300",
    "rate(fsynctime_sum[1m]) > 100",
    "rate(snapshottime_sum[5m]) > 100",
    "avg_latency > 100",
]


def metrics_cfg(port: int) -> dict:
    return {"metricsProvider.className": PROMETHEUS_PROVIDER, "metricsProvider.httpHost": HOST,
            "metricsProvider.httpPort": port}


class Prometheus:
    def __init__(self, tmp: Path, targets: list[str]):
        self.port = servers.free_port()
        self.dir = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n"
            "scrape_configs:\n  - job_name: swiftkeeper\n    static_configs:\n      - targets: [%s]\n"
            % (SCRAPE_INTERVAL, SCRAPE_INTERVAL, ", ".join(f"'{t}'" for t in targets)))
        self.log = open(tmp / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address={HOST}:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def query(self, promql: str) -> list:
        url = f"http://{HOST}:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as r:
            answer = json.loads(r.read())
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, promql: str, instance: str | None = None) -> float | None:
        for series in self.query(promql):
            if instance is None or series["metric"].get("instance") == instance:
                return float(series["value"][1])
        return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready\n{(self.dir / 'prometheus.log').read_text()[-2000:]}")

    def wait_for(self, promql: str, predicate, instance: str | None = None, timeout: float = 30.0) -> float:
        """Polls until a fresh scrape gives a value the predicate accepts."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.value(promql, instance)
            if last is not None and predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"{promql} on {instance}: last value {last}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _need_prometheus() -> None:
    if not shutil.which("prometheus"):
        pytest.skip("prometheus not installed (scripts/test.sh installs Debian's package)")
    if not os.access(servers.swiftkeeper_bin(), os.X_OK):
        pytest.skip("swiftkeeper binary not built")


WRITES = {"create": 40, "set": 20, "delete": 10, "multi": 5}
READS = 60


def workload(hosts: str) -> KazooClient:
    """The known workload: WRITES and READS, one ephemeral, two data watches, one fired."""
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    zk.create("/m")
    for i in range(WRITES["create"] - 2):
        zk.create(f"/m/n{i}", b"x")
    zk.create("/m/eph", b"", ephemeral=True)
    for i in range(WRITES["set"]):
        zk.set(f"/m/n{i % 5}", b"y")
    for i in range(WRITES["delete"]):
        zk.delete(f"/m/n{20 + i}")
    for i in range(WRITES["multi"]):
        t = zk.transaction()
        t.set_data("/m/n6", b"z")
        t.commit()
    for _ in range(READS):
        zk.get("/m/n7")
    zk.get("/m/n8", watch=lambda e: None)
    zk.get("/m/n9", watch=lambda e: None)
    zk.set("/m/n9", b"fires")            # one more write, firing one data watch
    return zk


def check_series(prom: Prometheus, instance: str, expected_znodes: int) -> None:
    writes = sum(WRITES.values()) + 1
    prom.wait_for("updatelatency_count", lambda v: v == writes, instance)
    prom.wait_for("readlatency_count", lambda v: v >= READS, instance)
    for q in ("0.5", "0.9", "0.99"):
        assert prom.value(f'readlatency{{quantile="{q}"}}', instance) is not None
        assert prom.value(f'updatelatency{{quantile="{q}"}}', instance) is not None
    assert prom.value("znode_count", instance) == expected_znodes
    assert prom.value("ephemerals_count", instance) == 1
    assert prom.value("watch_count", instance) == 1          # /m/n8's; /m/n9's fired
    assert prom.value("global_sessions", instance) >= 1
    assert prom.value("num_alive_connections", instance) >= 1
    assert prom.value("fsynctime_count", instance) >= 1
    assert prom.value("dbinittime_count", instance) == 1
    assert prom.value("node_changed_watch_count_count", instance) == 1
    assert prom.value("packets_received", instance) >= writes + READS
    assert prom.value("process_resident_memory_bytes", instance) > 0
    assert prom.value("rate(fsynctime_sum[1m])", instance) is not None
    for rule in ALERT_RULES:
        prom.query(rule)     # parses and runs; none fires on this small load but `up == 0`'s absence
    assert prom.query("up == 0") == []
    assert prom.value("sync_processor_batch_size_count", instance) >= 1
    assert prom.value("propagation_latency_count", instance) >= writes


def test_prometheus_scrapes_standalone(tmp_path):
    _need_prometheus()
    port = servers.free_port()
    srv = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg=metrics_cfg(port))
    prom = Prometheus(tmp_path / "prometheus", [f"{HOST}:{port}"])
    zk = None
    try:
        prom.wait_ready()
        base = prom.wait_for("znode_count", lambda v: v > 0, f"{HOST}:{port}")
        zk = workload(srv.hosts)
        time.sleep(1.0)   # reads answered on the connection loops are reported within half a tick
        expected = base + 1 + (WRITES["create"] - 1) - WRITES["delete"]
        check_series(prom, f"{HOST}:{port}", expected)
        # With ZooKeeper's Prometheus provider, mntr prints the provider's samples.
        mntr = srv.four_letter("mntr")
        assert mntr.startswith("zk_version\t") and "zk_server_state\tstandalone\n" in mntr
        assert f"zk_znode_count\t{float(expected)}\n" in mntr
        assert 'zk_readlatency{quantile="0.5"}\t' in mntr and "zk_avg_readlatency" not in mntr
    finally:
        if zk is not None:
            zk.stop()
        prom.stop()
        srv.stop()


def test_prometheus_scrapes_ensemble(tmp_path):
    _need_prometheus()
    ports = {}

    def member_cfg(member):
        ports[member.sid] = servers.free_port()
        return metrics_cfg(ports[member.sid])

    ensemble = Ensemble(tmp_path / "ens", ["swiftkeeper"] * 3, member_cfg=member_cfg)
    prom = None
    zk = None
    try:
        ensemble.start()
        leader = ensemble.wait_stable()
        follower = next(m for m in ensemble.members if m is not leader)
        prom = Prometheus(tmp_path / "prometheus", [f"{HOST}:{p}" for p in ports.values()])
        prom.wait_ready()
        leader_target, follower_target = f"{HOST}:{ports[leader.sid]}", f"{HOST}:{ports[follower.sid]}"
        base = prom.wait_for("znode_count", lambda v: v > 0, follower_target)
        zk = workload(follower.hosts)
        time.sleep(1.0)
        check_series(prom, follower_target, base + 1 + (WRITES["create"] - 1) - WRITES["delete"])
        writes = sum(WRITES.values()) + 1
        # The leader proposed and committed every write (and the session), and counts
        # its followers; each follower received every proposal and commit.
        prom.wait_for("commit_count", lambda v: v >= writes + 1, leader_target)
        assert prom.value("proposal_count", leader_target) >= writes + 1
        assert prom.value("learners", leader_target) == 2
        assert prom.value("synced_followers", leader_target) == 2
        assert prom.value("quorum_size", leader_target) == 3
        assert prom.value("learner_proposal_received_count", follower_target) >= writes + 1
        assert prom.value("learner_commit_received_count", follower_target) >= writes + 1
        assert prom.value("election_time_count", follower_target) >= 1
        assert prom.value("looking_count", follower_target) >= 1
        assert prom.value("follower_sync_time_count", follower_target) >= 1
        assert prom.value("quorum_ack_latency_count", leader_target) >= writes
        assert prom.value("commit_propagation_latency_count", follower_target) >= writes
        assert prom.value("proposal_latency_count", follower_target) >= writes
        for q in ("0.5", "0.9", "0.99"):
            assert prom.value(f'quorum_ack_latency{{quantile="{q}"}}', leader_target) is not None
    finally:
        if zk is not None:
            zk.stop()
        if prom is not None:
            prom.stop()
        ensemble.stop()
