#!/bin/sh
# make-softhsm-token.sh DIR
#
# Builds an isolated SoftHSM2 token under DIR for cacard's PKCS#11 tests.
# Nothing outside DIR is touched: SOFTHSM2_CONF points at DIR/softhsm2.conf
# whose token directory is DIR/tokens (the machine's /var/lib/softhsm is never
# used, and p11-kit is never involved because callers load libsofthsm2.so by
# path).
#
# Token "cacard-softhsm", SO-PIN 12345678, user PIN 77777777 (libcacard's
# tests/setup-softhsm2.sh uses the same user PIN).
#
#   CKA_ID  key          private-key / certificate CKA_LABEL
#   00      (none)       -            / lonely     certificate WITHOUT a key
#   01      RSA-2048     rsa2048      / rsa2048
#   02      RSA-4096     rsa4096      / rsa4096
#   03      EC P-256     p256         / p256
#   04      EC P-384     p384         / p384
# Objects are written in the order 04 03 00 02 01 so that a reader that does
# not sort by CKA_ID notices.
#
# Import method (docs/host-mode.md):
# * RSA keys: `softhsm2-util --import` (takes the PKCS#8 PEM as is and also
#   creates the matching CKO_PUBLIC_KEY, with CKA_SIGN/CKA_DECRYPT set);
# * EC keys: `pkcs11-tool --write-object --type privkey --usage-sign
#   --usage-derive`, plus the public key with `--type pubkey`, because
#   softhsm2-util imports EC keys with CKA_DERIVE = false (no ECDH) and
#   pkcs11-tool's privkey write creates no public-key object;
# * certificates: `pkcs11-tool --write-object --type cert` (softhsm2-util
#   cannot import certificates).
# The public-key objects matter: private keys are invisible before C_Login,
# so the public key with the same CKA_ID is what tells the token reader,
# before login, that a certificate has a key pair.
#
# Also writes two configurations over the SAME token directory:
#   DIR/softhsm2-no-raw.conf     slots.mechanisms = -,CKM_RSA_X_509
#       no raw RSA, everything else (ECDSA, ECDH) still offered: exercises
#       the CKM_RSA_PKCS fallback while the EC checks keep working. The
#       empty first entry is deliberate: SoftHSM 2.6.1 ignores the first
#       name of a "-" list ("-CKM_RSA_X_509" alone disables nothing);
#   DIR/softhsm2-pkcs-only.conf  slots.mechanisms = CKM_RSA_PKCS
#       libcacard's own "no raw" test configuration (RSA PKCS#1 only, so EC
#       keys become unusable).
#
# Output: the env lines to export, on stdout.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(mkdir -p "$1" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/fixtures
MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
LABEL=cacard-softhsm
SO_PIN=12345678
PIN=77777777

for tool in softhsm2-util pkcs11-tool; do
  command -v $tool >/dev/null || { echo "$0: $tool not found (apt-get install softhsm2 opensc)" >&2; exit 1; }
done
[ -f "$MODULE" ] || { echo "$0: $MODULE missing (apt-get install softhsm2)" >&2; exit 1; }

rm -rf "$DIR/tokens"; mkdir -p "$DIR/tokens"
conf() { # file extra-line
  {
    echo "directories.tokendir = $DIR/tokens"
    echo "objectstore.backend = file"
    echo "log.level = ERROR"
    # libcacard host mode only mirrors removable slots (docs/host-mode.md)
    echo "slots.removable = true"
    [ -z "$2" ] || echo "$2"
  } > "$1"
}
conf "$DIR/softhsm2.conf" ""
conf "$DIR/softhsm2-no-raw.conf" "slots.mechanisms = -,CKM_RSA_X_509"
conf "$DIR/softhsm2-pkcs-only.conf" "slots.mechanisms = CKM_RSA_PKCS"
export SOFTHSM2_CONF="$DIR/softhsm2.conf"

softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN" >/dev/null

p11() { pkcs11-tool --module "$MODULE" --token-label "$LABEL" --login --pin "$PIN" "$@" >/dev/null; }
TMP=$DIR/import.tmp; mkdir -p "$TMP"
add() { # stem id rsa|ec
  if [ "$3" = rsa ]; then
    softhsm2-util --import "$FIX/$1.key.pem" --token "$LABEL" --label "$1" --id "$2" --pin "$PIN" >/dev/null
  else
    openssl pkey -in "$FIX/$1.key.pem" -outform DER -out "$TMP/key.der"
    openssl pkey -in "$FIX/$1.key.pem" -pubout -outform DER -out "$TMP/pub.der"
    p11 --write-object "$TMP/key.der" --type privkey --id "$2" --label "$1" --usage-sign --usage-derive
    p11 --write-object "$TMP/pub.der" --type pubkey --id "$2" --label "$1" --usage-derive
  fi
  p11 --write-object "$FIX/$1.cert.der" --type cert --id "$2" --label "$1"
}
add p384 04 ec
add p256 03 ec
p11 --write-object "$FIX/lonely.cert.der" --type cert --id 00 --label lonely
add rsa4096 02 rsa
add rsa2048 01 rsa
rm -rf "$TMP"

echo "export SOFTHSM2_CONF=$DIR/softhsm2.conf"
echo "export CACARD_P11_MODULE=$MODULE"
echo "export CACARD_P11_TOKEN=$LABEL"
echo "export CACARD_P11_PIN=$PIN"
