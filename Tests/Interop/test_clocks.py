"""Two clocks: session expiry and idle connections follow elapsed (monotonic) time, so
stepping the server's wall clock by hours, as a bad NTP step would, expires nothing. Only
what clients see as dates moves: a node created after the step has the stepped mtime.

The server runs under libfaketime (Debian `faketime`) with DONT_FAKE_MONOTONIC=1, its wall
clock read from a file the test rewrites while it runs."""

import os
import sys
import time

import pytest
from kazoo.client import KazooClient

import servers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "differential"))
import rawclient  # noqa: E402

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
HOUR_MS = 3_600_000


@pytest.fixture
def faked_server(tmp_path):
    if not os.path.exists(LIBFAKETIME):
        pytest.fail(f"{LIBFAKETIME} missing: install Debian's faketime (scripts/test.sh does)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    env = {
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }
    # Through `env`, which execs the server in its place: a Swift binary started with
    # libfaketime preloaded directly sees no command-line arguments (seen with
    # libfaketime 0.9.10 and Swift 6.3), and would run without its zoo.cfg.
    srv = servers.start_swiftkeeper(tmp_path / "sk", {"tickTime": "500"}, env=env, argv_prefix=["env"])
    try:
        yield srv, offset
    finally:
        srv.stop()


def mtime_hours_from_now(zk, path):
    return (zk.exists(path).mtime - time.time() * 1000) / HOUR_MS


def test_wall_clock_steps_expire_no_session(faked_server):
    srv, offset = faked_server
    zk = KazooClient(hosts=srv.hosts, timeout=4)
    zk.start(timeout=15)
    try:
        session = zk.client_id
        zk.create("/clock/held", b"x", ephemeral=True, makepath=True)
        for step_hours in (10, -10, 3):
            offset.write_text(f"{step_hours:+d}h\n")
            # Longer than the 4 s session timeout, and several ticks.
            time.sleep(6)
            assert zk.connected
            assert zk.client_id == session
            assert zk.exists("/clock/held") is not None
            path = zk.create("/clock/after", b"", sequence=True)
            # The server really saw the stepped wall clock: txn time is wall time.
            assert abs(mtime_hours_from_now(zk, path) - step_hours) < 0.01
        assert "closeSession" not in srv.log_text()
    finally:
        zk.stop()
        zk.close()


def test_elapsed_time_still_expires_sessions(faked_server):
    srv, offset = faked_server
    owner = rawclient.RawConnection(srv.host, srv.port)
    owner.handshake(session_timeout_ms=4000)
    created = owner.call(1, rawclient.OP_CREATE, rawclient.enc_create("/expiring", b"x", [(31, "world", "anyone")], 1))
    assert created[-1].get("err") == 0, created
    watcher = KazooClient(hosts=srv.hosts, timeout=10)
    watcher.start(timeout=15)
    try:
        offset.write_text("-5h\n")
        # The owner's connection vanishes without a closeSession.
        owner.close()
        deadline = time.monotonic() + 20
        while watcher.exists("/expiring") is not None:
            assert time.monotonic() < deadline, "the session was never expired"
            time.sleep(0.2)
    finally:
        watcher.stop()
        watcher.close()
