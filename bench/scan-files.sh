#!/usr/bin/env bash
# Scan throughput against ripgrep, measured in one run on the same tree.
#
#   bench/scan-files.sh [TREE] [SIZE_MB]
#
# Without TREE it generates bench/data/tree (SIZE_MB, default 500) from the
# machine's own source files with planted tokens. Times, with a warm cache and
# the median of several runs: bstscan with only the bst_ rule, bstscan with
# the full default pack, and `rg -uuu -a` with the single bst_ regex (so both
# read every file). Prints MB/s and ratios, then peak RSS on the tree and on a
# single 2 GB file. Targets: full pack >= 1.0x rg; peak RSS < 64 MB.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
tree=${1:-}
size=${2:-500}
bin=${BSTSCAN:-$root/build/bstscan}
regex='bst_[A-Za-z0-9_-]{43}'

[ -x "$bin" ] || "$root/scripts/build"
command -v rg >/dev/null || { echo "needs ripgrep (apt-get install ripgrep)" >&2; exit 2; }
if [ -z "$tree" ]; then
  tree=$root/bench/data/tree-$size
  if [ ! -d "$tree" ]; then
    echo "generating $tree ($size MB)..." >&2
    mkdir -p "$tree"
    /usr/bin/python3 "$root/bench/gen-tree.py" "$tree" "$size" > "$tree.planted"
  fi
fi
bytes=$(du -sb "$tree" | cut -f1)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
only_bst=$(mktemp)
trap 'rm -f "$only_bst"' EXIT
cat > "$only_bst" <<JSON
[{"id": "bastionary-pat", "description": "bst_ only", "regex": "(?<![A-Za-z0-9_-])(bst_[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])",
  "keywords": ["bst_"], "secret_group": 1, "severity": "critical", "max_length": 47,
  "validators": [{"type": "last_char_in", "chars": "AEIMQUYcgkosw048"}]}]
JSON

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
once() { # prints the wall time in seconds of one run of "$@"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1 || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

echo "tree: $tree ($mb MB, $(find "$tree" -type f | wc -l) files), $runs runs each, $(nproc) CPUs"
find "$tree" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache
n_rg=$( (rg -uuu -a -c "$regex" "$tree" || true) | awk -F: '{ s += $NF } END { print s + 0 }')
n_bs=$( ("$bin" scan --format jsonl --no-default-rules --rules "$only_bst" "$tree" || true) | wc -l)
echo "matches: rg $n_rg, bstscan (bst_ rule, validated) $n_bs, planted $(cat "$tree.planted" 2>/dev/null || echo '?')"

# The three commands take turns, so a change in the machine's load hits all of them alike.
tmp_rg=$(mktemp) tmp_one=$(mktemp) tmp_all=$(mktemp)
for _ in $(seq "$runs"); do
  once rg -uuu -a -c "$regex" "$tree" >> "$tmp_rg"
  once "$bin" scan --format jsonl --no-default-rules --rules "$only_bst" "$tree" >> "$tmp_one"
  once "$bin" scan --format jsonl "$tree" >> "$tmp_all"
done
t_rg=$(median < "$tmp_rg") t_one=$(median < "$tmp_one") t_all=$(median < "$tmp_all")
rm -f "$tmp_rg" "$tmp_one" "$tmp_all"
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", b / 1048576 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
printf '%-34s %8s s %8s MB/s\n' "rg -uuu -a (bst_ regex)" "$t_rg" "$(rate "$t_rg")"
printf '%-34s %8s s %8s MB/s  ratio vs rg %s\n' "bstscan (bst_ rule only)" "$t_one" "$(rate "$t_one")" "$(ratio "$t_one" "$t_rg")"
printf '%-34s %8s s %8s MB/s  ratio vs rg %s\n' "bstscan (full pack, $("$bin" rules list --format json 2>/dev/null | grep -c '"id"' || echo '?') rules)" "$t_all" "$(rate "$t_all")" "$(ratio "$t_all" "$t_rg")"

rss() { { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1; }
echo "peak RSS, full pack, tree: $(rss "$bin" scan --format jsonl "$tree") KB"
big=$root/bench/data/big-2g.txt
if [ "${SKIP_BIG:-0}" != 1 ]; then
  if [ ! -f "$big" ]; then
    mkdir -p "$(dirname "$big")"
    { find "$tree" -type f -name '*.h' -print0 | xargs -0 cat 2>/dev/null || true; } | head -c $((256 << 20)) > "$big.part" || true
    for _ in 1 2 3 4 5 6 7 8; do cat "$big.part"; done > "$big"
    rm -f "$big.part"
  fi
  echo "peak RSS, full pack, single $(du -h "$big" | cut -f1) file: $(rss "$bin" scan --format jsonl "$big") KB"
fi
