#!/bin/bash
# OpenSC's PIV driver and yubico-piv-tool against `cacard vpcd --personality piv` and
# `--personality cac+piv`, through a real pcscd + vpcd, in private namespaces.
# Runs as PID 1 of `unshare --net --mount --pid --fork` (see piv.test.ts).
#
#   scenario.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js)
#
# Every step leaves OUT_DIR/<step>.{out,err,rc,time}; the test asserts on them.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=123456
T=60
READER="Virtual PCD 00 00"

scenario_init "$1" "$2"
opensc_private_config "$W"
pcscd_up "$W/reader.conf.d"
printf 'hello from a cacard PIV card\n' >"$W/data.txt"
openssl dgst -sha256 -binary "$W/data.txt" >"$W/data.sha256"

# ---------------------------------------------------------------------------------------------
# The keys: an NSS DB made by certutil now, with a DB password apart from the card PIN.
# 9A RSA-2048, 9C EC P-256, 9D EC P-256 (key agreement), 9E EC P-384.
# ---------------------------------------------------------------------------------------------
DB="$W/nssdb"
mkdir -p "$DB"
printf 'db-password\n' >"$W/dbpw.txt"
printf '%s\n' "$PIN" >"$W/pin.txt"
yes "cacard piv noise" | head -c 4096 >"$W/noise.bin" # certutil -z: any bytes; the outcome does not depend on the keys
certutil -N -d "sql:$DB" -f "$W/dbpw.txt" >"$OUT/certutil.log" 2>&1
i=0
for spec in "piv-auth rsa 2048 SHA256" "piv-sign ec secp256r1 SHA256" "piv-km ec secp256r1 SHA256" "piv-card ec secp384r1 SHA384"; do
  set -- $spec
  if [ "$2" = rsa ]; then keyargs=(-k rsa -g "$3"); else keyargs=(-k ec -q "$3"); fi
  certutil -S -d "sql:$DB" -f "$W/dbpw.txt" -z "$W/noise.bin" -n "$1" -s "CN=$1,O=cacard PIV test" -x -t "CT,C,C" \
    "${keyargs[@]}" -Z "$4" -v 12 -m $((3000 + i)) >>"$OUT/certutil.log" 2>&1 || sb_log "certutil $1 failed"
  certutil -L -d "sql:$DB" -n "$1" -r >"$W/$1.der" 2>>"$OUT/certutil.log"
  openssl x509 -inform DER -in "$W/$1.der" -pubkey -noout >"$W/$1.pub.pem" 2>>"$OUT/certutil.log"
  i=$((i + 1))
done

# ---------------------------------------------------------------------------------------------
# Phase 1: --personality piv on the NSS DB
# ---------------------------------------------------------------------------------------------
sb_start cacard "${CACARD[@]}" vpcd --personality piv --db "$DB" --cert piv-auth --cert piv-sign --cert piv-km \
  --cert piv-card --password-file "$W/dbpw.txt" --pin-file "$W/pin.txt"
pcscd_wait_inserted "$READER" 20 || sb_log "card did not appear"

sb_step atr 20 opensc-tool -a
sb_step name 20 opensc-tool -n
sb_step p11_list $T pkcs11-tool -L
sb_step p15_dump $T pkcs15-tool -D
# Before any login: once a client verified the PIN, pcscd keeps the card powered and PIV selected,
# so later status queries answer 9000 (which yubico-piv-tool 2.2.0 prints as "-1 tries").
sb_step yk_status 30 yubico-piv-tool -r "Virtual PCD" -a status
sb_step p11_objects $T pkcs11-tool --login --pin "$PIN" -O
sb_step p11_mechs $T pkcs11-tool -M
for id in 01 02 03 04; do
  sb_step "read_cert$id" $T pkcs11-tool --read-object --type cert --id "$id" -o "$W/card$id.der"
  openssl x509 -inform DER -in "$W/card$id.der" -pubkey -noout >"$W/card$id.pub.pem" 2>/dev/null
done

# RSA on 9A: PKCS#1 v1.5 and PSS, padded by OpenSC, raw on the card.
sb_step sign_rsa $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 01 -i "$W/data.txt" -o "$W/sig_rsa.bin"
sb_step verify_rsa 20 openssl dgst -sha256 -verify "$W/card01.pub.pem" -signature "$W/sig_rsa.bin" "$W/data.txt"
sb_step sign_pss $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS-PSS --id 01 -i "$W/data.txt" -o "$W/sig_pss.bin"
sb_step verify_pss 20 openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
  -verify "$W/card01.pub.pem" -signature "$W/sig_pss.bin" "$W/data.txt"
# RSA decryption on 9A.
sb_step encrypt 20 openssl pkeyutl -encrypt -pubin -inkey "$W/card01.pub.pem" -in "$W/data.txt" -out "$W/enc.bin"
sb_step decrypt $T pkcs11-tool --login --pin "$PIN" --decrypt -m RSA-PKCS --id 01 -i "$W/enc.bin" -o "$W/dec.bin"
sb_step decrypt_cmp 5 cmp "$W/data.txt" "$W/dec.bin"

# ECDSA P-256 on 9C (PIN always: OpenSC verifies right before) and P-384 on 9E.
sb_step sign_p256 $T pkcs11-tool --login --pin "$PIN" --sign -m ECDSA-SHA256 --signature-format openssl --id 02 \
  -i "$W/data.txt" -o "$W/sig_p256.der"
sb_step verify_p256 20 openssl dgst -sha256 -verify "$W/card02.pub.pem" -signature "$W/sig_p256.der" "$W/data.txt"
sb_step sign_p384 $T pkcs11-tool --login --pin "$PIN" --sign -m ECDSA-SHA384 --signature-format openssl --id 04 \
  -i "$W/data.txt" -o "$W/sig_p384.der"
sb_step verify_p384 20 openssl dgst -sha384 -verify "$W/card04.pub.pem" -signature "$W/sig_p384.der" "$W/data.txt"
# 9E needs no PIN: pkcs15-crypt without one.
openssl dgst -sha384 -binary "$W/data.txt" >"$W/data.sha384"
sb_step sign_9e_nopin $T pkcs15-crypt --sign --key 04 --sha-384 --signature-format openssl -i "$W/data.sha384" -o "$W/sig_9e.der"
sb_step verify_9e_nopin 20 openssl dgst -sha384 -verify "$W/card04.pub.pem" -signature "$W/sig_9e.der" "$W/data.txt"

# ECDH on 9D against openssl's own derivation.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key" 2>/dev/null
openssl pkey -in "$W/peer.key" -pubout -outform DER -out "$W/peer.der" 2>/dev/null
sb_step derive $T pkcs11-tool --login --pin "$PIN" --derive --id 03 -m ECDH1-DERIVE --input-file "$W/peer.der" --output-file "$W/z_card.bin"
sb_step derive_openssl 20 openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/card03.pub.pem" -out "$W/z_openssl.bin"
sb_step derive_cmp 5 cmp "$W/z_card.bin" "$W/z_openssl.bin"

sb_step selftest 180 pkcs11-tool --test --login --pin "$PIN"

# yubico-piv-tool: status and every slot's certificate (-r: a substring of the reader name).
for slot in 9a 9c 9d 9e; do
  sb_step "yk_cert_$slot" 30 yubico-piv-tool -r "Virtual PCD" -a read-certificate -s "$slot" -o "$W/yk_$slot.pem"
done
sb_step yk_sign_9a 30 yubico-piv-tool -r "Virtual PCD" -P "$PIN" -a verify-pin -a test-signature -s 9a -i "$W/yk_9a.pem"
sb_step yk_sign_9c 30 yubico-piv-tool -r "Virtual PCD" -P "$PIN" -a verify-pin -a test-signature -s 9c -i "$W/yk_9c.pem"

# Wrong PINs until blocked (3 tries), last: the right PIN no longer works.
sb_step wrong_pin1 $T pkcs11-tool --login --pin 000000 -O
sb_step wrong_pin2 $T pkcs11-tool --login --pin 000000 -O
sb_step wrong_pin3 $T pkcs11-tool --login --pin 000000 -O
sb_step blocked $T pkcs11-tool --login --pin "$PIN" -O
sb_step blocked_yk 30 yubico-piv-tool -r "Virtual PCD" -a status

sb_stop cacard 10
cp "$SB_DIR/cacard.log" "$OUT/cacard_piv.log"
pcscd_wait_removed "$READER" 10

# ---------------------------------------------------------------------------------------------
# Phase 2: a PEM directory (openssl-made RSA-2048 and P-256), --personality piv
# ---------------------------------------------------------------------------------------------
PEM="$W/pem"
mkdir -p "$PEM"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PEM/rsa.key" -out "$PEM/rsa.pem" -subj "/CN=pem rsa" -days 30 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PEM/ec.key" -out "$PEM/ec.pem" \
  -subj "/CN=pem ec" -days 30 2>/dev/null
openssl x509 -in "$PEM/rsa.pem" -pubkey -noout >"$W/pem_rsa.pub.pem"
openssl x509 -in "$PEM/ec.pem" -pubkey -noout >"$W/pem_ec.pub.pem"
sb_start cacard_pem "${CACARD[@]}" vpcd --personality piv --db "$PEM" --cert rsa --cert ec --pin-file "$W/pin.txt"
pcscd_wait_inserted "$READER" 20 2 || sb_log "PEM card did not appear"
sb_step pem_sign_rsa $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 01 -i "$W/data.txt" -o "$W/pem_rsa.sig"
sb_step pem_verify_rsa 20 openssl dgst -sha256 -verify "$W/pem_rsa.pub.pem" -signature "$W/pem_rsa.sig" "$W/data.txt"
sb_step pem_sign_ec $T pkcs11-tool --login --pin "$PIN" --sign -m ECDSA-SHA256 --signature-format openssl --id 02 \
  -i "$W/data.txt" -o "$W/pem_ec.sig"
sb_step pem_verify_ec 20 openssl dgst -sha256 -verify "$W/pem_ec.pub.pem" -signature "$W/pem_ec.sig" "$W/data.txt"
sb_stop cacard_pem 10
cp "$SB_DIR/cacard_pem.log" "$OUT/cacard_pem.log"
pcscd_wait_removed "$READER" 10 2

# ---------------------------------------------------------------------------------------------
# Phase 3: --personality cac+piv on the sample DB (no password: any PIN opens it), driven once
# by OpenSC's PIV driver (its default: PIV-II comes first) and once by its CAC driver.
# ---------------------------------------------------------------------------------------------
DUAL_PIN=12345678
sb_start cacard_dual "${CACARD[@]}" vpcd --personality cac+piv --db "$REPO/certs-sample/nssdb"
pcscd_wait_inserted "$READER" 20 3 || sb_log "dual card did not appear"
openssl x509 -in "$REPO/certs-sample/pem/cert1.pem" -pubkey -noout >"$W/sample1.pub.pem"
sb_step dual_atr 20 opensc-tool -a
sb_step dual_piv_name 20 opensc-tool -n
sb_step dual_piv_dump $T pkcs15-tool -D
sb_step dual_piv_sign $T pkcs11-tool --login --pin "$DUAL_PIN" --sign -m SHA256-RSA-PKCS --id 01 -i "$W/data.txt" -o "$W/dual_piv.sig"
sb_step dual_piv_verify 20 openssl dgst -sha256 -verify "$W/sample1.pub.pem" -signature "$W/dual_piv.sig" "$W/data.txt"
sb_step dual_cac_name 20 env OPENSC_DRIVER=cac opensc-tool -n
sb_step dual_cac_dump $T env OPENSC_DRIVER=cac pkcs15-tool -D
sb_step dual_cac_sign $T env OPENSC_DRIVER=cac pkcs11-tool --login --pin "$DUAL_PIN" --sign -m SHA256-RSA-PKCS --id 0001 \
  -i "$W/data.txt" -o "$W/dual_cac.sig"
sb_step dual_cac_verify 20 openssl dgst -sha256 -verify "$W/sample1.pub.pem" -signature "$W/dual_cac.sig" "$W/data.txt"
sb_stop cacard_dual 10
cp "$SB_DIR/cacard_dual.log" "$OUT/cacard_dual.log"

sb_stop pcscd 10
cp "$SB_DIR/pcscd.log" "$OUT/pcscd.log"
sb_log "scenario done"
exit 0
