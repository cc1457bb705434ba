"""A 3-member SwiftKeeper ensemble on loopback, started from zoo.cfg files."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time

import pytest

from ensemble import Ensemble
from ensemble_checks import Writers, assert_converged, client

SEED = """
from kazoo.client import KazooClient
zk = KazooClient(hosts='{hosts}'); zk.start()
zk.create('/test', b'data', makepath=True)
data, stat = zk.get('/test'); zk.set('/test', b'new data'); zk.delete('/test')
zk.stop()
"""


@pytest.fixture
def ensemble(tmp_path):
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3).start()
    try:
        yield ens
    finally:
        ens.stop()


def test_seed_example_through_each_member(ensemble):
    ensemble.wait_stable()
    assert sorted(ensemble.modes().values()) == ["follower", "follower", "leader"]
    for member in ensemble.members:
        exec(SEED.format(hosts=member.hosts), {})
    for member in ensemble.members:
        zk = client(member.hosts)
        zk.create(f"/from-{member.sid}", f"{member.sid}".encode())
        zk.stop()
    assert_converged(ensemble, ensemble.members)


def test_writes_through_a_follower_watch_fires_on_another(ensemble):
    leader = ensemble.leader()
    followers = [m for m in ensemble.members if m is not leader]
    a, b = client(followers[0].hosts), client(followers[1].hosts)
    seen = []
    b.ensure_path("/watched")
    b.get("/watched", watch=lambda event: seen.append(event.type))
    a.set("/watched", b"x")
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["CHANGED"]
    # sync + read on one member sees a write acknowledged by another.
    a.create("/seq-", b"", sequence=True)
    b.sync("/")
    assert len(b.get_children("/")) >= 2
    a.stop()
    b.stop()


def test_ephemeral_of_a_dead_client_vanishes_everywhere(ensemble):
    # A client process killed with SIGKILL never closes its session: the leader expires it.
    import subprocess
    import sys
    owner = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from kazoo.client import KazooClient\n"
        f"zk = KazooClient(hosts='{ensemble.members[0].hosts}', timeout=2.0); zk.start()\n"
        "zk.create('/eph', b'', ephemeral=True)\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "ready"
    watchers = [client(m.hosts) for m in ensemble.members]
    assert all(w.exists("/eph") for w in watchers)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(w.exists("/eph") for w in watchers):
        time.sleep(0.1)
    assert not any(w.exists("/eph") for w in watchers), "ephemeral of a dead client still there"
    for w in watchers:
        w.stop()


def test_leader_kill_under_load_fails_over_and_loses_nothing(ensemble):
    writers = Writers(ensemble.members).start()
    try:
        writers.wait_for_more(50)
        leader = ensemble.leader()
        killed_at = time.monotonic()
        ensemble.kill(leader)
        failover = writers.failover_after(killed_at)
        print(f"failover: first write acknowledged {failover * 1000:.0f} ms after kill -9 of the leader")
        survivors = [m for m in ensemble.members if m is not leader]
        new_leader = ensemble.leader()
        assert new_leader in survivors
        writers.wait_for_more(writers.count() + 50)
        ensemble.restart(leader)
        writers.wait_for_more(writers.count() + 50)
        # A follower too.
        follower = next(m for m in ensemble.members if ensemble.mode(m) == "follower")
        ensemble.kill(follower)
        writers.wait_for_more(writers.count() + 50)
        ensemble.restart(follower)
        writers.wait_for_more(writers.count() + 50)
        assert time.monotonic() - killed_at < 120
    finally:
        writers.stop()
    assert_converged(ensemble, ensemble.members, writers)


def test_sigstop_of_the_leader_past_the_session_timeout(ensemble):
    writers = Writers(ensemble.members).start()
    leader = ensemble.leader()
    try:
        writers.wait_for_more(30)
        os.kill(leader.process.pid, signal.SIGSTOP)
        before = writers.count()
        writers.wait_for_more(before, timeout=30)
        # Longer than any session timeout (tickTime 200 ms caps them at 4 s): the
        # stopped leader's own clients' sessions expire unless they moved.
        time.sleep(5)
        os.kill(leader.process.pid, signal.SIGCONT)
        ensemble.wait_serving([leader], timeout=30)
        writers.wait_for_more(writers.count() + 50)
    finally:
        os.kill(leader.process.pid, signal.SIGCONT)
        writers.stop()
    assert_converged(ensemble, ensemble.members, writers)


def _connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _closed(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_bad_peer_input_closes_that_connection_only(ensemble):
    member = ensemble.members[0]
    cases = {
        "unknown sid": struct.pack(">qqi", -65536, 99, 14) + b"127.0.0.1:1234",
        "bad protocol version": struct.pack(">q", -7) + b"x" * 20,
        "oversized address": struct.pack(">qqi", -65536, 3, 1 << 20),
        "oversized notification": struct.pack(">qqi", -65536, 3, 14) + b"127.0.0.1:1234" + struct.pack(">i", 600 * 1024),
    }
    for name, payload in cases.items():
        s = _connect(member.election_port)
        s.sendall(payload)
        assert _closed(s), f"election port kept a connection with {name}"
        s.close()
    # Quorum port: garbage, a packet of an unknown type, a learner that is not a member.
    leader = ensemble.leader()
    quorum_cases = {
        "garbage": b"\xff" * 64,
        "unknown type first": struct.pack(">iqii", 42, 0, -1, -1),
        "unknown learner": struct.pack(">iqi", 11, 0, 20) + struct.pack(">qiq", 77, 0x10000, 0) + struct.pack(">i", -1),
        "huge data": struct.pack(">iqi", 11, 0, 0x7fffffff),
    }
    for name, payload in quorum_cases.items():
        s = _connect(leader.quorum_port)
        s.sendall(payload)
        assert _closed(s), f"quorum port kept a connection with {name}"
        s.close()
    # The ensemble carries on.
    zk = client(member.hosts)
    zk.create("/still-fine", b"")
    zk.stop()
    assert all(m.process.is_running() for m in ensemble.members)
    logs = "".join(m.process.log_text() for m in ensemble.members)
    assert "not a configured server" in logs
    assert "quorum connection closed" in logs


def test_missing_myid_stops_startup_with_exit_2(tmp_path):
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3)
    member = ens.members[0]
    (member.data_dir / "myid").unlink()
    import subprocess
    result = subprocess.run(member.process.argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "myid" in result.stderr
    (member.data_dir / "myid").write_text("9\n")
    result = subprocess.run(member.process.argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "server id 9 is not among the servers" in result.stderr


def _mntr(member) -> dict:
    text = member.process.four_letter("mntr")
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def test_monitoring_in_quorum_mode(ensemble):
    leader = ensemble.wait_stable()
    follower = next(m for m in ensemble.members if m is not leader)
    lm, fm = _mntr(leader), _mntr(follower)
    assert lm["zk_server_state"] == "leader" and lm["zk_peer_state"] == "leading - broadcast"
    assert fm["zk_server_state"] == "follower" and fm["zk_peer_state"] == "following - broadcast"
    assert lm["zk_quorum_size"] == fm["zk_quorum_size"] == "3"
    assert lm["zk_learners"] == "2" and lm["zk_synced_followers"] == "2"
    assert lm["zk_synced_observers"] == "0" and lm["zk_pending_syncs"] == "0"
    assert int(lm["zk_leader_uptime"]) >= 0
    assert "zk_synced_followers" not in fm
    assert "Proposal sizes last/min/max: -1/-1/-1" in leader.process.four_letter("srvr")
    conf = follower.process.four_letter("conf")
    assert f"serverId={follower.sid}\n" in conf and "initLimit=10\n" in conf and "electionAlg=3\n" in conf
    assert f"quorumPort={follower.quorum_port}\n" in conf and "peerType=0\n" in conf
    assert f"clientPort={follower.client_port}\n" in conf
    membership = conf[conf.index("membership: \n") + len("membership: \n"):]
    assert membership.splitlines() == [f"server.{m.sid}=" + m.server_line() for m in ensemble.members] + ["version=0"]


def test_read_only_mode_serves_reads_when_the_quorum_is_gone(tmp_path):
    from kazoo.client import KazooClient
    from kazoo.exceptions import NotReadOnlyCallError
    from kazoo.protocol.states import KeeperState

    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3, extra_cfg={"readonlymode.enabled": "true"}).start()
    try:
        survivor = ens.members[0]
        zk = client(survivor.hosts)
        zk.create("/kept", b"v")
        zk.sync("/")
        zk.stop()
        for member in ens.members[1:]:
            member.process.kill()
        # A client that did not ask for read-only is not served; one that did is.
        plain = KazooClient(hosts=survivor.hosts, timeout=2.0)
        with pytest.raises(Exception):
            plain.start(timeout=4)
        plain.stop()
        ro = KazooClient(hosts=survivor.hosts, read_only=True, timeout=4.0)
        ro.start(timeout=15)
        try:
            assert ro.client_state == KeeperState.CONNECTED_RO
            assert ro.get("/kept")[0] == b"v"
            with pytest.raises(NotReadOnlyCallError):
                ro.create("/nope")
            with pytest.raises(NotReadOnlyCallError):
                ro.set("/kept", b"x")
            assert survivor.process.four_letter("isro") == "ro"
        finally:
            ro.stop()
        for member in ens.members[1:]:
            ens.restart(member, wait=False)
        ens.wait_serving(ens.members)
        assert survivor.process.four_letter("isro") == "rw"
        zk = client(survivor.hosts)
        zk.set("/kept", b"w")
        zk.stop()
    finally:
        ens.stop()


def test_check_history_rejects_a_stale_read(tmp_path):
    """The checker the fault tests rely on fails a history with a read of an overwritten value."""
    import json
    import subprocess

    import servers
    good = [
        {"path": "/a", "kind": "create", "value": 1, "outcome": "ok", "call": 0, "return": 10},
        {"path": "/a", "kind": "set", "value": 2, "outcome": "ok", "call": 20, "return": 30},
        {"path": "/a", "kind": "read", "outcome": "value", "result": 2, "call": 40, "return": 50},
        {"path": "/a", "kind": "set", "value": 3, "outcome": "unknown", "call": 60, "return": None},
    ]
    stale = good[:2] + [{"path": "/a", "kind": "read", "outcome": "value", "result": 1, "call": 40, "return": 50}]
    for history, expected in ((good, 0), (stale, 1)):
        path = tmp_path / f"h{expected}.jsonl"
        path.write_text("".join(json.dumps(h) + "\n" for h in history))
        result = subprocess.run([servers.swiftkeeper_bin(), "check-history", str(path)], capture_output=True, text=True)
        assert result.returncode == expected, result.stdout + result.stderr


def test_member_whose_log_fails_leaves_the_ensemble(tmp_path):
    """fdatasync starts failing on one follower (strace fault injection): it says why in
    its log and exits rather than acknowledging what it could not make durable; the others
    go on, and the member rejoins once restarted on a working disk."""
    import shutil
    import subprocess

    if not shutil.which("strace"):
        pytest.skip("strace not installed (scripts/test.sh installs it)")
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3)
    faulty = ens.members[0]  # the lowest sid: a follower once the others are up
    plain_argv = list(faulty.process.argv)
    faulty.process.argv = ["strace", "-D", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=fdatasync",
                           "-e", "inject=fdatasync:error=EIO:when=40+", *plain_argv]
    ens.start()
    writers = Writers(ens.members[1:]).start()
    try:
        deadline = time.monotonic() + 60
        while faulty.process.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not faulty.process.is_running(), "the member with a failing log kept running"
        assert faulty.process.proc.returncode == 3
        assert "leaving the ensemble" in faulty.process.log_text()
        writers.wait_for_more(writers.count() + 30)
        faulty.process.argv = plain_argv
        ens.restart(faulty)
        writers.wait_for_more(writers.count() + 30)
    finally:
        writers.stop()
    try:
        assert_converged(ens, ens.members, writers)
    finally:
        ens.stop()


def test_leader_serves_no(tmp_path):
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3, extra_cfg={"leaderServes": "no"}).start()
    try:
        leader = ens.wait_stable()
        from kazoo.client import KazooClient
        refused = KazooClient(hosts=leader.hosts, timeout=2.0)
        with pytest.raises(Exception):
            refused.start(timeout=3)
        refused.stop()
        for member in ens.members:
            if member is not leader:
                zk = client(member.hosts)
                zk.create(f"/via-{member.sid}", b"")
                zk.stop()
    finally:
        ens.stop()


def test_observer_with_sync_disabled_logs_nothing_and_is_synced_after_restart(tmp_path):
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3 + ["swiftkeeper:observer"], extra_cfg={"syncEnabled": "false", "snapCount": "20"})
    ens.start()
    try:
        ens.wait_stable()
        observer = ens.members[3]
        writer = client(ens.members[0].hosts)
        for i in range(60):
            writer.create(f"/n-{i}", b"x")
        reader = client(observer.hosts)
        reader.sync("/")
        assert len([c for c in reader.get_children("/") if c.startswith("n-")]) == 60
        reader.stop()

        def logged(member):
            return sorted(p.name for p in (member.data_dir / "version-2").glob("log.*"))

        # Participants log (and roll their logs at snapCount); the observer writes no log.
        assert logged(ens.members[0]), "a participant must log"
        assert logged(observer) == []
        ens.kill(observer)
        for i in range(60, 70):
            writer.create(f"/n-{i}", b"x")
        ens.restart(observer)
        reader = client(observer.hosts)
        reader.sync("/")
        assert len([c for c in reader.get_children("/") if c.startswith("n-")]) == 70
        reader.stop()
        writer.stop()
        assert_converged(ens, ens.members)
    finally:
        ens.stop()


def test_a_follower_behind_the_window_is_synced_from_the_leaders_log(tmp_path):
    # A window of 10 committed txns; a snapshot every 50-100 txns gives the size that
    # snapshotSizeFactor (default 0.33) compares a DIFF from the log with.
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3, extra_cfg={"commitLogCount": "10", "snapCount": "100"}).start()
    try:
        leader = ens.wait_stable()
        follower = next(m for m in ens.members if m is not leader)
        writer = client(leader.hosts)
        for i in range(300):
            writer.create(f"/big-{i}", b"x" * 1024)
        ens.kill(follower)
        for i in range(40):
            writer.create(f"/small-{i}", b"y")
        ens.restart(follower)
        ens.wait_stable()
        reader = client(follower.hosts)
        reader.sync("/")
        assert len(reader.get_children("/")) >= 340
        reader.stop()
        assert "learner synced from the on-disk log (DIFF)" in leader.process.log_path.read_text()
        assert "SNAP" not in leader.process.log_path.read_text()

        # Far behind (the txns it missed outweigh a third of the snapshot): SNAP.
        ens.kill(follower)
        for i in range(600):
            writer.create(f"/more-{i}", b"z" * 1024)
        ens.restart(follower)
        ens.wait_stable()
        reader = client(follower.hosts)
        reader.sync("/")
        assert reader.exists("/more-599") is not None
        reader.stop()
        assert "learner too far behind for a DIFF from the log: SNAP" in leader.process.log_path.read_text()
        writer.stop()
        assert_converged(ens, ens.members)
    finally:
        ens.stop()


def test_a_snap_larger_than_the_link_buffer_streams(tmp_path):
    # 90 nodes of ~1 MB: a SNAP past the link's 64 MiB write bound, so the leader must stream
    # it as the learner's socket takes it (it used to go out as one write).
    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3, extra_cfg={"commitLogCount": "5", "snapshotSizeFactor": "-1"}).start()
    try:
        leader = ens.wait_stable()
        follower = next(m for m in ens.members if m is not leader)
        writer = client(leader.hosts, timeout=30.0)
        ens.kill(follower)
        blob = bytes(range(256)) * 3900  # 998,400 bytes, under jute.maxbuffer
        for i in range(90):
            writer.create(f"/blob-{i:02d}", blob)
        ens.restart(follower)
        ens.wait_stable()
        reader = client(follower.hosts, timeout=30.0)
        reader.sync("/")
        assert len([c for c in reader.get_children("/") if c.startswith("blob-")]) == 90
        assert reader.get("/blob-89")[0] == blob
        reader.stop()
        writer.create("/after-the-snap", b"")
        writer.stop()
        assert "snapshot installed (SNAP)" in follower.process.log_path.read_text()
        assert_converged(ens, ens.members)
    finally:
        ens.stop()
