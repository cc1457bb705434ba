"""Run one seeded workload in lockstep against two servers and compare.

For every operation the runner records, per server:

  frames  every frame the issuing session received up to and including the
          reply (notifications first, in arrival order), plus the EOF and the
          new handshake for operations after which the server hangs up;
  others  for every other live session, the frames received up to the reply
          of a ping sent right after the operation (the ping goes through the
          server's request pipeline, so any notification caused by the
          operation is already queued before it).

Both records are normalised and must be equal. Only these things are
normalised:

  * ctime/mtime -> "T" when within a day of the wall clock (0 stays 0);
  * session ids (ConnectResponse.sessionId, ephemeralOwner) -> "S<n>" in
    order of first appearance; the session password -> its length;
  * zxids (reply-header zxid, czxid, mzxid, pzxid) -> offset from a baseline
    taken once all sessions of the sequence are connected ("Z+5" = five zxids
    after the baseline); 0 and -1 stay as they are. So the number of zxids
    every operation consumes (failed writes and empty multis included) is
    compared;
  * the header zxid of notifications is dropped (-1 on 3.8, the txn zxid on 3.9);
  * child lists (getChildren, getChildren2, multiRead), getEphemerals and whoAmI
    are sorted (ZooKeeper keeps a connection's auth ids in a hash set); in ACL
    lists, runs of digest entries with equal perms (what an `auth` entry
    expands to, in that same hash-set order) are sorted;
  * a successful create2 inside multi is reduced to its path (3.8.0/3.8.1
    answer a type-1 result without Stat there, 3.8.2+ a type-15 result);
  * notifications caused by closeSession are sorted (the order in which
    ZooKeeper deletes a session's ephemerals is Java HashSet order).
"""

from __future__ import annotations

import pprint
import time
from typing import Any, Optional

import rawclient as rc
from workload import Workload

SESSION_TIMEOUT_MS = 40000
CLOSING_OPS = {"closeSession"}


class Slot:
    def __init__(self) -> None:
        self.conn: Optional[rc.RawConnection] = None
        self.xid = 0
        self.session_id = 0
        self.passwd = b""

    def next_xid(self) -> int:
        self.xid += 1
        return self.xid


class Normaliser:
    def __init__(self) -> None:
        self.base: Optional[int] = None
        self.sessions: dict[int, str] = {}

    def sid(self, s: int) -> Any:
        if s == 0:
            return 0
        if s not in self.sessions:
            self.sessions[s] = f"S{len(self.sessions)}"
        return self.sessions[s]

    def zxid(self, z: int) -> Any:
        if z in (0, -1) or self.base is None:
            return z
        return f"Z{z - self.base:+d}"

    @staticmethod
    def time(t: int) -> Any:
        if t == 0:
            return 0
        now = time.time() * 1000
        return "T" if abs(t - now) < 86400_000 else t

    def stat(self, st: dict) -> dict:
        out = dict(st)
        for k in ("czxid", "mzxid", "pzxid"):
            out[k] = self.zxid(st[k])
        for k in ("ctime", "mtime"):
            out[k] = self.time(st[k])
        out["ephemeralOwner"] = self.sid(st["ephemeralOwner"])
        return out

    def connect(self, resp: dict) -> dict:
        out = dict(resp)
        if "sessionId" in out:
            out["sessionId"] = self.sid(out["sessionId"])
        if isinstance(out.get("passwd"), (bytes, bytearray)):
            out["passwd"] = f"<{len(out['passwd'])} bytes>"
        return {"kind": "connect", **out}

    def results(self, results: list, req_ops: Optional[list]) -> list:
        out = []
        for i, res in enumerate(results):
            res = dict(res)
            if "stat" in res:
                res["stat"] = self.stat(res["stat"])
            # Children are compared in the order the servers list them (ZooKeeper's HashSet
            # order, which SwiftKeeper reproduces).
            req = req_ops[i] if req_ops is not None and i < len(req_ops) else None
            if (req is not None and req.get("op") == "create" and req.get("opcode") == rc.OP_CREATE2
                    and res.get("err") == 0 and res.get("type") in (rc.OP_CREATE, rc.OP_CREATE2)):
                res = {"create2InMulti": res.get("path")}
            out.append(res)
        return out

    def frame(self, f: dict, req_ops: Optional[list] = None) -> dict:
        f = dict(f)
        kind = f.get("kind")
        if kind == "event":
            f.pop("zxid", None)
            return f
        if kind != "reply":
            return f
        f["zxid"] = self.zxid(f["zxid"])
        f["err"] = f"{rc.errname(f['err'])}({f['err']})" if f["err"] else 0
        if "stat" in f:
            f["stat"] = self.stat(f["stat"])
        for k in ("ephemerals", "clientInfo"):
            if isinstance(f.get(k), list):
                f[k] = sorted(f[k])
        if isinstance(f.get("acl"), list):
            f["acl"] = _acl_norm(f["acl"])
        if isinstance(f.get("results"), list):
            f["results"] = self.results(f["results"], req_ops)
        return f


def _acl_norm(acl: list) -> list:
    """Sort each run of consecutive digest entries with equal perms: that is what
    an `auth` ACL entry expands to, in the order of ZooKeeper's per-connection
    auth-id set (a hash set, so the order is an implementation artefact)."""
    out: list = []
    run: list = []
    for entry in acl:
        if run and not (entry[1] == "digest" and entry[0] == run[0][0]):
            out.extend(sorted(run))
            run = []
        if entry[1] == "digest":
            run.append(entry)
        else:
            out.append(entry)
    out.extend(sorted(run))
    return out


def _sort_events(frames: list[dict]) -> list[dict]:
    """Sort each run of consecutive notifications (keeping replies in place)."""
    out: list[dict] = []
    run: list[dict] = []
    for f in frames:
        if f.get("kind") == "event":
            run.append(f)
            continue
        out.extend(sorted(run, key=repr))
        run = []
        out.append(f)
    out.extend(sorted(run, key=repr))
    return out


def _multi_body(ops: list[dict]) -> bytes:
    parts = []
    for o in ops:
        kind = o["op"]
        if kind == "create":
            parts.append((o["opcode"], rc.enc_create(o["path"], o["data"], o["acl"], o["flags"], o.get("ttl"))))
        elif kind == "delete":
            parts.append((rc.OP_DELETE, rc.enc_path_version(o["path"], o["version"])))
        elif kind == "setData":
            parts.append((rc.OP_SETDATA, rc.enc_setdata(o["path"], o["data"], o["version"])))
        elif kind == "check":
            parts.append((rc.OP_CHECK, rc.enc_path_version(o["path"], o["version"])))
        elif kind == "getData":
            parts.append((rc.OP_GETDATA, rc.enc_path_watch(o["path"], False)))
        elif kind == "getChildren":
            parts.append((rc.OP_GETCHILDREN, rc.enc_path_watch(o["path"], False)))
        else:
            raise ValueError(kind)
    return rc.enc_multi(parts)


class ServerRun:
    """One server driven through one workload."""

    def __init__(self, name: str, host: str, port: int, n_sessions: int = 3,
                 io_timeout: float = 5.0) -> None:
        self.name, self.host, self.port = name, host, port
        self.io_timeout = io_timeout
        self.slots = [Slot() for _ in range(n_sessions)]
        self.norm = Normaliser()
        self.max_zxid = 0

    # -- sessions ---------------------------------------------------------------------
    def _connect(self, slot: Slot, reattach: bool = False) -> dict:
        try:
            conn = rc.RawConnection(self.host, self.port, timeout=self.io_timeout)
        except OSError as e:
            slot.conn = None
            return {"kind": "connect", "error": type(e).__name__}
        if reattach:
            resp = conn.handshake(SESSION_TIMEOUT_MS, slot.session_id, slot.passwd, self.max_zxid)
        else:
            resp = conn.handshake(SESSION_TIMEOUT_MS, 0, b"\x00" * 16, self.max_zxid)
            slot.xid = 0
        slot.conn = conn
        if "sessionId" in resp and resp.get("timeOut", 0) > 0:
            slot.session_id, slot.passwd = resp["sessionId"], resp["passwd"]
        return self.norm.connect(resp)

    def setup(self) -> dict:
        """Connect every slot and take the zxid baseline."""
        rec = {"connects": [self._connect(s) for s in self.slots]}
        frames = self._call(self.slots[0], rc.XID_PING, rc.OP_PING)
        reply = frames[-1]
        if reply.get("kind") == "reply":
            self.norm.base = reply["zxid"]
        rec["ping"] = [self.norm.frame(f) for f in frames]
        return rec

    def close(self) -> None:
        for s in self.slots:
            if s.conn is not None:
                s.conn.close()

    # -- plumbing -----------------------------------------------------------------------
    def _call(self, slot: Slot, xid: int, opcode: int, body: bytes = b"") -> list[dict]:
        if slot.conn is None or slot.conn.closed:
            return [{"kind": "eof", "note": "connection already closed"}]
        frames = slot.conn.call(xid, opcode, body, timeout=self.io_timeout)
        for f in frames:
            if f.get("kind") == "reply" and f["zxid"] > self.max_zxid:
                self.max_zxid = f["zxid"]
        return frames

    def _hangup_and_replace(self, slot: Slot, frames: list[dict]) -> list[dict]:
        """After a request the server answers by hanging up: wait for EOF, then
        start a fresh session in the slot."""
        out = list(frames)
        if slot.conn is not None and not slot.conn.closed:
            out += slot.conn.wait_eof(timeout=3.0)
        if slot.conn is not None:
            slot.conn.close()
        return out

    # -- one operation ----------------------------------------------------------------
    def run(self, op: dict) -> dict:
        slot = self.slots[op["session"]]
        kind = op["kind"]
        req_ops = None
        sort_events = False
        frames: list[dict]
        new_session = False

        if kind == "create":
            body = rc.enc_create(op["path"], op["data"], op["acl"], op["flags"], op.get("ttl"))
            frames = self._call(slot, slot.next_xid(), op["opcode"], body)
        elif kind == "delete":
            frames = self._call(slot, slot.next_xid(), rc.OP_DELETE, rc.enc_path_version(op["path"], op["version"]))
        elif kind == "setData":
            frames = self._call(slot, slot.next_xid(), rc.OP_SETDATA,
                                rc.enc_setdata(op["path"], op["data"], op["version"]))
        elif kind in ("exists", "getData", "getChildren", "getChildren2"):
            opcode = {"exists": rc.OP_EXISTS, "getData": rc.OP_GETDATA, "getChildren": rc.OP_GETCHILDREN,
                      "getChildren2": rc.OP_GETCHILDREN2}[kind]
            frames = self._call(slot, slot.next_xid(), opcode, rc.enc_path_watch(op["path"], op["watch"]))
        elif kind in ("getACL", "getAllChildrenNumber", "getEphemerals", "sync"):
            opcode = {"getACL": rc.OP_GETACL, "getAllChildrenNumber": rc.OP_GETALLCHILDRENNUMBER,
                      "getEphemerals": rc.OP_GETEPHEMERALS, "sync": rc.OP_SYNC}[kind]
            frames = self._call(slot, slot.next_xid(), opcode, rc.enc_path(op["path"]))
        elif kind == "setACL":
            frames = self._call(slot, slot.next_xid(), rc.OP_SETACL,
                                rc.enc_setacl(op["path"], op["acl"], op["version"]))
        elif kind in ("multi", "multiRead"):
            req_ops = op["ops"]
            opcode = rc.OP_MULTI if kind == "multi" else rc.OP_MULTIREAD
            frames = self._call(slot, slot.next_xid(), opcode, _multi_body(req_ops))
        elif kind == "addWatch":
            frames = self._call(slot, slot.next_xid(), rc.OP_ADDWATCH, rc.enc_path_int(op["path"], op["mode"]))
        elif kind in ("removeWatches", "checkWatches"):
            opcode = rc.OP_REMOVEWATCHES if kind == "removeWatches" else rc.OP_CHECKWATCHES
            frames = self._call(slot, slot.next_xid(), opcode, rc.enc_path_int(op["path"], op["type"]))
        elif kind == "auth":
            frames = self._call(slot, rc.XID_AUTH, rc.OP_AUTH, rc.enc_auth(op["scheme"], op["auth"]))
            if frames[-1].get("kind") == "reply" and frames[-1]["err"] == -115:
                frames = self._hangup_and_replace(slot, frames)
                new_session = True
        elif kind == "whoAmI":
            frames = self._call(slot, slot.next_xid(), rc.OP_WHOAMI)
        elif kind == "setWatches":
            rel = (self.norm.base or 0) + op["relZxidOffset"]
            body = rc.enc_setwatches(rel, op["data"], op["exist"], op["child"],
                                     op.get("persistent"), op.get("recursive"))
            frames = self._call(slot, rc.XID_SETWATCHES, op["opcode"], body)
        elif kind == "closeSession":
            frames = self._call(slot, slot.next_xid(), rc.OP_CLOSESESSION)
            frames = self._hangup_and_replace(slot, frames)
            new_session = True
            sort_events = True
        elif kind == "reattach":
            if slot.conn is not None:
                slot.conn.close()
            frames = [self._connect(slot, reattach=True)]
        elif kind == "abandon":
            if slot.conn is not None:
                slot.conn.close()
            frames = []
            new_session = True
        elif kind == "badRequest":
            frames, new_session = self._bad_request(slot, op["what"])
        else:
            raise ValueError(f"unknown op kind {kind}")

        if new_session:
            frames = list(frames) + [self._connect(slot)]

        if sort_events:
            frames = _sort_events(frames)
        rec: dict[str, Any] = {"frames": [self.norm.frame(f, req_ops) if f.get("kind") != "connect" else f
                                          for f in frames]}
        others = {}
        for i, other in enumerate(self.slots):
            if other is slot or other.conn is None or other.conn.closed:
                continue
            of = self._call(other, rc.XID_PING, rc.OP_PING)
            if sort_events:
                of = _sort_events(of)
            others[i] = [self.norm.frame(f) for f in of]
        rec["others"] = others
        return rec

    def _bad_request(self, slot: Slot, what: str) -> tuple[list[dict], bool]:
        open_acl = [(31, "world", "anyone")]
        if what == "nullPathGetData":
            return self._call(slot, slot.next_xid(), rc.OP_GETDATA, rc.enc_path_watch(None, False)), False
        if what == "nullPathDelete":
            return self._call(slot, slot.next_xid(), rc.OP_DELETE, rc.enc_path_version(None, -1)), False
        if what == "nullPathCreate":
            return self._call(slot, slot.next_xid(), rc.OP_CREATE, rc.enc_create(None, b"", open_acl, 0)), False
        if what == "readInMulti":
            body = _multi_body([{"op": "create", "opcode": 1, "path": "/a", "data": b"", "acl": open_acl,
                                 "flags": 0}, {"op": "getData", "path": "/a"}])
            return self._call(slot, slot.next_xid(), rc.OP_MULTI, body), False
        if what == "writeInMultiRead":
            body = _multi_body([{"op": "getData", "path": "/a"}, {"op": "create", "opcode": 1, "path": "/b",
                                                                   "data": b"", "acl": open_acl, "flags": 0}])
            return self._call(slot, slot.next_xid(), rc.OP_MULTIREAD, body), False
        if what in ("unknownOpcode", "opcodeZero"):
            frames = self._call(slot, slot.next_xid(), 77 if what == "unknownOpcode" else 0, b"")
            return self._hangup_and_replace(slot, frames), True
        if what == "badAuthScheme":
            frames = self._call(slot, rc.XID_AUTH, rc.OP_AUTH, rc.enc_auth("nosuchscheme", b"x"))
            return self._hangup_and_replace(slot, frames), True
        raise ValueError(what)

    # -- the final state -------------------------------------------------------------
    def dump_tree(self, limit: int = 400) -> list:
        """getData/getACL/getChildren2 of every node reachable from /, via slot 0
        (or the first live slot); NOAUTH and friends are part of the result."""
        slot = next((s for s in self.slots if s.conn is not None and not s.conn.closed), None)
        if slot is None:
            return ["no live session"]
        out = []
        todo = ["/"]
        while todo and len(out) < limit:
            p = todo.pop(0)
            entry: dict[str, Any] = {"path": p}
            for name, opcode, body in (
                    ("getData", rc.OP_GETDATA, rc.enc_path_watch(p, False)),
                    ("getACL", rc.OP_GETACL, rc.enc_path(p)),
                    ("getChildren2", rc.OP_GETCHILDREN2, rc.enc_path_watch(p, False)),
                    ("getAllChildrenNumber", rc.OP_GETALLCHILDRENNUMBER, rc.enc_path(p))):
                frames = self._call(slot, slot.next_xid(), opcode, body)
                entry[name] = [self.norm.frame(f) for f in frames]
                last = frames[-1]
                if name == "getChildren2" and last.get("kind") == "reply" and last["err"] == 0:
                    base = p.rstrip("/")
                    todo.extend(f"{base}/{c}" for c in sorted(last.get("children") or []))
            out.append(entry)
        return out


# -- lockstep comparison --------------------------------------------------------------

def describe_op(op: dict) -> str:
    shown = {k: v for k, v in op.items() if k not in ("acl",)}
    return pprint.pformat(shown, width=110, sort_dicts=False)


class Mismatch(AssertionError):
    pass


def run_lockstep(seed: int, n_ops: int, a: ServerRun, b: ServerRun,
                 rerun_hint: str = "", history: int = 6) -> dict:
    """Run the workload for `seed` on a (reference) and b; raise Mismatch at the
    first difference. Returns some statistics."""
    wl = Workload(seed, n_sessions=len(a.slots))
    trail: list[tuple[dict, dict]] = []

    def fail(where: str, op: Optional[dict], ra: Any, rb: Any) -> None:
        lines = [f"DIFFERENTIAL MISMATCH  seed={seed}  at {where}",
                 f"  servers: A={a.name} (reference)  B={b.name}"]
        if trail:
            lines.append(f"  last {len(trail)} operations before it (both servers agreed):")
            for pop, prec in trail[-history:]:
                lines.append("    #%d %s" % (pop["index"], _one_line(pop)))
                lines.append("       -> " + _one_line(_compact(prec)))
        if op is not None:
            lines.append("  operation:")
            lines.append(_indent(describe_op(op), 4))
        lines.append(f"  {a.name} (A):")
        lines.append(_indent(pprint.pformat(ra, width=110, sort_dicts=False), 4))
        lines.append(f"  {b.name} (B):")
        lines.append(_indent(pprint.pformat(rb, width=110, sort_dicts=False), 4))
        lines.append("  first differing part: " + first_difference(ra, rb))
        if rerun_hint:
            lines.append("  rerun just this seed: " + rerun_hint)
        raise Mismatch("\n".join(lines))

    sa, sb = a.setup(), b.setup()
    if sa != sb:
        fail("setup (connect + baseline ping)", None, sa, sb)
    if a.norm.base is None or b.norm.base is None:
        fail("setup (no zxid baseline)", None, sa, sb)

    kinds: dict[str, int] = {}
    for _ in range(n_ops):
        op = wl.next_op()
        ra = a.run(op)
        rb = b.run(op)
        if ra != rb:
            fail(f"op #{op['index']} ({op['kind']})", op, ra, rb)
        wl.observe(op, [f for f in ra["frames"] if isinstance(f, dict)])
        kinds[op["kind"]] = kinds.get(op["kind"], 0) + 1
        trail.append((op, ra))
        if len(trail) > history:
            trail.pop(0)

    da, db = a.dump_tree(), b.dump_tree()
    if da != db:
        pa = {e["path"]: e for e in da}
        pb = {e["path"]: e for e in db}
        for p in sorted(set(pa) | set(pb)):
            if pa.get(p) != pb.get(p):
                fail(f"final tree dump, node {p!r}", None, pa.get(p), pb.get(p))
        fail("final tree dump (order)", None, [e["path"] for e in da], [e["path"] for e in db])
    return {"ops": n_ops, "kinds": kinds, "nodes": len(da)}


def first_difference(x: Any, y: Any, path: str = "") -> str:
    if type(x) is not type(y):
        return f"{path or '<top>'}: {x!r} vs {y!r}"
    if isinstance(x, dict):
        for k in list(x) + [k for k in y if k not in x]:
            if k not in x or k not in y:
                return f"{path}.{k}: {'missing in A' if k not in x else 'missing in B'}"
            if x[k] != y[k]:
                return first_difference(x[k], y[k], f"{path}.{k}")
    if isinstance(x, (list, tuple)):
        for i, (u, v) in enumerate(zip(x, y)):
            if u != v:
                return first_difference(u, v, f"{path}[{i}]")
        if len(x) != len(y):
            return f"{path}: length {len(x)} vs {len(y)}"
    return f"{path or '<top>'}: {x!r} vs {y!r}"


def _compact(rec: dict) -> Any:
    """A record without the uneventful ping replies of the other sessions."""
    out: dict[str, Any] = {"frames": rec.get("frames")}
    for k, fs in (rec.get("others") or {}).items():
        evs = [f for f in fs if f.get("kind") != "reply" or f.get("err") != 0]
        if evs:
            out[f"s{k}"] = evs
    return out


def _one_line(x: Any) -> str:
    if isinstance(x, dict) and "kind" in x and "index" in x:
        x = {k: v for k, v in x.items() if k not in ("acl", "index")}
    s = repr(x)
    return s if len(s) <= 300 else s[:297] + "..."


def _indent(s: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in s.splitlines())


# -- command line: run or trace one seed outside pytest ----------------------------------

def main(argv: Optional[list] = None) -> int:
    import argparse
    import collections
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import servers

    ap = argparse.ArgumentParser(description="Run one differential seed and optionally trace it.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ops", type=int, default=150)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--mode", choices=["swiftkeeper", "zk-vs-zk"], default="swiftkeeper")
    ap.add_argument("--trace", action="store_true", help="print every operation and A's record")
    ap.add_argument("--stats", action="store_true", help="print (kind, error) counts for A")
    args = ap.parse_args(argv)

    props = {"znode.container.checkIntervalMs": "3600000"}
    with tempfile.TemporaryDirectory(prefix="diff-") as tmp:
        srv_a = servers.start_zookeeper(Path(tmp) / "A", jvm_props=props)
        if args.mode == "zk-vs-zk":
            srv_b = servers.start_zookeeper(Path(tmp) / "B", jvm_props=props)
        else:
            srv_b = servers.start_swiftkeeper(Path(tmp) / "B", extra_cfg=props)
        a = ServerRun("zookeeper", srv_a.host, srv_a.port, args.sessions)
        b = ServerRun(args.mode if args.mode == "swiftkeeper" else "zookeeper#2",
                      srv_b.host, srv_b.port, args.sessions)
        counts: collections.Counter = collections.Counter()
        if args.trace or args.stats:
            orig = a.run

            def traced(op: dict) -> dict:
                rec = orig(op)
                reply = next((f for f in reversed(rec["frames"]) if f.get("kind") == "reply"), {})
                counts[(op["kind"], reply.get("err"))] += 1
                n_ev = sum(1 for f in rec["frames"] if f.get("kind") == "event") + sum(
                    1 for fs in rec["others"].values() for f in fs if f.get("kind") == "event")
                counts[("events", None)] += n_ev
                if args.trace:
                    print(f"#{op['index']} s{op['session']} {_one_line(op)}")
                    for f in rec["frames"]:
                        print("    ", _one_line(f))
                    for k, fs in rec["others"].items():
                        for f in fs:
                            if f.get("kind") != "reply":
                                print(f"     [s{k}]", _one_line(f))
                return rec
            a.run = traced  # type: ignore[method-assign]
        try:
            stats = run_lockstep(args.seed, args.ops, a, b)
            print(f"seed {args.seed}: {stats['ops']} ops agree; final tree {stats['nodes']} nodes")
            rc_ = 0
        except Mismatch as e:
            print(e)
            rc_ = 1
        finally:
            a.close()
            b.close()
            srv_a.stop()
            srv_b.stop()
        if args.stats:
            for (k, err), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
                print(f"{n:5d}  {k}  {err}")
        return rc_


if __name__ == "__main__":
    raise SystemExit(main())
