"""Acknowledged writes survive kill -9, and sessions survive restarts.

test_kill9_keeps_acknowledged_writes: several writer threads, each with its own
kazoo session, create (some sequential), set a counter, delete, and commit
3-create transactions under their own parent. A write counts as acknowledged
only once its reply arrived; one that failed with ConnectionLoss (or
SessionExpired) is indeterminate: it may or may not have happened. At random
moments (seeded; the seed is printed) the server gets SIGKILL and is started
again on the same data dir and port, and a fresh client checks:

  * every acknowledged create is present with its data, every acknowledged
    delete is absent; indeterminate ones may go either way;
  * the counter node holds a value between the last acknowledged and the last
    attempted counter;
  * nothing exists that no writer ever attempted (at most one unknown
    sequential node per indeterminate sequential create);
  * each transaction's three nodes are all present or all absent (all present
    when it was acknowledged);
  * sequence numbers handed out after a restart are larger than every earlier
    one (the parent's cversion was not lost).

The session tests use a 4 s session timeout (the least ZooKeeper allows with
tickTime 2000): a session survives a restart within its timeout (same id,
ephemeral kept, kazoo resumes it by itself), and a session whose client stays
away is expired after the restart (its ephemeral goes away).

    .venv-interop/bin/python -m pytest Tests/Interop/test_durability_crash.py -v -s

Environment:
    CRASH_SEED         seed for the kill schedule and the op mix (default: random, printed)
    CRASH_ROUNDS       kill/restart rounds (default 8)
    DURABILITY_SERVERS comma list of server kinds to run against (default
                       swiftkeeper; `swiftkeeper,zookeeper` also checks the tests
                       themselves against Apache ZooKeeper)
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (ConnectionClosedError, ConnectionLoss, NodeExistsError,
                              NoNodeError, SessionExpiredError)

import servers
from kazoo_clients import FAST_RECONNECT, client as _client, close as _close

KINDS = [k.strip() for k in os.environ.get("DURABILITY_SERVERS", "swiftkeeper").split(",") if k.strip()]
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "8"))
N_WRITERS = 4
ROOT = "/crash"
SEQ_RE = re.compile(r"^s-(\d{10})$")
TXN_RE = re.compile(r"^t(\d+)-([abc])$")
# Writes whose outcome the client cannot know.
INDETERMINATE = (ConnectionLoss, SessionExpiredError, ConnectionClosedError)


def _start(kind: str, tmp: Path):
    if kind == "swiftkeeper" and not os.access(servers.swiftkeeper_bin(), os.X_OK):
        pytest.skip(f"swiftkeeper binary not built: {servers.swiftkeeper_bin()}")
    return servers.start_server(kind, tmp)




# -- writers ------------------------------------------------------------------------

PRESENT, ABSENT = "present", "absent"


class Writer(threading.Thread):
    """One kazoo session writing under ROOT/w<i>; keeps the model of what may exist."""

    def __init__(self, idx: int, srv, seed: int, pause: threading.Event):
        super().__init__(name=f"writer-{idx}", daemon=True)
        self.idx = idx
        self.base = f"{ROOT}/w{idx}"
        self.rng = random.Random(seed)
        self.pause = pause
        self.idle = threading.Event()
        self.stop_flag = threading.Event()
        self.zk = _client(srv)
        self.zk.create(f"{self.base}/counter", b"0", makepath=True)
        # name -> set of states it may be in; a present node holds b"<name>".
        self.nodes: dict[str, set[str]] = {}
        self.next_node = 0
        self.counter_acked = 0
        self.counter_attempted = 0
        self.seq_acked: set[str] = set()
        self.seq_indeterminate = 0
        self.seq_max = -1          # largest sequence number known to be taken
        self.txns: dict[int, str] = {}   # k -> "acked" | "maybe" | "failed"
        self.next_txn = 0
        self.ops = {"acked": 0, "indeterminate": 0}
        self.violations: list[str] = []

    # one operation each; the outcome is recorded before the next starts
    def _create(self) -> None:
        name = f"n{self.next_node}"
        self.next_node += 1
        self.nodes[name] = {PRESENT, ABSENT}
        try:
            self.zk.create(f"{self.base}/{name}", name.encode())
        except INDETERMINATE:
            self.ops["indeterminate"] += 1
            return
        except NodeExistsError:
            self.violations.append(f"{self.base}/{name}: create of a never used name said NodeExists")
            return
        self.nodes[name] = {PRESENT}
        self.ops["acked"] += 1

    def _delete(self) -> None:
        certain = [n for n, s in self.nodes.items() if s == {PRESENT}]
        if not certain:
            return self._create()
        name = self.rng.choice(certain)
        self.nodes[name] = {PRESENT, ABSENT}
        try:
            self.zk.delete(f"{self.base}/{name}")
        except INDETERMINATE:
            self.ops["indeterminate"] += 1
            return
        except NoNodeError:
            self.violations.append(f"{self.base}/{name}: acknowledged create, but delete said NoNode")
            self.nodes[name] = {ABSENT}
            return
        self.nodes[name] = {ABSENT}
        self.ops["acked"] += 1

    def _set_counter(self) -> None:
        self.counter_attempted += 1
        value = self.counter_attempted
        try:
            self.zk.set(f"{self.base}/counter", str(value).encode())
        except INDETERMINATE:
            self.ops["indeterminate"] += 1
            return
        self.counter_acked = value
        self.ops["acked"] += 1

    def _create_sequential(self) -> None:
        try:
            path = self.zk.create(f"{self.base}/s-", b"seq", sequence=True)
        except INDETERMINATE:
            self.seq_indeterminate += 1
            self.ops["indeterminate"] += 1
            return
        name = path.rsplit("/", 1)[1]
        m = SEQ_RE.match(name)
        if not m:
            self.violations.append(f"sequential create returned {path!r}")
            return
        number = int(m.group(1))
        if number <= self.seq_max:
            self.violations.append(
                f"{path}: sequence number not above {self.seq_max}, one already taken "
                "(the parent's cversion went back)")
        self.seq_max = max(self.seq_max, number)
        self.seq_acked.add(name)
        self.ops["acked"] += 1

    def _transaction(self) -> None:
        k = self.next_txn
        self.next_txn += 1
        self.txns[k] = "maybe"
        t = self.zk.transaction()
        for part in "abc":
            t.create(f"{self.base}/t{k}-{part}", f"t{k}-{part}".encode())
        try:
            results = t.commit()
        except INDETERMINATE:
            self.ops["indeterminate"] += 1
            return
        if any(isinstance(r, Exception) for r in results):
            self.violations.append(f"transaction t{k} of fresh names failed: {results}")
            self.txns[k] = "failed"
            return
        self.txns[k] = "acked"
        self.ops["acked"] += 1

    def run(self) -> None:
        ops = [self._create] * 30 + [self._delete] * 15 + [self._set_counter] * 30 + \
              [self._create_sequential] * 12 + [self._transaction] * 8
        while not self.stop_flag.is_set():
            if self.pause.is_set():
                self.idle.set()
                time.sleep(0.01)
                continue
            self.idle.clear()
            if self.pause.is_set():
                continue
            op = self.rng.choice(ops)
            try:
                op()
            except Exception as e:  # anything else is a finding, not a crash of the test
                self.violations.append(f"{op.__name__}: unexpected {type(e).__name__}: {e!r}")
        self.idle.set()


def check_state(zk: KazooClient, writers: list[Writer], label: str) -> list[str]:
    """Compare what a fresh client reads with every writer's model."""
    problems: list[str] = []
    try:
        top = sorted(zk.get_children(ROOT))
    except NoNodeError:
        return [f"[{label}] {ROOT} is gone, with everything every writer wrote"]
    want = sorted(f"w{w.idx}" for w in writers)
    if top != want:
        problems.append(f"{ROOT} children {top}, expected {want}")
    for w in writers:
        try:
            children = set(zk.get_children(w.base))
        except NoNodeError:
            problems.append(f"{w.base} is gone")
            continue
        where = f"[{label}] {w.base}"
        # plain nodes
        for name, states in w.nodes.items():
            present = name in children
            if present and PRESENT not in states:
                problems.append(f"{where}/{name}: present after an acknowledged delete")
            if not present and ABSENT not in states:
                problems.append(f"{where}/{name}: acknowledged create lost")
            if present:
                data = zk.get(f"{w.base}/{name}")[0]
                if data != name.encode():
                    problems.append(f"{where}/{name}: data {data!r}, expected {name.encode()!r}")
        # counter
        if "counter" not in children:
            problems.append(f"{where}/counter: lost")
        else:
            raw = zk.get(f"{w.base}/counter")[0]
            try:
                value = int(raw)
            except ValueError:
                value = None
            if value is None or not (w.counter_acked <= value <= w.counter_attempted):
                problems.append(f"{where}/counter: {raw!r}, expected between last acknowledged "
                                f"{w.counter_acked} and last attempted {w.counter_attempted}")
        # sequential nodes
        seq_present = {c for c in children if SEQ_RE.match(c)}
        lost = w.seq_acked - seq_present
        if lost:
            problems.append(f"{where}: acknowledged sequential nodes lost: {sorted(lost)}")
        unknown = seq_present - w.seq_acked
        if len(unknown) > w.seq_indeterminate:
            problems.append(f"{where}: {len(unknown)} sequential nodes nobody was told about "
                            f"({sorted(unknown)[:5]}...), only {w.seq_indeterminate} "
                            "sequential creates were indeterminate")
        for c in seq_present:
            w.seq_max = max(w.seq_max, int(SEQ_RE.match(c).group(1)))
        # transactions: all or nothing
        groups: dict[int, set[str]] = {}
        for c in children:
            m = TXN_RE.match(c)
            if m:
                groups.setdefault(int(m.group(1)), set()).add(m.group(2))
        for k, outcome in w.txns.items():
            parts = groups.get(k, set())
            if parts and parts != set("abc"):
                problems.append(f"{where}: transaction t{k} only partly present: {sorted(parts)}")
            if outcome == "acked" and parts != set("abc"):
                problems.append(f"{where}: acknowledged transaction t{k} lost (present: {sorted(parts)})")
            for part in parts:
                data = zk.get(f"{w.base}/t{k}-{part}")[0]
                if data != f"t{k}-{part}".encode():
                    problems.append(f"{where}/t{k}-{part}: data {data!r}")
        # nothing never attempted
        for c in sorted(children):
            if c == "counter" or SEQ_RE.match(c):
                continue
            m = TXN_RE.match(c)
            if m:
                if int(m.group(1)) not in w.txns:
                    problems.append(f"{where}/{c}: never attempted")
                continue
            if c not in w.nodes:
                problems.append(f"{where}/{c}: never attempted")
    return problems


def _wait_idle(writers: list[Writer], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for w in writers:
        if not w.idle.wait(max(0.0, deadline - time.monotonic())):
            raise AssertionError(f"{w.name} did not finish its operation within {timeout:.0f}s "
                                 "after the restart")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.timeout(300)
def test_kill9_keeps_acknowledged_writes(kind: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    print(f"\nCRASH_SEED={seed} CRASH_ROUNDS={ROUNDS} ({kind})")
    rng = random.Random(seed)
    srv = _start(kind, tmp_path / kind)
    pause = threading.Event()
    writers: list[Writer] = []
    try:
        writers = [Writer(i, srv, rng.randrange(1 << 30), pause) for i in range(N_WRITERS)]
        for w in writers:
            w.start()
        problems: list[str] = []
        for rnd in range(1, ROUNDS + 1):
            time.sleep(rng.uniform(0.3, 2.0))
            # Writers start no new op from here on; those in flight are cut by the kill.
            pause.set()
            srv.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            srv.start()
            _wait_idle(writers)
            checker = _client(srv)
            try:
                found = check_state(checker, writers, f"round {rnd}")
            finally:
                _close(checker)
            for w in writers:
                found.extend(w.violations)
                w.violations.clear()
            acked = sum(w.ops["acked"] for w in writers)
            maybe = sum(w.ops["indeterminate"] for w in writers)
            print(f"round {rnd}: {acked} writes acknowledged, {maybe} indeterminate so far, "
                  f"{len(found)} problem(s)")
            problems.extend(found)
            if problems:
                break
            pause.clear()
        # Last: a clean stop and start must show the same.
        if not problems:
            pause.set()
            _wait_idle(writers)
            srv.stop()
            srv.start()
            checker = _client(srv)
            try:
                problems.extend(check_state(checker, writers, "after clean restart"))
            finally:
                _close(checker)
        if problems:
            pytest.fail(
                f"CRASH_SEED={seed} ({kind}): {len(problems)} problem(s):\n  " + "\n  ".join(problems[:50])
                + f"\n--- server log tail ---\n{servers._tail(srv.log_path)}", pytrace=False)
    finally:
        for w in writers:
            w.stop_flag.set()
        pause.clear()
        for w in writers:
            _close(w.zk)
            w.join(timeout=10)
        srv.stop()


# -- sessions across restarts ----------------------------------------------------------

SESSION_TIMEOUT = 4.0   # seconds; ZooKeeper's least with tickTime 2000


def _wait(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # e.g. ConnectionLoss while kazoo reconnects
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last error: {last!r})")


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
@pytest.mark.parametrize("kind", KINDS)
def test_session_survives_restart(kind: str, how: str, tmp_path: Path) -> None:
    srv = _start(kind, tmp_path / kind)
    states: list[str] = []
    zk = _client(srv, timeout=SESSION_TIMEOUT)
    zk.add_listener(lambda state: states.append(state))
    other = None
    try:
        session_id, _ = zk.client_id
        zk.create("/eph", b"mine", ephemeral=True)
        zk.create("/plain", b"")
        if how == "sigterm":
            srv.stop()
        else:
            srv.kill()
        _wait(lambda: not zk.connected, 10, "kazoo notices the server is gone")
        srv.start()
        # kazoo reconnects by itself and resumes the session.
        _wait(lambda: zk.connected or KazooState.LOST in states, 30,
              "kazoo reconnects after the restart (a server that lost data refuses a client "
              "that has seen a later zxid)")
        assert KazooState.LOST not in states, f"kazoo saw the session lost: {states}"
        assert zk.client_id[0] == session_id, (
            f"session 0x{session_id:x} replaced by 0x{zk.client_id[0]:x}: it did not survive the restart")
        stat = zk.exists("/eph")
        assert stat is not None, "the session's ephemeral is gone after the restart"
        assert stat.ephemeralOwner == session_id
        other = _client(srv)
        stat = other.exists("/eph")
        assert stat is not None and stat.ephemeralOwner == session_id
        # the resumed session can still write, and its ephemeral goes when it closes
        zk.create("/eph2", b"", ephemeral=True)
        _close(zk)
        _wait(lambda: other.exists("/eph") is None and other.exists("/eph2") is None, 15,
              "ephemerals deleted by closing the resumed session")
    finally:
        _close(zk)
        if other is not None:
            _close(other)
        srv.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_session_expires_when_client_stays_away(kind: str, tmp_path: Path) -> None:
    srv = _start(kind, tmp_path / kind)
    zk = _client(srv, timeout=SESSION_TIMEOUT)
    checker = None
    try:
        session_id, password = zk.client_id
        zk.create("/eph", b"", ephemeral=True)
        zk.create("/plain", b"")
        srv.stop()
        # Stopping the client while no server runs sends no closeSession.
        _close(zk)
        time.sleep(SESSION_TIMEOUT + 1.0)   # the session's timeout passes while the server is down
        srv.start()
        checker = _client(srv)
        _wait(lambda: checker.exists("/eph") is None, 30,
              "ephemeral of the abandoned session deleted after the restart", interval=0.25)
        assert checker.exists("/plain") is not None
        # the old session is gone for good: kazoo gets a new one instead
        late = KazooClient(hosts=srv.hosts, client_id=(session_id, password), timeout=SESSION_TIMEOUT,
                           connection_retry=dict(FAST_RECONNECT))
        try:
            late.start(timeout=30)
            _wait(lambda: late.connected, 30, "kazoo connects with a fresh session")
            assert late.client_id[0] != session_id, "an expired session was resumed"
        finally:
            _close(late)
    finally:
        _close(zk)
        if checker is not None:
            _close(checker)
        srv.stop()
