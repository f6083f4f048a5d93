#!/bin/bash
# pcscd dies (SIGKILL) in the middle of an OpenSC session while `cacard vpcd` is connected,
# then comes back: cacard must reconnect with backoff and serve OpenSC again.
# Runs as PID 1 of `unshare --net --mount --pid --fork` (see pcscd-restart.test.ts).
#
#   pcscd-restart.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js)
#
# Steps leave OUT_DIR/<step>.{out,err,rc,time}, facts OUT_DIR/<key>.note, logs OUT_DIR/*.log.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=12345678
T=60
OUTAGE_S=2 # pcscd stays down this long: enough for several growing retries

scenario_init "$1" "$2"
opensc_private_config "$W"
printf '%s\n' "$PIN" >"$W/password.txt"
chmod 600 "$W/password.txt"
printf 'signed after pcscd came back\n' >"$W/data.txt"
timeout 10 openssl x509 -in "$REPO/certs-sample/pem/cert1.pem" -pubkey -noout >"$W/p1.pem"

pcscd_up "$W/reader.conf.d"

sb_start cacard "$NODE_BIN" "$CACARD_CLI" vpcd --db "$REPO/certs-sample/nssdb-pw" \
  --password-file "$W/password.txt" --verbose
pcscd_wait_inserted "Virtual PCD 00 00" 20 || sb_log "card did not appear"
sb_step before_name 20 opensc-tool -n

# A long OpenSC session (pkcs11-tool --test runs ~12 s); kill pcscd once it is well under way.
apdus() { grep -c 'APDU:' "$SB_DIR/pcscd.log" 2>/dev/null; }
n0=$(apdus)
(sb_step victim $T pkcs11-tool --test --login --pin "$PIN") &
VICTIM=$!
sb_wait_for_log pcscd 'APDU:' 20 $((n0 + 40)) || sb_log "the session did not get going"
[ -e "$OUT/victim.rc" ] && sb_note victim_done_before_kill yes || sb_note victim_done_before_kill no
sb_note apdus_before_kill "$(($(apdus) - n0))"
PCSCD_PID="$(sb_pid pcscd)"
kill -KILL "$PCSCD_PID"
wait "$PCSCD_PID" 2>/dev/null
sb_note pcscd_kill_status "$?"
sb_log "killed pcscd (pid $PCSCD_PID)"
date +%s.%N >"$OUT/killed_at.note"
cp "$SB_DIR/pcscd.log" "$OUT/pcscd1.log"
rm -f "$SB_DIR/pcscd.pid"
wait "$VICTIM" 2>/dev/null # the interrupted OpenSC session ends (sb_step has a time limit)

sb_wait_for_log cacard 'card 0: disconnected \(closed by vpcd\)' 10 || sb_log "cacard did not notice"
sleep "$OUTAGE_S"

# pcscd again, on a fresh /run/pcscd (the dead one left its socket and pid file behind).
date +%s.%N >"$OUT/restarted_at.note"
pcscd_start "$W/reader.conf.d" || sb_log "pcscd did not start again"
pcscd_wait_inserted "Virtual PCD 00 00" 30 || sb_log "card did not come back"
date +%s.%N >"$OUT/reinserted_at.note"

sb_step after_name 20 opensc-tool -n
sb_step after_sign $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 0001 \
  -i "$W/data.txt" -o "$W/sig.bin"
sb_step after_verify 20 openssl dgst -sha256 -verify "$W/p1.pem" -signature "$W/sig.bin" "$W/data.txt"

sb_stop cacard 10
sb_note cacard_exit "$SB_LAST_RC"
cp "$SB_DIR/cacard.log" "$OUT/cacard.log"
sb_stop pcscd 10
cp "$SB_DIR/pcscd.log" "$OUT/pcscd2.log"
sb_log "scenario done"
exit 0
