#!/bin/sh
# Generates the test keys and self-signed certificates in fixtures/ ONCE.
# The outputs are committed: tests then run on fixed bytes (no unseeded
# randomness at test time, and no 4096-bit key generation on every run).
# Test-only material: never use these keys for anything real.
#
#   stem       key            CKA_ID  subject
#   rsa2048    RSA 2048       01      CN=cacard pkcs11 RSA-2048
#   rsa4096    RSA 4096       02      CN=cacard pkcs11 RSA-4096
#   p256       EC prime256v1  03      CN=cacard pkcs11 P-256
#   p384       EC secp384r1   04      CN=cacard pkcs11 P-384
#   lonely     RSA 2048       00      certificate only (its key is NOT put on tokens)
set -eu
cd "$(dirname "$0")/fixtures"

gen() { # stem genpkey-args... -> stem.key.pem (PKCS#8), stem.cert.pem, stem.cert.der
  stem=$1; shift
  [ -f "$stem.key.pem" ] || openssl genpkey "$@" -out "$stem.key.pem"
  openssl req -x509 -new -key "$stem.key.pem" -subj "/CN=cacard pkcs11 $SUBJ" \
    -days 36500 -set_serial "$SERIAL" -sha256 \
    -addext keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement \
    -out "$stem.cert.pem"
  openssl x509 -in "$stem.cert.pem" -outform DER -out "$stem.cert.der"
}

SUBJ=RSA-2048 SERIAL=1 gen rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
SUBJ=RSA-4096 SERIAL=2 gen rsa4096 -algorithm RSA -pkeyopt rsa_keygen_bits:4096
SUBJ=P-256 SERIAL=3 gen p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve
SUBJ=P-384 SERIAL=4 gen p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve
SUBJ="lonely CA" SERIAL=5 gen lonely -algorithm RSA -pkeyopt rsa_keygen_bits:2048
ls -l
