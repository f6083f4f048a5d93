#!/usr/bin/env bash
# Regenerates the sample NSS databases and their PEM copies with Debian's NSS
# tools (libnss3-tools) and OpenSSL. The keys are throwaway test keys.
#
#   nssdb/      three RSA-2048 certificates cert1..cert3 (CN=cert1..3), no DB password
#   nssdb-pw/   the same three certificates and keys, DB password "12345678"
#   pem/        <nick>.pem (certificate) and <nick>.key (unencrypted PKCS#8) for each
#   pem-enc/    the same with PKCS#8 keys encrypted (PBES2, AES-256-CBC) under "12345678"
#
# Regenerating changes every key, so the golden transcripts in test/vectors must be
# re-recorded afterwards (test/harness/record-golden.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
password=12345678
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf nssdb nssdb-pw pem pem-enc
mkdir nssdb nssdb-pw pem pem-enc
printf '%s\n' "$password" > "$work/pw.txt"
: > "$work/empty.txt"

certutil -N -d sql:nssdb --empty-password
for i in 1 2 3; do
  head -c 2048 /dev/urandom > "$work/noise.bin"
  # -m gives each certificate its own serial (certutil otherwise reuses one).
  certutil -S -d sql:nssdb -n "cert$i" -s "CN=cert$i" -x -t CT,C,C -k rsa -g 2048 -Z SHA256 \
    -v 120 -m "$((1000 + i))" -z "$work/noise.bin" -f "$work/empty.txt" >/dev/null
done

# Export each certificate and key, then import the same keys into the password DB.
certutil -N -d sql:nssdb-pw -f "$work/pw.txt"
for i in 1 2 3; do
  pk12util -o "$work/cert$i.p12" -d sql:nssdb -n "cert$i" -W "$password" -K "" >/dev/null
  pk12util -i "$work/cert$i.p12" -d sql:nssdb-pw -W "$password" -K "$password" >/dev/null
  certutil -M -d sql:nssdb-pw -n "cert$i" -t CT,C,C -f "$work/pw.txt"
  openssl pkcs12 -in "$work/cert$i.p12" -passin "pass:$password" -nokeys -clcerts \
    | openssl x509 -out "pem/cert$i.pem"
  openssl pkcs12 -in "$work/cert$i.p12" -passin "pass:$password" -nocerts -nodes \
    | openssl pkey -out "pem/cert$i.key"
  cp "pem/cert$i.pem" "pem-enc/cert$i.pem"
  openssl pkcs8 -topk8 -in "pem/cert$i.key" -v2 aes-256-cbc -passout "pass:$password" -out "pem-enc/cert$i.key"
done
# pkcs11.txt records the absolute path of the directory it was created in; the card
# never reads it, and NSS tools rewrite it as needed.
echo "regenerated in $here"
