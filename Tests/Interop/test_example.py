"""The developers' guide example, run against a real swiftkeeper process."""

from kazoo.client import KazooClient


def test_developers_guide_example(swiftkeeper):
    zk = KazooClient(hosts=f'localhost:{swiftkeeper.port}'); zk.start()
    zk.create('/test', b'data', makepath=True)
    data, stat = zk.get('/test'); zk.set('/test', b'new data'); zk.delete('/test')
    zk.stop()

    assert data == b'data'
    assert stat.version == 0
    assert stat.dataLength == len(b'data')
    assert stat.numChildren == 0
    assert stat.ephemeralOwner == 0
    assert stat.czxid == stat.mzxid
    assert stat.created == stat.last_modified


def test_developers_guide_example_values(swiftkeeper):
    """Same steps, also checking what each call returns and leaves behind."""
    zk = KazooClient(hosts=f'localhost:{swiftkeeper.port}')
    zk.start()
    try:
        assert zk.create('/test', b'data', makepath=True) == '/test'
        data, stat = zk.get('/test')
        assert (data, stat.version) == (b'data', 0)
        new_stat = zk.set('/test', b'new data')
        assert new_stat.version == 1
        assert new_stat.dataLength == len(b'new data')
        assert new_stat.czxid == stat.czxid
        assert new_stat.mzxid > stat.mzxid
        assert zk.get('/test')[0] == b'new data'
        assert zk.delete('/test') is True
        assert zk.exists('/test') is None
    finally:
        zk.stop()
        zk.close()
