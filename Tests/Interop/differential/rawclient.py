"""A small ZooKeeper client that speaks raw jute over a blocking socket.

It exists for the differential tests: unlike kazoo it hides nothing. Every
frame the server sends is decoded and returned in arrival order, replies with
their header (xid, zxid, err) and body, notifications (xid -1) as they come.

Encoding follows the jute rules in /work/shared/reference/zookeeper-protocol.md
§1.2 (big-endian ints, length-prefixed buffers with -1 meaning null, vectors
with a count). Decoded values are plain dicts/lists/tuples so that they can be
normalised, compared and printed.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Callable, Optional

# -- opcodes (§1.5) -------------------------------------------------------------
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GETDATA = 4
OP_SETDATA = 5
OP_GETACL = 6
OP_SETACL = 7
OP_GETCHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GETCHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_CHECKWATCHES = 17
OP_REMOVEWATCHES = 18
OP_CREATECONTAINER = 19
OP_CREATETTL = 21
OP_MULTIREAD = 22
OP_AUTH = 100
OP_SETWATCHES = 101
OP_GETEPHEMERALS = 103
OP_GETALLCHILDRENNUMBER = 104
OP_SETWATCHES2 = 105
OP_ADDWATCH = 106
OP_WHOAMI = 107
OP_CLOSESESSION = -11

OPNAMES = {
    1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData", 6: "getACL",
    7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 17: "checkWatches", 18: "removeWatches",
    19: "createContainer", 21: "createTTL", 22: "multiRead", 100: "auth",
    101: "setWatches", 103: "getEphemerals", 104: "getAllChildrenNumber",
    105: "setWatches2", 106: "addWatch", 107: "whoAmI", -11: "closeSession",
}

XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SETWATCHES = -8

ERRNAMES = {
    0: "OK", -1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY", -3: "DATAINCONSISTENCY",
    -4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR", -6: "UNIMPLEMENTED",
    -7: "OPERATIONTIMEOUT", -8: "BADARGUMENTS", -12: "UNKNOWNSESSION",
    -13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS", -100: "APIERROR",
    -101: "NONODE", -102: "NOAUTH", -103: "BADVERSION",
    -108: "NOCHILDRENFOREPHEMERALS", -110: "NODEEXISTS", -111: "NOTEMPTY",
    -112: "SESSIONEXPIRED", -113: "INVALIDCALLBACK", -114: "INVALIDACL",
    -115: "AUTHFAILED", -118: "SESSIONMOVED", -119: "NOTREADONLY",
    -120: "EPHEMERALONLOCALSESSION", -121: "NOWATCHER", -122: "REQUESTTIMEOUT",
    -123: "RECONFIGDISABLED", -124: "SESSIONCLOSEDREQUIRESASLAUTH",
    -125: "QUOTAEXCEEDED", -127: "THROTTLEDOP",
}


def errname(code: int) -> str:
    return ERRNAMES.get(code, str(code))


# -- encoding -------------------------------------------------------------------

class Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int(self, v: int) -> "Writer":
        self.parts.append(struct.pack(">i", v))
        return self

    def long(self, v: int) -> "Writer":
        self.parts.append(struct.pack(">q", v))
        return self

    def bool(self, v: bool) -> "Writer":
        self.parts.append(b"\x01" if v else b"\x00")
        return self

    def buffer(self, v: Optional[bytes]) -> "Writer":
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.parts.append(bytes(v))
        return self

    def string(self, v: Optional[str]) -> "Writer":
        return self.buffer(None if v is None else v.encode("utf-8", "surrogatepass"))

    def strings(self, v: Optional[list[str]]) -> "Writer":
        if v is None:
            return self.int(-1)
        self.int(len(v))
        for s in v:
            self.string(s)
        return self

    def acls(self, acl: Optional[list[tuple[int, str, str]]]) -> "Writer":
        if acl is None:
            return self.int(-1)
        self.int(len(acl))
        for perms, scheme, ident in acl:
            self.int(perms).string(scheme).string(ident)
        return self

    def raw(self, b: bytes) -> "Writer":
        self.parts.append(b)
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"short frame: need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def bool(self) -> bool:
        return self._take(1) != b"\x00"

    def buffer(self) -> Optional[bytes]:
        n = self.int()
        if n == -1:
            return None
        if n < 0:
            raise DecodeError(f"negative buffer length {n}")
        return self._take(n)

    def string(self) -> Optional[str]:
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "replace")

    def strings(self) -> Optional[list]:
        n = self.int()
        if n == -1:
            return None
        return [self.string() for _ in range(n)]

    def stat(self) -> dict:
        return {
            "czxid": self.long(), "mzxid": self.long(), "ctime": self.long(),
            "mtime": self.long(), "version": self.int(), "cversion": self.int(),
            "aversion": self.int(), "ephemeralOwner": self.long(),
            "dataLength": self.int(), "numChildren": self.int(), "pzxid": self.long(),
        }

    def acls(self) -> Optional[list]:
        n = self.int()
        if n == -1:
            return None
        out = []
        for _ in range(n):
            perms = self.int()
            out.append((perms, self.string(), self.string()))
        return out

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def rest(self) -> bytes:
        return self._take(self.remaining())


# -- request bodies --------------------------------------------------------------

def enc_create(path, data, acl, flags, ttl=None) -> bytes:
    w = Writer().string(path).buffer(data).acls(acl).int(flags)
    if ttl is not None:
        w.long(ttl)
    return w.bytes()


def enc_path(path) -> bytes:
    return Writer().string(path).bytes()


def enc_path_watch(path, watch) -> bytes:
    return Writer().string(path).bool(watch).bytes()


def enc_path_version(path, version) -> bytes:
    return Writer().string(path).int(version).bytes()


def enc_setdata(path, data, version) -> bytes:
    return Writer().string(path).buffer(data).int(version).bytes()


def enc_setacl(path, acl, version) -> bytes:
    return Writer().string(path).acls(acl).int(version).bytes()


def enc_path_int(path, v) -> bytes:
    return Writer().string(path).int(v).bytes()


def enc_auth(scheme, auth) -> bytes:
    return Writer().int(0).string(scheme).buffer(auth).bytes()


def enc_setwatches(rel_zxid, data, exist, child, persistent=None, recursive=None) -> bytes:
    w = Writer().long(rel_zxid).strings(data).strings(exist).strings(child)
    if persistent is not None or recursive is not None:
        w.strings(persistent or []).strings(recursive or [])
    return w.bytes()


def enc_multi(ops: list[tuple[int, bytes]]) -> bytes:
    """ops: (opcode, encoded op record)."""
    w = Writer()
    for op, body in ops:
        w.int(op).bool(False).int(-1).raw(body)
    w.int(-1).bool(True).int(-1)
    return w.bytes()


# -- reply bodies ------------------------------------------------------------------

def _dec_multi(r: Reader) -> list:
    results = []
    while True:
        typ = r.int()
        done = r.bool()
        err = r.int()
        if done:
            results.append({"end": (typ, err)})
            break
        if typ == -1:
            results.append({"type": -1, "err": err, "errResponse": r.int()})
        elif typ == OP_CREATE:
            results.append({"type": typ, "err": err, "path": r.string()})
        elif typ in (OP_CREATE2, OP_CREATECONTAINER, OP_CREATETTL):
            results.append({"type": typ, "err": err, "path": r.string(), "stat": r.stat()})
        elif typ in (OP_DELETE, OP_CHECK):
            results.append({"type": typ, "err": err})
        elif typ == OP_SETDATA:
            results.append({"type": typ, "err": err, "stat": r.stat()})
        elif typ == OP_GETDATA:
            results.append({"type": typ, "err": err, "data": r.buffer(), "stat": r.stat()})
        elif typ == OP_GETCHILDREN:
            results.append({"type": typ, "err": err, "children": r.strings()})
        else:
            raise DecodeError(f"unknown multi result type {typ}")
    return results


def _dec_client_info(r: Reader) -> Optional[list]:
    n = r.int()
    if n == -1:
        return None
    return [(r.string(), r.string()) for _ in range(n)]


def _stat_only(r: Reader) -> dict:
    return {"stat": r.stat()}


def _nothing(r: Reader) -> dict:
    return {}


DECODERS: dict[int, Callable[[Reader], dict]] = {
    OP_CREATE: lambda r: {"path": r.string()},
    OP_CREATE2: lambda r: {"path": r.string(), "stat": r.stat()},
    OP_CREATECONTAINER: lambda r: {"path": r.string(), "stat": r.stat()},
    OP_CREATETTL: lambda r: {"path": r.string(), "stat": r.stat()},
    OP_DELETE: _nothing,
    OP_EXISTS: _stat_only,
    OP_GETDATA: lambda r: {"data": r.buffer(), "stat": r.stat()},
    OP_SETDATA: _stat_only,
    OP_GETACL: lambda r: {"acl": r.acls(), "stat": r.stat()},
    OP_SETACL: _stat_only,
    OP_GETCHILDREN: lambda r: {"children": r.strings()},
    OP_GETCHILDREN2: lambda r: {"children": r.strings(), "stat": r.stat()},
    OP_SYNC: lambda r: {"path": r.string()},
    OP_PING: _nothing,
    OP_MULTI: lambda r: {"results": _dec_multi(r)},
    OP_MULTIREAD: lambda r: {"results": _dec_multi(r)},
    OP_CHECKWATCHES: _nothing,
    OP_REMOVEWATCHES: _nothing,
    OP_AUTH: _nothing,
    OP_SETWATCHES: _nothing,
    OP_SETWATCHES2: _nothing,
    OP_GETEPHEMERALS: lambda r: {"ephemerals": r.strings()},
    OP_GETALLCHILDRENNUMBER: lambda r: {"totalNumber": r.int()},
    OP_ADDWATCH: lambda r: {"errResponse": r.int()},
    OP_WHOAMI: lambda r: {"clientInfo": _dec_client_info(r)},
    OP_CLOSESESSION: _nothing,
}


def decode_body(opcode: int, body: bytes) -> dict:
    """Decode a successful reply body; undecodable or surplus bytes are reported, not raised."""
    r = Reader(body)
    dec = DECODERS.get(opcode)
    if dec is None:
        return {"rawBody": body.hex()} if body else {}
    try:
        out = dec(r)
    except DecodeError as e:
        return {"decodeError": str(e), "rawBody": body.hex()}
    if r.remaining():
        out["trailingBytes"] = r.rest().hex()
    return out


# -- the connection ---------------------------------------------------------------

class Closed(Exception):
    pass


class RawConnection:
    """One TCP connection = one session attachment.

    All calls are blocking with a timeout. `frames_until(xid)` returns every
    frame received up to and including the one with that xid.
    """

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False
        self.last_zxid = 0
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.negotiated_timeout = 0

    # handshake (§1.3)
    def handshake(self, session_timeout_ms: int = 30000, session_id: int = 0,
                  passwd: bytes = b"\x00" * 16, last_zxid: int = 0,
                  read_only: bool = False) -> dict:
        body = (Writer().int(0).long(last_zxid).int(session_timeout_ms)
                .long(session_id).buffer(passwd).bool(read_only).bytes())
        self._send_frame(body)
        frame = self.read_frame()
        if frame is None:
            return {"connect": "closed-without-response"}
        r = Reader(frame)
        try:
            resp = {
                "protocolVersion": r.int(), "timeOut": r.int(),
                "sessionId": r.long(), "passwd": r.buffer(),
            }
            resp["readOnly"] = r.bool() if r.remaining() else None
        except DecodeError as e:
            return {"connect": "undecodable", "error": str(e), "raw": frame.hex()}
        if r.remaining():
            resp["trailingBytes"] = r.rest().hex()
        self.session_id = resp["sessionId"]
        self.passwd = resp["passwd"] or b""
        self.negotiated_timeout = resp["timeOut"]
        return resp

    def _send_frame(self, payload: bytes) -> None:
        if self.closed:
            raise Closed("send on closed connection")
        try:
            self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        except OSError as e:
            self.closed = True
            raise Closed(f"send failed: {e}") from e

    def send(self, xid: int, opcode: int, body: bytes = b"") -> None:
        self._send_frame(struct.pack(">ii", xid, opcode) + body)

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError at the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no data from server")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                return False
            self.buf += chunk
            return True

    def read_frame(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next frame's payload, or None at EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < 4:
            if not self._fill(deadline):
                return None
        (n,) = struct.unpack(">i", self.buf[:4])
        if n < 0 or n > 64 * 1024 * 1024:
            raise DecodeError(f"bad frame length {n}")
        while len(self.buf) < 4 + n:
            if not self._fill(deadline):
                return None
        payload, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return payload

    def read_reply(self, opcodes: dict[int, int], timeout: Optional[float] = None) -> dict:
        """Read and decode one frame. `opcodes` maps pending xid -> opcode."""
        try:
            frame = self.read_frame(timeout)
        except TimeoutError:
            return {"kind": "timeout"}
        if frame is None:
            return {"kind": "eof"}
        r = Reader(frame)
        try:
            xid, zxid, err = r.int(), r.long(), r.int()
        except DecodeError:
            return {"kind": "garbage", "raw": frame.hex()}
        if xid == XID_NOTIFICATION:
            out = {"kind": "event", "zxid": zxid, "err": err}
            try:
                out.update({"type": r.int(), "state": r.int(), "path": r.string()})
            except DecodeError as e:
                out["decodeError"] = str(e)
            if r.remaining():
                out["trailingBytes"] = r.rest().hex()
            return out
        if zxid > self.last_zxid:
            self.last_zxid = zxid
        out = {"kind": "reply", "xid": xid, "zxid": zxid, "err": err}
        body = r.rest()
        if err != 0:
            # The server sends no body with an error (§1.4); show it if one came.
            if body:
                out["bodyWithError"] = body.hex()
            return out
        op = opcodes.get(xid)
        if op is None:
            out["unexpectedXid"] = True
            if body:
                out["rawBody"] = body.hex()
            return out
        out.update(decode_body(op, body))
        return out

    def call(self, xid: int, opcode: int, body: bytes = b"",
             timeout: Optional[float] = None) -> list[dict]:
        """Send one request; return all frames up to and including its reply
        (or a final {'kind': 'eof'/'timeout'} frame)."""
        frames: list[dict] = []
        try:
            self.send(xid, opcode, body)
        except Closed:
            return [{"kind": "eof"}]
        while True:
            f = self.read_reply({xid: opcode}, timeout)
            frames.append(f)
            if f["kind"] in ("eof", "timeout", "garbage"):
                return frames
            if f["kind"] == "reply" and f["xid"] == xid:
                return frames
            # anything else (events, stray replies) is recorded and we keep reading

    def wait_eof(self, timeout: float = 3.0) -> list[dict]:
        """After a request that should make the server hang up: frames until EOF."""
        frames = []
        while True:
            f = self.read_reply({}, timeout)
            frames.append(f)
            if f["kind"] in ("eof", "timeout", "garbage"):
                return frames

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def digest_id(user: str, password: str) -> str:
    """The digest ACL id for `user:password` (§2.9): user:base64(sha1(user:password))."""
    import base64
    import hashlib
    h = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(h).decode()}"
