#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# demo.sh: builds mod_autotls, then watches three port-80 sites get HTTPS from a local ACME CA
# with nothing but `AutoTLS on` (scripts/demo.py). Run as root on Debian 12; loopback only.
# Environment: AUTOTLS_BUILD (default <repo>/build).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AUTOTLS_BUILD=${AUTOTLS_BUILD:-$REPO/build}
export AUTOTLS_MODULE=${AUTOTLS_MODULE:-$AUTOTLS_BUILD/.libs/mod_autotls.so}

bash "$REPO/scripts/bootstrap.sh"
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
exec "$PYTHON" "$REPO/scripts/demo.py"
