#!/usr/bin/env bash
# Before/after for a change on the APDU path: builds REV (default: the commit
# before Core v2) in a temporary worktree, then runs SELECT and RSA-2048 SIGN
# in-process on both builds, alternating one process each, RUNS times, on the
# same machine in the same run. Prints each pair and the median ratio.
#   bench/before-after/run.sh [REV] [RUNS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rev="${1:-eaf9919}"
runs="${2:-7}"
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$repo" worktree add --detach "$work/before" "$rev" >/dev/null 2>&1
(cd "$work/before" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 && npx tsc -p tsconfig.json >/dev/null)
[ -f "$repo/dist/src/index.js" ] || (cd "$repo" && npx tsc -p tsconfig.json >/dev/null)
db="$repo/certs-sample/nssdb"
for op in select sign; do
  ratios=()
  for _ in $(seq "$runs"); do
    b=$(CACARD_DIST="$work/before/dist" node "$here/card-loop.mjs" "$db" "$op")
    a=$(CACARD_DIST="$repo/dist" node "$here/card-loop.mjs" "$db" "$op")
    r=$(node -e "console.log(($a/$b).toFixed(3))")
    ratios+=("$r")
    echo "$op before $b/s after $a/s ratio $r"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$op: after/before median of $runs = $median"
done
