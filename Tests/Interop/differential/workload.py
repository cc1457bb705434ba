"""Seeded random workloads for the differential tests.

A workload is a list of operations generated one at a time from a seed. Each
operation is a plain dict (so it prints well) with at least:

    kind     what to do (see the `_gen_*` methods)
    session  which client slot (0..n_sessions-1) issues it

Generation may look at what the reference server answered to earlier
operations (created sequential names, child lists, versions) through
`observe()`, so later operations hit existing nodes more often. Both servers
always receive exactly the same operations: the generator only ever sees the
reference server's normalised replies, and the run stops at the first
difference.

Names come from a tiny alphabet at depth <= 3 so that paths collide and the
interesting errors (NODEEXISTS, NONODE, NOTEMPTY, BADVERSION, ...) happen.

Things deliberately never generated (they would break Apache ZooKeeper 3.8.0
or depend on timing rather than on protocol semantics):
  * top-level `check` (opcode 13): 3.8.0 logs it and cannot restart;
  * `deleteContainer` (opcode 20): server-internal;
  * `createTTL` (21) with a non-TTL mode and ttl -1 at top level: 3.8.0's
    apply step throws and the whole server shuts down;
  * `createTTL` (21) with a non-TTL mode inside multi: 3.8.0 quietly creates a
    plain node, a quirk no client relies on;
  * WatcherType 4/5 in check/removeWatches (3.9-only values);
  * waiting for the container/TTL reaper (timing-dependent).
"""

from __future__ import annotations

import random
from typing import Any, Optional

from rawclient import digest_id

NAMES = ["a", "b", "c"]

# perms
R, W, C, D, A, ALL = 1, 2, 4, 8, 16, 31

USERS = {
    "alice": "alicepw",
    "bob": "bobpw",
}
ALICE = digest_id("alice", "alicepw")
BOB = digest_id("bob", "bobpw")

OPEN = [(ALL, "world", "anyone")]

# Valid ACLs, by name (name is kept in the op for readability).
ACLS: dict[str, Any] = {
    "open": OPEN,
    "read_only": [(R, "world", "anyone")],
    "creator_all": [(ALL, "auth", "")],
    "creator_all+read": [(ALL, "auth", ""), (R, "world", "anyone")],
    "alice_all+world_read": [(ALL, "digest", ALICE), (R, "world", "anyone")],
    "bob_all": [(ALL, "digest", BOB)],
    "alice_rw+bob_admin": [(R | W, "digest", ALICE), (A, "digest", BOB)],
    "ip_local": [(ALL, "ip", "127.0.0.1")],
    "ip_net8": [(ALL, "ip", "127.0.0.0/8")],
    "ip_other+read": [(ALL, "ip", "10.1.2.3"), (R, "world", "anyone")],
    "world_cd": [(C | D, "world", "anyone")],
    "world_rwc": [(R | W | C, "world", "anyone")],
    "world_none": [(0, "world", "anyone")],
    "dup_open": [(ALL, "world", "anyone"), (ALL, "world", "anyone")],
    "digest_unknown_user": [(ALL, "digest", "carol:xxxxxxxxxxxxxxxxxxxxxxxxxxx="), (R | A, "world", "anyone")],
}
# Invalid ones (INVALIDACL expected from ZooKeeper).
BAD_ACLS: dict[str, Any] = {
    "empty": [],
    "null": None,
    "unknown_scheme": [(ALL, "foo", "bar")],
    "digest_no_colon": [(ALL, "digest", "alice")],
    "ip_bad": [(ALL, "ip", "300.1.2.3")],
    "ip_short": [(ALL, "ip", "1.2.3")],
    "world_bob": [(ALL, "world", "bob")],
    "super_scheme": [(ALL, "super", "x")],
}

DATA = [None, b"", b"x", b"hello", b"\x00\xff\x01", b"y" * 64, "naïve".encode()]

SPECIAL_PATHS = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
BAD_PATHS = [
    "", "a", "a/b", "/a/", "//a", "/a//b", "/a/.", "/a/./b", "/..", "/a/..",
    "/a\u0001", "/\u007f", "/a\ue000", "/a b\u0000",
]


def _weighted(rng: random.Random, table: list[tuple[Any, float]]):
    total = sum(w for _, w in table)
    x = rng.random() * total
    for item, w in table:
        x -= w
        if x < 0:
            return item
    return table[-1][0]


class Workload:
    def __init__(self, seed: int, n_sessions: int = 3) -> None:
        self.seed = seed
        self.rng = random.Random(seed * 7919 + 17)
        self.n_sessions = n_sessions
        self.index = 0
        self.known: set[str] = set()        # paths seen to exist at some point
        self.versions: dict[str, tuple[int, int]] = {}  # path -> (version, aversion)
        self.existing: set[str] = set()      # best guess of what exists now
        self.watched: list[str] = []         # paths some watch was asked for
        self.restricted: list[str] = []      # nodes created with an ACL other than "open"

    # -- feedback from the reference server ---------------------------------------
    def observe(self, op: dict, frames: list[dict]) -> None:
        """Learn from the reference server's (normalised) frames for `op`."""
        reply = next((f for f in reversed(frames) if f.get("kind") == "reply"), None)
        if reply is None:
            return
        path = op.get("path")
        err = reply.get("err")
        if err != 0:
            if isinstance(err, str) and "NONODE" in err and isinstance(path, str):
                if op["kind"] == "create":
                    self.existing.discard(path.rsplit("/", 1)[0])
                else:
                    self.existing.discard(path)
            return
        if op["kind"] == "create" and isinstance(reply.get("path"), str):
            self.known.add(reply["path"])
            self.existing.add(reply["path"])
            if op.get("acl_name") != "open":
                self.restricted.append(reply["path"])
        if op["kind"] == "delete" and isinstance(path, str):
            self.existing.discard(path)
        if "stat" in reply and isinstance(path, str):
            st = reply["stat"]
            self.versions[path] = (st["version"], st["aversion"])
            self.existing.add(path)
        if "children" in reply and isinstance(path, str) and path.startswith("/"):
            base = path.rstrip("/")
            for ch in reply["children"] or []:
                self.known.add(f"{base}/{ch}")
                self.existing.add(f"{base}/{ch}")
        results = reply.get("results") or []
        for i, res in enumerate(results):
            sub = (op.get("ops") or [])[i] if i < len(op.get("ops") or []) else None
            if isinstance(res.get("path"), str):
                self.known.add(res["path"])
                self.existing.add(res["path"])
            if isinstance(res.get("create2InMulti"), str):
                self.existing.add(res["create2InMulti"])
            if sub is not None and sub.get("op") == "delete" and res.get("type") == 2:
                self.existing.discard(sub["path"])

    # -- building blocks ------------------------------------------------------------
    def path(self, for_create: bool = False) -> str:
        rng = self.rng
        roll = rng.random()
        existing = sorted(self.existing)
        if for_create and existing and roll < 0.5:
            return rng.choice(existing + ["/"]).rstrip("/") + "/" + rng.choice(NAMES)
        if self.restricted and roll < 0.1:
            return rng.choice(self.restricted[-6:])
        if existing and roll < 0.4:
            return rng.choice(existing)
        if roll < 0.48 and self.known:
            return rng.choice(sorted(self.known))
        if roll < 0.52:
            return rng.choice(SPECIAL_PATHS + ["/zookeeper/" + rng.choice(NAMES)])
        if roll < 0.55:
            return rng.choice(BAD_PATHS)
        depth = _weighted(rng, [(1, 0.4), (2, 0.4), (3, 0.2)])
        return "/" + "/".join(rng.choice(NAMES) for _ in range(depth))

    def version(self, path: Optional[str], acl: bool = False) -> int:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            return -1
        if roll < 0.75 and path in self.versions:
            return self.versions[path][1 if acl else 0]
        return rng.choice([0, 0, 1, 2, 3, 7])

    def data(self):
        return self.rng.choice(DATA)

    def acl(self, allow_bad: bool = True) -> tuple[str, Any]:
        rng = self.rng
        if allow_bad and rng.random() < 0.06:
            name = rng.choice(sorted(BAD_ACLS))
            return name, BAD_ACLS[name]
        if rng.random() < 0.68:
            return "open", OPEN
        if rng.random() < 0.1:
            perms = rng.randrange(0, 32)
            return f"world_{perms}", [(perms, "world", "anyone")]
        names = sorted(ACLS)
        # ACLs naming digest or auth ids count twice: they exercise addauth,
        # NOAUTH and the masking of digest hashes in getACL.
        names += [n for n in names if any(s in ("digest", "auth") for _, s, _ in ACLS[n])]
        name = rng.choice(names)
        return name, ACLS[name]

    def session(self) -> int:
        return self.rng.randrange(self.n_sessions)

    def watch(self) -> bool:
        return self.rng.random() < 0.5

    # -- single create-like op (shared by top-level and multi) -------------------------
    def create_spec(self, in_multi: bool = False) -> dict:
        rng = self.rng
        opcode = _weighted(rng, [(1, 0.45), (15, 0.25), (19, 0.12), (21, 0.18)])
        path = self.path(for_create=True)
        if rng.random() < 0.06 and path.startswith("/") and path != "/":
            path = path + "/"          # sequential child with an all-digits name
        ttl = None
        if opcode in (1, 15):
            flags = _weighted(rng, [(0, 0.45), (1, 0.2), (2, 0.12), (3, 0.12),
                                    (4, 0.03), (5, 0.02), (6, 0.02), (7, 0.02), (-1, 0.02)])
        elif opcode == 19:
            flags = _weighted(rng, [(4, 0.85), (0, 0.03), (1, 0.03), (2, 0.03),
                                    (3, 0.02), (5, 0.02), (7, 0.02)])
        else:
            if in_multi or rng.random() < 0.9:
                flags = rng.choice([5, 6])
                ttl = _weighted(rng, [(60000, 0.5), (1000, 0.2), (1, 0.05), ((1 << 40) - 1, 0.05),
                                      (0, 0.07), (-5, 0.06), (1 << 40, 0.07)])
            else:
                # Non-TTL mode through opcode 21: ZooKeeper refuses it (-8) as long
                # as ttl >= 0. (ttl -1 would crash 3.8.0, see the module doc.)
                flags = rng.choice([0, 1, 2, 4])
                ttl = rng.choice([0, 5, 60000])
        name, acl = self.acl()
        spec = {"opcode": opcode, "path": path, "data": self.data(), "acl_name": name,
                "acl": acl, "flags": flags}
        if opcode == 21:
            spec["ttl"] = ttl
        return spec

    # -- generators for each kind ------------------------------------------------------
    def next_op(self) -> dict:
        rng = self.rng
        kind = _weighted(rng, [
            ("create", 24), ("delete", 10), ("setData", 9), ("exists", 7), ("getData", 7),
            ("getChildren", 5), ("getChildren2", 4), ("getACL", 4), ("setACL", 4),
            ("getAllChildrenNumber", 2), ("getEphemerals", 2), ("multi", 8),
            ("multiRead", 3), ("addWatch", 3), ("removeWatches", 2), ("checkWatches", 2),
            ("auth", 2.5), ("whoAmI", 1), ("sync", 1), ("setWatches", 1.5),
            ("closeSession", 2), ("reattach", 0.8), ("abandon", 0.4), ("badRequest", 1.2),
        ])
        op = getattr(self, "_gen_" + kind)()
        op.setdefault("kind", kind)
        op.setdefault("session", self.session())
        op["index"] = self.index
        self.index += 1
        return op

    def _gen_create(self) -> dict:
        return {"kind": "create", **self.create_spec()}

    def _gen_delete(self) -> dict:
        p = self.path()
        return {"path": p, "version": self.version(p)}

    def _gen_setData(self) -> dict:
        p = self.path()
        return {"path": p, "data": self.data(), "version": self.version(p)}

    def _gen_exists(self) -> dict:
        p, w = self.path(), self.watch()
        if w:
            self.watched.append(p)
        return {"path": p, "watch": w}

    _gen_getData = _gen_exists
    _gen_getChildren = _gen_exists
    _gen_getChildren2 = _gen_exists

    def _gen_getACL(self) -> dict:
        rng = self.rng
        if self.restricted and rng.random() < 0.5:
            return {"path": rng.choice(self.restricted[-6:])}
        return {"path": self.path()}

    def _gen_getAllChildrenNumber(self) -> dict:
        return {"path": self.path()}

    def _gen_setACL(self) -> dict:
        p = self.path()
        name, acl = self.acl()
        return {"path": p, "acl_name": name, "acl": acl, "version": self.version(p, acl=True)}

    def _gen_getEphemerals(self) -> dict:
        rng = self.rng
        prefix = rng.choice(["", "/", "/", "/", "/a", "/b", "/c", "/a/", "/a/b", "/zz", self.path()])
        return {"path": prefix}

    def _gen_multi(self) -> dict:
        rng = self.rng
        n = _weighted(rng, [(0, 0.08), (1, 0.2), (2, 0.3), (3, 0.25), (4, 0.17)])
        ops = []
        for _ in range(n):
            t = _weighted(rng, [("create", 0.4), ("delete", 0.2), ("setData", 0.2), ("check", 0.2)])
            if t == "create":
                ops.append({"op": "create", **self.create_spec(in_multi=True)})
            elif t == "delete":
                p = self.path()
                ops.append({"op": "delete", "path": p, "version": self.version(p)})
            elif t == "setData":
                p = self.path()
                ops.append({"op": "setData", "path": p, "data": self.data(), "version": self.version(p)})
            else:
                p = self.path()
                ops.append({"op": "check", "path": p, "version": self.version(p)})
        return {"ops": ops}

    def _gen_multiRead(self) -> dict:
        rng = self.rng
        n = rng.randint(1, 4)
        ops = [{"op": rng.choice(["getData", "getChildren"]), "path": self.path()} for _ in range(n)]
        return {"ops": ops}

    def _gen_addWatch(self) -> dict:
        mode = _weighted(self.rng, [(0, 0.48), (1, 0.48), (2, 0.04)])
        p = self.path()
        self.watched.append(p)
        return {"path": p, "mode": mode}

    def _gen_removeWatches(self) -> dict:
        rng = self.rng
        p = rng.choice(self.watched[-8:]) if self.watched and rng.random() < 0.7 else self.path()
        return {"path": p, "type": rng.choice([1, 2, 3, 3])}

    _gen_checkWatches = _gen_removeWatches

    def _gen_auth(self) -> dict:
        rng = self.rng
        cred = _weighted(rng, [(("digest", b"alice:alicepw"), 0.35), (("digest", b"bob:bobpw"), 0.3),
                               (("digest", b"alice:wrong"), 0.15), (("digest", b"nocolon"), 0.05),
                               (("ip", b"127.0.0.1"), 0.05), (("digest", b"bob:bobpw"), 0.1)])
        return {"scheme": cred[0], "auth": cred[1]}

    def _gen_whoAmI(self) -> dict:
        return {}

    def _gen_sync(self) -> dict:
        return {"path": self.path()}

    def _gen_setWatches(self) -> dict:
        rng = self.rng

        def paths():
            return [self.path() for _ in range(rng.randint(0, 2))]
        op = {"opcode": rng.choice([101, 105]), "relZxidOffset": rng.randint(0, self.index + 3),
              "data": paths(), "exist": paths(), "child": paths()}
        if op["opcode"] == 105:
            op["persistent"] = paths()
            op["recursive"] = paths()
        return op

    def _gen_closeSession(self) -> dict:
        return {}

    def _gen_reattach(self) -> dict:
        return {}

    def _gen_abandon(self) -> dict:
        return {}

    def _gen_badRequest(self) -> dict:
        rng = self.rng
        what = _weighted(rng, [("nullPathGetData", 0.2), ("nullPathDelete", 0.15),
                               ("nullPathCreate", 0.1), ("readInMulti", 0.15),
                               ("writeInMultiRead", 0.15), ("unknownOpcode", 0.1),
                               ("badAuthScheme", 0.1), ("opcodeZero", 0.05)])
        return {"what": what}
