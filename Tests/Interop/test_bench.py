"""`swiftkeeper bench` works against both servers: every workload runs, reports figures in
its JSON, meets no errors, and leaves nothing behind. Figures are printed, never asserted
(benchmarks are commands; times on a shared machine mean nothing in a test)."""

import json
import subprocess

import pytest
from kazoo.client import KazooClient

import servers
from ensemble import Ensemble

WORKLOADS = ["get", "exists", "set", "create", "delete", "multi", "mixed", "watch", "churn"]


def bench(*args: str, timeout: float = 180) -> dict:
    argv = [servers.swiftkeeper_bin(), "bench", "--json", "--duration", "0.5", "--warmup", "0.2", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def assert_clean(port: int) -> None:
    zk = KazooClient(hosts=f"127.0.0.1:{port}")
    zk.start()
    try:
        assert zk.exists("/swiftkeeper-bench") is None, zk.get_children("/swiftkeeper-bench")
    finally:
        zk.stop()


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_runs_and_cleans_up(swiftkeeper, workload):
    report = bench("--hosts", f"127.0.0.1:{swiftkeeper.port}", "--workload", workload,
                   "--sessions", "4", "--in-flight", "8", "--keys", "50")
    (target,) = report["targets"]
    (figures,) = target["rounds"]
    print(workload, figures)
    assert report["workload"] == workload and report["sessions"] == 4 and report["inFlight"] == 8
    assert figures["ops"] > 0 and figures["errors"] == 0
    assert figures["opsPerSec"] > 0 and 0 < figures["p50Ms"] <= figures["p99Ms"] <= figures["maxMs"]
    assert report.get("ratios") is None
    assert_clean(swiftkeeper.port)


def test_compare_alternates_with_zookeeper(swiftkeeper, zookeeper):
    report = bench("--hosts", f"127.0.0.1:{swiftkeeper.port}", "--compare", f"127.0.0.1:{zookeeper.port}",
                   "--workload", "mixed", "--sessions", "2", "--in-flight", "4", "--rounds", "2")
    labels = [t["label"] for t in report["targets"]]
    assert labels == ["swiftkeeper", "zookeeper"]
    for target in report["targets"]:
        assert len(target["rounds"]) == 2 and all(r["ops"] > 0 and r["errors"] == 0 for r in target["rounds"])
    ratio = report["ratios"]["opsPerSec"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"] and ratio["min"] > 0
    print(report["ratios"])
    assert_clean(swiftkeeper.port)
    assert_clean(zookeeper.port)


def test_sessions_spread_over_every_member_of_an_ensemble(tmp_path):
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3)
    ens.start()
    try:
        hosts = ",".join(m.hosts for m in ens.members)
        for workload in ("set", "get"):
            report = bench("--hosts", hosts, "--workload", workload, "--sessions", "6", "--in-flight", "4")
            assert report["targets"][0]["hosts"] == hosts
            figures = report["targets"][0]["rounds"][0]
            assert figures["ops"] > 0 and figures["errors"] == 0, figures
        for member in ens.members:
            assert_clean(member.client_port)
    finally:
        ens.stop()


def test_an_unreachable_server_is_a_clear_error():
    done = subprocess.run([servers.swiftkeeper_bin(), "bench", "--hosts", f"127.0.0.1:{servers.free_port()}",
                           "--duration", "0.2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "swiftkeeper bench:" in done.stderr
