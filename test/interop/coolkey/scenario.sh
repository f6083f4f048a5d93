#!/bin/bash
# CoolKey (Debian's coolkey, libcoolkeypk11.so) against `cacard vpcd` through a real
# pcscd + vpcd, in private namespaces. Runs as PID 1 of `unshare --net --mount --pid --fork`
# (see coolkey.test.ts).
#
#   scenario.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js), COOLKEY_MODULE
#
# Phase 1: the card with --compress-certificates, from the password DB (the password is
# the PIN): CoolKey lists the token and its three certificates, each read byte for byte,
# logs in (a wrong PIN is refused), signs (openssl verifies) and decrypts.
# Phase 2: the default card (libcacard's bytes, CertInfo 00): CoolKey finds no object, the
# reason for the option.
#
# Every step leaves OUT_DIR/<step>.{out,err,rc,time}; the test asserts on them.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=12345678
T=60

scenario_init "$1" "$2" COOLKEY_MODULE

# CoolKey caches the certificates it read in /var/cache/coolkey (shared memory keyed by
# the reader); a private tmpfs keeps each run honest and the host's cache untouched. HOME
# moves too, and COOL_KEY_LOG_FILE keeps CoolKey's own trace for the report.
sb_private_tmpfs /var/cache/coolkey
export HOME="$W/home"
mkdir -p "$HOME"
export COOL_KEY_LOG_FILE="$OUT/coolkey-trace.log"

pcscd_up "$W/reader.conf.d"

P11=(pkcs11-tool --module "$COOLKEY_MODULE" --slot-index 0)

printf 'hello from cacard to coolkey\n' >"$W/data.txt"
printf '%s\n' "$PIN" >"$W/password.txt"
chmod 600 "$W/password.txt"

# ---------------------------------------------------------------------------------------------
# Phase 1: --compress-certificates
# ---------------------------------------------------------------------------------------------
sb_start cacard "${CACARD[@]}" vpcd --db "$REPO/certs-sample/nssdb-pw" --password-file "$W/password.txt" \
  --compress-certificates
pcscd_wait_inserted "Virtual PCD 00 00" 20 || sb_log "card did not appear"

sb_step slots $T pkcs11-tool --module "$COOLKEY_MODULE" -L
sb_step mechanisms $T "${P11[@]}" -M
sb_step objects $T "${P11[@]}" -O
for i in 1 2 3; do
  sb_step "read_cert$i" $T "${P11[@]}" --read-object --type cert --id "000$i" -o "$W/c$i.der"
  cp "$W/c$i.der" "$OUT/c$i.der" 2>/dev/null
  timeout 10 openssl x509 -inform DER -in "$W/c$i.der" -pubkey -noout >"$W/p$i.pem" 2>/dev/null
done

# CoolKey offers RSA-PKCS only (no hashing mechanisms): the input is the DER DigestInfo of
# the SHA-256 digest (RFC 8017 §9.2), which makes an ordinary RSASSA-PKCS1-v1_5 signature.
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
  timeout 10 openssl dgst -sha256 -binary "$W/data.txt"; } >"$W/digestinfo.bin"

sb_step login_wrong $T "${P11[@]}" --login --pin 00000000 --sign -m RSA-PKCS --id 0001 \
  -i "$W/digestinfo.bin" -o "$W/sig_wrong.bin"
sb_step sign $T "${P11[@]}" --login --pin "$PIN" --sign -m RSA-PKCS --id 0001 \
  -i "$W/digestinfo.bin" -o "$W/sig.bin"
sb_step verify 20 openssl dgst -sha256 -verify "$W/p1.pem" -signature "$W/sig.bin" "$W/data.txt"
sb_step sign2 $T "${P11[@]}" --login --pin "$PIN" --sign -m RSA-PKCS --id 0002 \
  -i "$W/digestinfo.bin" -o "$W/sig2.bin"
sb_step verify2 20 openssl dgst -sha256 -verify "$W/p2.pem" -signature "$W/sig2.bin" "$W/data.txt"

sb_step encrypt 20 openssl pkeyutl -encrypt -pubin -inkey "$W/p3.pem" -in "$W/data.txt" -out "$W/enc.bin"
sb_step decrypt $T "${P11[@]}" --login --pin "$PIN" --decrypt -m RSA-PKCS --id 0003 \
  -i "$W/enc.bin" -o "$W/dec.bin"
sb_step decrypt_cmp 5 cmp "$W/data.txt" "$W/dec.bin"

# OpenSC on the same compressed card: it inflates too (card-cac.c, (certinfo & 3) == 1).
opensc_private_config "$W"
sb_step opensc_read_cert2 $T pkcs11-tool --read-object --type cert --id 0002 -o "$W/opensc_c2.der"
cp "$W/opensc_c2.der" "$OUT/opensc_c2.der" 2>/dev/null

sb_stop cacard 10
sb_note cacard_exit "$SB_LAST_RC"
cp "$SB_DIR/cacard.log" "$OUT/cacard-compressed.log"
pcscd_wait_removed "Virtual PCD 00 00" 10

# ---------------------------------------------------------------------------------------------
# Phase 2: the default card, CertInfo 00 (libcacard's bytes)
# ---------------------------------------------------------------------------------------------
sb_start cacard_plain "${CACARD[@]}" vpcd --db "$REPO/certs-sample/nssdb-pw" --password-file "$W/password.txt"
pcscd_wait_inserted "Virtual PCD 00 00" 20 2 || sb_log "plain card did not appear"
sb_step plain_objects $T "${P11[@]}" -O
sb_stop cacard_plain 10
cp "$SB_DIR/cacard_plain.log" "$OUT/cacard-plain.log"

sb_stop pcscd 10
cp "$SB_DIR/pcscd.log" "$OUT/pcscd.log"
sb_log "scenario done"
exit 0
