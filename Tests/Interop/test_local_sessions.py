"""localSessionsEnabled / localSessionsUpgradingEnabled on a 3-member ensemble.

Every check runs against a SwiftKeeper ensemble and an Apache ZooKeeper 3.8.0 one with the
same zoo.cfg keys: both must behave alike where a client can see it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import EphemeralOnLocalSessionError

from ensemble import Ensemble
from ensemble_checks import client

KINDS = ["swiftkeeper", "zookeeper"]


def local_ensemble(tmp_path, kind: str, upgrading: bool) -> Ensemble:
    cfg = {
        "localSessionsEnabled": "true",
        "localSessionsUpgradingEnabled": "true" if upgrading else "false",
    }
    ens = Ensemble(tmp_path, [kind] * 3, extra_cfg=cfg).start()
    ens.wait_stable()
    return ens


def running(tmp_path, kind: str, upgrading: bool):
    ens = local_ensemble(tmp_path, kind, upgrading)
    try:
        yield ens
    finally:
        ens.stop()


@pytest.fixture(params=KINDS)
def upgrading_ensemble(request, tmp_path):
    yield from running(tmp_path, request.param, upgrading=True)


@pytest.fixture(params=KINDS)
def plain_local_ensemble(request, tmp_path):
    yield from running(tmp_path, request.param, upgrading=False)


def resumed_session(hosts: str, client_id) -> int:
    """Resumes `client_id` through `hosts`: the session id the client ends with (another
    one when the member said the session expired and kazoo made a new one)."""
    zk = KazooClient(hosts=hosts, client_id=client_id, timeout=10.0)
    zk.start(timeout=20)
    zk.get("/")
    session = zk.client_id[0]
    zk.stop()
    zk.close()
    return session


def abandoned_session(hosts: str, ops: str = "") -> tuple[int, bytes]:
    """A session whose client process ran `ops` (with `zk`) and was SIGKILLed, so it never
    closed its session: (session id, password)."""
    owner = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from kazoo.client import KazooClient\n"
        f"zk = KazooClient(hosts='{hosts}', timeout=10.0); zk.start()\n"
        f"{ops}\n"
        "print(zk.client_id[0], zk.client_id[1].hex(), flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        session, passwd = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    return int(session), bytes.fromhex(passwd)


def members_by_role(ens: Ensemble):
    leader = ens.leader()
    return leader, [m for m in ens.members if m is not leader]


def test_a_local_session_lives_on_its_member_until_it_creates_an_ephemeral(upgrading_ensemble):
    ens = upgrading_ensemble
    _, followers = members_by_role(ens)
    home, other = followers
    session, passwd = abandoned_session(home.hosts, "zk.create('/p', b'persistent')")
    # ZooKeeper's session ids carry the creating member's id in their top byte.
    assert session >> 56 == home.sid
    reader = client(other.hosts)
    reader.sync("/")
    assert reader.get("/p")[0] == b"persistent"
    # Local: another member does not know it, so resuming it there ends it...
    assert resumed_session(other.hosts, (session, passwd)) != session
    # ...while at home it is still alive: only that member ever held it.
    session, passwd = abandoned_session(home.hosts)
    assert resumed_session(home.hosts, (session, passwd)) == session

    # An ephemeral makes a session global: it then moves between members, and closing it
    # removes its ephemeral everywhere.
    session, passwd = abandoned_session(home.hosts, "zk.create('/e', b'', ephemeral=True)")
    reader.sync("/")
    assert reader.exists("/e").ephemeralOwner == session
    assert resumed_session(other.hosts, (session, passwd)) == session
    reader.sync("/")
    assert reader.exists("/e") is None
    reader.stop()


def test_a_local_session_on_the_leader_upgrades_pipelined_with_its_close(upgrading_ensemble):
    ens = upgrading_ensemble
    leader, followers = members_by_role(ens)
    zk = client(leader.hosts)
    results = [zk.create_async(f"/eph-{i}", b"", ephemeral=True) for i in range(3)]
    for result in results:
        result.get(timeout=10)
    zk.stop()
    zk.close()
    reader = client(followers[0].hosts)
    reader.sync("/")
    assert [p for p in reader.get_children("/") if p.startswith("eph-")] == []
    reader.stop()


def test_without_upgrading_an_ephemeral_is_refused(plain_local_ensemble):
    ens = plain_local_ensemble
    _, followers = members_by_role(ens)
    zk = client(followers[0].hosts)
    with pytest.raises(EphemeralOnLocalSessionError):
        zk.create("/e", b"", ephemeral=True)
    zk.sync("/")
    assert zk.exists("/e") is None
    zk.create("/p", b"")
    assert zk.exists("/p") is not None
    zk.stop()
