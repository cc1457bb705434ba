"""Operations surfaces against Apache ZooKeeper 3.8.0, in the same state: every
AdminServer command (and its aliases) and every four-letter word, standalone and
on a 3-member ensemble (leader and follower).

AdminServer answers are compared as JSON: the same keys at every level, the same
JSON types, and the same values where both servers must agree after the same
workload (counts, paths, modes, zxids, configuration). Keys that name sessions or
times are normalised. Four-letter words are compared line by line as formats:
runs of digits, hex ids, addresses and versions become placeholders, so a changed
label, separator or line order shows up as a difference.

Each difference that remains is listed in KNOWN_DIFFERENCES with its reason and
checked to still be there (so the list cannot go stale).

    .venv-interop/bin/python -m pytest Tests/Interop/test_operations.py -v
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from kazoo.client import KazooClient

import servers
from ensemble import Ensemble

HOST = "127.0.0.1"


def _admin_cfg(port: int) -> dict:
    return {"admin.enableServer": "true", "admin.serverAddress": HOST, "admin.serverPort": port}


def admin_get(port: int, path: str) -> tuple[int, str, str]:
    """(status, content type, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type") or "", r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type") or "", e.read().decode()


def command(port: int, name: str) -> dict:
    status, _, body = admin_get(port, f"/commands/{name}")
    assert status == 200, (name, status, body)
    return json.loads(body)


def wait_admin(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if admin_get(port, "/commands/ruok")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no AdminServer on port {port}")


# -- the workload both servers get -------------------------------------------------

def workload(hosts: str) -> KazooClient:
    """Leaves one session with an ephemeral, data and child watches; returns it open."""
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    zk.create("/ops", b"hello")
    zk.create("/ops/child", b"x", ephemeral=True)
    zk.create("/ops/seq-", b"", sequence=True)
    zk.set("/ops", b"v2")
    zk.get("/ops", watch=lambda e: None)
    zk.get_children("/ops", watch=lambda e: None)
    zk.exists("/ops/missing", watch=lambda e: None)
    zk.sync("/")
    return zk


# -- JSON comparison -----------------------------------------------------------------

def shape(value):
    """The JSON types of a value, recursively; a list's shape is the set of its
    elements' shapes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ["list"] + sorted({json.dumps(shape(v), sort_keys=True) for v in value})
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def renamed_keys(mapping: dict, placeholder: str) -> dict:
    """Keys that are session ids or times, replaced (values merged in key order)."""
    out: dict = {}
    for key in sorted(mapping):
        out.setdefault(placeholder, [])
        out[placeholder] += mapping[key] if isinstance(mapping[key], list) else [mapping[key]]
    return out


def normalised(name: str, answer: dict) -> dict:
    answer = dict(answer)
    if name == "dump":
        if "expiry_time_to_session_ids" in answer:
            answer["expiry_time_to_session_ids"] = renamed_keys(answer["expiry_time_to_session_ids"], "<time>")
        answer["session_id_to_ephemeral_paths"] = renamed_keys(answer["session_id_to_ephemeral_paths"], "<session>")
    if name == "watches":
        answer["session_id_to_watched_paths"] = renamed_keys(answer["session_id_to_watched_paths"], "<session>")
    if name == "voting_view":
        answer["current_config"] = renamed_keys(answer["current_config"], "<sid>")
    return answer


def differences(a, b, path: str = "") -> list[str]:
    """Where two shapes differ, as readable lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a:
                out.append(f"{path}/{key}: only in zookeeper")
            elif key not in b:
                out.append(f"{path}/{key}: only in swiftkeeper")
            else:
                out += differences(a[key], b[key], f"{path}/{key}")
        return out
    return [] if a == b else [f"{path}: swiftkeeper {a} vs zookeeper {b}"]


# Values both servers must give after the workload (command -> keys, '/' for nesting).
SAME_VALUES = {
    "configuration": ["tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout",
                      "client_port_listen_backlog"],
    "dirs": [],
    "dump": ["session_id_to_ephemeral_paths"],
    "is_read_only": ["read_only"],
    "leader": ["is_leader", "error"],
    "observers": ["synced_observers", "observers"],
    "server_stats": ["read_only", "server_stats/server_state", "server_stats/last_processed_zxid", "node_count"],
    "watch_summary": ["num_connections", "num_paths", "num_total_watches"],
    "watches": ["session_id_to_watched_paths"],
    "watches_by_path": [],
    "zabstate": ["voting", "zabstate", "is_leader", "last_zxid", "zab_epoch", "zab_counter"],
    "monitor": ["server_state", "znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                "global_sessions", "local_sessions", "outstanding_requests", "peer_state", "quorum_size",
                "synced_followers", "synced_observers", "learners"],
}

# Differences that remain, by command: what differs and why. Each entry must still
# be observed (a fixed difference is removed from here).
ALL_ROLES = {"standalone", "leader", "follower"}

# (command, what the difference line says (a regex), why, the roles it shows on). Every
# entry is checked to still match a difference on each of its roles, so the list cannot
# go stale; a difference no entry covers fails the test.
KNOWN_DIFFERENCES = [
    ("system_properties", r"keys only in",
     "ZooKeeper lists the JVM's system properties; SwiftKeeper has no JVM and answers the "
     "same environment as `environment`", ALL_ROLES),
    ("monitor", r"keys only in zookeeper",
     "ZooKeeper 3.8 also reports the rest of its ServerMetrics registry (commit processor, "
     "prep processor, learner handler queues...) and JVM figures", ALL_ROLES),
    ("monitor", r"keys only in swiftkeeper: \['restore_error_count', 'restore_rate_limited_count', 'snapshot_error_count', 'snapshot_rate_limited_count'\]$",
     "the counters of ZooKeeper 3.9's snapshot command, which 3.8.0 does not have", ALL_ROLES),
    ("monitor", r"value of approximate_data_size",
     "an ensemble's /zookeeper/config holds the membership text in ZooKeeper (dynamic "
     "configuration, issue 14); SwiftKeeper's is empty", {"leader", "follower"}),
    ("server_stats", r"/proposal_stats: only in zookeeper",
     "a leader's proposal_stats (PROPOSAL sizes) are not measured; srvr prints "
     "'Proposal sizes last/min/max: -1/-1/-1' as ZooKeeper does before its first proposal", {"leader"}),
    ("stats", r"/proposal_stats: only in zookeeper", "the same proposal_stats as server_stats", {"leader"}),
]


def sorted_lists(value):
    """Lists whose order is a hash set's in ZooKeeper, sorted."""
    if isinstance(value, dict):
        return {k: sorted_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((sorted_lists(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def value_at(answer: dict, key: str):
    for part in key.split("/"):
        if not isinstance(answer, dict) or part not in answer:
            return "<absent>"
        answer = answer[part]
    return answer


def compare_admin(sk_port: int, zk_port: int, role: str) -> dict[str, list[str]]:
    """Every command on both servers; returns the differences found by command."""
    found: dict[str, list[str]] = {}
    status, _, listing = admin_get(zk_port, "/commands")
    names = sorted(set(re.findall(r'href="/commands/([a-z_]+)"', listing)))
    assert len(names) >= 26, listing
    sk_status, _, sk_listing = admin_get(sk_port, "/commands")
    assert sk_status == 200
    # ZooKeeper 3.9 added `snapshot` and `restore` (SwiftKeeper follows 3.9; 3.8.0 lists neither).
    assert sorted(set(re.findall(r'href="/commands/([a-z_]+)"', sk_listing))) == sorted(names + ["restore", "snapshot"])
    for name in names:
        if name in ("connection_stat_reset", "stat_reset", "observer_connection_stat_reset", "set_trace_mask"):
            continue    # changes state; run below, after the reads
        sk, zk = normalised(name, command(sk_port, name)), normalised(name, command(zk_port, name))
        diffs = []
        if name in ("environment", "system_properties"):
            if set(sk) != set(zk):
                diffs.append(f"keys only in swiftkeeper {sorted(set(sk) - set(zk))[:8]}, "
                             f"only in zookeeper {sorted(set(zk) - set(sk))[:8]}")
        elif name == "monitor":
            missing = sorted(set(zk) - set(sk))
            extra = sorted(set(sk) - set(zk))
            if extra:
                diffs.append(f"keys only in swiftkeeper: {extra}")
            if missing:
                diffs.append(f"{len(missing)} keys only in zookeeper, e.g. {missing[:6]}")
            common = [k for k in sk if k in zk]
            diffs += differences({k: shape(sk[k]) for k in common}, {k: shape(zk[k]) for k in common}, "")
        else:
            diffs += differences(shape(sk), shape(zk))
        for key in SAME_VALUES.get(name, []):
            if sorted_lists(value_at(sk, key)) != sorted_lists(value_at(zk, key)):
                diffs.append(f"value of {key}: swiftkeeper {value_at(sk, key)!r} vs zookeeper {value_at(zk, key)!r}")
        if diffs:
            found[name] = diffs
    # The commands that change state, then what they changed.
    for name, query in [("set_trace_mask", "?traceMask=7"), ("set_trace_mask", ""), ("stat_reset", ""),
                        ("connection_stat_reset", ""), ("observer_connection_stat_reset", "")]:
        sk, zk = command(sk_port, name + query), command(zk_port, name + query)
        diffs = differences(shape(sk), shape(zk))
        if sk.get("error") != zk.get("error") or sk.get("tracemask") != zk.get("tracemask"):
            diffs.append(f"{name}{query}: swiftkeeper {sk} vs zookeeper {zk}")
        if diffs:
            found.setdefault(name, []).extend(diffs)
    for name, key in [("get_trace_mask", "tracemask"), ("server_stats", "server_stats/packets_received")]:
        sk, zk = command(sk_port, name), command(zk_port, name)
        if name == "get_trace_mask" and (sk[key], zk[key]) != (7, 7):
            found.setdefault(name, []).append(f"after set_trace_mask: {sk[key]} vs {zk[key]}")
    return found


def check_aliases_and_errors(port: int) -> None:
    """On swiftkeeper: every alias answers as its command; unknown names and methods."""
    for alias, primary in [("conf", "configuration"), ("config", "configuration"), ("cons", "connections"),
                           ("crst", "connection_stat_reset"), ("env", "environment"), ("envi", "environment"),
                           ("gtmk", "get_trace_mask"), ("icfg", "initial_configuration"), ("isro", "is_read_only"),
                           ("lsnp", "last_snapshot"), ("lead", "leader"), ("mntr", "monitor"),
                           ("orst", "observer_connection_stat_reset"), ("obsr", "observers"),
                           ("srvr", "server_stats"), ("stmk", "set_trace_mask"), ("srst", "stat_reset"),
                           ("stat", "stats"), ("sysp", "system_properties"), ("wchs", "watch_summary"),
                           ("wchc", "watches"), ("wchp", "watches_by_path")]:
        answer = command(port, alias)
        assert answer["command"] == primary, (alias, answer)
    assert command(port, "nosuch") == {"command": "nosuch", "error": "Unknown command: nosuch"}
    status, content_type, body = admin_get(port, "/commands/stats")
    assert content_type == "application/json"
    assert body.startswith('{\n  "version" : '), body[:80]
    assert admin_get(port, "/")[0] == 404
    request = urllib.request.Request(f"http://{HOST}:{port}/commands/stats", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


# -- four-letter words -----------------------------------------------------------------

WORDS = ["conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
         "srvr", "stat", "stmk", "wchc", "wchp", "wchs"]

PLACEHOLDERS = [
    (re.compile(r"lop=\w+"), "lop=<op>"),      # a ping may come between two words
    (re.compile(r"/?\d+\.\d+\.\d+\.\d+:\d+"), "<address>"),
    (re.compile(r"\d+\.\d+\.\d+[-\w${}.]*(, built on [^\n]*)?"), "<version>"),
    (re.compile(r"0x[0-9a-f]+"), "<hex>"),
    (re.compile(r"/[\w./-]*(version-2|data)\b[\w./-]*"), "<dir>"),
    (re.compile(r"-?\d+(\.\d+)?"), "<n>"),
]


def canonical(word: str, text: str) -> str:
    """Orders that come from ZooKeeper's hash sets made canonical: connections in cons
    and stat, and the groups of wchc and wchp (each header line with its tab lines)."""
    lines = text.split("\n")
    if word == "cons":
        body = sorted(line for line in lines if line)
        return "\n".join(body) + "\n\n" if text.endswith("\n\n") else "\n".join(body) + "\n"
    if word == "stat" and "Clients:" in lines:
        start = lines.index("Clients:") + 1
        end = lines.index("", start)
        lines[start:end] = sorted(lines[start:end])
        return "\n".join(lines)
    if word == "dump":
        # How sessions and connections fall into expiry buckets depends on timing: the
        # bucket lines' format is kept once, their count and placement are not compared.
        kept, bucket_lines = [], set()
        for line in lines:
            if re.match(r"^\d+ expire at ", line):
                bucket_lines.add(re.sub(r"\d+", "<n>", line))
            else:
                kept.append(line)
        return "\n".join(kept + sorted(bucket_lines))
    if word in ("wchc", "wchp"):
        groups = []
        for line in lines:
            if line.startswith("\t") and groups:
                groups[-1].append(line)
            elif line:
                groups.append([line])
        text_groups = ["\n".join([g[0]] + sorted(g[1:])) for g in groups]
        return "\n".join(sorted(text_groups)) + ("\n\n" if text.endswith("\n\n") else "\n")
    return text


def line_formats(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        for pattern, placeholder in PLACEHOLDERS:
            line = pattern.sub(placeholder, line)
        lines.append(line)
    return lines


def format_key(line: str) -> str:
    return line.split("\t")[0].split("=")[0].split(":")[0]


KNOWN_WORD_DIFFERENCES = [
    ("mntr", r"lines only in zookeeper", "the ServerMetrics lines of the monitor command", ALL_ROLES),
    ("mntr", r"only in swiftkeeper: \['zk_snapshot_error_count', 'zk_snapshot_rate_limited_count', 'zk_restore_error_count', 'zk_restore_rate_limited_count'\]$",
     "the counters of ZooKeeper 3.9's snapshot command", ALL_ROLES),
]


def compare_words(sk: servers.ServerProcess, zk: servers.ServerProcess) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for word in WORDS:
        a, b = canonical(word, sk.four_letter(word)), canonical(word, zk.four_letter(word))
        fa, fb = line_formats(a), line_formats(b)
        if word in ("mntr", "envi", "conf"):
            # Same keys in the same order (mntr: ours a subset in ZooKeeper's order).
            keys_a = [format_key(line) for line in fa if line]
            keys_b = [format_key(line) for line in fb if line]
            if word == "mntr":
                missing = [k for k in keys_b if k not in keys_a]
                extra = [k for k in keys_a if k not in keys_b]
                diffs = [f"only in swiftkeeper: {extra}"] if extra else []
                if missing:
                    diffs.append(f"{len(missing)} lines only in zookeeper, e.g. {missing[:5]}")
            else:
                diffs = [] if keys_a == keys_b else [f"keys swiftkeeper {keys_a} vs zookeeper {keys_b}"]
                if word == "envi":
                    diffs += [f"line {x!r} vs {y!r}" for x, y in zip(fa, fb)
                              if x != y and not format_key(x).startswith(("java.", "os.", "user.", "host."))]
        else:
            diffs = [] if fa == fb else [f"swiftkeeper {fa}", f"zookeeper  {fb}"]
        if (a.endswith("\n")) != (b.endswith("\n")):
            diffs.append(f"final newline: swiftkeeper {a.endswith(chr(10))} vs zookeeper {b.endswith(chr(10))}")
        if diffs:
            found[word] = diffs
    return found


def report(title: str, found: dict[str, list[str]], known: list, role: str) -> list[str]:
    """Prints every difference; returns those no entry of `known` covers, and entries
    that no longer match anything."""
    print(f"\n== {title}")
    unexpected = []
    for name, pattern, reason, roles in known:
        if role in roles and not any(re.search(pattern, d) for d in found.get(name, [])):
            unexpected.append(f"{name} /{pattern}/ is listed as different on {role} but matches now: update the list")
    for name, diffs in sorted(found.items()):
        for d in diffs:
            covering = [reason for n, pattern, reason, roles in known
                        if n == name and role in roles and re.search(pattern, d)]
            print(f"  {name}: {d}" + (f"   [known: {covering[0]}]" if covering else ""))
            if not covering:
                unexpected.append(f"{name}: {d}")
    return unexpected


# -- the tests ---------------------------------------------------------------------------

def test_standalone_admin_and_words(tmp_path):
    sk_port, zk_port = servers.free_port(), servers.free_port()
    sk = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg=_admin_cfg(sk_port))
    zk = servers.start_zookeeper(tmp_path / "zk", extra_cfg=_admin_cfg(zk_port))
    clients = []
    try:
        wait_admin(sk_port)
        wait_admin(zk_port)
        clients = [workload(sk.hosts), workload(zk.hosts)]
        check_aliases_and_errors(sk_port)
        admin = compare_admin(sk_port, zk_port, "standalone")
        words = compare_words(sk, zk)
        unexpected = report("AdminServer, standalone", admin, KNOWN_DIFFERENCES, "standalone")
        unexpected += report("four-letter words, standalone", words, KNOWN_WORD_DIFFERENCES, "standalone")
        assert not unexpected, "\n".join(unexpected)
    finally:
        for c in clients:
            c.stop()
        sk.stop()
        zk.stop()


def _ensemble(tmp_path, kind: str) -> Ensemble:
    ports = {}

    def member_cfg(member):
        ports[member.sid] = servers.free_port()
        return _admin_cfg(ports[member.sid])

    ensemble = Ensemble(tmp_path / kind, [kind] * 3, member_cfg=member_cfg)
    ensemble.admin_ports = ports
    return ensemble


def test_ensemble_admin_and_words(tmp_path):
    sk_ens, zk_ens = _ensemble(tmp_path, "swiftkeeper"), _ensemble(tmp_path, "zookeeper")
    clients = []
    try:
        sk_ens.start()
        zk_ens.start()
        sk_leader, zk_leader = sk_ens.wait_stable(), zk_ens.wait_stable()
        sk_follower = next(m for m in sk_ens.members if m is not sk_leader)
        zk_follower = next(m for m in zk_ens.members if m is not zk_leader)
        for ens in (sk_ens, zk_ens):
            for m in ens.members:
                wait_admin(ens.admin_ports[m.sid])
        # The session lives on the follower, as clients usually connect to one.
        clients = [workload(sk_follower.hosts), workload(zk_follower.hosts)]
        unexpected = []
        for role, sk_m, zk_m in [("leader", sk_leader, zk_leader), ("follower", sk_follower, zk_follower)]:
            admin = compare_admin(sk_ens.admin_ports[sk_m.sid], zk_ens.admin_ports[zk_m.sid], role)
            words = compare_words(sk_m.process, zk_m.process)
            unexpected += report(f"AdminServer, ensemble {role}", admin, KNOWN_DIFFERENCES, role)
            unexpected += report(f"four-letter words, ensemble {role}", words, KNOWN_WORD_DIFFERENCES, role)
        assert not unexpected, "\n".join(unexpected)
    finally:
        for c in clients:
            c.stop()
        sk_ens.stop()
        zk_ens.stop()


# -- ZooKeeper 3.9's snapshot command ----------------------------------------------------

def _admin_request(port: int, path: str, authorization: str | None = None, body: bytes | None = None):
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", data=body, method="POST" if body is not None else "GET")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_snapshot_command(tmp_path):
    """`/commands/snapshot` as ZooKeeper 3.9: ALL on / proven by an Authorization header,
    rate-limited, the snapshot written to the data directory and streamed; Apache
    ZooKeeper 3.8.0 loads the streamed bytes as its data directory."""
    from kazoo.security import make_digest_acl
    port = servers.free_port()
    cfg = {**_admin_cfg(port), "admin.rateLimiterIntervalInMS": 600_000_000}
    sk = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg=cfg)
    zk_server = None
    try:
        wait_admin(port)
        zk = KazooClient(hosts=sk.hosts, timeout=10)
        zk.start(timeout=30)
        for i in range(20):
            zk.create(f"/snap/n{i}", f"value-{i}".encode(), makepath=True)
        status, _, body = _admin_request(port, "/commands/snapshot")
        assert status == 401 and json.loads(body)["error"] == "Auth info is missing for the command"
        status, _, body = _admin_request(port, "/commands/snapshot", "foo bar")
        assert status == 401 and json.loads(body)["error"] == "Not authenticated"
        zk.add_auth("digest", "admin:secret")
        zk.set_acls("/", [make_digest_acl("admin", "secret", all=True)])
        status, _, body = _admin_request(port, "/commands/snapshot", "digest other:pass")
        assert status == 403 and json.loads(body)["error"] == "Not authorized", body
        status, headers, body = _admin_request(port, "/commands/snap", "digest admin:secret")
        assert status == 200, body
        assert headers["Content-Type"] == "application/octet-stream"
        zxid = int(headers["last_zxid"], 16)
        assert int(headers["snapshot_size"]) == len(body)
        srvr_zxid = int(next(l for l in sk.four_letter("srvr").splitlines() if l.startswith("Zxid:")).split("0x")[1], 16)
        assert zxid == srvr_zxid
        on_disk = sk.data_dir / "version-2" / f"snapshot.{zxid:x}"
        assert on_disk.read_bytes() == body
        status, _, body2 = _admin_request(port, "/commands/snapshot", "digest admin:secret")
        assert status == 429, body2
        zk.stop()
        # ZooKeeper reads the streamed snapshot as its whole data directory.
        restored = tmp_path / "zk-data" / "version-2"
        restored.mkdir(parents=True)
        (restored / f"snapshot.{zxid:x}").write_bytes(body)
        zk_server = servers.start_zookeeper(tmp_path / "zk", data_dir=tmp_path / "zk-data")
        reader = KazooClient(hosts=zk_server.hosts, timeout=10)
        reader.start(timeout=30)
        reader.add_auth("digest", "admin:secret")
        assert sorted(reader.get_children("/snap")) == sorted(f"n{i}" for i in range(20))
        assert reader.get("/snap/n7")[0] == b"value-7"
        reader.stop()
    finally:
        sk.stop()
        if zk_server is not None:
            zk_server.stop()


def test_restore_command(tmp_path):
    """`/commands/restore` as ZooKeeper 3.9 (POST a snapshot, ALL on /, rate-limited),
    standalone: the tree and sessions become the snapshot's, the earlier files are moved
    aside, and a restart recovers the restored state plus the writes made after it."""
    port = servers.free_port()
    cfg = {**_admin_cfg(port), "admin.rateLimiterIntervalInMS": 600_000}
    sk = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg=cfg)
    try:
        wait_admin(port)
        zk = KazooClient(hosts=sk.hosts, timeout=10)
        zk.start(timeout=30)
        for i in range(10):
            zk.create(f"/before/n{i}", b"b", makepath=True)
        status, headers, snapshot = _admin_request(port, "/commands/snapshot", "digest any:one")
        assert status == 200, snapshot
        zk.create("/after", b"a")
        zk.delete("/before/n0")
        zk.stop()
        status, _, body = _admin_request(port, "/commands/restore", None, snapshot)
        assert status == 401, body
        assert _admin_request(port, "/commands/restore")[0] == 405
        status, _, body = _admin_request(port, "/commands/restore", "digest any:one", snapshot)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["last_zxid"] == int(headers["last_zxid"], 16) and answer["error"] is None, answer
        status, _, body = _admin_request(port, "/commands/restore", "digest any:one", snapshot)
        assert status == 429, body
        zk = KazooClient(hosts=sk.hosts, timeout=10)
        zk.start(timeout=30)
        assert zk.exists("/after") is None
        assert zk.exists("/before/n0") is not None
        zk.create("/post-restore", b"p")
        zk.stop()
        version2 = sk.data_dir / "version-2"
        assert [p.name for p in version2.iterdir() if p.name.startswith("before-restore-")], list(version2.iterdir())
        sk.restart()
        zk = KazooClient(hosts=sk.hosts, timeout=10)
        zk.start(timeout=30)
        assert zk.exists("/after") is None
        assert sorted(zk.get_children("/before")) == sorted(f"n{i}" for i in range(10))
        assert zk.get("/post-restore")[0] == b"p"
        zk.stop()
    finally:
        sk.stop()
