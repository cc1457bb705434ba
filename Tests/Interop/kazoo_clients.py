"""kazoo clients for tests that stop, kill and restart servers.

`client()` reconnects quickly (every 50-500 ms, forever) and never retries a
command on its own, so a test sees each failure and decides what it means.
`close()` stops a client whatever state it is in.
"""

from __future__ import annotations

from kazoo.client import KazooClient

FAST_RECONNECT = {"max_tries": -1, "delay": 0.05, "backoff": 1.5, "max_delay": 0.5}


def client(srv, timeout: float = 10.0, **kw) -> KazooClient:
    zk = KazooClient(hosts=srv.hosts, timeout=timeout, connection_retry=dict(FAST_RECONNECT),
                     command_retry=None, **kw)
    zk.start(timeout=30)
    return zk


def close(zk: KazooClient | None) -> None:
    if zk is None:
        return
    try:
        zk.stop()
    except Exception:
        pass
    try:
        zk.close()
    except Exception:
        pass
