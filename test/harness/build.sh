#!/usr/bin/env bash
# Builds the libcacard reference runner into test/harness/build/cacard-ref and
# prints its path. Needs a C compiler, pkg-config and libcacard's development
# files (Debian/Ubuntu: apt-get install libcacard-dev pkg-config gcc).
#
#   test/harness/build.sh          build if the source is newer than the binary
#   test/harness/build.sh --force  always rebuild
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src="$here/cacard-ref.c"
out_dir="$here/build"
out="$out_dir/cacard-ref"

fail() {
  echo "build.sh: $*" >&2
  exit 1
}

command -v pkg-config >/dev/null 2>&1 ||
  fail "pkg-config not found (Debian/Ubuntu: apt-get install pkg-config)"
pkg-config --exists libcacard 2>/dev/null ||
  fail "libcacard development files not found by pkg-config (Debian/Ubuntu: apt-get install libcacard-dev)"
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || fail "C compiler '$cc' not found (set CC or install gcc)"

if [[ "${1:-}" == "--force" || ! -x "$out" || "$src" -nt "$out" ]]; then
  mkdir -p "$out_dir"
  # shellcheck disable=SC2046 # pkg-config output is meant to be word-split
  "$cc" -std=gnu99 -O2 -Wall -Wextra -o "$out.tmp.$$" "$src" \
    $(pkg-config --cflags --libs libcacard) ||
    { rm -f "$out.tmp.$$"; fail "compiling $src failed"; }
  mv -f "$out.tmp.$$" "$out"
fi
echo "$out"
