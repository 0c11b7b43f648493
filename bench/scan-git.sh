#!/usr/bin/env bash
# Full-history scan against the raw object stream and the patch walk, measured in one run on the same repository.
#
#   bench/scan-git.sh [REPO]
#
# Without REPO it generates bench/data/git-<COMMITS>-<MB>.git with git fast-import: COMMITS commits (default
# 20000) and MB megabytes of blobs (default 500), with planted bst_ tokens (COMMITS, MB, FILES, TOKENS are
# environment variables). With a warm cache and the median of RUNS runs (default 3) it times:
#   bstscan    bstscan git (provenance included), -j JOBS (default: all CPUs)
#   floor      git cat-file --batch-all-objects --batch --unordered | rg -a -c REGEX   (objects in pack order)
#   patch      git log -p --all | rg -c REGEX                                         (what other scanners walk)
# and prints blobs/s, MB/s, the ratios and bstscan's peak RSS. Targets: floor/bstscan >= 1.0,
# patch/bstscan >= 3.0, peak RSS < 256 MB, every planted token found.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
commits=${COMMITS:-20000}
mb=${MB:-500}
files=${FILES:-2000}
tokens=${TOKENS:-50}
jobs=${JOBS:-$(nproc)}
bin=${BSTSCAN:-$root/build/bstscan}
regex='bst_[A-Za-z0-9_-]{43}'
repo=${1:-}

[ -x "$bin" ] || "$root/scripts/build"
command -v rg >/dev/null || { echo "needs ripgrep (apt-get install ripgrep)" >&2; exit 2; }
planted='?'
if [ -z "$repo" ]; then
  repo=$root/bench/data/git-$commits-$mb.git
  if [ ! -d "$repo" ]; then
    echo "generating $repo ($commits commits, ~$mb MB of blobs)..." >&2
    mkdir -p "$root/bench/data"
    git init -q --bare "$repo"
    /usr/bin/python3 "$root/bench/gen-git-history.py" "$commits" "$mb" "$files" "$tokens" 2> "$repo.planted" |
      git -C "$repo" fast-import --quiet
    # Delta-compress like a real, gc'ed repository (older versions as deltas of newer ones).
    git -C "$repo" repack -adq --window=10
  fi
  planted=$(awk '/planted/ { print $2 }' "$repo.planted" 2>/dev/null || echo '?')
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
timeit() { # prints the median wall time in seconds of the shell command $1
  local t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    bash -c "$1" > /dev/null 2>&1 || true
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}

read -r n_blobs blob_bytes < <(git -C "$repo" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' |
  awk '$1 == "blob" { n++; s += $2 } END { print n + 0, s + 0 }')
n_commits=$(git -C "$repo" rev-list --all | wc -l)
pack_mb=$(du -sm "$repo/objects" | cut -f1)
blob_mb=$(awk -v b="$blob_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "repository: $repo"
echo "  $n_commits commits, $n_blobs blobs, $blob_mb MB of blobs, $pack_mb MB on disk; $runs runs each, $(nproc) CPUs, -j $jobs"

floor_cmd="git -C '$repo' cat-file --batch-all-objects --batch --unordered | rg -a -c '$regex'"
patch_cmd="git -C '$repo' log -p --all | rg -c '$regex'"
bs_cmd="'$bin' git -q -j $jobs --format jsonl '$repo'"

# Warm the cache, and check what each finds.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
eval "$bs_cmd" > "$out" || true
bs_findings=$(wc -l < "$out")
bs_tokens=$(grep -o '"token_hash":"[0-9a-f]*"' "$out" | sort -u | wc -l)
floor_lines=$(eval "$floor_cmd" || true)
patch_lines=$(eval "$patch_cmd" || true)
echo "found: bstscan $bs_findings findings ($bs_tokens distinct tokens; planted $planted);" \
  "floor $floor_lines matching lines in blobs and messages; patch walk $patch_lines matching diff lines"

t_bs=$(timeit "$bs_cmd")
t_floor=$(timeit "$floor_cmd")
t_patch=$(timeit "$patch_cmd")
rss=$( { /usr/bin/time -f '%M' bash -c "$bs_cmd > /dev/null" || true; } 2>&1 | tail -1)

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
mbs() { awk -v b="$blob_bytes" -v t="$1" 'BEGIN { printf "%.0f", b / 1048576 / t }'; }
printf '%-8s %8s s %10s blobs/s %7s MB/s\n' bstscan "$t_bs" "$(rate "$n_blobs" "$t_bs")" "$(mbs "$t_bs")"
printf '%-8s %8s s %10s blobs/s %7s MB/s\n' floor "$t_floor" "$(rate "$n_blobs" "$t_floor")" "$(mbs "$t_floor")"
printf '%-8s %8s s %10s blobs/s %7s MB/s\n' patch "$t_patch" "$(rate "$n_blobs" "$t_patch")" "$(mbs "$t_patch")"
echo "ratios: floor/bstscan $(awk -v a="$t_floor" -v b="$t_bs" 'BEGIN { printf "%.2f", a / b }') (target >= 1.0)," \
  "patch/bstscan $(awk -v a="$t_patch" -v b="$t_bs" 'BEGIN { printf "%.2f", a / b }') (target >= 3.0)"
echo "bstscan peak RSS: $((rss / 1024)) MB (target < 256 MB)"
