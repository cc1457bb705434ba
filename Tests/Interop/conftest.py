"""pytest setup shared by every test under Tests/Interop.

Importing this module installs the loopback guard (see loopback_guard.py):
no interop test may resolve a name other than localhost or connect anywhere
outside 127.0.0.0/8 and ::1.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loopback_guard  # noqa: E402

loopback_guard.install()

import pytest  # noqa: E402

import servers  # noqa: E402


@pytest.fixture
def swiftkeeper(tmp_path):
    """A fresh swiftkeeper server on a free loopback port."""
    srv = servers.start_swiftkeeper(tmp_path / "swiftkeeper")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def zookeeper(tmp_path):
    """A fresh Apache ZooKeeper (Debian package) server on a free loopback port."""
    srv = servers.start_zookeeper(tmp_path / "zookeeper")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(params=["swiftkeeper", "zookeeper"])
def server(request, tmp_path):
    """A fresh server of each kind in turn: a test taking `server` runs against both."""
    srv = servers.start_server(request.param, tmp_path / request.param)
    try:
        yield srv
    finally:
        srv.stop()
