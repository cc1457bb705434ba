"""swiftkeeper's data tools print what ZooKeeper 3.8.0's own tools print.

    swiftkeeper txnlog-dump      = org.apache.zookeeper.server.persistence.TxnLogToolkit
    swiftkeeper snapshot-dump    = org.apache.zookeeper.server.SnapshotFormatter
    swiftkeeper snapshot-compare = org.apache.zookeeper.server.SnapshotComparer

Both servers write a data directory (a small snapCount, so each has several logs and
snapshots) with the same workload: creates with data (UTF-8 and control characters),
sets, deletes, ephemerals, sequential nodes, a multi and a failed multi, ACLs and a
setACL, two sessions closed. Then the Java tool and the swiftkeeper subcommand run on the
same files, with TZ=UTC for both, and their standard output and exit codes must be equal.
Only two things are normalised, both because they must differ between two runs: the JSON
dump's "timestamp" (the time the tool ran) and the comparer's "in N seconds" timings.

    SWIFTKEEPER_BIN=.build-tools/release/swiftkeeper \
        .venv-interop/bin/python -m pytest Tests/Interop/test_data_tools.py -v
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_acl, make_digest_acl

import servers

KINDS = ["zookeeper", "swiftkeeper"]
SNAP_COUNT = 20
TOOL_TIMEOUT = 60
ENV = {**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8"}
JAVA_TOOLS = {
    "txnlog-dump": "org.apache.zookeeper.server.persistence.TxnLogToolkit",
    "snapshot-dump": "org.apache.zookeeper.server.SnapshotFormatter",
    "snapshot-compare": "org.apache.zookeeper.server.SnapshotComparer",
}


def _workload(srv) -> None:
    zk = KazooClient(hosts=srv.hosts, timeout=10)
    zk.start(timeout=20)
    try:
        zk.create("/app", b"hello")
        zk.create("/app/child", "d\u00e9j\u00e0 \"q\", 100%}\n".encode())
        zk.create("/app/ctl", b"\x00\x01\xff")
        zk.set("/app", b"v2")
        zk.create("/app/seq-", b"s", sequence=True)
        zk.create("/app/seq-", b"", sequence=True)
        zk.create("/eph", b"e", ephemeral=True)
        zk.create("/eph-seq-", b"", ephemeral=True, sequence=True)
        zk.add_auth("digest", "alice:s3cret")
        zk.create("/secret", b"x", acl=[make_digest_acl("alice", "s3cret", all=True),
                                        make_acl("world", "anyone", read=True)])
        zk.set_acls("/secret", [make_digest_acl("alice", "s3cret", all=True)])
        t = zk.transaction()
        t.create("/m1", b"a")
        t.create("/m2")
        t.set_data("/app", b"v3")
        t.delete("/app/child")
        t.commit()
        t = zk.transaction()  # fails: an error multi in the log
        t.check("/app", 99)
        t.create("/never")
        try:
            t.commit()
        except Exception:
            pass
        for i in range(30):
            zk.create(f"/many/n{i}", str(i).encode(), makepath=True)
        zk.delete("/m2")
        other = KazooClient(hosts=srv.hosts, timeout=10)
        other.start(timeout=20)
        other.create("/eph2", b"", ephemeral=True)
        other.stop()
        other.close()
    finally:
        zk.stop()
        zk.close()


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """kind -> the version-2 directory its server wrote."""
    dirs = {}
    for kind in KINDS:
        tmp = tmp_path_factory.mktemp(f"data-{kind}")
        srv = servers.start_server(kind, tmp, {"snapCount": SNAP_COUNT})
        try:
            _workload(srv)
        finally:
            srv.stop()
        dirs[kind] = tmp / "data" / "version-2"
    return dirs


def _files(directory: Path, prefix: str) -> list[Path]:
    return sorted(directory.glob(prefix + ".*"), key=lambda p: int(p.name.split(".")[1], 16))


def _run(argv, cwd, stdin: str | None = None):
    done = subprocess.run(argv, cwd=cwd, env=ENV, input=stdin, capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT)
    # log4j's "no appenders" warnings are the JVM's, not the tool's.
    stderr = "".join(line for line in done.stderr.splitlines(keepends=True)
                     if not line.startswith("log4j:"))
    return done.returncode, done.stdout, stderr


def java_tool(tool: str, *args, cwd=None, stdin=None):
    return _run([servers._find_java(), "-cp", servers.zookeeper_classpath(), JAVA_TOOLS[tool], *args],
                cwd, stdin)


def swift_tool(tool: str, *args, cwd=None, stdin=None):
    return _run([servers.swiftkeeper_bin(), tool, *args], cwd, stdin)


def assert_same(tool: str, *args, cwd=None, stdin=None, normalise=lambda text: text):
    java = java_tool(tool, *args, cwd=cwd, stdin=stdin)
    swift = swift_tool(tool, *args, cwd=cwd, stdin=stdin)
    assert swift[0] == java[0], f"exit codes differ: java {java[0]}, swiftkeeper {swift[0]}\n{swift[2]}"
    assert normalise(swift[1]) == normalise(java[1])
    return java


def _no_timestamp(text: str) -> str:
    return re.sub(r'"timestamp":\d+', '"timestamp":0', text)


def _no_timings(text: str) -> str:
    return re.sub(r"in \d+\.\d+ seconds", "in N seconds", text)


# -- txnlog-dump ---------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [[], ["--dump"], ["-d"]], ids=["plain", "dump", "d"])
def test_txnlog_dump(data_dirs, kind, options):
    logs = _files(data_dirs[kind], "log")
    assert len(logs) >= 2
    for log in logs:
        rc, out, _ = assert_same("txnlog-dump", *options, str(log))
        assert rc == 0 and "EOF reached after" in out


def _entry_zxids(log: Path) -> list[int]:
    _, out, _ = swift_tool("txnlog-dump", str(log))
    return [int(m, 16) for m in re.findall(r" zxid 0x([0-9a-f]+) ", out)]


@pytest.mark.parametrize("kind", KINDS)
def test_txnlog_chop(data_dirs, kind, tmp_path):
    first = _files(data_dirs[kind], "log")[0]
    zxids = _entry_zxids(first)
    chop_at = zxids[len(zxids) // 2]
    chopped = {}
    for who in ("java", "swift"):
        (tmp_path / who).mkdir()
        shutil.copy(first, tmp_path / who / first.name)
        run = java_tool if who == "java" else swift_tool
        chopped[who] = run("txnlog-dump", "--chop", "-z", hex(chop_at), first.name, cwd=tmp_path / who)
    assert chopped["swift"] == chopped["java"]
    assert f"Chopping at {chop_at:x} new log has" in chopped["java"][1]
    name = f"{first.name}.chopped{chop_at}"
    java_file, swift_file = tmp_path / "java" / name, tmp_path / "swift" / name
    assert swift_file.read_bytes() == java_file.read_bytes()
    # The chopped log dumps the same, and ends at the zxid.
    assert_same("txnlog-dump", str(swift_file))
    assert _entry_zxids(swift_file)[-1] == chop_at
    # Zxids the log does not hold, and one past its end: the same messages, exit 0.
    assert_same("txnlog-dump", "-c", "-z", str(zxids[-1] + 1000), str(java_file))
    # And it loads: the start-up snapshot plus the chopped log recover to the chop zxid.
    data = tmp_path / "load" / "data"
    (data / "version-2").mkdir(parents=True)
    shutil.copy(data_dirs[kind] / "snapshot.0", data / "version-2" / "snapshot.0")
    shutil.copy(swift_file, data / "version-2" / first.name)
    srv = servers.start_server(kind, tmp_path / "load", data_dir=data)
    try:
        srvr = srv.four_letter("srvr")
    finally:
        srv.stop()
    assert re.search(r"Zxid: 0x([0-9a-f]+)", srvr).group(1) == f"{chop_at:x}", srvr


def _corrupt_copy(log: Path, target: Path) -> None:
    """`log` with one data byte changed ("hello" -> "jello"): that entry's checksum fails."""
    data = bytearray(log.read_bytes())
    at = data.find(b"hello")
    assert at > 0
    data[at] = ord("j")
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options,stdin", [
    (["-r", "-y"], None),
    (["--recover", "--yes", "--verbose"], None),
    (["-r"], "yes\n"),
    (["-rv"], "maybe\nNo\n"),
], ids=["yes", "yes-verbose", "asked-yes", "asked-no"])
def test_txnlog_recover(data_dirs, kind, options, stdin, tmp_path):
    first = _files(data_dirs[kind], "log")[0]
    results = {}
    for who in ("java", "swift"):
        (tmp_path / who).mkdir()
        _corrupt_copy(first, tmp_path / who / first.name)
        run = java_tool if who == "java" else swift_tool
        results[who] = run("txnlog-dump", *options, first.name, cwd=tmp_path / who, stdin=stdin)
    assert results["swift"][:2] == results["java"][:2]
    assert "CRC ERROR - " in results["java"][1] or "CRC FIXED - " in results["java"][1]
    fixed = f"{first.name}.fixed"
    java_fixed = (tmp_path / "java" / fixed).read_bytes()
    assert (tmp_path / "swift" / fixed).read_bytes() == java_fixed
    # The damaged file dumps the same (CRC ERROR lines), and so does the repaired one.
    assert_same("txnlog-dump", str(tmp_path / "java" / first.name))
    rc, out, _ = assert_same("txnlog-dump", str(tmp_path / "java" / fixed))
    repaired = stdin != "maybe\nNo\n"
    assert ("CRC ERROR" in out) != repaired
    # A second recovery refuses to overwrite the .fixed file.
    assert java_tool("txnlog-dump", "-r", "-y", first.name, cwd=tmp_path / "java")[0] == \
        swift_tool("txnlog-dump", "-r", "-y", first.name, cwd=tmp_path / "swift")[0] == 1


def test_txnlog_abort(data_dirs, tmp_path):
    first = _files(data_dirs["zookeeper"], "log")[0]
    results = {}
    for who in ("java", "swift"):
        (tmp_path / who).mkdir()
        _corrupt_copy(first, tmp_path / who / first.name)
        run = java_tool if who == "java" else swift_tool
        results[who] = run("txnlog-dump", "-r", first.name, cwd=tmp_path / who, stdin="abort\n")
    assert results["swift"] == results["java"]
    assert "Recovery aborted." in results["java"][2]


def test_txnlog_errors(data_dirs, tmp_path):
    not_a_log = _files(data_dirs["zookeeper"], "snapshot")[0]
    for args in ([str(tmp_path / "missing")], [str(not_a_log)], [], ["--no-such-option", str(not_a_log)]):
        java = java_tool("txnlog-dump", *args)
        swift = swift_tool("txnlog-dump", *args)
        assert swift[0] == java[0], args
        if args and not args[0].startswith("--"):
            assert swift[2] == java[2], args


# -- snapshot-dump -------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [[], ["-d"], ["-json"]], ids=["plain", "data", "json"])
def test_snapshot_dump(data_dirs, kind, options):
    snapshots = _files(data_dirs[kind], "snapshot")
    assert len(snapshots) >= 2
    for snapshot in snapshots:
        rc, out, _ = assert_same("snapshot-dump", *options, str(snapshot), normalise=_no_timestamp)
        assert rc == 0 and out


def test_snapshot_dump_errors(data_dirs, tmp_path):
    snapshot = str(_files(data_dirs["swiftkeeper"], "snapshot")[-1])
    for args in ([str(tmp_path / "missing")], ["-d", "-json", snapshot], [], [snapshot, "extra"],
                 [str(tmp_path)]):
        java = java_tool("snapshot-dump", *args)
        swift = swift_tool("snapshot-dump", *args)
        assert swift[0] == java[0] == 2, args
        if args and "extra" not in args:
            assert swift[2] == java[2], args


# -- snapshot-compare ----------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("thresholds", [["-b", "0", "-n", "0", "-d"], ["-b", "2", "-n", "1"],
                                        ["--bytes", "100", "--nodes", "100", "--debug"]],
                         ids=["zero-debug", "small", "large-debug"])
def test_snapshot_compare(data_dirs, kind, thresholds):
    snapshots = _files(data_dirs[kind], "snapshot")
    left, right = str(snapshots[1]), str(snapshots[-1])
    rc, out, _ = assert_same("snapshot-compare", "-l", left, "-r", right, *thresholds, normalise=_no_timings)
    assert rc == 0 and "All layers compared." in out
    assert_same("snapshot-compare", "-l", right, "-r", left, *thresholds, normalise=_no_timings)


def test_snapshot_compare_across_servers(data_dirs):
    left = str(_files(data_dirs["zookeeper"], "snapshot")[-1])
    right = str(_files(data_dirs["swiftkeeper"], "snapshot")[-1])
    assert_same("snapshot-compare", "-l", left, "-r", right, "-b", "0", "-n", "0", "-d", normalise=_no_timings)


def test_snapshot_compare_missing_options(data_dirs):
    snapshot = str(_files(data_dirs["zookeeper"], "snapshot")[-1])
    java = java_tool("snapshot-compare", "-l", snapshot, "-r", snapshot)
    swift = swift_tool("snapshot-compare", "-l", snapshot, "-r", snapshot)
    assert swift[0] == java[0] == 2
    assert swift[2].splitlines()[0] == java[2].splitlines()[0] == "Missing required options: b, n"
    # Interactive mode is refused clearly (ZooKeeper's reads commands from the terminal).
    rc, _, err = swift_tool("snapshot-compare", "-l", snapshot, "-r", snapshot, "-b", "0", "-n", "0", "-i")
    assert rc == 2 and "interactive" in err
