#!/usr/bin/env python3
"""Run kazoo's bundled test suite (kazoo.tests) against one server.

    .venv-interop/bin/python Tests/Interop/run_kazoo_suite.py [--kazoo-server=zookeeper] [pytest args...]

The server is swiftkeeper unless --kazoo-server or env KAZOO_SERVER says
otherwise; kazoo_plugin.py starts and stops it. Extra arguments go to pytest
(e.g. -x, -k test_lock, --kazoo-no-skips). Exit status is pytest's.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loopback_guard  # noqa: E402

loopback_guard.install()

import kazoo  # noqa: E402
import pytest  # noqa: E402

import kazoo_plugin  # noqa: E402


def main(argv: list[str]) -> int:
    site = Path(kazoo.__file__).resolve().parent.parent
    args = [
        "-c", os.devnull,              # ignore any pytest config files around
        f"--rootdir={site}",           # node ids: kazoo/tests/test_x.py::...
        "-p", "no:cacheprovider",      # don't write .pytest_cache into site-packages
        "-o", "timeout=180",           # pytest-timeout: one stuck test can't hang CI
        "-o", "console_output_style=count",
        "-rfEs",
        "--pyargs", "kazoo.tests",
        *argv,
    ]
    return pytest.main(args, plugins=[kazoo_plugin])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
