"""Helpers for the hostile-client suite (test_hostile.py).

* raw ZooKeeper frames (built with differential/rawclient.py's jute Writer);
* `RawSession`: one blocking raw connection, optionally bound to another loopback
  source address (ZooKeeper allows `maxClientCnxns` = 60 connections per client IP);
* `Pool`: thousands of non-blocking raw connections driven by one epoll loop
  (connect, handshake, pipelined requests, pings, reply counting);
* `Canary`: a well-behaved session in a separate *process* (so the abusive client's
  Python work in the test process cannot inflate its latencies through the GIL),
  doing one small read every ~50 ms and a small write every 10th op, recording every
  latency in a file the test reads;
* `RssSampler`: peak RSS of the server process while a case runs, plus a safety cap
  that SIGKILLs a server whose RSS runs away (so a broken server cannot take the
  machine's memory with it);
* figures: one printed line and one JSON line (env HOSTILE_FIGURES) per case.

Run as a script it is the canary: `python hostile_support.py canary HOST PORT OUTFILE`.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE / "differential"))
import rawclient  # noqa: E402
from rawclient import Writer  # noqa: E402

HOST = "127.0.0.1"

OP_CREATE = 1
OP_EXISTS = 3
OP_GETDATA = 4
OP_SETDATA = 5
OP_GETACL = 6
OP_GETCHILDREN = 8
OP_PING = 11
OP_GETCHILDREN2 = 12
OP_MULTIREAD = 22
OP_AUTH = 100
OP_GETEPHEMERALS = 103
OP_CLOSESESSION = -11

XID_PING = -2
XID_AUTH = -4
XID_NOTIFICATION = -1

OPEN_ACL = [(31, "world", "anyone")]
EPHEMERAL = 1


# -- process limits and /proc -------------------------------------------------------

def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mb(pid: int) -> Optional[float]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def fd_count(pid: int) -> Optional[int]:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except OSError:
        return False


# -- source addresses -------------------------------------------------------------

def source_addresses(block: int, count: int) -> list[str]:
    """`count` distinct loopback source addresses 127.<block>.<i // 250>.<1 + i % 250>.

    Each case uses its own `block` (1..255) so that TIME_WAIT entries of one case never
    meet the next. 127.0.0.1 (the canary's and the helpers' address) is never returned.
    """
    if not 1 <= block <= 255 or count > 256 * 250:
        raise ValueError("source address block out of range")
    return [f"127.{block}.{i // 250}.{1 + i % 250}" for i in range(count)]


def spread(n: int, per_addr: int, block: int) -> list[str]:
    """A source address for each of `n` connections, at most `per_addr` per address."""
    addrs = source_addresses(block, (n + per_addr - 1) // per_addr)
    return [addrs[i // per_addr] for i in range(n)]


# -- frames -----------------------------------------------------------------------

def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def connect_request(timeout_ms: int = 30000, session_id: int = 0,
                    passwd: bytes = b"\0" * 16, last_zxid: int = 0) -> bytes:
    """A whole ConnectRequest frame (with its length prefix)."""
    body = (Writer().int(0).long(last_zxid).int(timeout_ms).long(session_id)
            .buffer(passwd).bool(False).bytes())
    return frame(body)


def request(xid: int, op: int, body: bytes = b"") -> bytes:
    return frame(struct.pack(">ii", xid, op) + body)


def get_data(xid: int, path: str, watch: bool = False) -> bytes:
    return request(xid, OP_GETDATA, Writer().string(path).bool(watch).bytes())


def exists(xid: int, path: str, watch: bool = False) -> bytes:
    return request(xid, OP_EXISTS, Writer().string(path).bool(watch).bytes())


def get_children(xid: int, path: str, op: int = OP_GETCHILDREN, watch: bool = False) -> bytes:
    return request(xid, op, Writer().string(path).bool(watch).bytes())


def set_data(xid: int, path: str, data: bytes, version: int = -1) -> bytes:
    return request(xid, OP_SETDATA, Writer().string(path).buffer(data).int(version).bytes())


def create(xid: int, path: str, data: bytes = b"", acl=OPEN_ACL, flags: int = 0,
           acl_count: Optional[int] = None) -> bytes:
    """A create frame. `acl` is a list of (perms, scheme, id); `acl_count` overrides
    the encoded vector count (to send a negative or lying count)."""
    w = Writer().string(path).buffer(data)
    w.int(len(acl) if acl_count is None else acl_count)
    for perms, scheme, ident in acl:
        w.int(perms).string(scheme).string(ident)
    w.int(flags)
    return request(xid, OP_CREATE, w.bytes())


def acl_body_size(acl) -> int:
    return 4 + sum(4 + 4 + len(s.encode()) + 4 + len(i.encode()) for _, s, i in acl)


def get_acl(xid: int, path: str) -> bytes:
    return request(xid, OP_GETACL, Writer().string(path).bytes())


def multi_read_get_data(xid: int, path: str, count: int) -> bytes:
    """multiRead (22) of `count` getData ops on `path`."""
    op = Writer().int(OP_GETDATA).bool(False).int(-1).string(path).bool(False).bytes()
    end = Writer().int(-1).bool(True).int(-1).bytes()
    return request(xid, OP_MULTIREAD, op * count + end)


def ping() -> bytes:
    return request(XID_PING, OP_PING)


def close_session(xid: int) -> bytes:
    return request(xid, OP_CLOSESESSION)


def auth(scheme: str, data: bytes) -> bytes:
    return request(XID_AUTH, OP_AUTH, Writer().int(0).string(scheme).buffer(data).bytes())


def reply_header(payload: bytes) -> tuple[int, int, int]:
    """(xid, zxid, err) of a reply frame's payload."""
    return struct.unpack(">iqi", payload[:16])


TCP_STATES = {1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait1", 5: "fin-wait2",
              6: "time-wait", 7: "closed", 8: "close-wait", 9: "last-ack", 10: "listen",
              11: "closing"}


def tcp_state(sock: socket.socket) -> str:
    """The client end's TCP state: 'established', 'close-wait' (the server sent FIN),
    'closed' (reset), ..."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    except OSError:
        return "unknown"
    return TCP_STATES.get(info[0], str(info[0]))


def unread_bytes(sock: socket.socket) -> int:
    """Bytes the server sent that wait unread in the client's receive queue."""
    import fcntl
    import termios
    try:
        buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("i", buf)[0]
    except OSError:
        return -1


# -- one blocking raw connection ----------------------------------------------------

class RawSession:
    """A blocking raw connection; `src` binds the client end to another loopback address."""

    def __init__(self, host: str, port: int, src: Optional[str] = None, timeout: float = 10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src:
            self.sock.bind((src, 0))
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.session_id = 0
        self.timeout_ms = 0

    def handshake(self, timeout_ms: int = 30000) -> "RawSession":
        self.sock.sendall(connect_request(timeout_ms))
        payload = self.read_frame()
        if payload is None or len(payload) < 36:
            raise ConnectionError(f"no ConnectResponse (got {payload!r})")
        _proto, self.timeout_ms, self.session_id = struct.unpack(">iiq", payload[:16])
        return self

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_frame(self, limit: int = 64 << 20) -> Optional[bytes]:
        """The next frame's payload; None at EOF. Raises socket.timeout, ConnectionResetError."""
        while len(self.buf) < 4:
            if not self._fill():
                return None
        (n,) = struct.unpack(">i", self.buf[:4])
        if n < 0 or n > limit:
            raise ValueError(f"frame length {n}")
        while len(self.buf) < 4 + n:
            if not self._fill():
                return None
        payload = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return payload

    def read_reply(self, xid: Optional[int] = None) -> Optional[bytes]:
        """The next reply (skipping notifications and pings, and, with `xid`, other xids)."""
        while True:
            p = self.read_frame()
            if p is None:
                return None
            x = struct.unpack(">i", p[:4])[0]
            if x in (XID_NOTIFICATION, XID_PING):
                continue
            if xid is None or x == xid:
                return p

    def call(self, data: bytes, xid: int) -> Optional[bytes]:
        self.send(data)
        return self.read_reply(xid)

    def outcome(self, timeout: float) -> str:
        """What the peer does next within `timeout`: 'eof', 'reset', 'timeout' or 'data:<n>'."""
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return "reset"
        except socket.timeout:
            return "timeout"
        except OSError as e:
            return f"error:{e.errno}"
        if not chunk:
            return "eof"
        self.buf += chunk
        return f"data:{len(chunk)}"

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def ensure_node(host: str, port: int, path: str, data: bytes) -> None:
    """Create `path` (parents must exist) or set its data, with a raw session."""
    s = RawSession(host, port, timeout=30).handshake()
    try:
        r = s.call(create(1, path, data), 1)
        err = reply_header(r)[2] if r else None
        if err == -110:
            r = s.call(set_data(2, path, data), 2)
            err = reply_header(r)[2] if r else None
        if err != 0:
            raise RuntimeError(f"could not create/set {path}: err {err}")
        s.send(close_session(3))
        s.read_reply(3)
    finally:
        s.close()


def new_session_ms(host: str, port: int, timeout: float = 10.0) -> Optional[float]:
    """Milliseconds to connect and get a session (then close it), or None if that failed."""
    t0 = time.monotonic()
    try:
        s = RawSession(host, port, timeout=timeout).handshake(10000)
    except (OSError, ConnectionError, ValueError):
        return None
    ms = (time.monotonic() - t0) * 1000
    try:
        s.sock.settimeout(timeout)
        s.send(close_session(1))
        s.read_reply(1)
    except (OSError, ValueError):
        pass
    s.close()
    return ms


def four_letter(host: str, port: int, word: str, timeout: float = 3.0) -> Optional[str]:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


def mntr_value(host: str, port: int, key: str, timeout: float = 3.0) -> Optional[int]:
    text = four_letter(host, port, "mntr", timeout)
    if not text:
        return None
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] == key:
            try:
                return int(float(parts[1]))
            except ValueError:
                return None
    return None


# -- frame counting -----------------------------------------------------------------

class FrameSplitter:
    """Incremental frame splitter; `feed(bytes)` returns the whole payloads seen."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        pos = 0
        buf = self.buf
        n = len(buf)
        while n - pos >= 4:
            (ln,) = struct.unpack_from(">i", buf, pos)
            if ln < 0:
                raise ValueError(f"bad frame length {ln}")
            if n - pos - 4 < ln:
                break
            out.append(bytes(buf[pos + 4:pos + 4 + ln]))
            pos += 4 + ln
        if pos:
            del buf[:pos]
        return out


# -- many connections -----------------------------------------------------------------

class Conn:
    __slots__ = ("sock", "src", "state", "out", "splitter", "session_id", "replies",
                 "errors", "last_xid", "in_order", "opened_at", "tag", "expect")

    def __init__(self, sock, src):
        self.sock = sock
        self.src = src
        self.state = "connecting"
        self.out = bytearray()
        self.splitter = FrameSplitter()
        self.session_id = 0
        self.replies = 0
        self.errors: dict[int, int] = {}
        self.last_xid = 0
        self.in_order = True
        self.opened_at = time.monotonic()
        self.tag = None
        self.expect = 0


class Pool:
    """Many non-blocking raw connections on one epoll loop (in the calling thread).

    open(): connect from the given source addresses, keeping at most `max_pending`
    connects/handshakes outstanding (ZooKeeper's listen backlog is 50); `handshake=False`
    sends `prefix` (e.g. part of a ConnectRequest) and leaves the connection there.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.sel = selectors.DefaultSelector()
        self.conns: list[Conn] = []
        self.failed = 0
        self.fail_reasons: dict[str, int] = {}

    def _fail(self, c: Conn, why: str) -> None:
        self.fail_reasons[why] = self.fail_reasons.get(why, 0) + 1
        if c.state != "closed":
            self.failed += 1
        self._drop(c)

    def _drop(self, c: Conn) -> None:
        if c.state == "closed":
            return
        c.state = "closed"
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass

    def _events(self, c: Conn) -> int:
        ev = selectors.EVENT_READ
        if c.out or c.state == "connecting":
            ev |= selectors.EVENT_WRITE
        return ev

    def _update(self, c: Conn) -> None:
        if c.state == "closed":
            return
        try:
            self.sel.modify(c.sock, self._events(c), c)
        except (KeyError, ValueError):
            pass

    def send(self, c: Conn, data: bytes) -> None:
        if c.state == "closed":
            return
        c.out += data
        self._flush(c)
        self._update(c)

    def _flush(self, c: Conn) -> None:
        while c.out:
            try:
                n = c.sock.send(c.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._fail(c, f"send:{e.errno}")
                return
            del c.out[:n]

    def open(self, sources: list[str], handshake: bool = True, timeout_ms: int = 30000,
             prefix: bytes = b"", max_pending: int = 200, deadline: float = 60.0,
             on_frame: Optional[Callable[[Conn, bytes], None]] = None,
             on_established: Optional[Callable[[Conn], None]] = None,
             ping_every: float = 0.0) -> list[Conn]:
        """Open len(sources) connections; returns the ones that got where they should.
        With `ping_every`, established sessions are pinged meanwhile (short timeouts)."""
        end = time.monotonic() + deadline
        next_ping = time.monotonic() + ping_every if ping_every else None
        todo = list(sources)
        todo.reverse()
        pending = 0
        done: list[Conn] = []
        hello = connect_request(timeout_ms) if handshake else prefix
        while (todo or pending) and time.monotonic() < end:
            if next_ping and time.monotonic() >= next_ping:
                self.ping_all()
                next_ping = time.monotonic() + ping_every
            while todo and pending < max_pending:
                src = todo.pop()
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.bind((src, 0))
                    err = s.connect_ex((self.host, self.port))
                except OSError as e:
                    s.close()
                    self.failed += 1
                    self.fail_reasons[f"bind/connect:{e.errno}"] = self.fail_reasons.get(f"bind/connect:{e.errno}", 0) + 1
                    continue
                c = Conn(s, src)
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    self.failed += 1
                    continue
                self.conns.append(c)
                self.sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)
                pending += 1
            for key, ev in self.sel.select(timeout=0.2):
                c: Conn = key.data
                if c.state == "connecting" and ev & selectors.EVENT_WRITE:
                    soerr = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if soerr:
                        pending -= 1
                        self._fail(c, f"connect:{soerr}")
                        continue
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if handshake:
                        c.state = "handshaking"
                        self.send(c, hello)
                    else:
                        c.state = "open"
                        if hello:
                            self.send(c, hello)
                        self._update(c)
                        pending -= 1
                        done.append(c)
                    continue
                if ev & selectors.EVENT_WRITE and c.out:
                    self._flush(c)
                    self._update(c)
                if ev & selectors.EVENT_READ and c.state != "closed":
                    before = c.state
                    self._read(c, on_frame)
                    if before == "handshaking" and c.state == "established":
                        pending -= 1
                        done.append(c)
                        if on_established:
                            on_established(c)
                    elif before in ("handshaking", "connecting", "open") and c.state == "closed":
                        pending -= 1
        for c in self.conns:
            if c.state in ("connecting", "handshaking"):
                self._fail(c, "open-deadline")
        return done

    def _read(self, c: Conn, on_frame) -> None:
        try:
            data = c.sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._fail(c, f"recv:{e.errno}")
            return
        if not data:
            if c.state in ("handshaking", "connecting"):
                self._fail(c, "eof-in-handshake")
            else:
                self._drop(c)
            return
        try:
            frames = c.splitter.feed(data)
        except ValueError:
            self._fail(c, "bad-frame")
            return
        for p in frames:
            if c.state == "handshaking":
                if len(p) >= 16:
                    c.session_id = struct.unpack(">q", p[8:16])[0]
                c.state = "established" if c.session_id else "refused"
                if c.state == "refused":
                    self._fail(c, "session-refused")
                    return
                continue
            xid, _zxid, err = struct.unpack_from(">iqi", p, 0)
            if xid in (XID_PING, XID_NOTIFICATION):
                continue
            c.replies += 1
            if err:
                c.errors[err] = c.errors.get(err, 0) + 1
            if xid <= c.last_xid:
                c.in_order = False
            c.last_xid = xid
            if on_frame:
                on_frame(c, p)

    def pump(self, until: Callable[[], bool], deadline: float, ping_every: float = 0.0,
             on_frame: Optional[Callable[[Conn, bytes], None]] = None) -> bool:
        """Run the loop until `until()` is true (returns True) or `deadline` seconds pass."""
        end = time.monotonic() + deadline
        next_ping = time.monotonic() + ping_every if ping_every else None
        while True:
            if until():
                return True
            now = time.monotonic()
            if now >= end:
                return False
            if next_ping and now >= next_ping:
                self.ping_all()
                next_ping = now + ping_every
            for key, ev in self.sel.select(timeout=0.1):
                c = key.data
                if ev & selectors.EVENT_WRITE and c.out:
                    self._flush(c)
                    self._update(c)
                if ev & selectors.EVENT_READ and c.state != "closed":
                    self._read(c, on_frame)

    def ping_all(self) -> None:
        p = ping()
        for c in self.conns:
            if c.state == "established":
                self.send(c, p)

    def live(self) -> list[Conn]:
        return [c for c in self.conns if c.state not in ("closed",)]

    def close_all(self, linger_reset: bool = False) -> None:
        """Close every connection (with `linger_reset`, by RST). Idempotent."""
        for c in self.conns:
            if linger_reset and c.state != "closed":
                try:
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            self._drop(c)
        if self.sel.get_map() is not None:
            self.sel.close()

    def count_closed_by_peer(self, conns: Iterable[Conn]) -> int:
        """How many of `conns` the server has closed (EOF or reset seen), without blocking."""
        n = 0
        for c in conns:
            if c.state == "closed":
                n += 1
                continue
            try:
                b = c.sock.recv(65536, socket.MSG_DONTWAIT)
                if not b:
                    self._drop(c)
                    n += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(c)
                n += 1
        return n


# -- the canary (separate process) ------------------------------------------------------

CANARY_INTERVAL = 0.05
CANARY_OP_TIMEOUT = 60.0
CANARY_SESSION_TIMEOUT_MS = 30000


def _canary_main(host: str, port: int, out_path: str, path: str = "/canary") -> None:
    import signal
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    out = open(out_path, "a", buffering=1)

    def note(kind: str, *rest) -> None:
        out.write(" ".join([f"{time.monotonic():.4f}", kind, *map(str, rest)]) + "\n")

    xid = 0
    s = None
    parent = os.getppid()
    while not stop["now"] and os.getppid() == parent:
        if s is None:
            try:
                s = RawSession(host, port, timeout=CANARY_OP_TIMEOUT).handshake(CANARY_SESSION_TIMEOUT_MS)
                xid += 1
                r = s.call(create(xid, path, b"canary"), xid)
                note("session", f"0x{s.session_id:x}")
            except (OSError, ConnectionError, ValueError) as e:
                note("lost", "connect", type(e).__name__)
                if s:
                    s.close()
                s = None
                time.sleep(0.5)
                continue
        xid += 1
        write = xid % 10 == 0
        data = set_data(xid, path, b"c%d" % xid) if write else get_data(xid, path)
        t0 = time.monotonic()
        note("begin", xid)
        try:
            s.send(data)
            r = s.read_reply(xid)
            ms = (time.monotonic() - t0) * 1000
            if r is None:
                note("lost", "eof", f"{ms:.1f}")
                s.close()
                s = None
                continue
            err = reply_header(r)[2]
            if err in (-112, -4, -12):
                note("lost", f"err{err}", f"{ms:.1f}")
                s.close()
                s = None
                continue
            note("ok", f"{ms:.2f}", "set" if write else "get", err)
        except (OSError, ValueError) as e:
            ms = (time.monotonic() - t0) * 1000
            note("lost", type(e).__name__, f"{ms:.1f}")
            s.close()
            s = None
            continue
        left = CANARY_INTERVAL - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
    if s is not None:
        try:
            s.sock.settimeout(2)
            xid += 1
            s.send(close_session(xid))
            s.read_reply(xid)
        except (OSError, ValueError):
            pass
        s.close()
    note("stopped")
    out.close()


def _die_with_parent() -> None:
    # In the child between fork and exec: SIGKILL it if the test process dies.
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Canary:
    """The well-behaved session, run as a child process. Use as a context manager."""

    def __init__(self, host: str, port: int, workdir: Path, name: str = "canary"):
        self.host, self.port = host, port
        self.file = Path(workdir) / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, ready_timeout: float = 20.0) -> "Canary":
        self.file.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "canary", self.host, str(self.port),
             str(self.file)], stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        end = time.monotonic() + ready_timeout
        while time.monotonic() < end:
            if self.stats()["ops"] >= 3:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("canary exited at start")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"canary did not get going within {ready_timeout}s: {self.file.read_text()[-500:]}")

    def stop(self) -> dict:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.stats()

    def __enter__(self) -> "Canary":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def mark(self) -> float:
        return time.monotonic()

    def stats(self, since: Optional[float] = None) -> dict:
        """worst_ms (including an op still in flight), ops, lost events, since `since`."""
        worst = 0.0
        ops = 0
        lost: list[str] = []
        begin_at = None
        sessions = 0
        try:
            lines = self.file.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            parts = line.split()
            if len(parts) < 2:
                continue
            try:
                t = float(parts[0])
            except ValueError:
                continue
            kind = parts[1]
            if kind == "begin":
                begin_at = t
                continue
            if since is not None and t < since:
                if kind in ("ok", "lost"):
                    begin_at = None
                continue
            if kind == "ok":
                ops += 1
                worst = max(worst, float(parts[2]))
                begin_at = None
            elif kind == "lost":
                lost.append(" ".join(parts[2:]))
                if len(parts) >= 4:
                    try:
                        worst = max(worst, float(parts[-1]))
                    except ValueError:
                        pass
                begin_at = None
            elif kind == "session":
                sessions += 1
        running = self.proc is not None and self.proc.poll() is None
        if begin_at is not None and running:
            worst = max(worst, (time.monotonic() - begin_at) * 1000)
        return {"worst_ms": round(worst, 1), "ops": ops, "lost": lost, "sessions": sessions}


# -- RSS sampling -------------------------------------------------------------------

class RssSampler:
    """Samples the server's RSS every `period` s in a thread; SIGKILLs it above `cap_mb`."""

    def __init__(self, srv, cap_mb: float, period: float = 0.1):
        self.srv = srv
        self.pid = srv.pid
        self.cap_mb = cap_mb
        self.period = period
        self.peak = 0.0
        self.killed_at_mb: Optional[float] = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            r = rss_mb(self.pid)
            if r is None:
                return
            self.peak = max(self.peak, r)
            if r > self.cap_mb and self.killed_at_mb is None:
                self.killed_at_mb = r
                try:
                    os.kill(self.pid, 9)
                except OSError:
                    pass
                return
            self._stop.wait(self.period)

    def __enter__(self) -> "RssSampler":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join(timeout=2)

    def reset_peak(self) -> None:
        self.peak = rss_mb(self.pid) or 0.0


def _settle(read, target, timeout: float):
    """Poll `read()` until it is at or under `target` or `timeout` passes; the last value."""
    end = time.monotonic() + timeout
    value = read()
    while value is not None and value > target and time.monotonic() < end:
        time.sleep(0.25)
        value = read()
    return value


def settle_rss(pid: int, target_mb: float, timeout: float) -> Optional[float]:
    return _settle(lambda: rss_mb(pid), target_mb, timeout)


def settle_fds(pid: int, target: int, timeout: float) -> Optional[int]:
    return _settle(lambda: fd_count(pid), target, timeout)


# -- figures ----------------------------------------------------------------------------

def record_figures(fig: dict) -> None:
    """Print one figure line and append it as JSON to $HOSTILE_FIGURES if set."""
    def fmt(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)
    print("FIGURES " + " ".join(f"{k}={fmt(v)}" for k, v in fig.items()), flush=True)
    path = os.environ.get("HOSTILE_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(fig, sort_keys=False, default=str) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "canary":
        _canary_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)
