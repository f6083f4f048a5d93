# shellcheck shell=bash
#
# A private pcscd for interop drivers (needs sandbox.sh). Inside the
# namespace, /run/pcscd is a fresh tmpfs, so the daemon never meets the
# host's pcscd, and the reader configuration is a private directory
# (pcscd -c) holding only what the scenario asks for.
#
#   pcscd_setup_vpcd CONF_DIR [EXTRA_PAIRS]   # vpcd slots 35963/35964 (+2 per extra driver copy)
#   pcscd_start CONF_DIR                       # pcscd -f -a -d, log in $SB_DIR/pcscd.log
#   pcscd_up CONF_DIR [WHICH]                  # both of the above; sb_die if either fails
#   pcscd_wait_inserted READER SECONDS [COUNT] # "Card inserted into READER"
#   pcscd_wait_removed READER SECONDS [COUNT]  # "Card Removed From READER"

PCSCD_BIN="${PCSCD_BIN:-/usr/sbin/pcscd}"
VPCD_DRIVER="${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}"

# pcscd_setup_vpcd CONF_DIR [EXTRA]: a reader.conf.d with vpcd on 35963/35964. Each of the
# EXTRA driver copies (vpcd keeps per-library static state, so a second entry needs its own
# .so file) adds two more slots on the next ports, readers "Virtual PCD B 00 00", ...
pcscd_setup_vpcd() {
  local dir="$1" extra="${2:-0}" i letters=(B C D E F G) port lib
  mkdir -p "$dir" || return 1
  [ -e "$VPCD_DRIVER" ] || sb_die "vpcd driver $VPCD_DRIVER not found (package vsmartcard-vpcd)"
  cat >"$dir/vpcd" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      $VPCD_DRIVER
CHANNELID    0x8C7B
EOF
  for ((i = 0; i < extra; i++)); do
    port=$((35963 + 2 * (i + 1)))
    lib="$dir/../libifdvpcd_${letters[$i]}.so"
    cp "$(readlink -f "$VPCD_DRIVER")" "$lib" || return 1
    cat >"$dir/vpcd_${letters[$i]}" <<EOF
FRIENDLYNAME "Virtual PCD ${letters[$i]}"
DEVICENAME   /dev/null:$(printf '0x%X' "$port")
LIBPATH      $(readlink -f "$lib")
CHANNELID    $(printf '0x%X' "$port")
EOF
  done
}

pcscd_start() {
  local conf="$1"
  sb_private_tmpfs /run/pcscd
  sb_start pcscd "$PCSCD_BIN" -f -a -d -c "$conf"
  sb_wait_for_socket /run/pcscd/pcscd.comm 10 || return 1
  sb_wait_for_log pcscd 'daemon ready' 10
}

# pcscd_up CONF_DIR [WHICH]: pcscd_setup_vpcd and pcscd_start, or sb_die; WHICH (e.g. "A")
# names this pcscd in the messages when a scenario has more than one.
pcscd_up() {
  pcscd_setup_vpcd "$1" || sb_die "reader config${2:+ $2}"
  pcscd_start "$1" || sb_die "pcscd${2:+ $2} did not start"
}

pcscd_wait_inserted() {
  sb_wait_for_log pcscd "Card inserted into $1" "$2" "${3:-1}"
}

pcscd_wait_removed() {
  sb_wait_for_log pcscd "Card Removed From $1" "$2" "${3:-1}"
}

# opensc_private_config DIR: OpenSC clients with OpenSC's defaults, whatever
# the host's /etc/opensc/opensc.conf says, and no file cache (every run reads
# the card); HOME moves to DIR/home so no per-user cache or config leaks in.
opensc_private_config() {
  cat >"$1/opensc.conf" <<'EOF'
app default {
    framework pkcs15 {
        use_file_caching = no;
    }
}
EOF
  export OPENSC_CONF="$1/opensc.conf"
  export HOME="$1/home"
  mkdir -p "$HOME"
}
