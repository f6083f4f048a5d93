#!/bin/bash
# The issue's "done when": OpenSC in a QEMU guest signs with a card that lives in the
# host's pcscd, through `cacard relay --reader ... --connect ...` and ccid-card-passthru.
# The card is `cacard vpcd` (CARD=cacard) or libcacard 2.8's own card through the
# vpcd-libcacard bridge (CARD=libcacard, BRIDGE=path). The guest (test/interop/qemu/guest/)
# prints its results on the serial console, copied to OUT_DIR/serial.log. Runs as PID 1 of
# `unshare --net --mount --pid --fork` (see relay-guest.test.ts).
#
#   relay-guest.sh OUT_DIR WORK_DIR
#   env: REPO, NODE_BIN, CACARD_CLI, KERNEL, INITRD, CARD, [BRIDGE], GUEST_TIMEOUT_S

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

QEMU_PORT=36011
GUEST_TIMEOUT_S="${GUEST_TIMEOUT_S:-150}"
WATCHDOG_S=$((GUEST_TIMEOUT_S - 10))

scenario_init "$1" "$2" KERNEL INITRD CARD

finish() {
  sb_stop relay 10
  sb_note relay_exit "$SB_LAST_RC"
  scenario_done qemu card pcscd
}

pcscd_up "$W/reader.conf.d"
case "$CARD" in
  cacard) sb_start card "$NODE_BIN" "$CACARD_CLI" vpcd --db "$REPO/certs-sample/nssdb" ;;
  libcacard) sb_start card "${BRIDGE:?}" "$REPO/certs-sample/nssdb" --quickack ;;
  *) sb_die "CARD=$CARD: cacard or libcacard" ;;
esac
pcscd_wait_inserted "Virtual PCD 00 00" 20 || sb_log "the card did not appear in pcscd"

# The guest: UHCI (QEMU 7.2's xHCI garbles some usb-ccid answers, see guest/README.md).
sb_start qemu qemu-system-x86_64 -nodefaults -display none -M q35 -accel tcg -m 512 \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet cacard.watchdog=$WATCHDOG_S cacard.pin=12345678" \
  -no-reboot -serial "file:$OUT/serial.log" \
  -device ich9-usb-uhci1 -device usb-ccid,id=ccid0 \
  -chardev "socket,id=ccid,host=127.0.0.1,port=$QEMU_PORT,server=on,wait=off,nodelay=on" \
  -device ccid-card-passthru,chardev=ccid
for ((i = 0; i < 200; i++)); do
  grep -q "$(printf ':%04X 00000000:0000 0A' "$QEMU_PORT")" /proc/net/tcp && break
  sleep 0.1
done
date +%s.%N >"$OUT/qemu_started.note"
sb_start relay "$NODE_BIN" "$CACARD_CLI" relay --reader "Virtual PCD 00 00" --connect "127.0.0.1:$QEMU_PORT"

# The guest powers itself off when its checks are done (or its watchdog fires).
QEMU_PID="$(sb_pid qemu)"
for ((i = 0; i < GUEST_TIMEOUT_S * 10; i++)); do
  kill -0 "$QEMU_PID" 2>/dev/null || break
  [ "$(cut -d' ' -f3 "/proc/$QEMU_PID/stat" 2>/dev/null)" = Z ] && break
  sleep 0.1
done
date +%s.%N >"$OUT/qemu_ended.note"
wait "$QEMU_PID" 2>/dev/null
sb_note qemu_exit "$?"
rm -f "$SB_DIR/qemu.pid"
finish
