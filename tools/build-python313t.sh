#!/usr/bin/env bash
# Make a free-threaded CPython 3.13 ("python3.13t", built with --disable-gil)
# available and print the interpreter's path as the last line of stdout.
#
#   PY313T="$(tools/build-python313t.sh | tail -n1)"
#
# Idempotent: when $FERROUS_PY313T or the install prefix already holds a
# working free-threaded 3.13 it only prints the path. Otherwise it builds
# CPython from the upstream tarball that Debian ships as the orig tarball of
# trixie's python3.13 source package (Debian's archive is the only place this
# network reaches that carries CPython source), installs it under the prefix
# and verifies it.
#
# Environment:
#   FERROUS_PY313T          an existing free-threaded python3.13 to use as is
#   FERROUS_PY313T_PREFIX   install prefix (default /opt/python3.13t)
#   FERROUS_PY313T_TARBALL  a local Python-3.13.x.tar.{xz,gz} to build from,
#                           instead of fetching trixie's source package
#
# Needs root (apt-get, writing the prefix); non-interactive; progress goes to
# stderr so that stdout carries nothing but the path.
set -euo pipefail

PREFIX="${FERROUS_PY313T_PREFIX:-/opt/python3.13t}"
PY="$PREFIX/bin/python3.13t"
SRC_SUITE=trixie
APT_SRC_FILE=/etc/apt/sources.list.d/ferrous-python313t-src.sources
LOG="${TMPDIR:-/tmp}/build-python313t.log"

# Build dependencies, all from bookworm: enough for ssl (pip), sqlite3, zlib,
# bz2, lzma, ctypes, readline, uuid, curses and dbm. dpkg-dev (dpkg-source)
# is what 'apt-get source' needs to unpack a source package; this script only
# downloads, but keeping it makes a manual 'apt-get source' work as well.
BUILD_DEPS=(
    build-essential dpkg-dev pkg-config xz-utils
    libssl-dev zlib1g-dev libbz2-dev libffi-dev liblzma-dev libsqlite3-dev
    libreadline-dev uuid-dev libncurses-dev libgdbm-dev libgdbm-compat-dev
)

export DEBIAN_FRONTEND=noninteractive

log() { printf '[build-python313t] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# True when $1 is a working free-threaded CPython 3.13: built with
# Py_GIL_DISABLED, GIL actually off at run time, and ssl importable (pip
# cannot reach PyPI without it, so an interpreter lacking it is not "working").
is_free_threaded_313() {
    local py="$1"
    [[ -x "$py" ]] || return 1
    "$py" -c '
import sys, sysconfig, ssl
assert sys.version_info[:2] == (3, 13), sys.version
assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1
assert not sys._is_gil_enabled()
' >/dev/null 2>&1
}

# Print the existing interpreter (if any) and succeed, else fail.
find_existing() {
    if [[ -n "${FERROUS_PY313T:-}" ]]; then
        if is_free_threaded_313 "$FERROUS_PY313T"; then
            log "using FERROUS_PY313T=$FERROUS_PY313T"
            printf '%s\n' "$FERROUS_PY313T"
            return 0
        fi
        log "warning: FERROUS_PY313T=$FERROUS_PY313T is not a working free-threaded python3.13; ignoring it"
    fi
    if is_free_threaded_313 "$PY"; then
        log "already installed: $PY"
        printf '%s\n' "$PY"
        return 0
    fi
    return 1
}

# Set in main.
SUDO=()
APT=()
WORKDIR=""
SRCDIR=""
APT_UPDATED=""

# shellcheck disable=SC2317  # only ever called through the EXIT trap
cleanup() {
    # The deb-src entry is only needed for the download; leaving it would make
    # every later apt-get update on this machine fetch trixie's Sources too.
    if [[ -e "$APT_SRC_FILE" ]]; then
        "${SUDO[@]}" rm -f "$APT_SRC_FILE" || true
    fi
    if [[ -n "$WORKDIR" ]]; then
        rm -rf "$WORKDIR"
    fi
}

# Print the first active apt URI (deb822 "URIs:" or one-line "deb URI ...")
# whose path ends in $1, so the deb-src entry uses the same mirror as the
# machine's own sources (CI and dev machines only reach Debian's archive
# through what is configured there).
apt_uri_ending_in() {
    local suffix="$1" f
    local -a files=(/etc/apt/sources.list)
    shopt -s nullglob
    files+=(/etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    shopt -u nullglob
    for f in "${files[@]}"; do
        [[ -f "$f" && "$f" != "$APT_SRC_FILE" ]] || continue
        sed -nE \
            -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
            -e 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\3/p' \
            "$f"
    done | tr -s '[:blank:]' '\n' | sed -E 's:/+$::' | grep -E "${suffix}\$" | sed -n 1p || true
}

install_build_deps() {
    local missing=() p
    for p in "${BUILD_DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        if [[ -z "$APT_UPDATED" ]]; then
            log "apt-get update"
            "${APT[@]}" update >&2
            APT_UPDATED=1
        fi
        log "installing build deps from bookworm: ${missing[*]}"
        # Plain install, never 'apt-get build-dep' against trixie: that would
        # pull trixie binaries into a bookworm system. The deb-src entry adds
        # no binary packages, so these all resolve from bookworm.
        "${APT[@]}" install --no-install-recommends "${missing[@]}" >&2
    else
        log "build deps already installed"
    fi
}

# Download trixie's python3.13 source package into $WORKDIR/dl and extract
# its orig tarball (the untouched upstream Python-3.13.x release) into
# $WORKDIR/src. Debian's own patches are deliberately not applied: they assume
# a /usr prefix, multiarch paths and Debian's separately packaged pip wheels.
fetch_source() {
    local main_uri sec_uri keyring_line="" tarball attempt
    main_uri="$(apt_uri_ending_in /debian)"
    sec_uri="$(apt_uri_ending_in /debian-security)"
    main_uri="${main_uri:-http://deb.debian.org/debian}"
    sec_uri="${sec_uri:-http://deb.debian.org/debian-security}"
    if [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
        keyring_line="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    fi
    log "adding deb-src for $SRC_SUITE ($main_uri, $sec_uri) in $APT_SRC_FILE"
    # trixie-security too, so apt-get source picks the newest patched 3.13.
    "${SUDO[@]}" tee "$APT_SRC_FILE" >/dev/null <<EOF
# Added by Ferrous tools/build-python313t.sh for 'apt-get source python3.13';
# removed again when the script exits.
Types: deb-src
URIs: $main_uri
Suites: $SRC_SUITE $SRC_SUITE-updates
Components: main
$keyring_line

Types: deb-src
URIs: $sec_uri
Suites: $SRC_SUITE-security
Components: main
$keyring_line
EOF

    # One update covers both bookworm (for the build deps on a fresh machine,
    # whose package lists may be missing or stale) and trixie's Sources.
    log "apt-get update"
    "${APT[@]}" update >&2
    APT_UPDATED=1
    install_build_deps

    mkdir -p "$WORKDIR/dl"
    # Let apt's sandbox user write the download dir; otherwise apt falls back
    # to downloading as root and warns about it.
    if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
        chmod 755 "$WORKDIR"
        chown _apt "$WORKDIR/dl"
    fi
    # --download-only: we want the pristine orig tarball, not the patched tree.
    # Retried because a transient mirror error is the likely failure here.
    for attempt in 1 2 3; do
        log "apt-get source python3.13 (attempt $attempt)"
        if (cd "$WORKDIR/dl" && apt-get -q source --download-only python3.13 >&2); then
            break
        fi
        ((attempt < 3)) || die "apt-get source python3.13 failed; set FERROUS_PY313T_TARBALL to a local Python-3.13.x tarball to build offline"
        sleep $((attempt * 10))
        "${APT[@]}" update >&2 || true
    done
    tarball="$(find "$WORKDIR/dl" -maxdepth 1 -name 'python3.13_*.orig.tar.*' ! -name '*.asc' | sed -n 1p)"
    [[ -n "$tarball" ]] || die "no python3.13 orig tarball in $WORKDIR/dl (it holds: $(cd "$WORKDIR/dl" && echo *))"
    extract "$tarball"
}

extract() {
    local tarball="$1" dirs
    log "extracting $(basename "$tarball")"
    mkdir -p "$WORKDIR/src"
    tar -xf "$tarball" -C "$WORKDIR/src"
    mapfile -t dirs < <(find "$WORKDIR/src" -mindepth 1 -maxdepth 1 -type d)
    [[ ${#dirs[@]} -eq 1 && -x "${dirs[0]}/configure" ]] || die "unexpected tarball layout: ${dirs[*]}"
    SRCDIR="${dirs[0]}"
}

# Run a noisy build step with its output in $LOG; on failure show the tail.
run_logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        log "FAILED: $* -- last lines of $LOG:"
        tail -n 60 "$LOG" >&2
        exit 1
    fi
}

build_and_install() {
    : >"$LOG"
    cd "$SRCDIR"
    log "configure --disable-gil --prefix=$PREFIX (log: $LOG)"
    # No --enable-optimizations/--with-lto: PGO runs the test suite and would
    # multiply the build time; CPython's plain -O3 build is enough for testing.
    # ensurepip stays at its default so 'python3.13t -m pip' works.
    run_logged ./configure --disable-gil --prefix="$PREFIX"
    log "make -j$(nproc) (4-7 minutes on 2 cores)"
    local t0=$SECONDS
    run_logged make -j"$(nproc)"
    log "make took $((SECONDS - t0))s"
    # Surface optional modules that were skipped for lack of a -dev package.
    grep -E -A3 'necessary bits to build these optional modules were not found|Failed to build these modules|Following modules built successfully but were removed' "$LOG" >&2 || true
    log "make install"
    "${SUDO[@]}" mkdir -p "$PREFIX"
    run_logged "${SUDO[@]}" make install
    cd /
}

verify() {
    log "verifying $PY"
    "$PY" -c 'import sys; assert not sys._is_gil_enabled(), "GIL is enabled"'
    [[ "$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("Py_GIL_DISABLED"))')" == 1 ]] \
        || die "Py_GIL_DISABLED is not 1"
    # Modules the build deps are there for; a missing one means a -dev
    # package did not get picked up by configure.
    "$PY" -c 'import ssl, sqlite3, zlib, bz2, lzma, ctypes, readline, uuid, _uuid, curses, dbm.gnu, decimal, hashlib' \
        || die "some stdlib extension modules are missing (see $LOG)"
    "$PY" -m pip --version >&2 || die "pip is not usable"
    is_free_threaded_313 "$PY" || die "$PY failed the free-threaded check"
}

main() {
    find_existing && exit 0

    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "must run as root (or with sudo available) to install build deps and write $PREFIX"
        SUDO=(sudo -n)
    fi
    APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)

    # Serialize concurrent runs on one machine (several sessions may call this
    # at once); whoever waited re-checks, because the first run may have built it.
    exec 9>"${TMPDIR:-/tmp}/build-python313t.lock"
    if ! flock -n 9; then
        log "another build is running; waiting for it"
        flock 9
        find_existing && exit 0
    fi

    WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/build-python313t.XXXXXX")"
    trap cleanup EXIT

    local start=$SECONDS
    if [[ -n "${FERROUS_PY313T_TARBALL:-}" ]]; then
        [[ -f "$FERROUS_PY313T_TARBALL" ]] || die "FERROUS_PY313T_TARBALL=$FERROUS_PY313T_TARBALL does not exist"
        install_build_deps
        extract "$FERROUS_PY313T_TARBALL"
    else
        fetch_source
    fi
    build_and_install
    verify
    log "done in $((SECONDS - start))s: $("$PY" -VV)"
    printf '%s\n' "$PY"
}

# main and exit on one line: bash reads a script as it runs, so this makes it
# parse everything first and never execute a file edited (or checked out anew)
# during the several-minute build.
main "$@"; exit $?
