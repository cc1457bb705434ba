"""Reads answered on the connections' own threads (SwiftKeeper's `ReadView`) keep
ZooKeeper's guarantees, checked on the wire with raw sessions against a real server:

* a read pipelined behind the same session's write sees that write;
* a client watching a node gets the watch event before any reply showing the new data,
  while it floods plain reads of that node (answered on its connection's thread) during
  another client's writes;
* a session that only sends plain reads (no pings) stays alive past its timeout;
* `connectionLoopReads=false` is accepted and every read still works.

Each case runs against swiftkeeper and Apache ZooKeeper 3.8.0 (conftest's `server`), so the
expectations are ZooKeeper's own behaviour.
"""

from __future__ import annotations

import struct
import threading
import time

import pytest

import hostile_support as hs
import servers


def session(srv, timeout_ms: int = 30000) -> hs.RawSession:
    return hs.RawSession(srv.host, srv.port).handshake(timeout_ms)


def get_data_value(payload: bytes) -> bytes | None:
    xid, zxid, err = struct.unpack(">iqi", payload[:16])
    if err != 0:
        return None
    (n,) = struct.unpack(">i", payload[16:20])
    return payload[20:20 + n] if n >= 0 else b""


def xid_of(payload: bytes) -> int:
    return struct.unpack(">i", payload[:4])[0]


def test_a_read_behind_the_sessions_write_sees_it(server):
    s = session(server)
    assert xid_of(s.call(hs.create(1, "/ryw", b"start"), 1)) == 1
    pairs = 400
    burst = bytearray()
    for i in range(pairs):
        burst += hs.set_data(2 + 2 * i, "/ryw", str(i).encode())
        burst += hs.get_data(3 + 2 * i, "/ryw")
    s.send(bytes(burst))
    for i in range(pairs):
        set_reply = s.read_reply()
        get_reply = s.read_reply()
        assert xid_of(set_reply) == 2 + 2 * i and hs.reply_header(set_reply)[2] == 0
        assert xid_of(get_reply) == 3 + 2 * i
        assert get_data_value(get_reply) == str(i).encode()
    s.close()


def test_the_watch_event_comes_before_the_new_data(server):
    writer = session(server)
    assert hs.reply_header(writer.call(hs.create(1, "/w", b"0"), 1))[2] == 0
    watcher = session(server)
    xid = 10
    for version in range(1, 31):
        xid += 1
        reply = watcher.call(hs.get_data(xid, "/w", watch=True), xid)
        assert get_data_value(reply) == str(version - 1).encode()
        done = threading.Event()

        def write():
            time.sleep(0.005)
            writer.call(hs.set_data(1000 + version, "/w", str(version).encode()), 1000 + version)
            done.set()

        t = threading.Thread(target=write)
        t.start()
        notified = False
        seen_new = False
        deadline = time.monotonic() + 10
        while not seen_new and time.monotonic() < deadline:
            first = xid + 1
            watcher.send(b"".join(hs.get_data(first + k, "/w") for k in range(20)))
            xid += 20
            got = 0
            while got < 20:
                frame = watcher.read_frame()
                assert frame is not None, "connection closed"
                if xid_of(frame) == hs.XID_NOTIFICATION:
                    notified = True
                    continue
                got += 1
                if get_data_value(frame) == str(version).encode():
                    assert notified, f"round {version}: new data before the watch event"
                    seen_new = True
        t.join()
        assert seen_new and notified and done.is_set()
    watcher.close()
    writer.close()


def test_a_session_that_only_reads_stays_alive(server):
    s = session(server, timeout_ms=4000)
    assert s.timeout_ms == 4000
    xid = 1
    end = time.monotonic() + 9
    while time.monotonic() < end:
        reply = s.call(hs.get_data(xid, "/zookeeper"), xid)
        assert reply is not None, "the server closed a session that kept reading"
        assert hs.reply_header(reply)[2] == 0
        xid += 1
        time.sleep(0.05)
    # The session is still the same live one: a write under it succeeds.
    reply = s.call(hs.create(xid, "/alive", b"", flags=hs.EPHEMERAL), xid)
    assert hs.reply_header(reply)[2] == 0
    s.close()


def test_connection_loop_reads_off_still_answers_reads(tmp_path):
    srv = servers.start_swiftkeeper(tmp_path / "off", extra_cfg={"connectionLoopReads": "false"})
    try:
        s = session(srv)
        assert hs.reply_header(s.call(hs.create(1, "/x", b"v"), 1))[2] == 0
        assert get_data_value(s.call(hs.get_data(2, "/x"), 2)) == b"v"
        assert "unknown configuration key" not in srv.log_text()
        s.close()
    finally:
        srv.stop()
