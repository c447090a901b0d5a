#!/usr/bin/env bash
# Run Redis 7.0's own TCL test suite (tests/ of Debian's redis source package,
# the same 7.0.15 as the redis-server the pytest suite compares against) on Ferrous.
#
#   tools/redis-test-suite.sh [--spawn] [--redis] [unit ...]
#
# Default (external mode): for each unit a fresh Ferrous is started here and the
# suite talks to it with --host/--port; tests Redis tags "external:skip" are
# skipped, as they would be against any running server. A fresh server per unit,
# because a unit that stops at an exception leaves its CONFIG SETs behind.
#
# --spawn: the suite starts its own servers from a config file, as it does for
# Redis (src/redis-server is a wrapper that runs Ferrous), so the integration/*
# units (replication, AOF, RDB, redis-cli, ...) run too.
#
# --redis: the same run against the real redis-server, for the reference counts.
#
# Without units it runs every unit of the suite's own list (test_helper.tcl).
# Each unit's log goes to $OUT (default /tmp/ferrous-redis-suite); the summary
# line per unit counts the suite's [ok], [err], [exception] and [ignore] lines.
#
# Environment: FERROUS_PY (default .venv-3.11/bin/python), REDIS_SRC (where the
# source is unpacked, default ~/.cache/ferrous/redis-7.0.15), OUT, BASEPORT.
# Needs root the first time (apt-get: tcl and the source package).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SPAWN=0
KIND=ferrous
UNITS=()
for arg in "$@"; do
    case "$arg" in
        --spawn) SPAWN=1 ;;
        --redis) KIND=redis ;;
        *) UNITS+=("$arg") ;;
    esac
done
FERROUS_PY="${FERROUS_PY:-$ROOT/.venv-3.11/bin/python}"
REDIS_SRC="${REDIS_SRC:-$HOME/.cache/ferrous/redis-7.0.15}"
OUT="${OUT:-/tmp/ferrous-redis-suite}"
BASEPORT="${BASEPORT:-31000}"
APT_SRC_FILE=/etc/apt/sources.list.d/ferrous-redis-src.sources

log() { printf '[redis-test-suite] %s\n' "$*" >&2; }

fetch_suite() {
    [[ -x "$REDIS_SRC/runtest" ]] && return
    export DEBIAN_FRONTEND=noninteractive
    command -v tclsh >/dev/null || apt-get install -y -qq tcl >/dev/null
    local codename work
    codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
    log "fetching Debian's redis source package ($codename)"
    cat > "$APT_SRC_FILE" <<EOF
# Added by Ferrous tools/redis-test-suite.sh for 'apt-get source redis'; removed on exit.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    trap 'rm -f "$APT_SRC_FILE"' EXIT
    apt-get update -qq
    work="$(mktemp -d)"
    chmod 777 "$work"
    (cd "$work" && apt-get source -qq --download-only redis) || { log "apt-get source failed"; exit 1; }
    rm -f "$APT_SRC_FILE"
    mkdir -p "$(dirname "$REDIS_SRC")"
    tar xzf "$work"/redis_7.0.*.orig.tar.gz -C "$(dirname "$REDIS_SRC")"
    rm -rf "$work"
    [[ -x "$REDIS_SRC/runtest" ]] || { log "no runtest in $REDIS_SRC"; exit 1; }
}

# src/ holds the binaries the suite runs: Debian's tools, and redis-server is
# either Debian's or a wrapper that runs Ferrous (--spawn).
prepare_binaries() {
    mkdir -p "$REDIS_SRC/src"
    local tool
    for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
        ln -sf "/usr/bin/$tool" "$REDIS_SRC/src/$tool"
    done
    rm -f "$REDIS_SRC/src/redis-server"
    if [[ $KIND == ferrous ]]; then
        cat > "$REDIS_SRC/src/redis-server" <<EOF
#!/usr/bin/env bash
export PYTHONPATH="$ROOT\${PYTHONPATH:+:\$PYTHONPATH}"
exec "$FERROUS_PY" -m ferrous "\$@"
EOF
        chmod +x "$REDIS_SRC/src/redis-server"
    else
        ln -sf /usr/bin/redis-server "$REDIS_SRC/src/redis-server"
    fi
}

default_units() {
    sed -n '/^set ::all_tests {/,/^}/p' "$REDIS_SRC/tests/test_helper.tcl" | sed '1d;$d' | tr -d ' '
}

# The suite repeats each failure in its closing summary, on lines starting "*** ".
count() { grep "49m$1" "$2" | grep -vc '^\*\*\*'; }

run_unit() {
    local unit="$1" logfile="$OUT/$(echo "$1" | tr / _).log" port server_pid=""
    local -a runtest=(./runtest --single "$unit" --clients 1 --timeout 300
                      --baseport "$BASEPORT" --portcount 200)
    if ((SPAWN)); then
        (cd "$REDIS_SRC" && timeout 1800 "${runtest[@]}" --tags -slow) > "$logfile" 2>&1
    else
        [[ $unit == unit/* ]] || { log "skipping $unit: integration units need --spawn"; return; }
        port=$((BASEPORT + 300))
        mkdir -p "$OUT/dir"
        "$REDIS_SRC/src/redis-server" --port "$port" --save "" --enable-debug-command yes \
            --dir "$OUT/dir" > "$logfile.server" 2>&1 &
        server_pid=$!
        for _ in $(seq 100); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        (cd "$REDIS_SRC" && timeout 1800 "${runtest[@]}" --host 127.0.0.1 --port "$port") > "$logfile" 2>&1
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    printf '%-40s ok=%-4s err=%-3s exception=%-2s ignored=%s\n' "$unit" "$(count ok "$logfile")" \
        "$(count err "$logfile")" "$(count exception "$logfile")" "$(count ignore "$logfile")" \
        | tee -a "$OUT/summary"
}

fetch_suite
prepare_binaries
mkdir -p "$OUT"
: > "$OUT/summary"
((${#UNITS[@]})) || mapfile -t UNITS < <(default_units)
log "$KIND, $([[ $SPAWN == 1 ]] && echo 'suite-spawned servers' || echo 'external mode'); logs in $OUT"
for unit in "${UNITS[@]}"; do
    run_unit "$unit"
done
