"""Mixed ensembles: SwiftKeeper members beside Apache ZooKeeper 3.8.0 members.

Each layout writes through every member and reads every write back from every other,
kills the leader (failover across kinds), restarts it and ends with identical trees.
"""

from __future__ import annotations

import time

import pytest

from ensemble import Ensemble
from ensemble_checks import Writers, assert_converged, client, logged_session_digests

# The highest voter sid leads first (it is started first, and with equal zxids the
# highest sid wins).
LAYOUTS = {
    "2zk+1sk, swiftkeeper leads": ["zookeeper", "zookeeper", "swiftkeeper"],
    "2zk+1sk, swiftkeeper follows": ["swiftkeeper", "zookeeper", "zookeeper"],
    "1zk+2sk, zookeeper leads": ["swiftkeeper", "swiftkeeper", "zookeeper"],
    "1zk+2sk, swiftkeeper leads, observers of each kind": [
        "zookeeper", "swiftkeeper", "swiftkeeper", "swiftkeeper:observer", "zookeeper:observer"],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_mixed_ensemble(tmp_path, layout):
    ens = Ensemble(tmp_path, LAYOUTS[layout])
    ens.start(first=max((m for m in ens.members if not m.observer), key=lambda m: m.sid))
    try:
        leader = ens.wait_stable()
        voters = [m for m in ens.members if not m.observer]
        assert leader is max(voters, key=lambda m: m.sid), f"expected the highest sid to lead, got {leader.sid}"
        for m in ens.members:
            expected = "observer" if m.observer else ("leader" if m is leader else "follower")
            assert ens.mode(m) == expected, f"member {m.sid} ({m.kind}) is {ens.mode(m)}"
        # Writes through every member, read back from every other.
        for m in ens.members:
            zk = client(m.hosts)
            zk.create(f"/from-{m.sid}", f"{m.kind}-{m.sid}".encode())
            zk.stop()
        for reader in ens.members:
            zk = client(reader.hosts)
            zk.sync("/")
            for m in ens.members:
                assert zk.get(f"/from-{m.sid}")[0] == f"{m.kind}-{m.sid}".encode()
            zk.stop()
        writers = Writers(ens.members).start()
        try:
            writers.wait_for_more(30)
            killed_at = time.monotonic()
            ens.kill(leader)
            failover = writers.failover_after(killed_at)
            new_leader = ens.leader()
            print(f"{layout}: leader {leader.kind}-{leader.sid} killed; {new_leader.kind}-{new_leader.sid} leads; "
                  f"first write acknowledged after {failover * 1000:.0f} ms")
            writers.wait_for_more(writers.count() + 30)
            ens.restart(leader)
            writers.wait_for_more(writers.count() + 30)
        finally:
            writers.stop()
        assert_converged(ens, ens.members, writers)
        # Every PROPOSAL carried the tree digest it leaves (TxnDigest), and every member,
        # of either kind, reached it: no member counted a mismatch.
        for m in ens.members:
            mntr = m.process.four_letter("mntr")
            counts = [line.split()[1] for line in mntr.splitlines() if line.startswith("zk_digest_mismatches_count")]
            assert counts == ["0"], f"member {m.sid} ({m.kind}): {counts or 'no zk_digest_mismatches_count'}"
            flags = logged_session_digests(m.data_dir)
            assert flags and all(flags), f"member {m.sid} ({m.kind}) logged createSessions without a digest: {flags}"
    finally:
        ens.stop()


def test_a_zookeeper_learner_behind_a_swiftkeeper_leader_gets_a_streamed_snap(tmp_path):
    # The SwiftKeeper leader keeps a window of 5 txns and does not DIFF from its log, so a
    # ZooKeeper follower that missed more is sent SNAP, streamed slice by slice (~12 MB).
    ens = Ensemble(tmp_path, ["zookeeper", "swiftkeeper", "swiftkeeper"],
                   extra_cfg={"commitLogCount": "5", "snapshotSizeFactor": "-1"})
    ens.start(first=ens.members[2])
    try:
        leader = ens.wait_stable()
        assert leader.kind == "swiftkeeper"
        zk_member = ens.members[0]
        writer = client(leader.hosts, timeout=30.0)
        ens.kill(zk_member)
        blob = b"s" * 400_000
        for i in range(30):
            writer.create(f"/snap-{i:02d}", blob)
        ens.restart(zk_member)
        ens.wait_stable()
        reader = client(zk_member.hosts, timeout=30.0)
        reader.sync("/")
        assert len([c for c in reader.get_children("/") if c.startswith("snap-")]) == 30
        assert reader.get("/snap-29")[0] == blob
        reader.stop()
        writer.stop()
        log = zk_member.process.log_path.read_text()
        assert "Getting a snapshot from leader" in log, "the ZooKeeper member was expected to sync by SNAP"
        assert_converged(ens, ens.members)
    finally:
        ens.stop()
