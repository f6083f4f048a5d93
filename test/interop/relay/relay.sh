#!/bin/bash
# `cacard relay` between a private pcscd and guest-less QEMU (ccid-card-passthru, -S):
# two `cacard vpcd` cards sit in "Virtual PCD 00 00" / "00 01"; relay 1 takes the first
# into QEMU 1. Then: the host card is removed and inserted (SIGUSR1/SIGUSR2 to its vpcd
# process), pcscd is stopped and started again under the relay, and relay 2 takes the
# second reader into QEMU 2 while relay 1 keeps serving. Runs as PID 1 of
# `unshare --net --mount --pid --fork` (see relay.test.ts).
#
#   relay.sh OUT_DIR WORK_DIR
#   env: REPO, NODE_BIN, CACARD_CLI
#
# Steps leave OUT_DIR/<step>.{out,err,rc,time}, facts OUT_DIR/<key>.note, logs OUT_DIR/*.log.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

QEMU_PORT_1=36001
QEMU_PORT_2=36002
CAC_ATR=3B7A18000073667465206364313434

scenario_init "$1" "$2"
cacard() { "$NODE_BIN" "$CACARD_CLI" "$@"; }

# QEMU without a guest: the chardev and ccid-card-passthru run in its main loop.
start_qemu() {
  local name="$1" port="$2" args
  mapfile -t args < <(cacard qemu-args --connect "127.0.0.1:$port" --format args)
  sb_start "$name" qemu-system-x86_64 -nodefaults -display none -M q35 -accel tcg -S "${args[@]}"
  for ((i = 0; i < 200; i++)); do
    grep -q "$(printf ':%04X 00000000:0000 0A' "$port")" /proc/net/tcp && return 0
    sleep 0.1
  done
  sb_log "$name is not listening on $port"
  return 1
}

finish() {
  for name in relay2 relay1; do
    sb_stop "$name" 10
    sb_note "${name}_exit" "$SB_LAST_RC"
  done
  scenario_done qemu2 qemu1 cardB cardA pcscd
}

pcscd_up "$W/reader.conf.d"
sb_start cardA "$NODE_BIN" "$CACARD_CLI" vpcd --db "$REPO/certs-sample/nssdb" --port 35963 --verbose
sb_start cardB "$NODE_BIN" "$CACARD_CLI" vpcd --db "$REPO/certs-sample/nssdb" --port 35964 --serial-salt B --verbose
pcscd_wait_inserted "Virtual PCD 00 00" 20 || sb_log "card A did not appear"
pcscd_wait_inserted "Virtual PCD 00 01" 20 || sb_log "card B did not appear"

sb_step list 20 "$NODE_BIN" "$CACARD_CLI" relay --list
sb_step ambiguous 20 "$NODE_BIN" "$CACARD_CLI" relay --reader "Virtual PCD" --connect "127.0.0.1:$QEMU_PORT_1"
sb_step unknown 20 "$NODE_BIN" "$CACARD_CLI" relay --reader "YubiKey" --connect "127.0.0.1:$QEMU_PORT_1"

# 1. Guest-less passthru: QEMU takes the relayed ATR.
start_qemu qemu1 "$QEMU_PORT_1" || finish
date +%s.%N >"$OUT/relay1_started.note"
sb_start relay1 "$NODE_BIN" "$CACARD_CLI" relay --reader "pcd 00 00" --connect "127.0.0.1:$QEMU_PORT_1" \
  --debug --retry-initial-ms 100 --retry-max-ms 800
sb_wait_for_log relay1 "card inserted reader=0 atr=$CAC_ATR" 20 1 || finish
date +%s.%N >"$OUT/relay1_card.note"
sb_note relay1_threadpool "$(tr '\0' '\n' <"/proc/$(pgrep -P "$(sb_pid relay1)" -f 'main.js relay' | head -1)/environ" 2>/dev/null | grep UV_THREADPOOL_SIZE)"

# 2. The host card leaves and comes back: CardRemove, then the ATR again.
kill -USR1 "$(sb_pid cardA)"
pcscd_wait_removed "Virtual PCD 00 00" 10 1 || sb_log "card A was not removed"
sb_wait_for_log relay1 "card removed reader=0" 10 1 || sb_log "relay 1 sent no CardRemove"
kill -USR2 "$(sb_pid cardA)"
sb_wait_for_log relay1 "card inserted reader=0 atr=$CAC_ATR" 15 2 || sb_log "relay 1 did not announce the card again"

# 3. pcscd restarts under the relay.
sb_stop pcscd 10
sb_note pcscd_stop_status "$SB_LAST_RC"
rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
sb_wait_for_log relay1 "host reader gone" 15 1 || sb_log "relay 1 did not notice pcscd going"
sb_wait_for_log relay1 "card removed reader=0" 10 2 || sb_log "relay 1 sent no CardRemove for the outage"
sleep 1
date +%s.%N >"$OUT/pcscd_restarted.note"
sb_start pcscd "$PCSCD_BIN" -f -a -d -c "$W/reader.conf.d"
sb_wait_for_socket /run/pcscd/pcscd.comm 10 || sb_log "pcscd did not come back"
sb_wait_for_log relay1 "card inserted reader=0 atr=$CAC_ATR" 30 3 || sb_log "relay 1 did not pick the card up again"
date +%s.%N >"$OUT/relay1_back.note"
pcscd_wait_inserted "Virtual PCD 00 01" 30 1 || sb_log "card B did not come back"

# 4. A second relay on the second reader, into a second QEMU; the first keeps its card.
start_qemu qemu2 "$QEMU_PORT_2" || finish
sb_start relay2 "$NODE_BIN" "$CACARD_CLI" relay --reader "Virtual PCD 00 01" --connect "127.0.0.1:$QEMU_PORT_2" --exclusive --debug
sb_wait_for_log relay2 "card inserted reader=0 atr=$CAC_ATR" 20 1 || sb_log "relay 2 did not serve its card"
sb_step list_after 20 "$NODE_BIN" "$CACARD_CLI" relay --list
sleep 0.5
finish
