#!/usr/bin/env bash
# Runs Tests/Interop/test_partitions.py inside a network namespace of its own, where the
# test may cut links between ensemble members with iptables without touching the host's
# rules. Needs root, `ip` and `iptables`. Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$REPO/.venv-interop}"
NS="sk-faults-$$"
cleanup() {
    for pid in $(ip netns pids "$NS" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" env SK_FAULT_NETNS=1 "$VENV/bin/python" -m pytest -p no:cacheprovider \
    -o timeout=900 -q -s "$REPO/Tests/Interop/test_partitions.py" "$@"
