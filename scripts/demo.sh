#!/usr/bin/env bash
# demo.sh: three sites get certificates from a real ACME CA (pebble) on loopback, via the CLI.
#
# The one idea: nothing leaves 127.0.0.1. pebble-challtestsrv answers every name with
# 127.0.0.1, so `autotls issue --standalone 127.0.0.1:<port>` answers pebble's http-01 checks
# itself; pebble's issuing root is fetched after it starts. Everything started here is stopped
# on exit, whatever happens.
#
# Environment: AUTOTLS_BUILD (default <repo>/build).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AUTOTLS_BUILD:-$REPO/build}
CLI=$BUILD/tools/autotls
START_TIMEOUT=60  # seconds for pebble to come up
ISSUE_TIMEOUT=60  # seconds per certificate

bash "$REPO/scripts/bootstrap.sh"

PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
WORK=$(mktemp -d /tmp/autotls-demo.XXXXXX)
PEBBLE_PID=

cleanup() {
    if [[ -n $PEBBLE_PID ]]; then
        kill "$PEBBLE_PID" 2>/dev/null || true
        wait "$PEBBLE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(cd "$REPO/tests/integration" && "$PYTHON" -c 'import pebble; print(pebble.free_port())')
"$PYTHON" "$REPO/tests/integration/pebble.py" serve --http01-port "$PORT" \
    --info "$WORK/pebble.env" >"$WORK/pebble-serve.log" 2>&1 &
PEBBLE_PID=$!

for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    [[ -f $WORK/pebble.env ]] && break
    if ! kill -0 "$PEBBLE_PID" 2>/dev/null; then
        cat "$WORK/pebble-serve.log" >&2
        echo "demo: pebble did not start" >&2
        exit 1
    fi
    sleep 0.1
done
[[ -f $WORK/pebble.env ]] || { echo "demo: pebble did not start in ${START_TIMEOUT}s" >&2; exit 1; }
# shellcheck disable=SC1091  # written just now by pebble.py serve
source "$WORK/pebble.env"
echo "ACME CA (pebble) at $PEBBLE_DIRECTORY; http-01 answered on 127.0.0.1:$PORT"
echo

STORE=$WORK/store
issue() {
    "$CLI" issue --ca "$PEBBLE_DIRECTORY" --ca-cert "$PEBBLE_CA_CERT" --store "$STORE" \
        --standalone "127.0.0.1:$PORT" --timeout "$ISSUE_TIMEOUT" "$@"
}
issue www.example.test
issue blog.example.test news.example.test
issue --key-type rsa2048 shop.example.test
echo

"$CLI" show --store "$STORE" --json | "$PYTHON" -c '
import json, sys
rows = [("site", "names", "issuer", "expires")]
for e in json.load(sys.stdin):
    rows.append((e["site"], ",".join(e["names"]), e["issuer"], e["not_after"]))
widths = [max(len(r[i]) for r in rows) for i in range(4)]
for r in rows:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
'
echo
for site in www.example.test blog.example.test shop.example.test; do
    if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted <(sed '1,/END CERTIFICATE/d' \
        "$STORE/live/$site/fullchain.pem") "$STORE/live/$site/fullchain.pem" >/dev/null; then
        echo "$site: chain verifies to this run's pebble root"
    else
        echo "$site: chain does NOT verify to this run's pebble root" >&2
        exit 1
    fi
done
