"""Apache ZooKeeper 3.8.0 and swiftkeeper read each other's data directories.

Each test runs one server kind ("first") on a fresh dataDir, drives a workload
touching every node type, ACL kind and transaction kind, dumps the complete
tree (every path, data, ACL and Stat field, the /zookeeper subtree included),
the live sessions and the last zxid, and stops the server with SIGTERM. Then
the other kind ("second") starts on the same dataDir and must show exactly the
same dump; a session left alive on the first server must be resumable on the
second with its id and password. More writes follow on the second server, it
is stopped, and the first kind starts on the directory once more (the round
trip) and must again show exactly what the second one showed.

The ZooKeeper -> ZooKeeper pair always runs: it proves the dump and compare
logic on the reference implementation, whatever state swiftkeeper is in.

    .venv-interop/bin/python -m pytest Tests/Interop/test_durability_interchange.py -v
    # only the self-check on ZooKeeper:
    .venv-interop/bin/python -m pytest Tests/Interop/test_durability_interchange.py -k zookeeper-to-zookeeper

What a client cannot see is probed by behaviour instead: ZooKeeper 3.8.0 shows
clients ephemeralOwner 0 for containers and TTL nodes (on disk they carry
0x8000000000000000 and 0xFF00000000000000 | ttl), so after each restart one
container and one TTL node (1 ms TTL) written by the other server are emptied
and must be reaped, while an emptied persistent node stays.

Each pair runs twice: with the default snapCount (a single txn log after
ZooKeeper's start-up snapshot) and with a tiny snapCount, so that the directory
holds several rolled logs and fuzzy snapshots taken in the middle of the
workload.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoAuthError, NoNodeError, BadVersionError
from kazoo.security import READ_ACL_UNSAFE, make_acl, make_digest_acl

import servers
from differential import rawclient as raw

USER, PASSWORD = "alice", "s3cret"
AUTH = [("digest", f"{USER}:{PASSWORD}")]
# The longest session ZooKeeper grants with tickTime 2000 (20 ticks): the held
# sessions must outlive a stop, a start and a dump.
HELD_TIMEOUT_MS = 40000
LONG_TTL_MS = 3_600_000

# Create flags (CreateMode) used through the raw client.
EPHEMERAL, EPHEMERAL_SEQUENTIAL = 1, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6
WORLD_ALL = [(31, "world", "anyone")]

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")

PAIRS = [("zookeeper", "zookeeper"), ("zookeeper", "swiftkeeper"), ("swiftkeeper", "zookeeper")]
SNAP_COUNTS = {"snapdefault": None, "snapcount10": 10}


def _cfg(snap_count):
    cfg = {"znode.container.checkIntervalMs": 1000}
    if snap_count is not None:
        cfg["snapCount"] = snap_count
    return cfg


def _start(kind: str, tmp: Path, data_dir: Path, snap_count):
    return servers.start_server(kind, tmp, _cfg(snap_count), data_dir=data_dir)


def _client(srv, **kw) -> KazooClient:
    kw.setdefault("timeout", 10)
    zk = KazooClient(hosts=srv.hosts, **kw)
    zk.start(timeout=20)
    return zk


def _close(zk: KazooClient) -> None:
    try:
        zk.stop()
    finally:
        zk.close()


# -- raw sessions (kazoo 2.11 cannot create containers or TTL nodes, nor leave a
#    session open without closing it) -------------------------------------------

class RawSession:
    def __init__(self, srv, timeout_ms: int = 30000):
        self.conn = raw.RawConnection(srv.host, srv.port)
        resp = self.conn.handshake(session_timeout_ms=timeout_ms)
        assert resp.get("sessionId"), f"handshake failed: {resp}"
        self.session_id = resp["sessionId"]
        self.passwd = resp["passwd"]
        self.xid = 0

    def call(self, opcode: int, body: bytes) -> dict:
        self.xid += 1
        frames = self.conn.call(self.xid, opcode, body)
        reply = frames[-1]
        assert reply.get("kind") == "reply", f"no reply to op {opcode}: {frames}"
        return reply

    def create(self, path: str, data: bytes, flags: int, ttl: int | None = None,
               opcode: int | None = None) -> str:
        if opcode is None:
            opcode = (raw.OP_CREATETTL if ttl is not None
                      else raw.OP_CREATECONTAINER if flags == CONTAINER else raw.OP_CREATE2)
        reply = self.call(opcode, raw.enc_create(path, data, WORLD_ALL, flags, ttl))
        assert reply["err"] == 0, f"create {path} flags={flags}: {raw.errname(reply['err'])}"
        return reply["path"]

    def delete(self, path: str) -> None:
        reply = self.call(raw.OP_DELETE, raw.enc_path_version(path, -1))
        assert reply["err"] == 0, f"delete {path}: {raw.errname(reply['err'])}"

    def close_session(self) -> None:
        self.call(raw.OP_CLOSESESSION, b"")
        self.conn.close()

    def abandon(self) -> None:
        """Drop the TCP connection but keep the session (no closeSession)."""
        self.conn.close()


# -- dumps ------------------------------------------------------------------------

def _acl_tuple(acl) -> tuple:
    return (acl.perms, acl.id.scheme, acl.id.id)


def dump_tree(srv) -> dict:
    """path -> {data, stat, acl, children} for every node, as a client holding
    the digest credentials sees it."""
    zk = _client(srv, auth_data=AUTH)
    try:
        out: dict[str, dict] = {}
        todo = ["/"]
        while todo:
            path = todo.pop()
            data, stat = zk.get(path)
            acls, acl_stat = zk.get_acls(path)
            children = sorted(zk.get_children(path))
            stat_t = tuple(getattr(stat, f) for f in STAT_FIELDS)
            assert stat_t == tuple(getattr(acl_stat, f) for f in STAT_FIELDS), \
                f"{path}: getData and getACL stats differ on a quiet server"
            out[path] = {"data": data, "stat": dict(zip(STAT_FIELDS, stat_t)),
                         "acl": [_acl_tuple(a) for a in acls], "children": children}
            todo.extend((path.rstrip("/") + "/" + c) for c in children)
        return out
    finally:
        _close(zk)


_HEX_LINE = re.compile(r"^\s*0x([0-9a-fA-F]+)\b")


def dump_sessions(srv) -> dict:
    """From the `dump` four letter word: the live session ids and, for each
    session owning ephemerals, its ephemeral paths."""
    text = srv.four_letter("dump")
    live: set[int] = set()
    owners: dict[int, list[str]] = {}
    section = None
    owner = None
    for line in text.splitlines():
        if line.startswith("Session Sets"):
            section = "sessions"
            continue
        if line.startswith("Sessions with Ephemerals"):
            section = "ephemerals"
            continue
        if line.startswith("Connections") or line.startswith("ephemeral nodes dump"):
            section = None if line.startswith("Connections") else section
            continue
        if section == "sessions":
            m = _HEX_LINE.match(line)
            if m:
                live.add(int(m.group(1), 16))
        elif section == "ephemerals":
            m = re.match(r"^0x([0-9a-fA-F]+):\s*$", line)
            if m:
                owner = int(m.group(1), 16)
                owners[owner] = []
            elif line.startswith("\t") and owner is not None:
                owners[owner].append(line.strip())
    return {"live": sorted(live), "ephemerals": {k: sorted(v) for k, v in sorted(owners.items())},
            "text": text}


def last_zxid(srv) -> int:
    m = re.search(r"^Zxid: 0x([0-9a-fA-F]+)", srv.four_letter("srvr"), re.M)
    assert m, "srvr shows no Zxid line"
    return int(m.group(1), 16)


def state_before_stop(srv) -> dict:
    """Everything compared across a restart, taken just before the stop: the
    tree first, then (once the dumping client's session is closed again) the
    live sessions and the last zxid from four letter words."""
    tree = dump_tree(srv)
    return {"tree": tree, "sessions": dump_sessions(srv), "zxid": last_zxid(srv)}


def state_after_start(srv) -> dict:
    """The same, just after a start: sessions and last zxid before any client
    connects (a session's creation is a txn), then the tree."""
    sessions = dump_sessions(srv)
    zxid = last_zxid(srv)
    return {"tree": dump_tree(srv), "sessions": sessions, "zxid": zxid}


def _fmt(v) -> str:
    if isinstance(v, bytes):
        return repr(v) if len(v) <= 64 else f"<{len(v)} bytes, starts {v[:32]!r}>"
    return repr(v)


def compare(before: dict, after: dict, what: str) -> None:
    problems: list[str] = []
    if before["zxid"] != after["zxid"]:
        problems.append(f"last zxid: 0x{before['zxid']:x} before, 0x{after['zxid']:x} after")
    for key in ("live", "ephemerals"):
        if before["sessions"][key] != after["sessions"][key]:
            problems.append(f"sessions {key}: before {before['sessions'][key]}, "
                            f"after {after['sessions'][key]}")
    tb, ta = before["tree"], after["tree"]
    for path in sorted(set(tb) - set(ta)):
        problems.append(f"{path}: missing after restart")
    for path in sorted(set(ta) - set(tb)):
        problems.append(f"{path}: present only after restart ({ta[path]['stat']})")
    for path in sorted(set(tb) & set(ta)):
        b, a = tb[path], ta[path]
        for field in ("data", "acl", "children"):
            if b[field] != a[field]:
                problems.append(f"{path}: {field} {_fmt(b[field])} -> {_fmt(a[field])}")
        for field in STAT_FIELDS:
            if b["stat"][field] != a["stat"][field]:
                problems.append(f"{path}: stat.{field} {b['stat'][field]} -> {a['stat'][field]}")
    if problems:
        shown = "\n  ".join(problems[:60])
        more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
        pytest.fail(f"{what}: {len(problems)} difference(s)\n  {shown}{more}\n"
                    f"--- dump before ---\n{before['sessions']['text']}"
                    f"--- dump after ---\n{after['sessions']['text']}")


def _wait_gone(zk: KazooClient, paths, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    left = list(paths)
    while left and time.monotonic() < deadline:
        left = [p for p in left if zk.exists(p) is not None]
        if left:
            time.sleep(0.2)
    assert not left, f"{what}: still present after {timeout:.0f}s: {left}"


# -- workloads ----------------------------------------------------------------------

def workload_first(srv) -> dict:
    """Runs on the first server. Returns the held session (left alive)."""
    held = RawSession(srv, HELD_TIMEOUT_MS)
    a = _client(srv)
    b = _client(srv, auth_data=AUTH)
    try:
        # persistent nodes, data of every shape
        a.create("/p", b"persistent")
        a.create("/p/empty", b"")
        a.create("/p/binary", bytes(range(256)))
        a.create("/p/big", b"z" * 300_000)
        a.create("/p/unicode", "grüße, 世界".encode())
        a.create("/deep/a/b/c", b"deep", makepath=True)
        seqs = [a.create("/p/seq-", b"s%d" % i, sequence=True) for i in range(4)]
        a.delete(seqs[1])
        a.create("/p/child", b"v0")
        a.set("/p/child", b"v1")
        a.set("/p/child", b"v2", version=1)
        a.set("/p/empty", b"")
        a.create("/gone", b"created then deleted")
        a.delete("/gone")
        # ephemerals of a session that is closed before the dump
        a.create("/eph-closed", b"goes with its session", ephemeral=True)
        a.create("/p/eseq-closed-", b"", ephemeral=True, sequence=True)
        # ACLs: world read-only, ip, digest, auth, mixed; setACL
        a.create("/acl", b"")
        a.create("/acl/ro", b"read only", acl=READ_ACL_UNSAFE)
        a.create("/acl/ip", b"ip", acl=[make_acl("ip", "127.0.0.1", all=True)])
        a.set_acls("/p/child", [make_acl("world", "anyone", read=True, write=True)])
        b.create("/acl/digest", b"secret", acl=[make_digest_acl(USER, PASSWORD, all=True)])
        b.create("/acl/auth", b"auth scheme", acl=[make_acl("auth", "", all=True)])
        b.create("/acl/mixed", b"mixed", acl=[make_acl("world", "anyone", read=True),
                                              make_digest_acl(USER, PASSWORD, all=True)])
        b.set_acls("/acl/mixed", [make_acl("world", "anyone", read=True, create=True),
                                  make_digest_acl(USER, PASSWORD, all=True)], version=0)
        b.set("/acl/digest", b"secret 2")
        # failing writes (ZooKeeper logs these as error txns, each taking a zxid)
        with pytest.raises(NoAuthError):
            a.set("/acl/ro", b"not allowed")
        with pytest.raises(NodeExistsError):
            a.create("/p", b"again")
        with pytest.raises(NoNodeError):
            a.delete("/nowhere")
        with pytest.raises(BadVersionError):
            a.set("/p", b"stale", version=7)
        with pytest.raises(NoAuthError):
            a.get("/acl/digest")
        # a multi that succeeds and one that fails as a whole
        t = a.transaction()
        t.create("/m", b"multi")
        t.create("/m/a", b"a")
        t.set_data("/p", b"persistent 2")
        t.check("/p/child", 2)
        t.delete("/deep/a/b/c")
        results = t.commit()
        assert not any(isinstance(r, Exception) for r in results), results
        t = a.transaction()
        t.create("/f1", b"never")
        t.set_data("/p", b"never", version=99)
        results = t.commit()
        assert any(isinstance(r, Exception) for r in results), results
        assert a.exists("/f1") is None
        # containers and TTL nodes, through a raw session that is closed properly
        r = RawSession(srv)
        r.create("/c", b"container", CONTAINER)
        r.create("/c/x", b"keeps /c alive", 0)
        r.create("/c-never", b"never used", CONTAINER)
        r.create("/c-emptied", b"", CONTAINER)
        r.create("/c-emptied/x", b"", 0)
        r.delete("/c-emptied/x")
        r.create("/ttl", b"ttl", PERSISTENT_WITH_TTL, ttl=LONG_TTL_MS)
        r.create("/ttl-seq-", b"ttl seq", PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=LONG_TTL_MS)
        r.create("/ttl-short", b"expires", PERSISTENT_WITH_TTL, ttl=1)
        # Clients see ephemeralOwner 0 for containers and TTL nodes, so the dump
        # cannot tell them from persistent nodes: these two are emptied after the
        # restart, and the reaper of the server that read them must delete them.
        _make_type_probes(r, "/c-probe", "/ttl-probe")
        r.close_session()
        # the held session's ephemerals
        held.create("/h-eph", b"held", EPHEMERAL)
        held_seq = held.create("/p/h-eseq-", b"held seq", EPHEMERAL_SEQUENTIAL)
        held.abandon()
        # The reaper deletes the emptied container and the expired TTL node
        # (ZooKeeper logs a deleteContainer txn for each).
        _wait_gone(a, ["/c-emptied", "/ttl-short"], "container/TTL reaper")
    finally:
        _close(a)
        _close(b)
    return {"session_id": held.session_id, "passwd": held.passwd,
            "ephemerals": ["/h-eph", held_seq]}


def _make_type_probes(r: RawSession, container: str, ttl_node: str) -> None:
    r.create(container, b"container probe", CONTAINER)
    r.create(container + "/x", b"", 0)
    r.create(ttl_node, b"ttl probe, 1 ms", PERSISTENT_WITH_TTL, ttl=1)
    r.create(ttl_node + "/x", b"", 0)


def check_type_probes(srv, container: str, ttl_node: str) -> None:
    """Empty the probes made by _make_type_probes on the server that wrote the
    files; this server must know them as container and TTL node and reap them,
    while an emptied persistent node stays."""
    zk = _client(srv)
    try:
        zk.create(container + "-persistent-control", b"")
        zk.create(container + "-persistent-control/x", b"")
        zk.delete(container + "-persistent-control/x")
        zk.delete(container + "/x")
        zk.delete(ttl_node + "/x")
        _wait_gone(zk, [container, ttl_node], "container/TTL node written by the other server")
        assert zk.exists(container + "-persistent-control") is not None
    finally:
        _close(zk)


def check_held_session(srv, held: dict) -> KazooClient:
    """Resume the held session on `srv` (kazoo with its id and password); it must
    keep its id and see its ephemerals. Returns the connected client."""
    zk = KazooClient(hosts=srv.hosts, client_id=(held["session_id"], held["passwd"]),
                     timeout=HELD_TIMEOUT_MS / 1000)
    zk.start(timeout=20)
    try:
        assert zk.client_id[0] == held["session_id"], (
            f"session 0x{held['session_id']:x} was not resumed: got 0x{zk.client_id[0]:x}")
        for path in held["ephemerals"]:
            stat = zk.exists(path)
            assert stat is not None, f"held session's ephemeral {path} is gone"
            assert stat.ephemeralOwner == held["session_id"], (path, stat)
    except BaseException:
        _close(zk)
        raise
    return zk


def workload_second(srv, held_client: KazooClient, held: dict) -> dict:
    """More writes on the second server, including a new session left alive."""
    held_client.create("/h-eph2", b"made on the second server", ephemeral=True)
    held["ephemerals"].append("/h-eph2")
    a = _client(srv, auth_data=AUTH)
    try:
        a.set("/p", b"round trip")
        a.create("/p/seq-", b"after restart", sequence=True)
        a.delete("/p/binary")
        a.set("/acl/digest", b"secret 3")
        a.set_acls("/acl/mixed", [make_digest_acl(USER, PASSWORD, read=True, write=True, admin=True)])
        a.create("/eph-closed-2", b"", ephemeral=True)
        with pytest.raises(NodeExistsError):
            a.create("/m", b"")
        t = a.transaction()
        t.create("/m2", b"second multi")
        t.create("/m2/x", b"")
        t.delete("/m/a")
        t.set_data("/m", b"multi 2")
        results = t.commit()
        assert not any(isinstance(r, Exception) for r in results), results
        t = a.transaction()
        t.delete("/m2/x")
        t.delete("/m2/nowhere")
        assert any(isinstance(r, Exception) for r in t.commit())
        r = RawSession(srv)
        r.create("/c2", b"", CONTAINER)
        r.create("/c2/x", b"", 0)
        r.create("/ttl2", b"", PERSISTENT_WITH_TTL, ttl=LONG_TTL_MS)
        r.create("/c/y", b"", 0)
        _make_type_probes(r, "/c2-probe", "/ttl2-probe")
        r.close_session()
        fresh = RawSession(srv, HELD_TIMEOUT_MS)
        fresh.create("/n-eph", b"session made on the second server", EPHEMERAL)
        fresh.abandon()
    finally:
        _close(a)
    return {"session_id": fresh.session_id, "passwd": fresh.passwd, "ephemerals": ["/n-eph"]}


# -- the test -----------------------------------------------------------------------

def _available(kind: str) -> bool:
    if kind == "swiftkeeper":
        return os.access(servers.swiftkeeper_bin(), os.X_OK)
    return True


@pytest.mark.parametrize("snap", list(SNAP_COUNTS), ids=list(SNAP_COUNTS))
@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_interchange(first: str, second: str, snap: str, tmp_path: Path) -> None:
    for kind in (first, second):
        if not _available(kind):
            pytest.skip(f"swiftkeeper binary not built: {servers.swiftkeeper_bin()}")
    snap_count = SNAP_COUNTS[snap]
    data_dir = tmp_path / "shared-data"
    running = []

    def start(kind: str, label: str):
        srv = _start(kind, tmp_path / label, data_dir, snap_count)
        running.append(srv)
        return srv

    clients: list[KazooClient] = []
    try:
        # 1. the workload on the first server
        srv1 = start(first, f"1-{first}")
        held = workload_first(srv1)
        before = state_before_stop(srv1)
        assert held["session_id"] in before["sessions"]["live"], before["sessions"]["text"]
        assert before["sessions"]["ephemerals"].get(held["session_id"]) == sorted(held["ephemerals"])
        srv1.stop()
        print(f"{first}: {len(before['tree'])} nodes, zxid 0x{before['zxid']:x}, files "
              f"{sorted(p.name for p in (data_dir / 'version-2').iterdir())}")

        # 2. the second server on the same directory shows the same state
        srv2 = start(second, f"2-{second}")
        after = state_after_start(srv2)
        compare(before, after, f"{first} wrote, {second} read")
        held_client = check_held_session(srv2, held)
        clients.append(held_client)
        check_type_probes(srv2, "/c-probe", "/ttl-probe")
        fresh = workload_second(srv2, held_client, held)
        before2 = state_before_stop(srv2)
        assert fresh["session_id"] in before2["sessions"]["live"], before2["sessions"]["text"]
        srv2.stop()
        # The resumed client would try to reconnect; stop it while no server runs
        # (no closeSession can reach a server, so the session stays alive).
        _close(held_client)
        clients.remove(held_client)
        print(f"{second}: {len(before2['tree'])} nodes, zxid 0x{before2['zxid']:x}, files "
              f"{sorted(p.name for p in (data_dir / 'version-2').iterdir())}")

        # 3. round trip: the first kind again
        srv3 = start(first, f"3-{first}")
        after2 = state_after_start(srv3)
        compare(before2, after2, f"round trip: {second} wrote, {first} read")
        check_type_probes(srv3, "/c2-probe", "/ttl2-probe")
        for session in (held, fresh):
            zk = check_held_session(srv3, session)
            # closing the session deletes its ephemerals on the restored server
            _close(zk)
        checker = _client(srv3)
        clients.append(checker)
        _wait_gone(checker, [*held["ephemerals"], *fresh["ephemerals"]], "ephemerals of closed sessions")
        assert not [c for c in checker.get_children("/p") if c.startswith("h-eseq-")]
        checker.create("/after-round-trip", b"writes work")
    finally:
        for zk in clients:
            try:
                _close(zk)
            except Exception:
                pass
        for srv in running:
            srv.stop()
