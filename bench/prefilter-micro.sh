#!/usr/bin/env bash
# Builds and runs the prefilter microbenchmark on ~200 MB of source text
# (C headers and Python/Perl sources found on this machine, repeated).
# and on the keywords of the rule pack (rules/*.json).
# Usage: bench/prefilter-micro.sh [MB]   (BSTSCAN_PREFILTER=scalar|ssse3|avx2 forces a strategy;
# CORPUS=file uses another corpus, e.g. the files of a bench tree concatenated; CHUNK=12288 scans
# file-sized pieces copied to a hot buffer, as the scanner sees them)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/bstscan-prefilter-bench
mkdir -p "$out"
corpus=${CORPUS:-$out/corpus.txt}
if [ ! -s "$corpus" ]; then
  { find /usr/include -name '*.h' -type f -print0 | xargs -0 cat
    find /usr/lib/python3* /usr/share/perl* -type f \( -name '*.py' -o -name '*.pm' \) -print0 2>/dev/null | xargs -0 cat
  } > "$corpus" 2>/dev/null || true
fi
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root" -o "$out/prefilter-micro${TAG:-}" \
  "$root/bench/prefilter-micro.c" "$root/scanner/prefilter.c" "$root/common/buf.c" "$root/common/error.c" "$root/common/secure.c" -lcrypto
# The keywords of the rule pack in rules/*.json, as "c<TAB>kw" or "i<TAB>kw" lines.
/usr/bin/python3 - "$root/rules" > "$out/rule-keywords.txt" <<'PY'
import glob, json, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    with open(path) as f:
        for rule in json.load(f)["rules"]:
            for kw in rule.get("keywords", []):
                print(("i" if rule.get("keywords_nocase") else "c") + "\t" + kw)
PY
"$out/prefilter-micro${TAG:-}" "$corpus" "${1:-200}" "$out/rule-keywords.txt"
