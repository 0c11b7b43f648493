#!/usr/bin/env bash
# Load test of `bstscan webhook serve` backed by the reference issuer (bstscan-server), on
# 127.0.0.1 only: wrk posts signed 10-token payloads for 10 s (some tokens live PATs, the rest
# unknown), then we report requests/s, p50 and p99 latency, and fail if any request failed.
#
#   bench/webhook-load.sh            (uses $BS_BUILD_DIR, else build/)
#   DURATION=30s CONNECTIONS=16 bench/webhook-load.sh
#
# Needs wrk, openssl, python3 (scripts/deps --test installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BS_BUILD_DIR:-$root/build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-8}
threads=${WRK_THREADS:-2}
payloads=${PAYLOADS:-200}
live_pats=${LIVE_PATS:-20}
for tool in wrk openssl python3; do
  command -v "$tool" >/dev/null || { echo "webhook-load: $tool is missing (scripts/deps --test)" >&2; exit 2; }
done
for bin in bstscan bstscan-server; do
  [ -x "$build/$bin" ] || { echo "webhook-load: $build/$bin is missing; build first (scripts/build)" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for "listening on URL" in a file and prints URL.
wait_url() {
  for _ in $(seq 100); do
    if grep -q '^listening on ' "$1" 2>/dev/null; then sed -n 's/^listening on //p' "$1" | head -1; return 0; fi
    sleep 0.1
  done
  echo "webhook-load: no ready line in $1" >&2; return 1
}

# The issuer, a user, the receiver's service PAT and some live PATs to be found.
"$build/bstscan-server" --listen 127.0.0.1:0 --db "$work/issuer.db" >"$work/issuer.out" 2>"$work/issuer.err" &
pids+=($!)
issuer=$(wait_url "$work/issuer.out")
admin() { "$build/bstscan-server" admin --db "$work/issuer.db" "$@"; }
echo bench-password | admin user add alice >/dev/null
service=$(admin pat create --user alice --name webhook-service --scopes leaks:check,leaks:revoke)
: >"$work/live.txt"
chmod 600 "$work/live.txt"
for i in $(seq "$live_pats"); do admin pat create --user alice --name "live-$i" --scopes leaks:check >>"$work/live.txt"; done

# The sender's key pair and key document.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/sender.pem" 2>/dev/null
openssl ec -in "$work/sender.pem" -pubout -out "$work/sender.pub" 2>/dev/null
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
doc = {"public_keys": [{"key_identifier": "bench-key", "key": open(f"{work}/sender.pub").read(), "is_current": True}]}
open(f"{work}/keys.json", "w").write(json.dumps(doc))
PY

# Signed payloads: 10 tokens each; the live PATs are spread over the first payloads.
python3 - "$work" "$payloads" <<'PY'
import base64, json, os, sys
work, n = sys.argv[1], int(sys.argv[2])
live = [l.strip() for l in open(f"{work}/live.txt") if l.strip()]
def token():
    return "bst_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
os.makedirs(f"{work}/payloads")
for i in range(n):
    toks = [live.pop() if live and j == 0 else token() for j in range(10)]
    body = json.dumps([{"token": t, "type": "bastionary_pat", "url": f"https://example.test/p/{i}", "source": "content"} for t in toks])
    open(f"{work}/payloads/{i}.json", "w").write(body)
PY
: >"$work/signed.tsv"
for f in "$work"/payloads/*.json; do
  sig=$(openssl dgst -sha256 -sign "$work/sender.pem" "$f" | base64 -w0)
  printf '%s\t%s\n' "$sig" "$(cat "$f")" >>"$work/signed.tsv"
done

# The receiver.
BSTSCAN_TOKEN="$service" "$build/bstscan" webhook serve --listen 127.0.0.1:0 --keys "$work/keys.json" \
  --server "$issuer" --threads 4 >"$work/webhook.out" 2>"$work/webhook.log" &
pids+=($!)
receiver=$(wait_url "$work/webhook.out")

cat >"$work/signed.lua" <<LUA
local payloads = {}
for line in io.lines("$work/signed.tsv") do
  local sig, body = line:match("^([^\t]+)\t(.*)$")
  payloads[#payloads + 1] = { sig = sig, body = body }
end
local i = 0
request = function()
  i = i % #payloads + 1
  local p = payloads[i]
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/json",
    ["Github-Public-Key-Identifier"] = "bench-key",
    ["Github-Public-Key-Signature"] = p.sig,
  }, p.body)
end
LUA

echo "webhook-load: wrk -t$threads -c$connections -d$duration against $receiver (issuer $issuer)" >&2
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$work/signed.lua" "$receiver" | tee "$work/wrk.out"

rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
p50=$(awk '/^ +50%/ {print $2}' "$work/wrk.out")
p99=$(awk '/^ +99%/ {print $2}' "$work/wrk.out")
total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/wrk.out")
sockerr=$(grep -c '^  Socket errors' "$work/wrk.out" || true)
logged=$(grep -c '"status":' "$work/webhook.log" || true)
failed=$(grep '"status":' "$work/webhook.log" | grep -vc '"status":200' || true)
revoked=$(grep -o '"revoke_revoked":[0-9]*' "$work/webhook.log" | awk -F: '{s += $2} END {print s + 0}')
leaked=0
while read -r t; do grep -qF "$t" "$work/webhook.log" && leaked=1; done <"$work/live.txt"

echo
echo "requests:        $total in $duration ($connections connections)"
echo "requests/s:      $rps"
echo "latency p50:     $p50"
echo "latency p99:     $p99"
echo "failed requests: ${non2xx:-0} non-2xx, $sockerr socket error line(s); receiver logged $logged, $failed not 200"
echo "live PATs revoked by the receiver: $revoked of $live_pats"
if [ "${non2xx:-0}" != 0 ] || [ "$sockerr" != 0 ] || [ "$failed" != 0 ] || [ "$leaked" != 0 ]; then
  echo "webhook-load: FAILED (requests failed, or a token reached the log)" >&2
  exit 1
fi
