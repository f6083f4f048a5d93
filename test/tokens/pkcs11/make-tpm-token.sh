#!/bin/sh
# make-tpm-token.sh DIR
#
# Builds a TPM 2.0 PKCS#11 token under DIR: a software TPM (swtpm), a private
# D-Bus session bus, the tpm2-abrmd resource manager on that bus, and a
# tpm2-pkcs11 store (SQLite) in DIR/store.
#
# Isolation: every socket is a UNIX socket inside DIR (no TCP port, so no
# clash with other tests and nothing reachable from the network); every
# daemon runs under `timeout` (TPM_TOKEN_LIFETIME seconds, default 3600) so a
# forgotten token dies on its own. Stop it early with stop-tpm-token.sh DIR,
# which kills exactly the PIDs recorded in DIR/*.pid.
#
# Token "cacard-tpm", SO-PIN 12345678, user PIN 77777777.
#   CKA_ID  key        key / certificate CKA_LABEL
#   01      RSA-2048   rsa2048 / rsa2048
#   03      EC P-256   p256 / p256
#   04      EC P-384   p384 / p384
# (swtpm 0.7 / libtpms has no RSA-4096: tpm2_import fails with TPM_RC 0x2c4,
# "value is out of range"; the module advertises RSA 1024..3072.) CKA_IDs are set as single binary bytes: tpm2_ptool stores the
# UTF-8 text of --id, so "--id=01" would give CKA_ID 30 31.
#
# Why a resource manager: tpm2_ptool leaves transient objects loaded, and
# against the bare swtpm "addtoken" fails with Esys_Create 0x902 ("out of
# memory for object contexts"). tpm2-abrmd flushes them; it only talks D-Bus,
# hence the private bus.
#
# Output: the env lines to export, on stdout (also saved in DIR/env).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(mkdir -p "$1" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/fixtures
LIFETIME=${TPM_TOKEN_LIFETIME:-3600}
MODULE=${TPM2_PKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
LABEL=cacard-tpm
SO_PIN=12345678
PIN=77777777

for tool in swtpm dbus-daemon tpm2-abrmd tpm2_ptool tpm2_getcap; do
  command -v $tool >/dev/null || { echo "$0: $tool not found (.ci/run lists the Debian packages)" >&2; exit 1; }
done
# AF_UNIX paths are limited to 108 bytes; the longest one is tpm.sock.ctrl.
[ ${#DIR} -lt 90 ] || { echo "$0: DIR path too long for UNIX sockets" >&2; exit 1; }

"$HERE/stop-tpm-token.sh" "$DIR" 2>/dev/null || true
rm -rf "$DIR/state" "$DIR/store" "$DIR"/*.sock* "$DIR/bus"
mkdir -p "$DIR/state" "$DIR/store"

# 1. swtpm on two UNIX sockets (command + control). The swtpm TCTI derives
#    the control socket name by appending ".ctrl" to path=.
timeout -k 5 "$LIFETIME" swtpm socket --tpm2 --tpmstate dir="$DIR/state" \
  --server type=unixio,path="$DIR/tpm.sock" --ctrl type=unixio,path="$DIR/tpm.sock.ctrl" \
  --flags not-need-init,startup-clear --log file="$DIR/swtpm.log" </dev/null >/dev/null 2>&1 &
echo $! > "$DIR/swtpm.pid"

# 2. a private session bus (no systemd here, and never the user's own bus).
timeout -k 5 "$LIFETIME" dbus-daemon --session --nofork --nopidfile \
  --address="unix:path=$DIR/bus" </dev/null >"$DIR/dbus.log" 2>&1 &
echo $! > "$DIR/dbus.pid"

wait_for() { # file
  i=0; while [ ! -S "$1" ]; do i=$((i+1)); [ $i -lt 100 ] || { echo "$0: $1 did not appear" >&2; exit 1; }; sleep 0.1; done
}
wait_for "$DIR/tpm.sock"; wait_for "$DIR/bus"

# 3. the resource manager, on that bus, in front of the swtpm.
export DBUS_SESSION_BUS_ADDRESS="unix:path=$DIR/bus"
timeout -k 5 "$LIFETIME" tpm2-abrmd --session --allow-root --flush-all \
  --tcti="swtpm:path=$DIR/tpm.sock" </dev/null >"$DIR/abrmd.log" 2>&1 &
echo $! > "$DIR/abrmd.pid"

export TPM2TOOLS_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_STORE="$DIR/store"
i=0; until tpm2_getcap properties-fixed >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 100 ] || { echo "$0: tpm2-abrmd not answering, see $DIR/abrmd.log" >&2; exit 1; }; sleep 0.1
done

# 4. the tpm2-pkcs11 store and token.
P="--path $DIR/store"
tpm2_ptool init $P >/dev/null           # primary object; prints "id: 1"
tpm2_ptool addtoken --pid=1 --label=$LABEL --sopin=$SO_PIN --userpin=$PIN $P >/dev/null
add() { # stem algorithm id-byte
  tpm2_ptool import --label=$LABEL --key-label="$1" --id="$(printf "\\$3")" --userpin=$PIN \
    --privkey="$FIX/$1.key.pem" --algorithm="$2" $P >/dev/null
  tpm2_ptool addcert --label=$LABEL --key-label="$1" $P "$FIX/$1.cert.pem" >/dev/null
}
add p384 ecc 004
add p256 ecc 003
add rsa2048 rsa 001

{
  echo "export DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"
  echo "export TPM2TOOLS_TCTI=$TPM2TOOLS_TCTI"
  echo "export TPM2_PKCS11_TCTI=$TPM2_PKCS11_TCTI"
  echo "export TPM2_PKCS11_STORE=$TPM2_PKCS11_STORE"
  echo "export CACARD_P11_MODULE=$MODULE"
  echo "export CACARD_P11_TOKEN=$LABEL"
  echo "export CACARD_P11_PIN=$PIN"
} | tee "$DIR/env"
