#!/bin/bash
# OpenSC against `cacard vpcd` through a real pcscd + vpcd, in private namespaces.
# Runs as PID 1 of `unshare --net --mount --pid --fork` (see opensc.test.ts).
#
#   scenario.sh OUT_DIR WORK_DIR
#   env: REPO (checkout), NODE_BIN (node), CACARD_CLI (dist/cli/main.js)
#
# Every step leaves OUT_DIR/<step>.{out,err,rc,time}; the test asserts on them.
# A failing step does not stop the run, so one report shows every problem.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/scenario.sh
. "$HERE/../lib/scenario.sh"

PIN=12345678
T=60 # per-step limit (seconds); a pkcs11-tool run takes ~4 s per card present

scenario_init "$1" "$2"

opensc_private_config "$W"

pcscd_up "$W/reader.conf.d"

# db_state DIR NAME: sha256 of every file and a listing (type, size, mode, mtime, ctime) of
# everything in DIR, hidden entries included, for a before/after comparison by the test.
db_state() {
  (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2) >"$OUT/$2.sha256"
  (cd "$1" && find . -printf '%p %y %s %m %T@ %C@\n' | sort) >"$OUT/$2.list"
}
db_state "$REPO/certs-sample/nssdb" nssdb_before

printf 'hello from cacard over vpcd\n' >"$W/data.txt"
timeout 10 openssl dgst -sha256 -binary "$W/data.txt" >"$W/data.sha256"

# ---------------------------------------------------------------------------------------------
# Phase 1: two cards from the passwordless DB, controlled via stdin and signals
# ---------------------------------------------------------------------------------------------
mkfifo "$W/control"
exec 7<>"$W/control" # keeps the fifo open for writing, so cacard never sees EOF
SB_STDIN="$W/control" sb_start cacard "${CACARD[@]}" vpcd --db "$REPO/certs-sample/nssdb" --cards 2 --control stdin
phase1_start=$(date +%s.%N)
pcscd_wait_inserted "Virtual PCD 00 00" 20 && pcscd_wait_inserted "Virtual PCD 00 01" 20 ||
  sb_log "cards did not appear"
awk -v a="$phase1_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }' >"$OUT/insert_latency.note"

sb_step readers_two 20 opensc-tool -l
sb_step serial_r0 20 opensc-tool --serial -r 0
sb_step serial_r1 20 opensc-tool --serial -r 1

# Card 1 out through the stdin control channel; the rest of phase 1 uses card 0 alone
# (OpenSC binds every token present on each pkcs11-tool run, ~4 s each).
echo "remove 1" >&7
pcscd_wait_removed "Virtual PCD 00 01" 10
echo "status" >&7
sb_step readers_one 20 opensc-tool -l

sb_step name 20 opensc-tool -n
sb_step atr 20 opensc-tool -a
sb_step p15_dump $T pkcs15-tool -D
sb_step p11_objects $T pkcs11-tool --login --pin "$PIN" -O
sb_step p11_any_pin $T pkcs11-tool --login --pin 87654321 -O
sb_step p11_mechs $T pkcs11-tool -M

sb_step read_cert1 $T pkcs11-tool --read-object --type cert --id 0001 -o "$W/c1.der"
sb_step read_cert3 $T pkcs11-tool --read-object --type cert --id 0003 -o "$W/c3.der"
timeout 10 openssl x509 -inform DER -in "$W/c1.der" -pubkey -noout >"$W/p1.pem" 2>/dev/null
timeout 10 openssl x509 -inform DER -in "$W/c3.der" -pubkey -noout >"$W/p3.pem" 2>/dev/null
timeout 10 openssl x509 -inform DER -in "$W/c1.der" -noout -subject >"$OUT/cert1_subject.note" 2>&1

# SHA256-RSA-PKCS: the card gets a PKCS#1 v1.5 block built by OpenSC.
sb_step sign_pkcs $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 0001 \
  -i "$W/data.txt" -o "$W/sig_pkcs.bin"
sb_step verify_pkcs 20 openssl dgst -sha256 -verify "$W/p1.pem" -signature "$W/sig_pkcs.bin" "$W/data.txt"

# RSA-PKCS-PSS over a precomputed SHA-256 digest (salt = digest length).
sb_step sign_pss $T pkcs11-tool --login --pin "$PIN" --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 \
  --mgf MGF1-SHA256 --id 0001 -i "$W/data.sha256" -o "$W/sig_pss.bin"
sb_step verify_pss 20 openssl pkeyutl -verify -pubin -inkey "$W/p1.pem" -in "$W/data.sha256" \
  -sigfile "$W/sig_pss.bin" -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:-1 -pkeyopt digest:sha256

# SHA256-RSA-PKCS-PSS: OpenSC hashes the message itself.
sb_step sign_sha256_pss $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS-PSS --id 0001 \
  -i "$W/data.txt" -o "$W/sig_sha256_pss.bin"
sb_step verify_sha256_pss 20 openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
  -verify "$W/p1.pem" -signature "$W/sig_sha256_pss.bin" "$W/data.txt"

# RSA-PKCS decryption round trip with key 3.
sb_step encrypt 20 openssl pkeyutl -encrypt -pubin -inkey "$W/p3.pem" -in "$W/data.txt" -out "$W/enc.bin"
sb_step decrypt $T pkcs11-tool --login --pin "$PIN" --decrypt -m RSA-PKCS --id 0003 \
  -i "$W/enc.bin" -o "$W/dec.bin"
sb_step decrypt_cmp 5 cmp "$W/data.txt" "$W/dec.bin"

sb_step selftest 120 pkcs11-tool --test --login --pin "$PIN"

# Removal and insertion by signal (every card of the process).
kill -USR1 "$(sb_pid cacard)"
pcscd_wait_removed "Virtual PCD 00 00" 10
sb_step removed_readers 20 opensc-tool -l
sb_step removed_slots 20 pkcs11-tool -L
kill -USR2 "$(sb_pid cacard)"
pcscd_wait_inserted "Virtual PCD 00 00" 20 2 && pcscd_wait_inserted "Virtual PCD 00 01" 20 2
sb_step inserted_readers 20 opensc-tool -l
sb_step inserted_slots $T pkcs11-tool -L

exec 7>&-
sb_stop cacard 10
sb_note cacard_exit "$SB_LAST_RC"
cp "$SB_DIR/cacard.log" "$OUT/cacard1.log"
db_state "$REPO/certs-sample/nssdb" nssdb_after

# ---------------------------------------------------------------------------------------------
# Phase 2: the DB with a password; the password is the PIN. The card runs from a read-only
# copy (chmod a-w, and a read-only bind mount in this mount namespace, since root ignores
# file modes): a whole OpenSC session must leave every byte, mode and time as it was and
# add no file (no lock, journal or -wal file).
# ---------------------------------------------------------------------------------------------
printf '%s\n' "$PIN" >"$W/password.txt"
chmod 600 "$W/password.txt"
RO="$W/nssdb-ro"
cp -r "$REPO/certs-sample/nssdb-pw" "$RO" && chmod -R a-w "$RO" || sb_die "cannot copy nssdb-pw"
if mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO"; then
  sb_note ro_mount "$(findmnt -n -o OPTIONS --target "$RO" 2>/dev/null || echo mounted)"
else
  sb_note ro_mount "failed"
fi
sb_step ro_write_probe 5 touch "$RO/probe" # must fail: read-only file system
db_state "$RO" ro_before

# --no-quickack: this card keeps Linux's delayed ACKs (the fallback when the native helper is missing).
sb_start cacard_pw "${CACARD[@]}" vpcd --db "$RO" --password-file "$W/password.txt" --no-quickack
pcscd_wait_inserted "Virtual PCD 00 00" 20 3 || sb_log "password card did not appear"

sb_step pw_p15_dump $T pkcs15-tool -D
sb_step pw_wrong $T pkcs11-tool --login --pin 00000000 -O
sb_step pw_read_cert $T pkcs11-tool --read-object --type cert --id 0002 -o "$W/pw_c2.der"
timeout 10 openssl x509 -inform DER -in "$W/pw_c2.der" -pubkey -noout >"$W/pw_p2.pem" 2>/dev/null
sb_step pw_sign $T pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 0002 \
  -i "$W/data.txt" -o "$W/pw_sig.bin"
sb_step pw_verify 20 openssl dgst -sha256 -verify "$W/pw_p2.pem" -signature "$W/pw_sig.bin" "$W/data.txt"
# Decryption with key 3 (same keys as nssdb; its public key was read off the card in phase 1).
sb_step pw_encrypt 20 openssl pkeyutl -encrypt -pubin -inkey "$W/p3.pem" -in "$W/data.txt" -out "$W/pw_enc.bin"
sb_step pw_decrypt $T pkcs11-tool --login --pin "$PIN" --decrypt -m RSA-PKCS --id 0003 \
  -i "$W/pw_enc.bin" -o "$W/pw_dec.bin"
sb_step pw_decrypt_cmp 5 cmp "$W/data.txt" "$W/pw_dec.bin"

sb_stop cacard_pw 10
sb_note cacard_pw_exit "$SB_LAST_RC"
cp "$SB_DIR/cacard_pw.log" "$OUT/cacard2.log"
db_state "$RO" ro_after

sb_stop pcscd 10
cp "$SB_DIR/pcscd.log" "$OUT/pcscd.log"
sb_log "scenario done"
exit 0
