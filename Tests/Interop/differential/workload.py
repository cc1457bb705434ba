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

Things deliberately never generated (they would break Apache ZooKeeper 3.8.0,
hit 3.8.0 bugs that later releases fixed, or depend on timing rather than on
protocol semantics):
  * top-level `check` (opcode 13): 3.8.0 logs it and cannot restart;
  * `deleteContainer` (opcode 20): server-internal;
  * `createTTL` (21) with a non-TTL mode and ttl -1 at top level: 3.8.0's
    apply step throws and the whole server shuts down;
  * `createTTL` (21) with a non-TTL mode inside multi: 3.8.0 quietly creates a
    plain node, a quirk no client relies on;
  * create (1/15) with a TTL mode (5/6) inside multi: 3.8.0 fails the whole
    multi with MARSHALLINGERROR because of a ClassCastException (top-level it
    correctly answers BADARGUMENTS, and that is generated);
  * invalid flags (7, -1) inside multi: 3.9 (MultiOperationRecord) refuses the
    whole multi while decoding (MARSHALLINGERROR), 3.8.0 answers per op (-8);
    swiftkeeper follows 3.9. Top-level invalid flags are generated;
  * createContainer (19) with non-container flags inside multi: 3.8.0 picks
    the op from the flags alone (an ephemeral flag makes a plain ephemeral),
    3.9 keeps createContainer unless the flags say container or TTL;
  * WatcherType 4/5 in check/removeWatches (3.9-only values);
  * check/removeWatches whose answer depends on 3.8.0's containsWatcher bug
    and mixed watch modes on one path (see `_gen_removeWatches`, `_mode_ok`);
  * watches that could see a node some session may not READ, and exists() on
    such nodes: 3.8.4+/3.9 filter notifications and check exists() by READ,
    3.8.0 does neither (see "READ visibility" below);
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

# ids that every session of a sequence holds (all connect from 127.0.0.1)
EVERYONE = {("world", "anyone"), ("ip", "127.0.0.1"), ("ip", "127.0.0.0/8")}


def readable_by_all(acl_name: str, acl) -> bool:
    """Whether every session may READ a node with this ACL. Invalid ACLs count
    as readable: ZooKeeper refuses them (INVALIDACL), so no node gets them."""
    if acl_name in BAD_ACLS:
        return True
    return any(perms & R and (scheme, ident) in EVERYONE for perms, scheme, ident in acl or [])


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
        self.restricted: list[str] = []      # nodes created with an ACL other than "open"
        self.unreadable: set[str] = set()    # paths that may hold a node some session cannot READ
        # watch modes each session's current connection asked for, per path
        # ("std", "persistent", "recursive"); see `_mode_ok`.
        self.modes: list[dict[str, set[str]]] = [dict() for _ in range(n_sessions)]
        self.cur = 0                         # session of the op being generated

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
            if not readable_by_all(op["acl_name"], op["acl"]):
                self.unreadable.add(reply["path"])
        if op["kind"] == "delete" and isinstance(path, str):
            self.existing.discard(path)
            self.unreadable.discard(path)
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
            created = res.get("path", res.get("create2InMulti"))
            if isinstance(created, str):
                self.known.add(created)
                self.existing.add(created)
                if sub is not None and not readable_by_all(sub["acl_name"], sub["acl"]):
                    self.unreadable.add(created)
            if sub is not None and sub.get("op") == "delete" and res.get("type") == 2:
                self.existing.discard(sub["path"])
                self.unreadable.discard(sub["path"])

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
            if in_multi and flags not in (0, 1, 2, 3, 4):
                flags = rng.choice([0, 1, 2, 3])   # see the module doc: bad/TTL flags in multi
        elif opcode == 19:
            flags = _weighted(rng, [(4, 0.85), (0, 0.03), (1, 0.03), (2, 0.03),
                                    (3, 0.02), (5, 0.02), (7, 0.02)])
            if in_multi:
                flags = 4   # see the module doc: 3.8.0 and 3.9 pick the op differently
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
        sequential = flags in (2, 3, 6)
        name, acl = self._visible_acl(path, name, acl, sequential)
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
        self.cur = self.session()
        op = getattr(self, "_gen_" + kind)()
        op.setdefault("kind", kind)
        op["session"] = self.cur
        self._track_watches(op)
        op["index"] = self.index
        self.index += 1
        return op

    # -- watch modes -------------------------------------------------------------------
    # ZooKeeper 3.8.0 keeps one watch mode per (connection, path): a standard
    # watch and a persistent or persistent-recursive one on the same path by the
    # same connection override each other (ZOOKEEPER-4466, fixed later). So a
    # connection never mixes modes on one path here.
    def _mode_ok(self, path: str, mode: str) -> bool:
        if not self._watchable(path, mode == "recursive"):
            return False
        return self.modes[self.cur].get(path, {mode}) == {mode}

    # -- READ visibility ---------------------------------------------------------------
    # Newer ZooKeeper releases check READ where 3.8.0 does not: notifications
    # go only to watchers that may read the node (ZOOKEEPER-4799, 3.8.4/3.9.2)
    # and exists() on an existing node needs READ (ZOOKEEPER-2590). To compare
    # against 3.8.0 without depending on either, a node that some session may
    # not read never carries a watch of any session (nor lies under a
    # persistent-recursive one), and is never the target of exists().
    # Such nodes still get every other operation, so NOAUTH stays covered.
    @staticmethod
    def _ancestors(path: str) -> list[str]:
        out = ["/"]
        parts = [x for x in path.split("/") if x]
        for i in range(1, len(parts) + 1):
            out.append("/" + "/".join(parts[:i]))
        return out

    def _exposed(self, path: str, sequential: bool) -> bool:
        """Could a notification about `path` (or, for a sequential create, about
        any name starting with it) reach some session?"""
        base = path.rsplit("/", 1)[0] or "/" if sequential else path
        for m in self.modes:
            for a in self._ancestors(base):
                if "recursive" in m.get(a, ()):
                    return True
            for w in m:
                if (w.startswith(path) if sequential else w == path):
                    return True
        return False

    def _visible_acl(self, path, name, acl, sequential):
        if readable_by_all(name, acl) or not isinstance(path, str):
            return name, acl
        if self._exposed(path, sequential):
            return "open", OPEN
        if not sequential:
            self.unreadable.add(path)
        return name, acl

    def _watchable(self, path, recursive: bool) -> bool:
        if not isinstance(path, str) or path in self.unreadable:
            return False
        if recursive:
            prefix = path.rstrip("/") + "/"
            return not any(u.startswith(prefix) for u in self.unreadable)
        return True

    def _track_watches(self, op: dict) -> None:
        modes = self.modes[op["session"]]
        kind = op["kind"]

        def add(p, m):
            if isinstance(p, str):
                modes.setdefault(p, set()).add(m)
        if kind in ("exists", "getData", "getChildren", "getChildren2") and op["watch"]:
            add(op["path"], "std")
        elif kind == "addWatch" and op["mode"] in (0, 1):
            add(op["path"], ("persistent", "recursive")[op["mode"]])
        elif kind == "setWatches":
            for p in op["data"] + op["exist"] + op["child"]:
                add(p, "std")
            for p in op.get("persistent", []):
                add(p, "persistent")
            for p in op.get("recursive", []):
                add(p, "recursive")
        elif kind in ("closeSession", "reattach", "abandon") or (
                kind == "badRequest" and op["what"] in ("unknownOpcode", "opcodeZero", "badAuthScheme")):
            modes.clear()

    def _gen_create(self) -> dict:
        return {"kind": "create", **self.create_spec()}

    def _gen_delete(self) -> dict:
        p = self.path()
        return {"path": p, "version": self.version(p)}

    def _gen_setData(self) -> dict:
        p = self.path()
        return {"path": p, "data": self.data(), "version": self.version(p)}

    def _gen_exists(self) -> dict:
        for _ in range(10):
            p = self.path()
            if p not in self.unreadable:
                break
        else:
            return {"kind": "whoAmI"}
        return self._gen_read(p)

    def _gen_read(self, p: Optional[str] = None) -> dict:
        p, w = p if p is not None else self.path(), self.watch()
        w = w and self._mode_ok(p, "std")
        return {"path": p, "watch": w}

    _gen_getData = _gen_read
    _gen_getChildren = _gen_read
    _gen_getChildren2 = _gen_read

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
        name, acl = self._visible_acl(p, name, acl, False)
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
        name = {0: "persistent", 1: "recursive"}.get(mode)
        for _ in range(10):
            p = self.path()
            if name is None or self._mode_ok(p, name):
                break
        else:
            return {"kind": "whoAmI"}
        return {"path": p, "mode": mode}

    def _gen_removeWatches(self) -> dict:
        # ZooKeeper 3.8.0 answers checkWatches/removeWatches from the watch
        # table of the path as a whole: OK when *another* connection watches
        # the path, and OK for type Children when this connection only holds a
        # persistent-recursive watch there (its containsWatcher bug, fixed by
        # ZOOKEEPER-4466 in later releases). So these ops only target paths no
        # other session of the sequence ever asked to watch, and use type Any
        # (3) where this session holds a persistent watch. Paths not starting
        # with "/" are left out too: that same code then fails with
        # MARSHALLINGERROR or not depending on unrelated watches.
        rng = self.rng
        own = sorted(self.modes[self.cur])
        others = set()
        for j, m in enumerate(self.modes):
            if j != self.cur:
                others.update(m)
        for _ in range(10):
            p = rng.choice(own) if own and rng.random() < 0.7 else self.path()
            if p not in others and isinstance(p, str) and p.startswith("/"):
                break
        else:
            return {"kind": "whoAmI"}
        mine = self.modes[self.cur].get(p, set())
        t = 3 if mine - {"std"} else rng.choice([1, 2, 3, 3])
        return {"path": p, "type": t}

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
        taken: dict[str, str] = {}

        def paths(mode: str) -> list[str]:
            out = []
            for _ in range(rng.randint(0, 2)):
                p = self.path()
                if self._mode_ok(p, mode) and taken.setdefault(p, mode) == mode:
                    out.append(p)
            return out
        op = {"opcode": rng.choice([101, 105]), "relZxidOffset": rng.randint(0, self.index + 3),
              "data": paths("std"), "exist": paths("std"), "child": paths("std")}
        if op["opcode"] == 105:
            op["persistent"] = paths("persistent")
            op["recursive"] = paths("recursive")
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
