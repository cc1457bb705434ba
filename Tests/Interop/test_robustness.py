"""Bad input never crashes the server: each case runs against a live swiftkeeper while a
well-behaved kazoo session keeps working, and the same case is run against Apache
ZooKeeper 3.8.0 where its behaviour is the reference (connection closed or kept)."""

import random
import socket
import struct
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss

CONNECT_REQUEST = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def open_socket(server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.settimeout(5)
    return sock


def read_frame(sock) -> bytes:
    header = recv_exact(sock, 4)
    (length,) = struct.unpack(">i", header)
    return recv_exact(sock, length)


def recv_exact(sock, count) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def close_kind(sock, timeout=5.0) -> str:
    """How the peer ended the connection within `timeout`: "eof" (FIN), "reset", or "open"."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return "eof"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except socket.timeout:
        return "open"


def is_closed(sock, timeout=5.0) -> bool:
    """True once the peer closed the connection (EOF or reset) within `timeout`."""
    return close_kind(sock, timeout) != "open"


def handshake(server) -> socket.socket:
    sock = open_socket(server)
    sock.sendall(frame(CONNECT_REQUEST))
    response = read_frame(sock)
    assert len(response) == 37
    return sock


@pytest.fixture
def bystander(server):
    """A kazoo session that must keep working through every bad connection."""
    client = KazooClient(hosts=server.hosts, timeout=10)
    client.start(timeout=15)
    client.ensure_path("/bystander")
    yield client
    assert client.connected
    client.set("/bystander", b"still here")
    assert client.get("/bystander")[0] == b"still here"
    client.stop()
    client.close()


def test_oversized_frame_closes_only_that_connection(server, bystander):
    sock = handshake(server)
    sock.sendall(struct.pack(">i", 0xFFFFF + 1) + b"x" * 1024)
    assert is_closed(sock)


def test_negative_length_closes_the_connection(server, bystander):
    sock = open_socket(server)
    sock.sendall(struct.pack(">i", -5) + b"abcd")
    assert is_closed(sock)


def test_large_write_just_under_jute_maxbuffer_works_and_over_is_dropped(server, bystander):
    bystander.create("/big", b"x" * (1024 * 1024 - 200))
    assert len(bystander.get("/big")[0]) == 1024 * 1024 - 200
    other = KazooClient(hosts=server.hosts, timeout=10, connection_retry=None, command_retry=None)
    other.start(timeout=15)
    try:
        with pytest.raises(ConnectionLoss):
            other.set("/big", b"y" * (1024 * 1024 + 10))
    finally:
        other.stop()
        other.close()


def test_request_before_handshake_closes_the_connection(server, bystander):
    sock = open_socket(server)
    sock.sendall(frame(struct.pack(">ii", 1, 4) + struct.pack(">i", 1) + b"/" + b"\0"))
    assert is_closed(sock)


def test_truncated_connect_request_closes_the_connection(server, bystander):
    sock = open_socket(server)
    sock.sendall(frame(CONNECT_REQUEST[:10]))
    assert is_closed(sock)


def test_unknown_opcode_gets_unimplemented_then_close(server, bystander):
    sock = handshake(server)
    sock.sendall(frame(struct.pack(">ii", 7, 77)))
    xid, _zxid, err = struct.unpack(">iqi", read_frame(sock))
    assert (xid, err) == (7, -6)
    assert is_closed(sock)


def test_null_path_gets_marshalling_error_and_connection_stays(server, bystander):
    sock = handshake(server)
    sock.sendall(frame(struct.pack(">ii", 1, 4) + struct.pack(">i", -1) + b"\0"))
    xid, _zxid, err = struct.unpack(">iqi", read_frame(sock))
    assert (xid, err) == (1, -5)
    sock.sendall(frame(struct.pack(">ii", 2, 3) + struct.pack(">i", 1) + b"/" + b"\0"))
    reply = read_frame(sock)
    xid, _zxid, err = struct.unpack(">iqi", reply[:16])
    assert (xid, err) == (2, 0)


def test_truncated_request_body_never_crashes(server, bystander):
    sock = handshake(server)
    # getData with a path length that runs past the end of the frame.
    sock.sendall(frame(struct.pack(">ii", 1, 4) + struct.pack(">i", 50) + b"/ab"))
    xid, _zxid, err = struct.unpack(">iqi", read_frame(sock)[:16])
    assert (xid, err) == (1, -5)


def test_client_vanishing_mid_request_leaves_the_server_serving(server, bystander):
    for _ in range(20):
        sock = handshake(server)
        # Announce a 1000-byte create, send half of it, vanish.
        body = struct.pack(">ii", 1, 1) + struct.pack(">i", 4) + b"/gone" + b"x" * 400
        sock.sendall(struct.pack(">i", 1000) + body)
        sock.close()
    assert bystander.exists("/gone") is None


def test_seeded_garbage_never_crashes_the_server(server, bystander):
    rng = random.Random(20261125)
    for _ in range(60):
        sock = open_socket(server)
        try:
            if rng.random() < 0.5:
                sock.sendall(frame(CONNECT_REQUEST))
                read_frame(sock)
            for _ in range(rng.randint(1, 4)):
                length = rng.randint(0, 64)
                payload = bytes(rng.getrandbits(8) for _ in range(length))
                if rng.random() < 0.7:
                    sock.sendall(frame(payload))
                else:
                    sock.sendall(payload)
            time.sleep(0.01)
        except (OSError, ConnectionError):
            pass
        finally:
            sock.close()
    assert server.four_letter("ruok") == "imok"


def closed_cleanly(sock, timeout=5.0) -> bool:
    """True once the peer closed with FIN (recv gives b''), False on a reset or timeout."""
    return close_kind(sock, timeout) == "eof"


@pytest.mark.parametrize("junk_kb", [0, 200])
def test_oversized_frame_is_closed_cleanly_not_reset(server, bystander, junk_kb):
    """ZooKeeper shuts its output first, so the client sees EOF even with its own bytes
    still unread by the server (a plain close would send a reset for them)."""
    sock = handshake(server)
    sock.sendall(struct.pack(">i", 0xFFFFF + 1) + b"j" * (junk_kb * 1024))
    assert closed_cleanly(sock)


def test_negative_acl_count_is_invalid_acl(server, bystander):
    """Java's jute reads a vector count below -1 as an empty list: INVALIDACL, not a
    marshalling error."""
    sock = handshake(server)
    body = struct.pack(">i", 2) + b"/n" + struct.pack(">i", 0) + struct.pack(">i", -5) + struct.pack(">i", 0)
    sock.sendall(frame(struct.pack(">ii", 1, 1) + body))
    xid, _zxid, err = struct.unpack(">iqi", read_frame(sock)[:16])
    assert (xid, err) == (1, -114)


def test_undecodable_auth_packet_closes_without_reply(server, bystander):
    sock = handshake(server)
    sock.sendall(frame(struct.pack(">ii", -4, 100) + struct.pack(">i", 0)))
    sock.settimeout(5)
    data = b""
    closed = False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    assert closed
    assert data == b""
