#!/usr/bin/env bash
# Starts a demo issuer with a fresh database and prints its URL and a ready
# admin PAT (scopes leaks:check leaks:revoke pats:read pats:write).
#   server/demo.sh                  # listens on 127.0.0.1:8080
#   server/demo.sh --listen 127.0.0.1:0
# Ctrl-C stops it; the database lives in a fresh directory under $TMPDIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps"
"$root/scripts/build" >&2
exec "${BS_BUILD_DIR:-$root/build}/bstscan-server" demo "$@"
