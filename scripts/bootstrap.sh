#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bootstrap.sh: makes a fresh Debian 12 (as root) ready to build and test mod_autotls, then builds.
#
# The one idea: run it as often as you like. It installs only missing packages, regenerates the
# build system only when configure is missing or older than its inputs, configures only when the
# build dir is not configured for the current configure, and always ends with `make`. Quiet on
# success; on any failure it prints the failing step's log tail and exits non-zero.
#
# Environment: AUTOTLS_BUILD (default <repo>/build), AUTOTLS_JOBS (default 2),
# AUTOTLS_CONFIGURE_ARGS (words for configure, e.g. --enable-sanitizers; a build dir configured
# with other words is configured again).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AUTOTLS_BUILD:-$REPO/build}
JOBS=${AUTOTLS_JOBS:-2}
CONFIGURE_ARGS=${AUTOTLS_CONFIGURE_ARGS:-}
CONFIGURE_STAMP=.autotls-configure-args  # in the build dir: the words it was configured with
LOG_TAIL_LINES=60
PACKAGES=(apache2 apache2-dev libssl-dev libjansson-dev libcurl4-openssl-dev check pebble
          python3-pytest autoconf automake libtool pkg-config openssl curl ca-certificates valgrind
          libasan8 libubsan1 clang libclang-rt-14-dev  # sanitizer build; fuzz targets
          apache2-ssl-dev debhelper dpkg-dev lintian man-db)  # the Debian package and its test
# promtool (Debian ships it in prometheus): tests/integration/test_status.py checks the metrics
PACKAGES+=(prometheus)
# the Redis store (issue 13): hiredis to build, redis-server for the tests (each starts its own
# on a free loopback port; the system service is not wanted: stop_system_redis)
PACKAGES+=(libhiredis-dev redis-server)

die() {
    echo "bootstrap: $*" >&2
    exit 1
}

# quietly LOG CMD...: runs CMD with its output in LOG; on failure shows the tail and dies.
quietly() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        echo "bootstrap: failed: $*" >&2
        tail -n "$LOG_TAIL_LINES" "$log" >&2
        die "see $log"
    fi
}

missing_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || echo "$p"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root to install them"
    local log
    log=$(mktemp /tmp/autotls-apt.XXXXXX)
    export DEBIAN_FRONTEND=noninteractive
    quietly "$log" apt-get update
    quietly "$log" apt-get install -y -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "${missing[@]}"
    rm -f "$log"
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

# True when configure must be regenerated: missing, or older than one of its inputs.
needs_autoreconf() {
    local f
    [[ -x $REPO/configure && -f $REPO/Makefile.in ]] || return 0
    for f in configure.ac Makefile.am m4/*.m4; do
        [[ -e $REPO/$f && $REPO/$f -nt $REPO/configure ]] && return 0
    done
    [[ $REPO/Makefile.am -nt $REPO/Makefile.in ]] && return 0
    return 1
}

# The system account the renewal process runs as (AutoTLSUser's default): never User, whose
# uid every tenant's PHP/CGI code shares. Created like Debian's package does (no home, no shell).
ACME_USER=autotls
ensure_acme_user() {
    id -u "$ACME_USER" >/dev/null 2>&1 && return 0
    [[ $(id -u) == 0 ]] || die "no system account '$ACME_USER'; run as root to create it"
    quietly "$(mktemp /tmp/autotls-useradd.XXXXXX)" useradd --system --user-group \
        --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ACME_USER"
}

build() {
    [[ -e $REPO/config.status ]] &&
        die "$REPO is configured in-tree; run 'make distclean' there (builds go out of tree)"
    mkdir -p "$BUILD"
    local log=$BUILD/bootstrap.log
    if needs_autoreconf; then
        quietly "$log" bash -c "cd '$REPO' && autoreconf -fi"
    fi
    if [[ ! -f $BUILD/Makefile || ! -f $BUILD/config.status ||
          $REPO/configure -nt $BUILD/config.status ||
          $(cat "$BUILD/$CONFIGURE_STAMP" 2>/dev/null) != "$CONFIGURE_ARGS" ]]; then
        rm -f "$BUILD/$CONFIGURE_STAMP"
        # shellcheck disable=SC2086  # CONFIGURE_ARGS is a list of words on purpose
        quietly "$log" bash -c "cd '$BUILD' && '$REPO/configure' $CONFIGURE_ARGS"
        printf '%s\n' "$CONFIGURE_ARGS" >"$BUILD/$CONFIGURE_STAMP"
    fi
    quietly "$log" make -C "$BUILD" -j"$JOBS"
    [[ -x $BUILD/tools/autotls ]] || die "build finished without $BUILD/tools/autotls"
}

# Installing redis-server starts and enables Debian's service on 6379 where services may start:
# the tests start their own, so a service this script brought in is stopped and disabled.
stop_system_redis() {
    [[ -n ${REDIS_NEWLY_INSTALLED:-} ]] || return 0
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl disable --now redis-server >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        service redis-server stop >/dev/null 2>&1 || true
    fi
}
[[ $(dpkg-query -W -f='${Status}' redis-server 2>/dev/null || true) == "install ok installed" ]] ||
    REDIS_NEWLY_INSTALLED=1

install_packages
ensure_acme_user
stop_system_redis
build
