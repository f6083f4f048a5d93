#!/bin/bash
# Sharing a relayed card with a host application through a real pcscd: `cacard relay`
# serves the card in "Virtual PCD 00 00" (a `cacard vpcd` CAC) to interleave.mjs, which
# plays QEMU's side of VSCard and, at the same time, is a host PC/SC application on the
# same reader. Runs as PID 1 of `unshare --net --mount --pid --fork` (relay-share.test.ts).
#
#   relay-share.sh OUT_DIR WORK_DIR
#   env: REPO, NODE_BIN, CACARD_CLI
#
# Leaves OUT_DIR/interleave.json (the results), the logs, and relay_exit.note.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PORT=36021
READER="Virtual PCD 00 00"

scenario_init "$1" "$2"

pcscd_up "$W/reader.conf.d"
sb_start card "$NODE_BIN" "$CACARD_CLI" vpcd --db "$REPO/certs-sample/nssdb"
pcscd_wait_inserted "$READER" 20 || sb_log "the card did not appear in pcscd"

# The koffi calls of the host application and of the control wait on libuv's pool.
UV_THREADPOOL_SIZE=8 CACARD_DIST="$REPO/dist/src" sb_start interleave "$NODE_BIN" "$HERE/interleave.mjs" "$PORT" "$READER"
sb_wait_for_log interleave '"listening"' 20 || sb_log "interleave.mjs is not listening"
sb_start relay "$NODE_BIN" "$CACARD_CLI" relay --reader "$READER" --connect "127.0.0.1:$PORT" --debug

PID="$(sb_pid interleave)"
for ((i = 0; i < 600; i++)); do
  kill -0 "$PID" 2>/dev/null || break
  [ "$(cut -d' ' -f3 "/proc/$PID/stat" 2>/dev/null)" = Z ] && break
  sleep 0.1
done
sb_stop interleave 5
sb_note interleave_exit "$SB_LAST_RC"
grep '^{' "$SB_DIR/interleave.log" | tail -1 >"$OUT/interleave.json"
sb_stop relay 10
sb_note relay_exit "$SB_LAST_RC"
scenario_done card pcscd
