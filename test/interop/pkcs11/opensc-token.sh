#!/bin/bash
# The third token backend of host mode: OpenSC's own PKCS#11 module over a card in a
# pcscd. Two pcscd, so that OpenSC inside cacard never sees the card cacard serves (the
# p11-kit/OpenSC loop of virt_cacard issue #3, which deadlocks on the card's own reader):
#
#   pcscd A (this namespace's /run/pcscd, vpcd port 35963) <- card A: `cacard vpcd` on
#       certs-sample/nssdb-pw (PIN 12345678 = the DB password)
#   card B: `cacard vpcd --pkcs11 opensc-pkcs11.so --port 35965`, in this mount namespace,
#       so its OpenSC reaches pcscd A only, reads card A and serves a CAC into
#   pcscd B (a nested mount namespace with its own tmpfs on /run/pcscd; same network
#       namespace, vpcd port 35965), where the OpenSC tools (nsenter into pcscd B's mount
#       namespace) find card B alone and sign through it.
#
# Two pcscd cannot share one /run/pcscd: pcsc-lite 1.9.9 finds /run/pcscd/pcscd.comm at start
# and stops ("Another pcscd (pid: N) seems to be running"), PCSCLITE_CSOCK_NAME or not; hence
# the nested mount namespace. Runs as PID 1 of `unshare --net --mount --pid --fork`
# (see opensc-token.test.ts).
#
#   opensc-token.sh OUT_DIR WORK_DIR
#   env: REPO, NODE_BIN, CACARD_CLI
#
# Every step leaves OUT_DIR/<step>.{out,err,rc,time}; the test asserts on them.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=12345678
T=60
OPENSC_MODULE="${OPENSC_MODULE:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}"
READER="Virtual PCD 00 00"
PORT_B=35965

scenario_init "$1" "$2"
# No file cache: cards A and B carry the same certificates, and the cache is keyed by serial.
opensc_private_config "$W"
printf 'signed through OpenSC, cacard --pkcs11 and OpenSC again\n' >"$W/data.txt"

finish() {
  sb_stop cardB 10
  sb_note cardB_exit "$SB_LAST_RC"
  scenario_done pcscdB cardA pcscd
}

# pcscd A and card A.
pcscd_up "$W/conf-a" A
sb_start cardA "${CACARD[@]}" vpcd --db "$REPO/certs-sample/nssdb-pw"
pcscd_wait_inserted "$READER" 20 || sb_log "card A did not appear in pcscd A"
sb_step a_module_slots $T pkcs11-tool --module "$OPENSC_MODULE" -L

# pcscd B, in a mount namespace of its own; vpcd on another port of the shared loopback.
mkdir -p "$W/conf-b"
cat >"$W/conf-b/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$(printf '0x%X' "$PORT_B")
LIBPATH      $VPCD_DRIVER
CHANNELID    $(printf '0x%X' "$PORT_B")
CONF
# shellcheck disable=SC2016
sb_start pcscdB unshare --mount --propagation private bash -c \
  'mount -t tmpfs -o mode=0755 tmpfs /run/pcscd && exec "$0" -f -a -d -c "$1"' "$PCSCD_BIN" "$W/conf-b"
sb_wait_for_log pcscdB 'daemon ready' 15 || finish
PB="$(sb_pid pcscdB)"
B=(nsenter --mount --target "$PB" --) # a command in pcscd B's mount namespace

# Card B: OpenSC's module (explicit path, never p11-kit's proxy) reads card A in pcscd A.
sb_start cardB "${CACARD[@]}" vpcd --port "$PORT_B" --pkcs11 "$OPENSC_MODULE"
sb_wait_for_log pcscdB "Card inserted into $READER" 60 || sb_log "card B did not appear in pcscd B"
sb_note cardA_apdus_before "$(grep -c 'APDU: ' "$SB_DIR/pcscd.log")"

# Each pcscd has one reader, and OpenSC in pcscd B's namespace sees only card B.
sb_step a_readers 20 opensc-tool -l
sb_step b_readers 20 "${B[@]}" opensc-tool -l
sb_step b_name 20 "${B[@]}" opensc-tool -n
sb_step b_p15_dump $T "${B[@]}" pkcs15-tool -D
sb_step b_read_cert $T "${B[@]}" pkcs11-tool --read-object --type cert --id 0001 -o "$W/b.cert.der"
sb_step b_cert_cmp 10 bash -c "openssl x509 -in '$REPO/certs-sample/pem/cert1.pem' -outform DER | cmp - '$W/b.cert.der'"
openssl x509 -in "$REPO/certs-sample/pem/cert1.pem" -pubkey -noout >"$W/cert1.pub.pem"
sb_step b_sign $T "${B[@]}" pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 0001 -i "$W/data.txt" -o "$W/b.sig"
sb_step b_verify 20 openssl dgst -sha256 -verify "$W/cert1.pub.pem" -signature "$W/b.sig" "$W/data.txt"
sb_step b_encrypt 20 openssl pkeyutl -encrypt -pubin -inkey "$W/cert1.pub.pem" -in "$W/data.txt" -out "$W/b.enc"
sb_step b_decrypt $T "${B[@]}" pkcs11-tool --login --pin "$PIN" --decrypt -m RSA-PKCS --id 0001 -i "$W/b.enc" -o "$W/b.dec"
sb_step b_decrypt_cmp 5 cmp "$W/data.txt" "$W/b.dec"
sb_step b_wrong_pin $T "${B[@]}" pkcs11-tool --login --pin 11112222 --sign -m SHA256-RSA-PKCS --id 0001 \
  -i "$W/data.txt" -o "$W/b.bad.sig"
# The operations reached card A through pcscd A.
sb_note cardA_apdus_after "$(grep -c 'APDU: ' "$SB_DIR/pcscd.log")"
finish
