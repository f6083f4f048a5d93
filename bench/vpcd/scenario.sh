#!/bin/bash
# vpcd benchmark driver: `pkcs15-tool -D` wall time and per-APDU latency
# through pcscd + vsmartcard's vpcd, for cacard (`cacard vpcd`) and for
# libcacard (bench/libcacard/vpcd-libcacard.c), first with the default
# loopback route, then with `quickack 1` on the local route to 127.0.0.1.
#
# Runs as PID 1 of `unshare --net --mount --pid --fork --mount-proc` (see
# bench/lib/vpcd.ts): a private loopback, a private /run/pcscd, and the
# kernel kills whatever is left when this script exits.
#
#   scenario.sh OUT_DIR WORK_DIR
#   env: REPO NODE_BIN CACARD_CLI DB VPCD_LIBCACARD PCSC_RTT
#        P15_RUNS (pkcs15-tool -D runs per case), RTT_SLOW / RTT_FAST
#        (APDUs timed per case without / with quickack)
#
# Results, one file per case TAG = <impl>_<route>:
#   OUT/p15_TAG.runs   one line per run: "<exit status> <microseconds>"
#   OUT/rtt_TAG.txt    pcsc-rtt's line (median/p10/p90 in microseconds)
#   OUT/apdus_<impl>.note   APDUs exchanged by one pkcs15-tool -D
#   OUT/route_<route>.txt   `ip route show table local`

OUT="$1"
W="$2"
: "${REPO:?}" "${NODE_BIN:?}" "${CACARD_CLI:?}" "${DB:?}" "${VPCD_LIBCACARD:?}" "${PCSC_RTT:?}"
P15_RUNS="${P15_RUNS:-3}"
RTT_SLOW="${RTT_SLOW:-30}"
RTT_FAST="${RTT_FAST:-300}"
LIB="$REPO/test/interop/lib"
# shellcheck source=../../test/interop/lib/sandbox.sh
. "$LIB/sandbox.sh"
# shellcheck source=../../test/interop/lib/pcscd.sh
. "$LIB/pcscd.sh"

READER="Virtual PCD 00 00"
SELECT=00A4040007A000000079010000

sb_init "$W" "$OUT"
cd "$W" || exit 70

opensc_private_config "$W"

pcscd_setup_vpcd "$W/reader.conf.d" || sb_die "reader config"
# No -a/-d: APDU logging would add its own latency.
sb_private_tmpfs /run/pcscd
sb_start pcscd "$PCSCD_BIN" -f -c "$W/reader.conf.d"
sb_wait_for_socket /run/pcscd/pcscd.comm 10 || sb_die "pcscd did not start"
"$PCSC_RTT" wait "$READER" absent 10 >/dev/null 2>&1 # reader listed

now_us() { echo $(($(date +%s%N) / 1000)); }

# run_case TAG RTT_COUNT cmd...: start the card, time pkcs15-tool -D, time single APDUs, stop.
run_case() {
  local tag="$1" count="$2" r t0 t1 rc
  shift 2
  sb_start "card_$tag" "$@"
  if ! "$PCSC_RTT" wait "$READER" present 30 2>"$OUT/wait_$tag.err"; then
    sb_note "error_$tag" "card did not appear in $READER"
    cp "$SB_DIR/card_$tag.log" "$OUT/card_$tag.log" 2>/dev/null
    sb_stop "card_$tag" 5
    return
  fi
  : >"$OUT/p15_$tag.runs"
  for ((r = 1; r <= P15_RUNS; r++)); do
    t0=$(now_us)
    timeout -k 3 120 pkcs15-tool -D >"$OUT/p15_$tag.out" 2>"$OUT/p15_$tag.err"
    rc=$?
    t1=$(now_us)
    echo "$rc $((t1 - t0))" >>"$OUT/p15_$tag.runs"
  done
  timeout -k 3 120 "$PCSC_RTT" rtt "$READER" "$count" "$SELECT" >"$OUT/rtt_$tag.txt" 2>&1
  sb_stop "card_$tag" 5
  cp "$SB_DIR/card_$tag.log" "$OUT/card_$tag.log" 2>/dev/null
  "$PCSC_RTT" wait "$READER" absent 15 >/dev/null 2>&1
}

# count_apdus IMPL cmd...: one pkcs15-tool -D; the card side reports its APDU count.
count_apdus() {
  local impl="$1" n
  shift
  sb_start "count_$impl" "$@"
  "$PCSC_RTT" wait "$READER" present 30 >/dev/null 2>&1 || return
  timeout -k 3 120 pkcs15-tool -D >/dev/null 2>&1
  sb_stop "count_$impl" 5
  if [ "$impl" = cacard ]; then
    n=$(grep -c ': > ' "$SB_DIR/count_$impl.log")
  else
    n=$(sed -n 's/^vpcd-libcacard: \([0-9]*\) APDUs$/\1/p' "$SB_DIR/count_$impl.log")
  fi
  sb_note "apdus_$impl" "${n:-?}"
  "$PCSC_RTT" wait "$READER" absent 15 >/dev/null 2>&1
}

# --no-quickack: cacard as before its TCP_QUICKACK helper (and as when it is not built).
CACARD=("$NODE_BIN" "$CACARD_CLI" vpcd --db "$DB" --no-quickack)
CACARD_QA=("$NODE_BIN" "$CACARD_CLI" vpcd --db "$DB")
LIBCACARD=("$VPCD_LIBCACARD" "$DB")

ip route show table local >"$OUT/route_default.txt"
run_case cacard_default "$RTT_SLOW" "${CACARD[@]}"
run_case libcacard_default "$RTT_SLOW" "${LIBCACARD[@]}"
run_case libcacard-setsockopt_default "$RTT_FAST" "${LIBCACARD[@]}" --quickack
run_case cacard-setsockopt_default "$RTT_FAST" "${CACARD_QA[@]}"

# Delayed ACKs off for every loopback connection to 127.0.0.1 in this namespace.
if ip route replace local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1; then
  ip route show table local >"$OUT/route_quickack.txt"
  run_case cacard_quickack "$RTT_FAST" "${CACARD[@]}"
  run_case libcacard_quickack "$RTT_FAST" "${LIBCACARD[@]}"
  count_apdus cacard "${CACARD[@]}" --trace
  count_apdus libcacard "${LIBCACARD[@]}"
else
  sb_note route_error "ip route replace ... quickack 1 failed"
fi
sb_note done yes
