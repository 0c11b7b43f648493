#!/usr/bin/env bash
# bstscan end to end under valgrind (scripts/test --valgrind; CI runs it): generated trees, stdin,
# every report format, a big file, a binary file, a 4 MB line, invalid UTF-8, suppressions, a
# user rule file and a symlink loop. Any memory error, or any "definitely lost" block, fails
# (valgrind exits 99); so does a wrong exit code or output. Tokens are generated here at run time.
#   tests/valgrind/scan-e2e.sh PATH/TO/bstscan
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bstscan-vg-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
vg=(valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
    --suppressions="$here/pcre2-jit.supp" --error-exitcode=99 --track-fds=no ${BS_VALGRIND_EXTRA:-})
fail() { echo "valgrind e2e: $*" >&2; exit 1; }

token() { python3 -c 'import base64, os; print("bst_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))'; }

# run EXPECTED_EXIT ARGS... : runs bstscan under valgrind in $tmp/tree, stdout to $tmp/out.
run() {
  local want=$1; shift
  local rc=0
  (cd "$tmp/tree" && "${vg[@]}" --log-file="$tmp/vg.log" "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null) || rc=$?
  if [ "$rc" = 99 ] || [ -s "$tmp/vg.log" ]; then
    cat "$tmp/vg.log" >&2
    fail "valgrind reported errors for: bstscan $*"
  fi
  [ "$rc" = "$want" ] || { cat "$tmp/err" >&2; fail "bstscan $* exited $rc, expected $want"; }
  echo "valgrind e2e: ok: bstscan $*" >&2
}

# Canary: these options must fail a program that definitely loses a block.
printf '#include <stdlib.h>\nint main(void){void *volatile p = malloc(77); p = 0; return p != 0;}\n' >"$tmp/leak.c"
cc -g -O0 -o "$tmp/leak" "$tmp/leak.c"
if "${vg[@]}" --log-file="$tmp/vg.log" "$tmp/leak"; then fail "valgrind did not fail a leaking program"; fi
grep -q "definitely lost" "$tmp/vg.log" || fail "valgrind did not report the canary's leak"

t1=$(token) t2=$(token) t3=$(token) t4=$(token)
mkdir -p "$tmp/tree/src/deep/er" "$tmp/tree/loop"
printf 'A=1\nTOKEN=%s\r\n' "$t1" >"$tmp/tree/src/app.env"
printf 'nothing here\n' >"$tmp/tree/src/clean.txt"
printf 'x = "%s"  # bstscan:allow\n' "$t2" >"$tmp/tree/src/deep/er/allowed.py"
printf '\x00\x01\x02ELF\x00%s\x00\xff\xfe' "$t3" >"$tmp/tree/src/blob.bin"
printf '\xff\xfe\xc3(\xe2\x82 caf\xc3\xa9 %s \xed\xa0\x80\n' "$t4" >"$tmp/tree/src/bad-utf8.txt"
ln -s .. "$tmp/tree/loop/up"
# A 24 MB file with a token every ~1 MB, straddling the 1 MiB chunk edges.
python3 - "$tmp/tree/big.log" "$t1" <<'PY'
import sys
tok = sys.argv[2].encode()
with open(sys.argv[1], "wb") as f:
    line = b"2026-11-27T04:00:00Z INFO request served in 12 ms path=/api/v1/items\n"
    for i in range(24):
        f.write(line * ((1 << 20) // len(line)))
        f.write(b"k=" + tok + b"\n")
PY
# A 4 MB line without a newline, a token in its middle.
python3 -c "import sys; sys.stdout.write('z' * (2 << 20) + ' $t2 ' + 'z' * (2 << 20))" >"$tmp/tree/long-line.txt"

run 1 scan --format json .
n=$(jq length "$tmp/out")
[ "$n" = 28 ] || fail "expected 28 findings (24 big.log, app.env, blob.bin, bad-utf8.txt, long-line.txt), got $n"
jq -e '[.[] | select(.path == "src/blob.bin")][0].binary == true' "$tmp/out" >/dev/null || fail "blob.bin not binary"
run 1 scan --format sarif -o "$tmp/report.sarif" src
jq -e '.runs[0].results | length == 3' "$tmp/report.sarif" >/dev/null || fail "SARIF results"
run 1 scan --format jsonl -j 1 --follow-symlinks src loop
run 1 scan --format text --no-color --show-secret src/app.env
grep -q "$t1" "$tmp/out" || fail "--show-secret"
run 1 scan --baseline-out "$tmp/baseline.json" --format json src
run 0 scan --baseline "$tmp/baseline.json" --format json src
cat >"$tmp/rules.json" <<'JSON'
{"rules": [{"id": "vg-test", "description": "valgrind test rule", "regex": "vgsecret_([a-z]{8})",
  "keywords": ["vgsecret_"], "secret_group": 1, "severity": "low",
  "examples": {"tp": ["vgsecret_abcdefgh"], "fp": ["vgsecret_ABC"]}}]}
JSON
printf 'vgsecret_abcdefgh\n' >"$tmp/tree/src/custom.txt"
run 1 scan --no-default-rules --rules "$tmp/rules.json" --format json src
[ "$(jq length "$tmp/out")" = 1 ] || fail "user rule"
printf '{"rules": [{"id": "x", "regex": "("}]}' >"$tmp/bad-rules.json"
run 2 scan --rules "$tmp/bad-rules.json" src
run 2 scan --no-such-option

# Standard input.
printf 'from stdin %s\n' "$t3" >"$tmp/stdin.txt"
rc=0
(cd "$tmp/tree" && "${vg[@]}" --log-file="$tmp/vg.log" "$bin" scan --format json --stdin-name pipe.txt - \
  <"$tmp/stdin.txt" >"$tmp/out" 2>"$tmp/err") || rc=$?
[ "$rc" = 1 ] && [ ! -s "$tmp/vg.log" ] || { cat "$tmp/vg.log" "$tmp/err" >&2; fail "stdin scan: exit $rc"; }
jq -e '.[0].path == "pipe.txt"' "$tmp/out" >/dev/null || fail "stdin path"
echo "valgrind e2e: ok: bstscan scan - (stdin)" >&2
echo "valgrind e2e: all passed" >&2
