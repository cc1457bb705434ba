"""Snapshots every snapCount txns, log rolls, and purging old files.

`swiftkeeper cleanup DATADIR -n N` must keep the N newest snapshots and every
log needed to replay from the oldest of them, delete the rest, and leave a
directory that both SwiftKeeper and Apache ZooKeeper load with every write.
"""

import re
import subprocess

from kazoo.client import KazooClient

import servers

WRITES = 300


def data_files(data_dir):
    files = sorted((data_dir / "version-2").iterdir())
    snaps = sorted(int(f.name.split(".")[1], 16) for f in files if f.name.startswith("snapshot."))
    logs = sorted(int(f.name.split(".")[1], 16) for f in files if f.name.startswith("log."))
    return snaps, logs


def write_and_stop(tmp_path):
    srv = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg={"snapCount": 20, "preAllocSize": 64})
    zk = KazooClient(hosts=srv.hosts)
    zk.start()
    try:
        zk.ensure_path("/purge")
        for i in range(WRITES):
            zk.create(f"/purge/n{i:04d}", str(i).encode())
    finally:
        zk.stop()
        zk.close()
    # `dirs` sums the files of the snapshot and log directories, as ZooKeeper's does.
    sizes = dict(line.split(": ") for line in srv.four_letter("dirs").splitlines())
    snaps = sum(f.stat().st_size for f in (srv.data_dir / "version-2").iterdir() if f.name.startswith("snapshot."))
    assert int(sizes["datadir_size"]) >= snaps > 0
    assert int(sizes["logdir_size"]) >= 64 * 1024
    srv.stop()
    return srv


def check_all_present(srv):
    zk = KazooClient(hosts=srv.hosts)
    zk.start()
    try:
        children = zk.get_children("/purge")
        assert len(children) == WRITES
        for i in (0, 1, WRITES // 2, WRITES - 1):
            assert zk.get(f"/purge/n{i:04d}")[0] == str(i).encode()
    finally:
        zk.stop()
        zk.close()


def test_snapshots_roll_and_cleanup_keeps_what_recovery_needs(tmp_path):
    srv = write_and_stop(tmp_path)
    snaps, logs = data_files(srv.data_dir)
    # snapCount 20 snapshots every 10..19 txns: a few dozen snapshots, one log per roll.
    assert len(snaps) >= 10, snaps
    assert len(logs) >= 10, logs

    out = subprocess.run(
        [servers.swiftkeeper_bin(), "cleanup", str(srv.data_dir), "-n", "3"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"deleted \d+ files", out.stdout), out.stdout

    kept_snaps, kept_logs = data_files(srv.data_dir)
    assert kept_snaps == snaps[-3:]
    oldest = kept_snaps[0]
    needed = [z for z in logs if z <= oldest][-1:] + [z for z in logs if z > oldest]
    assert kept_logs == needed

    srv.start()
    try:
        check_all_present(srv)
    finally:
        srv.stop()

    # Apache ZooKeeper loads the purged directory too.
    zk_srv = servers.start_zookeeper(tmp_path / "zk", data_dir=srv.data_dir)
    try:
        check_all_present(zk_srv)
    finally:
        zk_srv.stop()


def test_cleanup_refuses_fewer_than_three(tmp_path):
    out = subprocess.run(
        [servers.swiftkeeper_bin(), "cleanup", str(tmp_path), "-n", "2"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "at least 3" in out.stderr
