#!/usr/bin/env bash
# Build SwiftKeeper and run every test: swift test, pytest Tests/Interop, and
# kazoo's bundled suite against a swiftkeeper process.
#
# Runs from any directory, on a fresh Debian 12 as root (installs the Debian
# `zookeeper` package, a JRE and python3-venv when missing), and as CI (CI=true).
# Every step runs even after an earlier one failed; the exit status is non-zero
# if any step failed.
#
# Environment:
#   SKIP_SWIFT_TEST=1     skip `swift test` and the simulator's regression seeds
#   INTEROP_ONLY=LIST     comma list choosing the interop steps:
#                           pytest  -> pytest Tests/Interop
#                           kazoo   -> kazoo's suite (kazoo.tests), standalone and
#                                      against a 3-member ensemble
#                           none    -> no interop step
#                           anything else is a path or node id under Tests/Interop
#                           given to pytest (e.g. test_example.py, differential)
#                         default: pytest,kazoo
#   KAZOO_SERVER=NAME     server for the kazoo suite: swiftkeeper (default) or zookeeper
#   SWIFTKEEPER_BIN=PATH  binary the interop tests start (default .build/release/swiftkeeper)
#   INTEROP_TIMEOUT=SECS  per-test timeout for pytest Tests/Interop (default 600)
#   PYTEST_ARGS="..."     extra arguments for both pytest runs (e.g. "-x -v")
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

VENV="$REPO/.venv-interop"
REQS="$REPO/Tests/Interop/requirements.txt"
export DEBIAN_FRONTEND=noninteractive

# -- stray server cleanup ---------------------------------------------------------
# servers.py writes <pid>.pid into INTEROP_PID_DIR for each server it starts and
# removes it on stop; whatever is left at exit gets SIGKILL (by pid, after
# checking the pid still belongs to a server we started).
INTEROP_PID_DIR="$(mktemp -d "${TMPDIR:-/tmp}/swiftkeeper-interop-pids.XXXXXX")"
export INTEROP_PID_DIR

cleanup() {
    local f pid cmd
    for f in "$INTEROP_PID_DIR"/*.pid; do
        [ -e "$f" ] || continue
        pid="$(basename "$f" .pid)"
        if [ -r "/proc/$pid/cmdline" ]; then
            cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
            case "$cmd" in
                *swiftkeeper*|*ZooKeeperServerMain*)
                    echo "test.sh: killing stray server pid $pid: $cmd" >&2
                    kill -9 "$pid" 2>/dev/null || true ;;
            esac
        fi
    done
    rm -rf "$INTEROP_PID_DIR"
}
# Each step runs in a background subshell that `wait` waits for, so a signal
# to this script is handled at once: the running step's process tree gets
# SIGTERM, then the EXIT trap kills any server left behind.
CURRENT_STEP_PID=""

kill_tree() {  # kill_tree PID: SIGTERM PID and its descendants (found via /proc)
    local pid="$1" f stat rest ppid child
    for f in /proc/[0-9]*/stat; do
        stat="$(cat "$f" 2>/dev/null)" || continue
        rest="${stat##*) }"
        ppid="$(echo "$rest" | cut -d' ' -f2)"
        if [ "$ppid" = "$pid" ]; then
            child="${f#/proc/}"; child="${child%/stat}"
            kill_tree "$child"
        fi
    done
    kill -TERM "$pid" 2>/dev/null || true
}

on_signal() {
    trap - INT TERM
    if [ -n "$CURRENT_STEP_PID" ]; then
        kill_tree "$CURRENT_STEP_PID"
        wait "$CURRENT_STEP_PID" 2>/dev/null || true
    fi
    exit "$1"
}

trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# -- step bookkeeping ---------------------------------------------------------------
STEP_NAMES=()
STEP_RESULTS=()
FAILED=0

step() {  # step NAME COMMAND... : run, record, never abort the script
    local name="$1"; shift
    local start end rc
    echo
    echo "==> [$name] $*"
    start=$(date +%s)
    set +e
    ( set -e; "$@" ) &
    CURRENT_STEP_PID=$!
    wait "$CURRENT_STEP_PID"
    rc=$?
    CURRENT_STEP_PID=""
    set -e
    end=$(date +%s)
    STEP_NAMES+=("$name")
    if [ "$rc" -eq 0 ]; then
        STEP_RESULTS+=("ok      $(( end - start ))s")
    else
        STEP_RESULTS+=("FAILED  $(( end - start ))s (exit $rc)")
        FAILED=1
    fi
    return 0
}

skip_step() {
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("skipped ($2)")
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

# -- steps ----------------------------------------------------------------------------
deb_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

have_java17() {
    local j
    for j in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
        [ -x "$j" ] && return 0
    done
    command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'
}

install_system_deps() {
    local missing=()
    deb_installed zookeeper || missing+=(zookeeper)
    have_java17 || missing+=(default-jre-headless)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v strace >/dev/null 2>&1 || missing+=(strace)  # test_durability_disk.py
    [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || missing+=(faketime)  # test_clocks.py
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)  # test_partitions.py
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)         # its network namespace
    command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)  # test_prometheus.py
    # venv needs ensurepip, which Debian ships separately.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "system packages present (zookeeper, Java 17, python3-venv)"
        return 0
    fi
    echo "installing: ${missing[*]}"
    as_root apt-get update
    # No package may start its service (prometheus's would listen on 0.0.0.0:9090): the
    # tests start every server themselves, on 127.0.0.1.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        created_policy=1
    fi
    local rc=0
    as_root apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
    [ -z "$created_policy" ] || as_root rm -f "$policy"
    return "$rc"
}

setup_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$REQS" | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
        echo "reusing $VENV"
        return 0
    fi
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$REQS"
    echo "$want" > "$stamp"
}

swift_build() {
    swift build -c release --product swiftkeeper
}

swift_test() {
    swift test
}

# The simulator's regression seeds (every seed that ever failed) and its self-checks: a few
# minutes in a debug build, so plain `swift test` leaves them out.
simulation_seeds() {
    SIM_SEEDS=1 swift test --filter SimulationSeedTests
}

INTEROP_PYTEST=(-p no:cacheprovider -o "timeout=${INTEROP_TIMEOUT:-600}")

pytest_interop() {
    "$VENV/bin/python" -m pytest "${INTEROP_PYTEST[@]}" ${PYTEST_ARGS:-} "$@"
}

kazoo_suite() {
    "$VENV/bin/python" "$REPO/Tests/Interop/run_kazoo_suite.py" \
        --kazoo-server="${KAZOO_SERVER:-swiftkeeper}" ${PYTEST_ARGS:-}
}

# Partitions, kill -9 and SIGSTOP against a real ensemble, in a network namespace of its
# own (needs root); the recorded history goes through the linearizability checker.
fault_tests() {
    if [ "$(id -u)" != "0" ]; then
        echo "not root: cannot make a network namespace"
        return 1
    fi
    VENV="$VENV" "$REPO/scripts/fault_tests.sh" ${PYTEST_ARGS:-}
}

# kazoo's suite again, against a real 3-member ensemble: the tests that stop and restart
# servers, fail over and use read-only mode run there.
kazoo_ensemble_suite() {
    "$VENV/bin/python" "$REPO/Tests/Interop/run_kazoo_suite.py" --kazoo-ensemble \
        --kazoo-server="${KAZOO_SERVER:-swiftkeeper}" ${PYTEST_ARGS:-}
}

# -- run ----------------------------------------------------------------------------------
step deps install_system_deps
step venv setup_venv
step build swift_build

if [ "${SKIP_SWIFT_TEST:-0}" = "1" ]; then
    skip_step swift-test "SKIP_SWIFT_TEST=1"
    skip_step simulation-seeds "SKIP_SWIFT_TEST=1"
else
    step swift-test swift_test
    step simulation-seeds simulation_seeds
fi

run_pytest=1
run_kazoo=1
pytest_paths=()
if [ -n "${INTEROP_ONLY:-}" ]; then
    run_pytest=0
    run_kazoo=0
    IFS=',' read -r -a parts <<< "$INTEROP_ONLY"
    for p in "${parts[@]}"; do
        case "$p" in
            pytest) run_pytest=1 ;;
            kazoo) run_kazoo=1 ;;
            none|"") ;;
            *) run_pytest=1; pytest_paths+=("Tests/Interop/$p") ;;
        esac
    done
fi
[ "${#pytest_paths[@]}" -gt 0 ] || pytest_paths=(Tests/Interop)

if [ "$run_pytest" = "1" ]; then
    step interop pytest_interop "${pytest_paths[@]}"
    step faults fault_tests
else
    skip_step interop "INTEROP_ONLY=$INTEROP_ONLY"
    skip_step faults "INTEROP_ONLY=$INTEROP_ONLY"
fi

if [ "$run_kazoo" = "1" ]; then
    step "kazoo-suite(${KAZOO_SERVER:-swiftkeeper})" kazoo_suite
    step "kazoo-ensemble(${KAZOO_SERVER:-swiftkeeper})" kazoo_ensemble_suite
else
    skip_step kazoo-suite "INTEROP_ONLY=$INTEROP_ONLY"
    skip_step kazoo-ensemble "INTEROP_ONLY=$INTEROP_ONLY"
fi

echo
echo "==> summary"
for i in "${!STEP_NAMES[@]}"; do
    printf '  %-26s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
done
if [ "$FAILED" -ne 0 ]; then
    echo "FAILED"
    exit 1
fi
echo "all steps passed"
