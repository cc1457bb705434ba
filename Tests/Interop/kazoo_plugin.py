"""pytest plugin: run kazoo's own test suite (`kazoo.tests`) against one server,
or (--kazoo-ensemble) a 3-member ensemble of them.

kazoo's harness (kazoo/testing/harness.py) normally builds a 3-node Apache
ZooKeeper cluster from ZOOKEEPER_PATH/ZOOKEEPER_CLASSPATH via
`get_global_cluster()`, and every test reaches the servers through
`KazooTestHarness.cluster` (server `.address`, `.running`, `.run()`,
`.stop()`; cluster `start()`, `terminate()`, `get_logs()`, `[0]`, iteration).

This plugin starts the server itself (swiftkeeper or zookeeper, via servers.py;
with --kazoo-ensemble three members, via ensemble.py) at session start, replaces
`harness.get_global_cluster` with a function that returns a stand-in cluster for
them (the ensemble is rebuilt when ZOOKEEPER_LOCAL_SESSION_RO changes, as kazoo's
harness rebuilds its cluster), marks the tests listed in kazoo_skips.SKIPS (or
ENSEMBLE_SKIPS) as skipped, and stops the servers at the end. The loopback guard
is installed when the plugin is imported.

Use:  python Tests/Interop/run_kazoo_suite.py --kazoo-server=zookeeper [pytest args]
  or: pytest -p kazoo_plugin --pyargs kazoo.tests --kazoo-server=swiftkeeper
      (with Tests/Interop on PYTHONPATH)
Server choice: --kazoo-server, else env KAZOO_SERVER, else swiftkeeper.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import loopback_guard  # noqa: E402

loopback_guard.install()

import pytest  # noqa: E402

import servers  # noqa: E402
from kazoo_skips import ENSEMBLE_SKIPS, SKIPS  # noqa: E402

# kazoo.tests.util reads these at import time; with CI set and
# ZOOKEEPER_VERSION set, tests trust the env instead of asking the server
# (`envi`) for its version. We want the server to be asked.
os.environ.pop("ZOOKEEPER_VERSION", None)
# test_build.py::TestBuildEnvironment::test_zookeeper_version skips itself
# unless CI is set; with CI set (and no ZOOKEEPER_VERSION) it asks the server
# for its version via `envi`. Set CI so that test runs everywhere, as the
# skip policy is "every test not in kazoo_skips.py runs". CI only affects
# that test and TestReadOnlyMode (skipped standalone, run on the ensemble) in
# kazoo 2.11.0's suite.
os.environ.setdefault("CI", "true")

# Password "test" for user "super", as kazoo's own harness configures
# (-Dzookeeper.DigestAuthenticationProvider.superDigest=...).
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="

# What kazoo's harness gives ZooKeeper, expressed as zoo.cfg keys that
# swiftkeeper reads too. ZooKeeper turns unknown zoo.cfg keys into
# "zookeeper."-prefixed system properties, so the same file works for both.
SUITE_CFG = {
    "maxClientCnxns": "0",  # the suite opens far more than 60 connections
    "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
    "znode.container.checkIntervalMs": "1000",
    "localSessionsEnabled": "false",
    "localSessionsUpgradingEnabled": "false",
}
# kazoo's harness runs its ensemble with these (quick elections and expiry).
ENSEMBLE_CFG = {
    "tickTime": "500",
    "initLimit": "10",
    "syncLimit": "5",
    # kazoo's harness runs ZooKeeper with -Dreadonlymode.enabled=true (TestReadOnlyMode).
    "readonlymode.enabled": "true",
}
# Extra JVM system properties for Apache ZooKeeper only (kazoo's harness
# passes -Dfile.encoding=UTF-8 so digest credentials decode as UTF-8).
ZK_JVM_PROPS = {
    "file.encoding": "UTF-8",
    "zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
}


def _skip_key(nodeid: str) -> str:
    """'.../site-packages/kazoo/tests/test_x.py::C::t' -> 'test_x.py::C::t'."""
    marker = "kazoo/tests/"
    i = nodeid.rfind(marker)
    return nodeid[i + len(marker):] if i >= 0 else nodeid


class ExternalServer:
    """Stands in for kazoo.testing.common.ManagedZooKeeper."""

    def __init__(self, srv: servers.ServerProcess):
        self.srv = srv
        self.host = srv.host

    @property
    def address(self) -> str:
        return self.srv.hosts

    @property
    def secure_address(self) -> str:
        raise RuntimeError("kazoo suite plugin: TLS is not configured (test should be skipped)")

    @property
    def client_port(self) -> int:
        return self.srv.port

    @property
    def running(self) -> bool:
        return self.srv.is_running()

    def run(self) -> None:
        if not self.srv.is_running():
            self.srv.start()

    def stop(self) -> None:
        self.srv.stop()

    def reset(self) -> None:
        raise RuntimeError("kazoo suite plugin: reset() would wipe the shared server")

    def destroy(self) -> None:
        # kazoo calls this from atexit; the plugin owns the server's lifetime.
        pass

    def get_logs(self, num_lines: int = 100) -> list[str]:
        lines = self.srv.log_text().splitlines(keepends=True)
        return lines[-num_lines:]


class EnsembleMember(ExternalServer):
    """A member of a real ensemble: stop() stops its process, run() starts it again and
    waits until it serves (as kazoo's ManagedZooKeeper does)."""

    def __init__(self, ensemble, member):
        super().__init__(member.process)
        self.ensemble = ensemble
        self.member = member

    def run(self) -> None:
        if not self.srv.is_running():
            self.ensemble.restart(self.member)


class ExternalCluster:
    """Stands in for kazoo.testing.common.ZookeeperCluster."""

    def __init__(self, srv: servers.ServerProcess | None = None, members: list | None = None):
        self._servers = members if members is not None else [ExternalServer(srv)]

    def __getitem__(self, k):
        return self._servers[k]

    def __iter__(self):
        return iter(self._servers)

    def __len__(self):
        return len(self._servers)

    def start(self) -> None:
        for s in self._servers:
            s.run()

    def stop(self) -> None:
        # KazooTestCase.tearDownClass calls terminate(), and setup_zookeeper
        # restarts stopped members; keep the one shared server running.
        pass

    def terminate(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def get_logs(self) -> list[str]:
        logs: list[str] = []
        for s in self._servers:
            logs.extend(s.get_logs())
        return logs

    def get_ssl_client_configuration(self):
        raise RuntimeError("kazoo suite plugin: TLS is not configured (test should be skipped)")


class KazooSuite:
    def __init__(self, config):
        self.config = config
        self.kind = (config.getoption("kazoo_server")
                     or os.environ.get("KAZOO_SERVER") or "swiftkeeper")
        self.srv: servers.ServerProcess | None = None
        self.cluster: ExternalCluster | None = None
        self.work_dir: Path | None = None
        self.unknown_skips: list[str] = []
        self.ensemble = None
        self.ensemble_local_sessions = False
        self.ensemble_starts = 0

    def start(self) -> None:
        base = os.environ.get("KAZOO_SUITE_TMP")
        if base:
            Path(base).mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"kazoo-suite-{self.kind}-", dir=base))
        if self.config.getoption("kazoo_ensemble"):
            self._start_ensemble(local_sessions=_local_sessions_asked())
        elif self.kind == "zookeeper":
            self.srv = servers.start_zookeeper(self.work_dir, SUITE_CFG, jvm_props=ZK_JVM_PROPS)
            self.cluster = ExternalCluster(self.srv)
        elif self.kind == "swiftkeeper":
            self.srv = servers.start_swiftkeeper(self.work_dir, SUITE_CFG)
            self.cluster = ExternalCluster(self.srv)
        else:
            raise pytest.UsageError(f"--kazoo-server must be swiftkeeper or zookeeper, not {self.kind!r}")

        # kazoo's client threads keep logging after a test ends, when pytest's
        # capture is gone; send that to a file instead of the terminal.
        handler = logging.FileHandler(self.work_dir / "kazoo-client.log")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        self.client_log = handler.baseFilename

        from kazoo.testing import harness

        def get_global_cluster():
            # kazoo's harness rebuilds its cluster when ZOOKEEPER_LOCAL_SESSION_RO changes
            # (TestReadOnlyMode runs with local sessions on); the ensemble does the same.
            if self.ensemble is not None and self.ensemble_local_sessions != _local_sessions_asked():
                self.ensemble.stop()
                self._start_ensemble(local_sessions=_local_sessions_asked())
            return self.cluster

        harness.get_global_cluster = get_global_cluster

    def _start_ensemble(self, local_sessions: bool) -> None:
        from ensemble import Ensemble
        cfg = dict(SUITE_CFG)
        cfg.update(ENSEMBLE_CFG)
        flag = "true" if local_sessions else "false"
        cfg["localSessionsEnabled"] = flag
        cfg["localSessionsUpgradingEnabled"] = flag
        self.ensemble_starts += 1
        work_dir = self.work_dir / f"ensemble-{self.ensemble_starts}"
        work_dir.mkdir()
        self.ensemble = Ensemble(work_dir, [self.kind] * 3, extra_cfg=cfg).start()
        self.ensemble_local_sessions = local_sessions
        self.cluster = ExternalCluster(members=[EnsembleMember(self.ensemble, m) for m in self.ensemble.members])

    def stop(self) -> None:
        if self.srv is not None:
            self.srv.stop()
        if getattr(self, "ensemble", None) is not None:
            self.ensemble.stop()


def _local_sessions_asked() -> bool:
    """kazoo's harness switch for localSessionsEnabled/localSessionsUpgradingEnabled."""
    return os.environ.get("ZOOKEEPER_LOCAL_SESSION_RO", "false").lower() == "true"


def pytest_addoption(parser):
    group = parser.getgroup("kazoo-suite")
    group.addoption("--kazoo-server", dest="kazoo_server", default=None,
                    choices=("swiftkeeper", "zookeeper"),
                    help="server to run kazoo.tests against (default: env KAZOO_SERVER or swiftkeeper)")
    group.addoption("--kazoo-ensemble", dest="kazoo_ensemble", action="store_true",
                    help="run against a 3-member ensemble of --kazoo-server members (ENSEMBLE_SKIPS apply)")
    group.addoption("--kazoo-no-skips", dest="kazoo_no_skips", action="store_true",
                    help="do not apply kazoo_skips.SKIPS (to see what those tests do)")


def pytest_configure(config):
    suite = KazooSuite(config)
    config._kazoo_suite = suite
    config.addinivalue_line("markers", "kazoo_skip: skipped by Tests/Interop/kazoo_skips.py")


def pytest_sessionstart(session):
    suite: KazooSuite = session.config._kazoo_suite
    if session.config.option.collectonly:
        return
    suite.start()


def pytest_sessionfinish(session, exitstatus):
    suite: KazooSuite = getattr(session.config, "_kazoo_suite", None)
    if suite is not None:
        suite.stop()


def pytest_collection_modifyitems(session, config, items):
    suite: KazooSuite = config._kazoo_suite
    seen = set()
    for item in items:
        key = _skip_key(item.nodeid)
        # Parametrized ids are listed without their [param] part.
        base = key.split("[", 1)[0]
        skips = ENSEMBLE_SKIPS if config.getoption("kazoo_ensemble") else SKIPS
        reason = skips.get(key) or skips.get(base)
        if reason is None:
            continue
        seen.add(key if key in skips else base)
        if not config.getoption("kazoo_no_skips"):
            item.add_marker(pytest.mark.skip(reason=f"[kazoo_skips] {reason}"))
    # A stale entry means kazoo changed; say so rather than silently skipping less.
    if not config.getoption("deselect") and not config.getoption("keyword") \
            and not config.getoption("markexpr") and _whole_suite(config):
        listed = ENSEMBLE_SKIPS if config.getoption("kazoo_ensemble") else SKIPS
        suite.unknown_skips = sorted(set(listed) - seen)


def _whole_suite(config) -> bool:
    args = [a for a in config.args if not a.startswith("-")]
    return all(a.rstrip("/") in ("kazoo.tests",) or a.endswith("kazoo/tests") for a in args)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    suite: KazooSuite = getattr(config, "_kazoo_suite", None)
    if suite is None:
        return
    tr = terminalreporter
    if suite.srv is not None:
        tr.write_sep("-", "kazoo suite server")
        tr.write_line(f"server: {suite.kind} at {suite.srv.hosts}")
        tr.write_line(f"log:    {suite.srv.log_path}")
        tr.write_line(f"client: {getattr(suite, 'client_log', '-')}")
    stats = tr.stats
    ours = [r for r in stats.get("skipped", [])
            if "[kazoo_skips]" in str(getattr(r, "longrepr", ""))]
    if suite.ensemble is not None:
        tr.write_sep("-", "kazoo suite ensemble")
        for m in suite.ensemble.members:
            tr.write_line(f"member {m.sid}: {m.kind} at {m.hosts}, log {m.process.log_path}")
    listed = ENSEMBLE_SKIPS if suite.ensemble is not None else SKIPS
    tr.write_line(f"kazoo_skips.py skips applied: {len(ours)} of {len(listed)} listed")
    if suite.unknown_skips:
        tr.write_line("WARNING: kazoo_skips.py lists tests that were not collected:", red=True)
        for k in suite.unknown_skips:
            tr.write_line(f"  {k}")
