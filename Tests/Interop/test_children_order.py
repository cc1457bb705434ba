"""getChildren lists names in Apache ZooKeeper's order (its HashSet iteration order), not
sorted: the same creates and deletes give the same lists on both servers, through
getChildren, getChildren2 and after a restart (which reloads from the snapshot and log)."""

from __future__ import annotations

import random

from kazoo.client import KazooClient

import servers


def _workload(client: KazooClient, seed: int) -> list:
    rng = random.Random(seed)
    lists = []
    for trial in range(30):
        base = f"/t{trial}"
        client.create(base)
        n = rng.choice([1, 3, 6, 7, 12, 13, 25, 49, 100, 300])
        names = [rng.choice(["n", "lock-", "x", "member_", ""]) + str(rng.randrange(10 ** rng.randrange(1, 10)))
                 for _ in range(n)]
        names += [f"seq-{i:010d}" for i in range(rng.randrange(0, 40))]
        live = []
        for name in names:
            if name in live:
                continue
            client.create(f"{base}/{name}")
            live.append(name)
            if rng.random() < 0.2:
                victim = rng.choice(live)
                client.delete(f"{base}/{victim}")
                live.remove(victim)
        lists.append(client.get_children(base))
        lists.append(client.get_children(base, include_data=True)[0])
    lists.append(client.get_children("/"))
    lists.append(client.get_children("/zookeeper"))
    return lists


def _lists(srv) -> list:
    client = KazooClient(hosts=srv.hosts)
    client.start()
    try:
        return [client.get_children(f"/t{trial}") for trial in range(30)]
    finally:
        client.stop()


def test_children_come_in_zookeepers_order(tmp_path):
    sk = servers.start_swiftkeeper(tmp_path / "sk")
    zk = servers.start_zookeeper(tmp_path / "zk")
    try:
        results = []
        for srv in (sk, zk):
            client = KazooClient(hosts=srv.hosts)
            client.start()
            results.append(_workload(client, seed=7))
            client.stop()
        differing = [i for i, (a, b) in enumerate(zip(*results)) if a != b]
        assert not differing, f"{len(differing)} lists differ, e.g. {results[0][differing[0]][:8]} vs {results[1][differing[0]][:8]}"
        assert any(lst != sorted(lst) for lst in results[1]), "the workload never produced an unsorted list"
        # After a restart both reload in their snapshot's and log's order.
        sk.restart()
        zk.restart()
        assert _lists(sk) == _lists(zk)
    finally:
        sk.stop()
        zk.stop()
