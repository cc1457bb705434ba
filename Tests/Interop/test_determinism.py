"""No Dictionary or Set order reaches what the server does. Swift seeds its hashing per
process, so the same scenario run in two processes must print the same bytes: a scripted
standalone replica (connections from a few addresses, watches fired together, every
four-letter word, reconnects, mass expiry, a failed log) and simulator traces of whole
ensembles."""

import os
import subprocess

import pytest

import servers


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "SWIFT_DETERMINISTIC_HASHING"}
    result = subprocess.run([servers.swiftkeeper_bin(), "sim", *args], capture_output=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result.stdout


def test_standalone_scenario_prints_the_same_bytes_in_two_processes():
    first, second = run("--standalone-scenario"), run("--standalone-scenario")
    assert first == second
    text = first.decode()
    for section in ("# cons on", "# dump on", "# wchp on", "# log failed", "# tick"):
        assert section in text
    assert text.count("sendNotification") > 50
    assert text.count("createSession") >= 40


@pytest.mark.parametrize("seed", [3, 11])
def test_simulator_trace_is_the_same_in_two_processes(seed):
    args = ("--seed", str(seed), "--trace", "--ticks", "40")
    assert run(*args) == run(*args)
