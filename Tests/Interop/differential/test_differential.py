"""Differential tests: the same seeded operations against SwiftKeeper and Apache
ZooKeeper 3.8.0, compared reply by reply at the wire level.

    # SwiftKeeper (B) against ZooKeeper (A, the reference), 20 seeds x 150 ops:
    python3 -m pytest Tests/Interop/differential -q

    # one seed, more operations:
    DIFF_SEEDS=7 DIFF_OPS=400 python3 -m pytest Tests/Interop/differential -q

    # self-check of the harness: ZooKeeper against ZooKeeper on every seed
    DIFF_MODE=zk-vs-zk python3 -m pytest Tests/Interop/differential -q

Environment:
    DIFF_MODE    swiftkeeper (default) | zk-vs-zk
    DIFF_SEEDS   "0-19" (default), "7", "3,8,10-12"
    DIFF_OPS     operations per seed (default 150)
    DIFF_SESSIONS client sessions per sequence (default 3)

`test_harness_selfcheck` always runs two seeds ZooKeeper-vs-ZooKeeper, so a
broken normalisation shows up even when SwiftKeeper is not built. The
SwiftKeeper tests are skipped when its binary does not exist.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import servers  # noqa: E402  (Tests/Interop/servers.py)
from runner import ServerRun, run_lockstep  # noqa: E402


def _parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    return seeds


MODE = os.environ.get("DIFF_MODE", "swiftkeeper")
SEEDS = _parse_seeds(os.environ.get("DIFF_SEEDS", "0-19"))
N_OPS = int(os.environ.get("DIFF_OPS", "150"))
N_SESSIONS = int(os.environ.get("DIFF_SESSIONS", "3"))
SELFCHECK_SEEDS = [1000, 1001]

# The container/TTL reaper would delete nodes at moments that depend on timing;
# push it out of the way on ZooKeeper (default there is 60 s; servers.py uses 1 s).
ZK_JVM_PROPS = {"znode.container.checkIntervalMs": "3600000"}
SK_EXTRA_CFG = {"znode.container.checkIntervalMs": "3600000"}


def _start(kind: str, tmp: Path):
    if kind == "zookeeper":
        return servers.start_zookeeper(tmp, jvm_props=ZK_JVM_PROPS)
    return servers.start_swiftkeeper(tmp, extra_cfg=SK_EXTRA_CFG)


def _rerun_hint(seed: int, mode: str) -> str:
    rel = HERE.relative_to(servers.REPO_ROOT)
    env = f"DIFF_SEEDS={seed} DIFF_OPS={N_OPS}"
    if mode != "swiftkeeper":
        env += f" DIFF_MODE={mode}"
    if N_SESSIONS != 3:
        env += f" DIFF_SESSIONS={N_SESSIONS}"
    return f"{env} python3 -m pytest {rel} -q -k 'test_differential'"


def _run_pair(seed: int, kind_b: str, tmp_path: Path, mode: str) -> None:
    srv_a = srv_b = None
    run_a = run_b = None
    try:
        srv_a = _start("zookeeper", tmp_path / "A-zookeeper")
        srv_b = _start(kind_b, tmp_path / f"B-{kind_b}")
        run_a = ServerRun("zookeeper", srv_a.host, srv_a.port, N_SESSIONS)
        run_b = ServerRun(kind_b if kind_b != "zookeeper" else "zookeeper#2",
                          srv_b.host, srv_b.port, N_SESSIONS)
        stats = run_lockstep(seed, N_OPS, run_a, run_b, rerun_hint=_rerun_hint(seed, mode))
        print(f"seed {seed}: {stats['ops']} ops agree, final tree {stats['nodes']} nodes; "
              f"kinds {dict(sorted(stats['kinds'].items()))}")
    finally:
        for r in (run_a, run_b):
            if r is not None:
                r.close()
        for s in (srv_a, srv_b):
            if s is not None:
                s.stop()


def _swiftkeeper_available() -> bool:
    return os.access(servers.swiftkeeper_bin(), os.X_OK)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_differential(seed: int, tmp_path: Path) -> None:
    if MODE == "zk-vs-zk":
        _run_pair(seed, "zookeeper", tmp_path, MODE)
        return
    if MODE != "swiftkeeper":
        pytest.fail(f"unknown DIFF_MODE {MODE!r} (swiftkeeper or zk-vs-zk)")
    if not _swiftkeeper_available():
        pytest.skip(f"swiftkeeper binary not built: {servers.swiftkeeper_bin()}")
    _run_pair(seed, "swiftkeeper", tmp_path, MODE)


@pytest.mark.parametrize("seed", SELFCHECK_SEEDS, ids=[f"selfcheck_{s}" for s in SELFCHECK_SEEDS])
def test_harness_selfcheck(seed: int, tmp_path: Path) -> None:
    """Two ZooKeepers must agree: proves the normalisation hides only what differs
    between runs (times, session ids, absolute zxids)."""
    _run_pair(seed, "zookeeper", tmp_path, "zk-vs-zk")
