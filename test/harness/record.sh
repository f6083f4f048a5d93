#!/usr/bin/env bash
# Records golden transcripts from the real libcacard.
#
# For every test/vectors/<name>.in (or only the names given on the command line)
# this runs cacard-ref against certs-sample/<db> with the certificates named in
# the script's "#!" directives and writes test/vectors/<name>.txt: the script
# with every ">>" line normalised (uppercase hex, no separators) and followed by
# "<< <response>", and every "!atr" line followed by "<< <ATR>".
# The format is described in test/vectors/README.md.
#
#   test/harness/record.sh [--check] [name ...]
#
# --check records into a temporary directory and compares with the committed
# .txt files instead of overwriting them (exit 1 on any difference).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
vectors="$root/test/vectors"
certs_dir=${CERTS_DIR:-"$root/certs-sample"}

check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
  shift
fi

ref=$("$here/build.sh")
lib_version=$(pkg-config --modversion libcacard)

if (($# > 0)); then
  inputs=()
  for name in "$@"; do
    name=${name%.in}
    inputs+=("$vectors/${name##*/}.in")
  done
else
  shopt -s nullglob
  inputs=("$vectors"/*.in)
fi
((${#inputs[@]} > 0)) || { echo "record.sh: no .in scripts in $vectors" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

for input in "${inputs[@]}"; do
  [[ -f "$input" ]] || { echo "record.sh: $input not found" >&2; exit 1; }
  name=$(basename "$input" .in)

  # "#! key=value ..." directives; later ones win.
  db=nssdb
  certs=cert1,cert2,cert3
  while read -r -a words; do
    for word in "${words[@]:1}"; do
      case "$word" in
        db=*) db=${word#db=} ;;
        certs=*) certs=${word#certs=} ;;
      esac
    done
  done < <(grep '^#!' "$input" || true)
  if grep -q '^<<' "$input"; then
    echo "record.sh: $input contains '<<' lines; .in scripts hold commands only" >&2
    exit 1
  fi

  # The runner sees only APDUs and "!" commands.
  sed -n -e 's/^>>[[:space:]]*//p' -e '/^!/p' "$input" > "$work/$name.cmd"
  IFS=, read -r -a nicks <<< "$certs"
  if ! "$ref" "$certs_dir/$db" "${nicks[@]}" < "$work/$name.cmd" > "$work/$name.out"; then
    echo "record.sh: cacard-ref failed on $input" >&2
    exit 1
  fi

  out="$vectors/$name.txt"
  ((check)) && out="$work/$name.txt"
  awk -v version="$lib_version" -v src="$name.in" -v responses="$work/$name.out" '
    BEGIN {
      while ((getline line < responses) > 0) resp[++nresp] = line
      print "# Recorded from libcacard " version " by test/harness/record.sh from " src "; do not edit."
    }
    /^>>/ {
      cmd = substr($0, 3)
      gsub(/[ \t:\r]/, "", cmd)
      print ">> " toupper(cmd)
      if (++used > nresp) { print "record.sh: missing response in " src > "/dev/stderr"; exit 2 }
      print "<< " resp[used]
      next
    }
    /^!atr[ \t\r]*$/ {
      print "!atr"
      if (++used > nresp) { print "record.sh: missing response in " src > "/dev/stderr"; exit 2 }
      print "<< " resp[used]
      next
    }
    { print }
    END {
      if (used != nresp) {
        print "record.sh: " nresp " responses for " used " requests in " src > "/dev/stderr"
        exit 2
      }
    }
  ' "$input" > "$out.tmp"
  mv -f "$out.tmp" "$out"

  exchanges=$(grep -c '^<<' "$out" || true)
  if ((check)); then
    if cmp -s "$out" "$vectors/$name.txt"; then
      echo "ok       $name ($exchanges exchanges)"
    else
      echo "CHANGED  $name" >&2
      diff -u "$vectors/$name.txt" "$out" | head -40 >&2 || true
      status=1
    fi
  else
    echo "recorded $name.txt ($exchanges exchanges, db=$db certs=$certs)"
  fi
done
exit $status
