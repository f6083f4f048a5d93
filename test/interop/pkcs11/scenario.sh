#!/bin/bash
# OpenSC against `cacard vpcd --pkcs11 ...` (host mode: the card's keys stay on
# a PKCS#11 token) through a real pcscd + vpcd, in private namespaces.
# Runs as PID 1 of `unshare --net --mount --pid --fork` (see pkcs11.test.ts).
#
#   scenario.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js), WITH_TPM (1/0)
#
# Phase 1: a SoftHSM2 token made here (RSA-2048 certificate picked by label):
#   pkcs15-tool -D, sign verified by openssl, decrypt round trip, wrong PIN,
#   then the token's files taken away -> the card leaves the reader.
# Phase 2: a TPM 2.0 token (swtpm + tpm2-abrmd + tpm2-pkcs11, UNIX sockets in
#   WORK_DIR): the same sign / decrypt / wrong PIN.
# Every step leaves OUT_DIR/<step>.{out,err,rc,time}; the test asserts on them.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOKENS="$HERE/../../tokens/pkcs11"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=77777777
T=60
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so

scenario_init "$1" "$2"
opensc_private_config "$W"
pcscd_up "$W/reader.conf.d"
printf 'hello from a PKCS#11 token through cacard\n' >"$W/data.txt"
printf '%s\n' "$PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"

# opensc_round NAME CERT_PEM: the OpenSC checks against the card in "Virtual PCD 00 00".
opensc_round() {
  local n="$1" pub="$W/$1.pub.pem"
  timeout 10 openssl x509 -in "$2" -pubkey -noout >"$pub"
  sb_step "${n}_p15_dump" $T pkcs15-tool -D
  sb_step "${n}_read_cert" $T pkcs11-tool --read-object --type cert --id 0001 -o "$W/$n.cert.der"
  sb_step "${n}_sign" $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 0001 \
    -i "$W/data.txt" -o "$W/$n.sig"
  sb_step "${n}_verify" 20 openssl dgst -sha256 -verify "$pub" -signature "$W/$n.sig" "$W/data.txt"
  sb_step "${n}_encrypt" 20 openssl pkeyutl -encrypt -pubin -inkey "$pub" -in "$W/data.txt" -out "$W/$n.enc"
  sb_step "${n}_decrypt" $T pkcs11-tool --login --pin "$PIN" --decrypt -m RSA-PKCS --id 0001 \
    -i "$W/$n.enc" -o "$W/$n.dec"
  sb_step "${n}_decrypt_cmp" 5 cmp "$W/data.txt" "$W/$n.dec"
  sb_step "${n}_wrong_pin" $T pkcs11-tool --login --pin 12341234 --sign -m SHA256-RSA-PKCS --id 0001 \
    -i "$W/data.txt" -o "$W/$n.bad.sig"
}

# ---------------------------------------------------------------------------------------------
# Phase 1: SoftHSM2
# ---------------------------------------------------------------------------------------------
"$TOKENS/make-softhsm-token.sh" "$W/hsm" >"$W/hsm.env" 2>"$OUT/make_softhsm.err" || sb_die "SoftHSM token"
# shellcheck disable=SC1091
. "$W/hsm.env"

sb_step bad_token 20 "${CACARD[@]}" vpcd --pkcs11 "$SOFTHSM" --token no-such-token
sb_step bad_module 20 "${CACARD[@]}" vpcd --pkcs11 "$W/no-such-module.so"

sb_start cacard_hsm "${CACARD[@]}" vpcd --pkcs11 "$SOFTHSM" --token cacard-softhsm --cert rsa2048 \
  --password-file "$W/pin.txt"
pcscd_wait_inserted "Virtual PCD 00 00" 20 || sb_log "SoftHSM card did not appear"
sb_step hsm_name 20 opensc-tool -n
opensc_round hsm "$TOKENS/fixtures/rsa2048.cert.pem"

# Pull the token: its files go away; the card must leave the reader.
mv "$W/hsm/tokens" "$W/hsm/tokens-aside" && mkdir "$W/hsm/tokens"
pcscd_wait_removed "Virtual PCD 00 00" 10
sb_step hsm_removed_readers 20 opensc-tool -l
sb_stop cacard_hsm 10
sb_note hsm_exit "$SB_LAST_RC"
cp "$SB_DIR/cacard_hsm.log" "$OUT/cacard_hsm.log"

# ---------------------------------------------------------------------------------------------
# Phase 2: a TPM 2.0 token
# ---------------------------------------------------------------------------------------------
if [ "${WITH_TPM:-1}" = 1 ]; then
  TPM_TOKEN_LIFETIME=600 "$TOKENS/make-tpm-token.sh" "$W/tpm" >"$W/tpm.env" 2>"$OUT/make_tpm.err" || sb_die "TPM token"
  # shellcheck disable=SC1091
  . "$W/tpm.env"
  export TSS2_LOG=all+none
  sb_start cacard_tpm "${CACARD[@]}" vpcd --pkcs11 "$CACARD_P11_MODULE" --token cacard-tpm --cert rsa2048
  pcscd_wait_inserted "Virtual PCD 00 00" 30 2 || sb_log "TPM card did not appear"
  sb_step tpm_name 20 opensc-tool -n
  opensc_round tpm "$TOKENS/fixtures/rsa2048.cert.pem"
  sb_stop cacard_tpm 10
  sb_note tpm_exit "$SB_LAST_RC"
  cp "$SB_DIR/cacard_tpm.log" "$OUT/cacard_tpm.log"
  "$TOKENS/stop-tpm-token.sh" "$W/tpm"
fi

cp "$SB_DIR/pcscd.log" "$OUT/pcscd.log"
sb_log "scenario done"
