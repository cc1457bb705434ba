"""Start-up against damaged data directories, and forceSync.

  * a checksum mismatch in the middle of the log stops start-up with a message
    naming the file and the offset, and exit status 1;
  * a newest snapshot that does not verify is skipped for the one before it,
    and no write is lost;
  * a torn final log entry is cut off and the server starts;
  * forceSync=no writes without fdatasync; the default syncs (counted with strace).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

import servers

NODES = 40


def _fill(srv, prefix="/r", count=NODES):
    zk = KazooClient(hosts=srv.hosts)
    zk.start()
    try:
        zk.ensure_path(prefix)
        for i in range(count):
            zk.create(f"{prefix}/n{i:03d}", str(i).encode())
    finally:
        zk.stop()
        zk.close()


def _children(srv, prefix="/r"):
    zk = KazooClient(hosts=srv.hosts)
    zk.start()
    try:
        return sorted(zk.get_children(prefix))
    finally:
        zk.stop()
        zk.close()


def _files(data_dir: Path, prefix: str):
    found = [f for f in (data_dir / "version-2").iterdir() if f.name.startswith(prefix + ".")]
    return sorted(found, key=lambda f: int(f.name.split(".")[1], 16))


def _entry_offsets(log: Path):
    """Offsets of the entries of a ZooKeeper log (16-byte header, then crc, len, payload, 'B')."""
    data = log.read_bytes()
    offsets, pos = [], 16
    while pos + 12 <= len(data):
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        if length <= 0:
            break
        offsets.append(pos)
        pos += 12 + length + 1
    return offsets, pos


def _start_fails(tmp_path, data_dir):
    cfg = tmp_path / "fail.cfg"
    cfg.write_text(f"dataDir={data_dir}\nclientPort={servers.free_port()}\nclientPortAddress=127.0.0.1\n")
    return subprocess.run([servers.swiftkeeper_bin(), "server", str(cfg)],
                          capture_output=True, text=True, timeout=60)


def test_checksum_mismatch_mid_log_stops_startup(tmp_path):
    srv = servers.start_swiftkeeper(tmp_path / "sk")
    _fill(srv)
    srv.stop()
    log = _files(srv.data_dir, "log")[-1]
    offsets, _ = _entry_offsets(log)
    victim = offsets[len(offsets) // 2]
    data = bytearray(log.read_bytes())
    data[victim + 30] ^= 0x40          # inside the txn header: the checksum no longer matches
    log.write_bytes(bytes(data))

    result = _start_fails(tmp_path, srv.data_dir)
    assert result.returncode == 1, result.stderr
    assert log.name in result.stderr and f"offset {victim}" in result.stderr, result.stderr
    assert "CRC" in result.stderr, result.stderr


def test_bad_newest_snapshot_falls_back_to_the_previous_one(tmp_path):
    srv = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg={"snapCount": 10})
    _fill(srv)
    srv.stop()
    snaps = _files(srv.data_dir, "snapshot")
    assert len(snaps) >= 3, snaps
    newest = snaps[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xff        # still ends with the seal, but the checksum fails
    newest.write_bytes(bytes(data))

    srv.start()
    try:
        assert _children(srv) == [f"n{i:03d}" for i in range(NODES)]
        assert f"skipped snapshot {newest.name}" in srv.log_text()
    finally:
        srv.stop()


def test_torn_final_entry_is_cut_off(tmp_path):
    srv = servers.start_swiftkeeper(tmp_path / "sk", extra_cfg={"preAllocSize": 64})
    zk = KazooClient(hosts=srv.hosts)
    zk.start()
    zk.ensure_path("/r")
    for i in range(NODES):
        zk.create(f"/r/n{i:03d}", str(i).encode())
    srv.kill()                          # the last logged txn is the last create
    zk.stop()
    zk.close()
    log = _files(srv.data_dir, "log")[-1]
    offsets, end = _entry_offsets(log)
    last = offsets[-1]
    data = bytearray(log.read_bytes())
    cut = last + (end - last) // 2      # half of the last entry reached the disk
    data[cut:end] = bytes(end - cut)
    log.write_bytes(bytes(data))

    srv.start()
    try:
        assert "cutting it off" in srv.log_text()
        assert log.stat().st_size == last
        # The last create was torn away; everything before it is there, and writes go on.
        assert _children(srv) == [f"n{i:03d}" for i in range(NODES - 1)]
        _fill(srv, prefix="/after", count=3)
        assert _children(srv, "/after") == ["n000", "n001", "n002"]
    finally:
        srv.stop()


def _count_fdatasync(tmp_path, extra_cfg):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace.txt"
    srv = servers.start_swiftkeeper(
        tmp_path / "sk", extra_cfg=extra_cfg,
        argv_prefix=["strace", "-D", "-f", "-qq", "-e", "trace=fdatasync", "-o", str(trace)])
    try:
        before = trace.read_text().count("fdatasync(")
        _fill(srv, count=20)
        time.sleep(0.2)
        after = trace.read_text().count("fdatasync(")
        return after - before
    finally:
        srv.stop()


def test_force_sync_no_skips_fdatasync(tmp_path):
    assert _count_fdatasync(tmp_path / "on", {}) >= 20
    assert _count_fdatasync(tmp_path / "off", {"forceSync": "no"}) == 0
