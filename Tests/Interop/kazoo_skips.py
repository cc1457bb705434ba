"""kazoo 2.11.0 tests (`pytest --pyargs kazoo.tests`) skipped by kazoo_plugin.py.

Keys are test ids relative to kazoo/tests/ ("test_x.py::Class::test_name");
values say why the test cannot run against ONE already-running standalone
server. Only tests that stop/restart servers, need a multi-server ensemble,
TLS, SASL or Kerberos belong here; every other kazoo test must run.
"""

_QUEUING = ("stops the server (cluster[0].stop()) with a request queued and "
            "restarts it on the same port; the plugin keeps one shared server running")
_HOST_LIST = ("needs a 3-server ensemble: grows the client's host list to all "
              "servers, stops cluster[0] and expects the client to stay connected")
_SASL_DIGEST = ("SASL DIGEST-MD5: needs a JAAS login config (ZOOKEEPER_JAAS_AUTH=digest) "
                "and kazoo's harness restarting the cluster with it")
_GSSAPI = "SASL GSSAPI/Kerberos: needs a KDC (KRB5_TEST_ENV) and a keytab for the server"
_RECONFIG = ("dynamic reconfiguration (reconfig op): a standalone server has no ensemble "
             "to reconfigure, and SwiftKeeper's ensembles do not implement reconfig yet")

SKIPS: dict[str, str] = {
    # -- stop/restart the server ------------------------------------------------
    "test_client.py::TestClient::test_request_queuing_session_recovered": _QUEUING,
    "test_client.py::TestClient::test_request_queuing_session_expired": _QUEUING,
    "test_gevent_handler.py::TestGeventClient::test_request_queuing_session_recovered": _QUEUING,
    "test_gevent_handler.py::TestGeventClient::test_request_queuing_session_expired": _QUEUING,
    "test_eventlet_handler.py::TestEventletClient::test_request_queuing_session_recovered": _QUEUING,
    "test_eventlet_handler.py::TestEventletClient::test_request_queuing_session_expired": _QUEUING,
    # -- multi-server ensemble --------------------------------------------------
    "test_client.py::TestClient::test_update_host_list": _HOST_LIST,
    "test_gevent_handler.py::TestGeventClient::test_update_host_list": _HOST_LIST,
    "test_eventlet_handler.py::TestEventletClient::test_update_host_list": _HOST_LIST,
    "test_connection.py::TestReadOnlyMode::test_read_only": (
        "needs a 3-server ensemble with read-only mode: stops cluster[1] and cluster[2] "
        "and expects the survivor to serve read-only (CONNECTED_RO)"),
    "test_client.py::TestReconfig::test_no_super_auth": _RECONFIG,
    "test_client.py::TestReconfig::test_add_remove_observer": _RECONFIG,
    "test_client.py::TestReconfig::test_bad_input": _RECONFIG,
    # -- TLS --------------------------------------------------------------------
    "test_client.py::TestSSLClient::test_create": (
        "TLS: needs secureClientPort with kazoo's generated keystore/truststore"),
    # -- SASL / Kerberos --------------------------------------------------------
    "test_sasl.py::TestLegacySASLDigestAuthentication::test_connect_sasl_auth": _SASL_DIGEST,
    "test_sasl.py::TestLegacySASLDigestAuthentication::test_invalid_sasl_auth": _SASL_DIGEST,
    "test_sasl.py::TestSASLDigestAuthentication::test_connect_sasl_auth": _SASL_DIGEST,
    "test_sasl.py::TestSASLDigestAuthentication::test_invalid_sasl_auth": _SASL_DIGEST,
    "test_sasl.py::TestSASLGSSAPIAuthentication::test_connect_gssapi_auth": _GSSAPI,
    "test_sasl.py::TestSASLGSSAPIAuthentication::test_invalid_gssapi_auth": _GSSAPI,
}


# Against a real 3-member ensemble (`--kazoo-ensemble`): the tests that stop and restart
# servers, grow the host list and use read-only mode run; what needs TLS, SASL or
# reconfig stays skipped.
_ENSEMBLE_RUNS = {
    key for key, reason in SKIPS.items() if reason in (_QUEUING, _HOST_LIST)
} | {"test_connection.py::TestReadOnlyMode::test_read_only"}
ENSEMBLE_SKIPS: dict[str, str] = {key: reason for key, reason in SKIPS.items() if key not in _ENSEMBLE_RUNS}
