"""Start and stop single SwiftKeeper or Apache ZooKeeper servers for interop tests.

Every server listens on 127.0.0.1 only, on a port picked by ``free_port()``,
and keeps its data and log under the directory the caller passes in.

    srv = start_swiftkeeper(tmp_path)          # or start_zookeeper(tmp_path)
    KazooClient(hosts=srv.hosts) ...
    srv.stop()

Both starters take `data_dir=` to run on an existing data directory instead of
`<tmp_dir>/data` (both servers read and write ZooKeeper's on-disk format, so one
can be started on the directory the other left behind), and both take
`argv_prefix=` to run the server under a wrapper such as strace or taskset. The
wrapper must leave the server as the spawned process (taskset execs it; for
strace use `-D`), so that stop() and kill() signal the server itself.

Environment:
    SWIFTKEEPER_BIN       swiftkeeper binary (default <repo>/.build/release/swiftkeeper)
    ZOOKEEPER_CLASSPATH   classpath for Apache ZooKeeper (default: Debian's jars)
    ZOOKEEPER_JAVA        java binary for Apache ZooKeeper (default: a Java 17)
    INTEROP_PID_DIR       if set, a file <pid>.pid is kept there while a server
                          runs, so a wrapper script can kill strays by pid
    INTEROP_START_TIMEOUT seconds to wait for `ruok` -> `imok` (default 20)
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("INTEROP_START_TIMEOUT", "20"))
STOP_GRACE = 5.0

BASE_CFG = {
    "tickTime": "2000",
    "4lw.commands.whitelist": "*",
    "extendedTypesEnabled": "true",
}

_live: "weakref.WeakSet[ServerProcess]" = weakref.WeakSet()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _set_pdeathsig() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGKILL the server
    # if the process that started it dies, so no server outlives a crashed run.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _write_cfg(path: Path, cfg: Mapping[str, object]) -> None:
    body = "".join(f"{k}={v}\n" for k, v in cfg.items())
    path.write_text(body)


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    """One server process; same port and data dir across restarts."""

    def __init__(self, name: str, argv: list[str], port: int, data_dir: Path,
                 log_path: Path, cfg_path: Path, stdout_path: Path | None = None,
                 env: Mapping[str, str] | None = None):
        self.name = name
        self.host = HOST
        self.port = port
        self.hosts = f"{HOST}:{port}"
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.cfg_path = Path(cfg_path)
        # Where the process's stdout/stderr go (== log_path for swiftkeeper).
        self.stdout_path = Path(stdout_path) if stdout_path else self.log_path
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen | None = None
        self._pidfile: Path | None = None

    # -- lifecycle ---------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        if self.is_running():
            raise RuntimeError(f"{self.name} on {self.hosts} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=self.env,
                preexec_fn=_set_pdeathsig, close_fds=True)
        finally:
            out.close()
        _live.add(self)
        pid_dir = os.environ.get("INTEROP_PID_DIR")
        if pid_dir:
            try:
                Path(pid_dir).mkdir(parents=True, exist_ok=True)
                self._pidfile = Path(pid_dir) / f"{self.proc.pid}.pid"
                self._pidfile.write_text(f"{self.proc.pid} {self.name} {self.hosts}\n")
            except OSError:
                self._pidfile = None
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise ServerStartError(
                    f"{self.name} exited with status {code} before answering ruok\n"
                    f"argv: {' '.join(self.argv)}\n{self._log_tails()}")
            try:
                last = self.four_letter("ruok", timeout=1.0)
                if last.strip() == "imok" and self._serving():
                    return
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.name} on {self.hosts} did not answer imok within {timeout:.0f}s "
            f"(last: {last!r})\nargv: {' '.join(self.argv)}\n{self._log_tails()}")

    def _serving(self) -> bool:
        # ZooKeeper answers imok while it is still loading its database; its
        # `srvr` then says it is not serving yet. A server that does not know
        # `srvr` (or drops the connection) counts as serving once it said imok.
        try:
            return "not currently serving" not in self.four_letter("srvr", timeout=1.0)
        except OSError:
            return True

    def _log_tails(self) -> str:
        parts = [f"--- tail of {self.log_path} ---\n{_tail(self.log_path)}"]
        if self.stdout_path != self.log_path:
            parts.append(f"--- tail of {self.stdout_path} ---\n{_tail(self.stdout_path)}")
        return "\n".join(parts)

    def _reap(self) -> None:
        if self._pidfile is not None:
            try:
                self._pidfile.unlink()
            except OSError:
                pass
            self._pidfile = None
        _live.discard(self)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds. Idempotent."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            except ProcessLookupError:
                pass
        self._reap()

    def kill(self) -> None:
        """SIGKILL at once. Idempotent."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            p.wait()
        self._reap()

    def restart(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        self.stop()
        return self.start(timeout)

    # -- helpers -----------------------------------------------------------
    def four_letter(self, cmd: str, timeout: float = 5.0) -> str:
        """Send a four letter word and return everything read until EOF."""
        data = cmd.encode("ascii")
        if len(data) != 4:
            raise ValueError(f"four letter word must be 4 bytes: {cmd!r}")
        chunks = []
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(data)
            while True:
                buf = s.recv(65536)
                if not buf:
                    break
                chunks.append(buf)
        return b"".join(chunks).decode("utf-8", errors="replace")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<ServerProcess {self.name} {self.hosts} pid={self.pid} {state}>"


@atexit.register
def _stop_all() -> None:
    for srv in list(_live):
        try:
            srv.kill()
        except Exception:
            pass


# -- SwiftKeeper ---------------------------------------------------------------

def swiftkeeper_bin() -> str:
    return os.environ.get("SWIFTKEEPER_BIN") or str(REPO_ROOT / ".build" / "release" / "swiftkeeper")


def _prepare(tmp_dir, extra_cfg: Mapping[str, object] | None, more: Mapping[str, object],
             data_dir=None):
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir) if data_dir is not None else tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg: dict[str, object] = {
        "tickTime": BASE_CFG["tickTime"],
        "dataDir": str(data_dir),
        "clientPort": port,
        "clientPortAddress": HOST,
        "4lw.commands.whitelist": BASE_CFG["4lw.commands.whitelist"],
        "extendedTypesEnabled": BASE_CFG["extendedTypesEnabled"],
        # Both servers start an AdminServer on 0.0.0.0:8080 by default; tests that want
        # one pass admin.* keys with a free port on 127.0.0.1.
        "admin.enableServer": "false",
    }
    cfg.update(more)
    if extra_cfg:
        cfg.update(extra_cfg)
    cfg_path = tmp / "zoo.cfg"
    _write_cfg(cfg_path, cfg)
    return tmp, data_dir, port, cfg_path


def start_swiftkeeper(tmp_dir, extra_cfg: Mapping[str, object] | None = None,
                      timeout: float = START_TIMEOUT, data_dir=None,
                      argv_prefix: Iterable[str] | None = None,
                      env: Mapping[str, str] | None = None,
                      argv_suffix: Iterable[str] | None = None) -> ServerProcess:
    """Start swiftkeeper with its zoo.cfg and log in `tmp_dir`.

    data_dir:    the dataDir to use (default `<tmp_dir>/data`); may hold data
                 written earlier by swiftkeeper or Apache ZooKeeper.
    argv_prefix: words put before the binary, e.g. ["strace", "-D", "-f", ...].
    env:         variables added to this process's environment for the server
                 (e.g. LD_PRELOAD for libfaketime).
    argv_suffix: options after the zoo.cfg path, e.g. ["--log-level", "debug"].
    """
    tmp, data_dir, port, cfg_path = _prepare(tmp_dir, extra_cfg, {}, data_dir)
    binary = swiftkeeper_bin()
    if not os.access(binary, os.X_OK):
        raise ServerStartError(
            f"swiftkeeper binary not found or not executable: {binary} "
            "(build it with `swift build -c release --product swiftkeeper` or set SWIFTKEEPER_BIN)")
    argv = [*(argv_prefix or ()), binary, "server", str(cfg_path), *(argv_suffix or ())]
    srv = ServerProcess("swiftkeeper", argv, port,
                        data_dir, tmp / "swiftkeeper.log", cfg_path,
                        env={**os.environ, **env} if env else None)
    return srv.start(timeout)


# -- Apache ZooKeeper ----------------------------------------------------------

ZK_JVM_PROPS = {
    "zookeeper.extendedTypesEnabled": "true",
    "znode.container.checkIntervalMs": "1000",
    "zookeeper.admin.enableServer": "false",
}


def _find_java() -> str:
    env = os.environ.get("ZOOKEEPER_JAVA")
    if env:
        return env
    for cand in sorted(glob.glob("/usr/lib/jvm/java-17-openjdk-*/bin/java")):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("java") or "java"


def zookeeper_classpath() -> str:
    env = os.environ.get("ZOOKEEPER_CLASSPATH")
    if env:
        return env
    java_dir = Path("/usr/share/java")
    main = java_dir / "zookeeper.jar"
    if not main.exists():
        raise ServerStartError("Apache ZooKeeper not found: install Debian package `zookeeper`")
    # zookeeper.jar's manifest Class-Path names its dependencies (netty, jute,
    # slf4j-api, ...). We add the log4j 1.2 binding so logs go to our file.
    # Jetty, the servlet API and Jackson carry the AdminServer (Debian's libzookeeper-java
    # depends on them; the manifest does not name them).
    jars = [main]
    for extra in ("slf4j-log4j12.jar", "log4j-1.2.jar", "jetty9-server.jar", "jetty9-servlet.jar",
                  "jetty9-util.jar", "jetty9-http.jar", "jetty9-io.jar", "jetty9-security.jar",
                  "servlet-api.jar", "jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar"):
        if (java_dir / extra).exists():
            jars.append(java_dir / extra)
    return ":".join(str(j) for j in jars)


def _log4j_props(log_file: Path) -> str:
    return (
        "log4j.rootLogger=INFO, FILE\n"
        "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
        f"log4j.appender.FILE.File={log_file}\n"
        "log4j.appender.FILE.Append=true\n"
        "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
    )


def start_zookeeper(tmp_dir, extra_cfg: Mapping[str, object] | None = None,
                    timeout: float = START_TIMEOUT,
                    jvm_props: Mapping[str, object] | None = None,
                    jvm_args: Iterable[str] = (), data_dir=None,
                    argv_prefix: Iterable[str] | None = None) -> ServerProcess:
    """Start Apache ZooKeeper with its zoo.cfg and logs in `tmp_dir`.

    data_dir:    the dataDir to use (default `<tmp_dir>/data`); may hold data
                 written earlier by ZooKeeper or swiftkeeper.
    argv_prefix: words put before the java binary, e.g. ["taskset", "-c", "0"].
    """
    tmp, data_dir, port, cfg_path = _prepare(
        tmp_dir, extra_cfg, {"admin.enableServer": "false"}, data_dir)
    log_path = tmp / "zookeeper.log"
    log_cfg = tmp / "log4j.properties"
    log_cfg.write_text(_log4j_props(log_path))
    props = dict(ZK_JVM_PROPS)
    if jvm_props:
        props.update(jvm_props)
    argv = [*(argv_prefix or ()), _find_java(), "-Xmx512m", "-XX:+UseSerialGC", "-Xshare:auto",
            f"-Dlog4j.configuration=file:{log_cfg}",
            f"-Dzookeeper.log.dir={tmp}",
            *[f"-D{k}={v}" for k, v in props.items()],
            *jvm_args,
            "-cp", zookeeper_classpath(),
            "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg_path)]
    srv = ServerProcess("zookeeper", argv, port, data_dir, log_path, cfg_path,
                        stdout_path=tmp / "zookeeper.out")
    return srv.start(timeout)


def start_server(kind: str, tmp_dir, extra_cfg=None, **kw) -> ServerProcess:
    """start_swiftkeeper or start_zookeeper, by name."""
    if kind == "swiftkeeper":
        return start_swiftkeeper(tmp_dir, extra_cfg, **kw)
    if kind == "zookeeper":
        return start_zookeeper(tmp_dir, extra_cfg, **kw)
    raise ValueError(f"unknown server kind {kind!r} (swiftkeeper or zookeeper)")
