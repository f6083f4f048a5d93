#!/bin/busybox sh
# /init of the cacard test guest (see README.md). Runs as PID 1 from the initramfs:
# loads the USB modules, starts pcscd, waits for the usb-ccid reader and the card, runs
# the OpenSC checks and powers off. Every result goes to the serial console between
#
#   ==CACARD-BEGIN <name>==
#   ...output...
#   ==CACARD-END <name> rc=<exit status>==
#
# Kernel command line options (all optional):
#   cacard.pin=12345678   PIN for the signature
#   cacard.watchdog=150   seconds after which the guest powers itself off regardless
#   cacard.wait=90        seconds to wait for the reader and for the card
#   cacard.step=60        seconds after which one OpenSC command is killed
#   cacard.debug=1        always print the pcscd log (otherwise only on a failure)

/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export OPENSC_CONF=/etc/opensc/opensc.conf
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp

PIN=12345678
WATCHDOG=150
WAIT=90
STEP=60
DEBUG=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    cacard.pin=*) PIN=${arg#cacard.pin=} ;;
    cacard.watchdog=*) WATCHDOG=${arg#cacard.watchdog=} ;;
    cacard.wait=*) WAIT=${arg#cacard.wait=} ;;
    cacard.step=*) STEP=${arg#cacard.step=} ;;
    cacard.debug=*) DEBUG=${arg#cacard.debug=} ;;
  esac
done

uptime_s() { cut -d' ' -f1 /proc/uptime; }
info() { echo "==CACARD-INFO $* uptime=$(uptime_s)=="; }

off() {
  sync
  poweroff -f
  # poweroff should not return; if it does, let the kernel panic (panic=-1 + -no-reboot).
  exit 1
}

dump_pcscd_log() {
  echo "==CACARD-BEGIN pcscd-log=="
  tail -n 300 /tmp/pcscd.log 2>&1
  echo "==CACARD-END pcscd-log rc=0=="
}

# The card may never answer (OpenSC then waits forever): bound the whole run.
(
  sleep "$WATCHDOG"
  echo "==CACARD-WATCHDOG fired after ${WATCHDOG}s uptime=$(uptime_s)=="
  dump_pcscd_log
  sync
  poweroff -f
) &

FAILED=0
# section NAME COMMAND...: runs COMMAND with its output between the markers.
section() {
  name=$1
  shift
  echo "==CACARD-BEGIN $name=="
  "$@" 2>&1
  rc=$?
  echo "==CACARD-END $name rc=$rc=="
  [ "$rc" -eq 0 ] || FAILED=1
  return "$rc"
}

finish() {
  if [ "$FAILED" -ne 0 ] || [ "$DEBUG" = 1 ]; then dump_pcscd_log; fi
  echo "==CACARD-DONE failed=$FAILED uptime=$(uptime_s)=="
  off
}

info "init kernel=$(uname -r)"

load_modules() {
  for m in $(cat /lib/modules/load-order); do
    insmod "/lib/modules/$m.ko" || return 1
    echo "loaded $m"
  done
}
section modules load_modules || finish

# QEMU's usb-ccid is 08e6:4433. pcscd finds readers by scanning sysfs at start (there is
# no udevd for hotplug events), so the device must be there before pcscd starts.
wait_usb() {
  i=0
  while [ "$i" -lt $((WAIT * 5)) ]; do
    for d in /sys/bus/usb/devices/*; do
      if [ "$(cat "$d/idVendor" 2>/dev/null)" = 08e6 ] && [ "$(cat "$d/idProduct" 2>/dev/null)" = 4433 ]; then
        echo "usb-ccid: ${d##*/} $(cat "$d/manufacturer" 2>/dev/null) $(cat "$d/product" 2>/dev/null)"
        return 0
      fi
    done
    sleep 0.2
    i=$((i + 1))
  done
  echo "no 08e6:4433 device after ${WAIT}s"
  ls /sys/bus/usb/devices/
  return 1
}
section usb wait_usb || finish

pcscd -f -a -d >/tmp/pcscd.log 2>&1 &
info "pcscd started pid=$!"

wait_reader() {
  i=0
  while [ "$i" -lt $((WAIT * 5)) ]; do
    if opensc-tool -l 2>/dev/null | grep -q 'CCID'; then
      opensc-tool -l
      return 0
    fi
    sleep 0.2
    i=$((i + 1))
  done
  echo "no reader after ${WAIT}s"
  opensc-tool -l
  return 1
}
section reader wait_reader || finish

# The card is present once the VSCard client has sent its ATR.
wait_card() {
  i=0
  while [ "$i" -lt $((WAIT * 2)) ]; do
    if atr=$(opensc-tool -a 2>/dev/null); then
      echo "$atr"
      return 0
    fi
    sleep 0.5
    i=$((i + 1))
  done
  echo "no card after ${WAIT}s"
  opensc-tool -a
  return 1
}
section atr wait_card || finish
info "card-ready"

# Each OpenSC command gets its own bound, so that one that hangs (a card that does not
# answer) still leaves time for the next ones to report.
t() { timeout -s KILL "$STEP" "$@"; }

section name t opensc-tool -n
section pkcs15-dump t pkcs15-tool -D
section pkcs11-slots t pkcs11-tool -L
section pkcs11-objects t pkcs11-tool -O

# The first private key the PKCS#15 emulation lists is the first PKI applet (cert1).
KEYID=$(t pkcs15-tool --list-keys 2>/dev/null | awk '/^[[:space:]]*ID[[:space:]]*:/ { print $3; exit }')
section key-id echo "${KEYID:-none}"
if [ -z "$KEYID" ]; then
  FAILED=1
  finish
fi

printf 'cacard end-to-end test: signed inside a QEMU guest by pkcs11-tool\n' >/tmp/data
section sign t pkcs11-tool --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id "$KEYID" -i /tmp/data -o /tmp/sig
section read-cert t pkcs11-tool --read-object --type cert --id "$KEYID" -o /tmp/cert.der
section data-b64 base64 /tmp/data
section sig-b64 base64 /tmp/sig
section cert-b64 base64 /tmp/cert.der

openssl_verify() {
  openssl x509 -inform DER -in /tmp/cert.der -noout -subject || return 1
  openssl x509 -inform DER -in /tmp/cert.der -noout -pubkey >/tmp/pub.pem || return 1
  openssl dgst -sha256 -verify /tmp/pub.pem -signature /tmp/sig /tmp/data
}
section openssl-verify openssl_verify

finish
