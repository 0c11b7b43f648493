#!/usr/bin/env bash
# `bstscan staged` on a 10-file change in a 10,000-file repository, next to `git diff --cached --quiet`.
#
#   bench/staged.sh [REPO]
#
# Without REPO it generates bench/data/staged-<FILES> (FILES, default 10000, source-like files in a work tree).
# Either way it stages a change of CHANGED files (default 10: most modified, two new), then times RUNS runs
# (default 31) of each command and prints the medians in milliseconds. Target: bstscan under 30 ms.
# With a REPO of yours, the change is made and left staged: use a scratch clone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-31}
files=${FILES:-10000}
changed=${CHANGED:-10}
bin=${BSTSCAN:-$root/build/bstscan}
repo=${1:-}

[ -x "$bin" ] || "$root/scripts/build"
g() { git -C "$repo" -c user.name=bench -c user.email=bench@example.com -c commit.gpgsign=false "$@"; }
if [ -z "$repo" ]; then
  repo=$root/bench/data/staged-$files
  if [ ! -d "$repo/.git" ]; then
    echo "generating $repo ($files files)..." >&2
    mkdir -p "$repo"
    git init -q -b main "$repo"
    # One commit holding every file, written by fast-import (quick), then checked out.
    /usr/bin/python3 "$root/bench/gen-git-history.py" 1 $((files * 3 / 1024)) "$files" 0 2>/dev/null |
      git -C "$repo" fast-import --quiet
    g reset -q --hard main
  fi
  g reset -q --hard
  g clean -qfd
fi

# The change: edit CHANGED-2 tracked files, add two new ones.
mapfile -t tracked < <(g ls-files | head -n $((changed - 2)))
for f in "${tracked[@]}"; do
  printf '\tint bench_edit_%s = 1;\n' "$RANDOM" >> "$repo/$f"
done
mkdir -p "$repo/bench-new"
for i in 1 2; do
  seq 1 200 | sed "s/^/\tvalue_$i = /" > "$repo/bench-new/new$i.c"
done
g add -A
n_files=$(g ls-files | wc -l)
n_staged=$(g diff --cached --name-only | wc -l)

median_ms() { # runs "$@" RUNS times; prints the median wall time in ms
  local t0 t1
  for _ in $(seq "$runs"); do
    t0=$EPOCHREALTIME
    "$@" > /dev/null 2>&1 || true
    t1=$EPOCHREALTIME
    echo "($t1 - $t0) * 1000" | bc -l
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] }'
}

cd "$repo"
"$bin" staged -q > /dev/null 2>&1 || true   # warm the cache
status=0
"$bin" staged -q > /dev/null 2>&1 || status=$?
t_bs=$(median_ms "$bin" staged -q)
t_git=$(median_ms git diff --cached --quiet)
echo "repository: $repo ($n_files files, $n_staged staged), $runs runs each"
echo "bstscan staged:           $t_bs ms median (exit $status; target < 30 ms)"
echo "git diff --cached --quiet: $t_git ms median"
