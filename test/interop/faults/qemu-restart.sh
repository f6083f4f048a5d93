#!/bin/bash
# QEMU (guest-less, -S) with ccid-card-passthru is SIGKILLed while `cacard vscard --connect`
# is attached, and restarted on the same port: cacard must back off, reconnect, and have
# QEMU accept its ReaderAdd and ATR again.
# Runs as PID 1 of `unshare --net --mount --pid --fork` (see qemu-restart.test.ts).
#
#   qemu-restart.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js), QEMU_BIN
#
# Facts go to OUT_DIR/<key>.note, logs to OUT_DIR/{cacard,qemu1,qemu2}.log.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PORT=35971 # fixed: this network namespace has its own loopback
OUTAGE_S=2

scenario_init "$1" "$2" QEMU_BIN

# True when something listens on 127.0.0.1:PORT (from /proc, without connecting: a probe
# connection would be taken by QEMU's chardev for a card).
listening() {
  local want
  want=$(printf '0100007F:%04X' "$1")
  awk -v w="$want" '$2 == w && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}
wait_listening() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    listening "$1" && return 0
    sleep 0.1
  done
  sb_log "nothing listens on port $1 after $2 s"
  return 1
}

# QEMU's arguments exactly as `cacard qemu-args` prints them, with the passthru debug log on.
mapfile -t QARGS < <(timeout 20 "$NODE_BIN" "$CACARD_CLI" qemu-args --connect "127.0.0.1:$PORT" --format args)
[ "${#QARGS[@]}" -gt 0 ] || sb_die "cacard qemu-args printed nothing"
for i in "${!QARGS[@]}"; do
  [[ "${QARGS[$i]}" == ccid-card-passthru,* ]] && QARGS[$i]="${QARGS[$i]},debug=4"
done
printf '%s\n' "${QARGS[@]}" >"$OUT/qemu_args.note"
QEMU=("$QEMU_BIN" -nodefaults -display none -M q35 -accel tcg -S "${QARGS[@]}")

sb_start qemu1 "${QEMU[@]}"
wait_listening "$PORT" 20 || sb_die "QEMU did not listen"
sb_start cacard "$NODE_BIN" "$CACARD_CLI" vscard --connect "127.0.0.1:$PORT" \
  --db "$REPO/certs-sample/nssdb" --retry-initial-ms 100 --retry-max-ms 1000 --debug
sb_wait_for_log cacard '^cacard vscard: card inserted reader=0 ' 20 || sb_log "no card in the first QEMU"
sb_wait_for_log qemu1 'atr passes check' 10 || sb_log "the first QEMU did not take the ATR"

QEMU_PID="$(sb_pid qemu1)"
kill -KILL "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
sb_note qemu_kill_status "$?"
rm -f "$SB_DIR/qemu1.pid"
sb_log "killed QEMU (pid $QEMU_PID)"
sb_wait_for_log cacard '^cacard vscard: disconnected 127\.0\.0\.1:[0-9]+ reason=' 10 || sb_log "cacard did not notice"
sb_wait_for_log cacard 'connect failed .*ECONNREFUSED' 10 || sb_log "no refused reconnect"
sleep "$OUTAGE_S"
listening "$PORT" && sb_note port_free_during_outage no || sb_note port_free_during_outage yes

date +%s.%N >"$OUT/restarted_at.note"
sb_start qemu2 "${QEMU[@]}"
wait_listening "$PORT" 20 || sb_log "the second QEMU did not listen"
sb_wait_for_log cacard '^cacard vscard: card inserted reader=0 ' 30 2 || sb_log "no card in the second QEMU"
date +%s.%N >"$OUT/reinserted_at.note"
sb_wait_for_log qemu2 'atr passes check' 10 || sb_log "the second QEMU did not take the ATR"

sb_stop cacard 10
sb_note cacard_exit "$SB_LAST_RC"
sb_stop qemu2 10
for n in cacard qemu1 qemu2; do cp "$SB_DIR/$n.log" "$OUT/$n.log"; done
sb_log "scenario done"
exit 0
