#!/usr/bin/env bash
# Benchmark SwiftKeeper against Apache ZooKeeper 3.8.0 on this machine: a standalone
# server of each and a 3-member ensemble of each, on 127.0.0.1, driven by
# `swiftkeeper bench --compare` so the two take turns round by round. Prints one
# markdown table; see scripts/bench_matrix.py for the matrix and the options.
#
#   scripts/bench.sh [--quick] [--duration S] [--warmup S] [--rounds N]
#                    [--only standalone|ensemble] [--workloads get,set,...]
#                    [--json-out FILE] [--zk-heap 4g] [--cell-timeout S] [--prime S]
#                    [--tmp-dir DIR] [--value-size N] [--keys N]
#
# Needs Debian's `zookeeper` package and a Java 17 (scripts/test.sh installs both).
# Builds .build/release/swiftkeeper first (swift build -c release --product
# swiftkeeper; a no-op when it is current). Creates .venv-interop as scripts/test.sh does if it is
# missing (the orchestrator itself needs only the standard library).
#
# Environment:
#   SWIFTKEEPER_BIN        swiftkeeper binary for the servers (default .build/release/swiftkeeper)
#   SWIFTKEEPER_BENCH_BIN  command run as `<cmd> bench ...` (default: the swiftkeeper binary)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

VENV="$REPO/.venv-interop"
REQS="$REPO/Tests/Interop/requirements.txt"

if [ -z "${SWIFTKEEPER_BIN:-}" ]; then
    # Always: a no-op when the binary is current, and figures never come from a stale one.
    swift build -c release --product swiftkeeper >&2
elif [ ! -x "$SWIFTKEEPER_BIN" ]; then
    echo "bench.sh: SWIFTKEEPER_BIN=$SWIFTKEEPER_BIN is not an executable" >&2
    exit 2
fi

if [ ! -e /usr/share/java/zookeeper.jar ] && [ -z "${ZOOKEEPER_CLASSPATH:-}" ]; then
    echo "bench.sh: Apache ZooKeeper not found: install Debian's zookeeper package (scripts/test.sh does)" >&2
    exit 2
fi

# The same venv scripts/test.sh makes and reuses (stamp = requirements' sha256).
if [ ! -x "$VENV/bin/python" ]; then
    echo "bench.sh: creating $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$REQS"
    sha256sum "$REQS" | cut -d' ' -f1 > "$VENV/.requirements.sha256"
fi

# exec: Ctrl-C and SIGTERM reach the orchestrator, which stops every server it started.
exec "$VENV/bin/python" "$REPO/scripts/bench_matrix.py" "$@"
