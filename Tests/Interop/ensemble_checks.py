"""Checks shared by the ensemble tests: writers on every member, tree comparison."""

from __future__ import annotations

import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry


def client(hosts: str, timeout: float = 10.0, **kw) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=timeout,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5), **kw)
    zk.start(timeout=30)
    return zk


def tree(zk: KazooClient, path: str = "/") -> dict:
    """path -> (data, czxid, mzxid, version, cversion, ephemeralOwner, sorted children)."""
    out = {}
    stack = [path]
    while stack:
        p = stack.pop()
        if p.startswith("/zookeeper"):
            continue
        data, stat = zk.get(p)
        children = zk.get_children(p)
        out[p] = (data, stat.czxid, stat.mzxid, stat.version, stat.cversion, stat.ephemeralOwner, sorted(children))
        for child in children:
            stack.append(("" if p == "/" else p) + "/" + child)
    return out


def trees_of(members, hosts_of=lambda m: m.hosts) -> list[dict]:
    result = []
    for member in members:
        zk = client(hosts_of(member))
        try:
            zk.sync("/")
            result.append(tree(zk))
        finally:
            zk.stop()
            zk.close()
    return result


class Writers:
    """One thread per member: sequential creates, setData with version and reads, each
    acknowledged write recorded. Errors during failover are expected and counted."""

    def __init__(self, members, root: str = "/load"):
        self.members = members
        self.root = root
        self.acked: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.errors = 0
        self.threads: list[threading.Thread] = []
        # When each acknowledged create was sent and answered.
        self.timings: list[tuple[float, float]] = []

    def start(self) -> "Writers":
        zk = client(self.members[0].hosts)
        zk.ensure_path(self.root)
        zk.stop()
        zk.close()
        for member in self.members:
            t = threading.Thread(target=self._run, args=(member,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _run(self, member) -> None:
        zk = client(member.hosts)
        counter_path = f"{self.root}/counter-{member.sid}"
        try:
            zk.ensure_path(counter_path)
        except KazooException:
            pass
        n = 0
        while not self.stop_event.is_set():
            n += 1
            data = f"{member.sid}-{n}".encode()
            try:
                sent = time.monotonic()
                path = zk.create(f"{self.root}/w-{member.sid}-", data, sequence=True)
                with self.lock:
                    self.acked[path] = data
                    self.timings.append((sent, time.monotonic()))
                _, stat = zk.get(counter_path)
                zk.set(counter_path, data, version=stat.version)
                zk.sync("/")
                zk.get(path)
            except KazooException:
                self.errors += 1
                time.sleep(0.05)
            except Exception:
                self.errors += 1
                time.sleep(0.05)
        zk.stop()
        zk.close()

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def wait_for_more(self, than: int, timeout: float = 30.0) -> float:
        start = time.monotonic()
        while self.count() <= than:
            if time.monotonic() - start > timeout:
                raise AssertionError(f"no acknowledged write within {timeout}s")
            time.sleep(0.005)
        return time.monotonic() - start

    def failover_after(self, killed_at: float, timeout: float = 30.0) -> float:
        """Seconds from `killed_at` until a create sent after it was acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                answered = [end for sent, end in self.timings if sent >= killed_at]
            if answered:
                return min(answered) - killed_at
            time.sleep(0.005)
        raise AssertionError(f"no write sent after the kill was acknowledged within {timeout}s")

    def stop(self) -> None:
        self.stop_event.set()
        # A thread whose member was killed may wait for its session to expire; it is a
        # daemon and stops writing once it returns.
        deadline = time.monotonic() + 10
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))


def assert_converged(ensemble, members, writers: Writers | None = None) -> dict:
    """Every member shows the same tree, and it holds every acknowledged write."""
    deadline = time.monotonic() + 30
    while True:
        trees = trees_of(members)
        if all(t == trees[0] for t in trees) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for member, t in zip(members, trees):
        assert t == trees[0], f"member {member.sid} ({member.kind}) differs from member {members[0].sid}: " + \
            str(sorted(set(t.items()) ^ set(trees[0].items()))[:5])
    if writers is not None:
        lost = [p for p, d in writers.acked.items() if trees[0].get(p, (None,))[0] != d]
        assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
    zxids = {ensemble.srvr_field(m, "Zxid") for m in members}
    assert len(zxids) == 1, f"members end on different zxids: {zxids}"
    return trees[0]


def logged_session_digests(data_dir) -> list[bool]:
    """For each createSession entry in the member's transaction logs: whether it carries a
    TxnDigest (version 2). A createSession payload is the 32-byte TxnHeader and a 4-byte
    timeout, so 48 bytes means a digest follows; ZooKeeper writes its log entries from the
    PROPOSAL it got, so this shows what the leader sent."""
    import struct
    from pathlib import Path
    flags = []
    for log in sorted((Path(data_dir) / "version-2").glob("log.*")):
        data = log.read_bytes()
        offset = 16  # magic, version, dbid
        while offset + 12 <= len(data):
            length = struct.unpack_from(">i", data, offset + 8)[0]
            if length <= 0 or offset + 12 + length + 1 > len(data):
                break
            payload = data[offset + 12: offset + 12 + length]
            if struct.unpack_from(">i", payload, 28)[0] == -10:  # createSession
                flags.append(length == 48 and struct.unpack_from(">i", payload, 36)[0] == 2)
            offset += 12 + length + 1
    return flags
