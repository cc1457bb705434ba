"""Start ensembles of SwiftKeeper and Apache ZooKeeper members on loopback.

    ens = Ensemble(tmp_path, ["swiftkeeper"] * 3)       # or mixed kinds,
    ens.start()                                          # "zookeeper:observer", ...
    ens.leader(), ens.members[i].hosts, ens.kill(i), ens.restart(i)
    ens.stop()

Every member gets its own dataDir with `myid`, the same `server.N` lines and
free ports on 127.0.0.1. ZooKeeper members run `QuorumPeerMain` from Debian's
package. tickTime defaults to 200 ms so elections and timeouts are quick.
"""

from __future__ import annotations

import time
from pathlib import Path

import servers
from servers import HOST, ServerProcess, free_port

QUORUM_CFG = {
    "tickTime": "200",
    "initLimit": "10",
    "syncLimit": "5",
    "4lw.commands.whitelist": "*",
    "extendedTypesEnabled": "true",
    "admin.enableServer": "false",
}


class Member:
    def __init__(self, sid: int, kind: str, observer: bool, tmp: Path, host: str = HOST):
        self.sid = sid
        self.host = host
        self.kind = kind
        self.observer = observer
        self.dir = tmp / f"{kind}-{sid}"
        self.data_dir = self.dir / "data"
        self.client_port = free_port()
        self.quorum_port = free_port()
        self.election_port = free_port()
        self.process: ServerProcess | None = None

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.client_port}"

    def server_line(self) -> str:
        role = "observer" if self.observer else "participant"
        return f"{self.host}:{self.quorum_port}:{self.election_port}:{role};{self.host}:{self.client_port}"


class Ensemble:
    def __init__(self, tmp_dir, kinds: list[str], extra_cfg: dict | None = None, distinct_hosts: bool = False,
                 member_cfg=None):
        """distinct_hosts: member N listens on 127.0.0.(N+1), so links between members can be
        cut with iptables while clients (from 127.0.0.1) still reach every member.
        member_cfg: Member -> dict of keys for that member alone (e.g. its admin port)."""
        tmp = Path(tmp_dir)
        self.members: list[Member] = []
        for index, spec in enumerate(kinds):
            kind, _, role = spec.partition(":")
            host = f"127.0.0.{index + 2}" if distinct_hosts else HOST
            self.members.append(Member(index + 1, kind, role == "observer", tmp, host))
        self.extra_cfg = dict(extra_cfg or {})
        self.member_cfg = member_cfg
        for member in self.members:
            self._configure(member)

    def _configure(self, member: Member) -> None:
        member.dir.mkdir(parents=True, exist_ok=True)
        member.data_dir.mkdir(parents=True, exist_ok=True)
        (member.data_dir / "myid").write_text(f"{member.sid}\n")
        cfg = dict(QUORUM_CFG)
        cfg.update({"dataDir": str(member.data_dir), "clientPort": member.client_port, "clientPortAddress": member.host})
        if member.observer:
            cfg["peerType"] = "observer"
        cfg.update(self.extra_cfg)
        if self.member_cfg is not None:
            cfg.update(self.member_cfg(member))
        for other in self.members:
            cfg[f"server.{other.sid}"] = other.server_line()
        cfg_path = member.dir / "zoo.cfg"
        servers._write_cfg(cfg_path, cfg)
        if member.kind == "swiftkeeper":
            argv = [servers.swiftkeeper_bin(), "server", str(cfg_path)]
            member.process = ServerProcess(
                f"swiftkeeper-{member.sid}", argv, member.client_port, member.data_dir,
                member.dir / "swiftkeeper.log", cfg_path)
        else:
            log_path = member.dir / "zookeeper.log"
            log_cfg = member.dir / "log4j.properties"
            log_cfg.write_text(servers._log4j_props(log_path))
            props = dict(servers.ZK_JVM_PROPS)
            argv = [servers._find_java(), "-Xmx256m", "-XX:+UseSerialGC", "-Xshare:auto",
                    f"-Dlog4j.configuration=file:{log_cfg}", f"-Dzookeeper.log.dir={member.dir}",
                    *[f"-D{k}={v}" for k, v in props.items()],
                    "-cp", servers.zookeeper_classpath(),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg_path)]
            member.process = ServerProcess(
                f"zookeeper-{member.sid}", argv, member.client_port, member.data_dir,
                log_path, cfg_path, stdout_path=member.dir / "zookeeper.out")

    # -- lifecycle ---------------------------------------------------------
    def start(self, timeout: float = 60.0, first: "Member | None" = None) -> "Ensemble":
        """Every member must run before any can serve: launch all, then wait. `first` is
        launched alone and given time to vote for itself, so that it wins the election
        (with equal zxids the highest sid wins, but only among the members that are up:
        a quorum of fast members elects one of them before a slow JVM starts)."""
        if first is not None:
            self._launch(first)
            self._wait_answering(first, timeout)
        for member in self.members:
            if member is not first:
                self._launch(member)
        self.wait_serving(timeout=timeout)
        return self

    def _wait_answering(self, member: Member, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if member.process.four_letter("ruok", timeout=1.0).strip() == "imok":
                    time.sleep(0.5)
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise servers.ServerStartError(f"{member.process.name} does not answer ruok\n{member.process._log_tails()}")

    def _launch(self, member: Member) -> None:
        process = member.process
        process.host = member.host
        process.hosts = member.hosts
        original = process.wait_ready
        process.wait_ready = lambda timeout=0: None  # started without waiting
        try:
            process.start()
        finally:
            process.wait_ready = original

    def wait_serving(self, members: list[Member] | None = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(members or [m for m in self.members if m.process.is_running()])
        while waiting:
            waiting = [m for m in waiting if self.mode(m) is None]
            for m in waiting:
                if not m.process.is_running():
                    raise servers.ServerStartError(f"{m.process.name} exited\n{m.process._log_tails()}")
            if not waiting:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(m.process._log_tails() for m in waiting)
                raise servers.ServerStartError(f"members {[m.sid for m in waiting]} not serving after {timeout}s\n{tails}")
            time.sleep(0.05)

    def mode(self, member: Member) -> str | None:
        """leader / follower / observer while serving, else None."""
        try:
            text = member.process.four_letter("srvr", timeout=1.0)
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("Mode: "):
                mode = line[len("Mode: "):].strip()
                return mode if mode in ("leader", "follower", "observer") else None
        return None

    def srvr_field(self, member: Member, field: str) -> str | None:
        text = member.process.four_letter("srvr", timeout=2.0)
        for line in text.splitlines():
            if line.startswith(field + ": "):
                return line[len(field) + 2:].strip()
        return None

    def modes(self) -> dict:
        return {m.sid: self.mode(m) for m in self.members if m.process.is_running()}

    def wait_stable(self, timeout: float = 30.0) -> Member:
        """Waits until the running members show one leader and everyone else following or
        observing, twice in a row (a loaded machine can cost a fresh ensemble a second
        election); returns the leader."""
        deadline = time.monotonic() + timeout
        previous = None
        while time.monotonic() < deadline:
            modes = self.modes()
            leaders = [sid for sid, mode in modes.items() if mode == "leader"]
            stable = len(leaders) == 1 and all(mode in ("leader", "follower", "observer") for mode in modes.values())
            if stable and modes == previous:
                return next(m for m in self.members if m.sid == leaders[0])
            previous = modes if stable else None
            time.sleep(0.1)
        raise AssertionError(f"no stable ensemble within {timeout:.0f}s: {self.modes()}\n{self.logs()}")

    def leader(self, timeout: float = 30.0) -> Member:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for member in self.members:
                if member.process.is_running() and self.mode(member) == "leader":
                    return member
            time.sleep(0.05)
        raise AssertionError("no leader within %.0fs" % timeout)

    def hosts(self, members: list[Member] | None = None) -> str:
        return ",".join(m.hosts for m in (members or self.members))

    def kill(self, member: Member) -> None:
        member.process.kill()

    def restart(self, member: Member, wait: bool = True) -> None:
        member.process.stop()
        self._launch(member)
        if wait:
            self.wait_serving([member])

    def stop(self) -> None:
        for member in self.members:
            if member.process is not None:
                member.process.kill()

    def logs(self) -> str:
        return "\n".join(m.process._log_tails() for m in self.members)
