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
