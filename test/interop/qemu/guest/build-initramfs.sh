#!/usr/bin/env bash
# build-initramfs.sh OUTDIR
#
# Builds a tiny x86-64 Linux guest for the cacard end-to-end test:
#
#   OUTDIR/vmlinuz     Debian's generic amd64 kernel (linux-image-<abi>-amd64)
#   OUTDIR/initrd.gz   busybox + the host's pcscd, libccid, OpenSC tools and openssl,
#                      every shared library they need, three USB modules and init.sh
#   OUTDIR/build-info  what went in (package versions, sizes, the build key)
#   OUTDIR/cache/      the downloaded .deb files and the unpacked kernel bits
#
# The kernel and busybox-static are fetched with `apt-get download` and unpacked with
# dpkg-deb; nothing is installed on the host. Everything else is copied from the host, so
# the host needs: pcscd libccid opensc opensc-pkcs11 openssl cpio (see README.md).
#
# Idempotent: the outputs are rebuilt only when the build key changes (package versions,
# this script, init.sh, opensc.conf). A rebuild with a warm cache takes a few seconds.
# Concurrent runs on the same OUTDIR are serialised with flock.
set -euo pipefail

prog=build-initramfs
die() {
  echo "$prog: error: $*" >&2
  exit 1
}
log() { echo "$prog: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1" || die "cannot create $1"
out=$(cd "$1" && pwd)
cache="$out/cache"
mkdir -p "$cache"

# ---------------------------------------------------------------- host prerequisites
for tool in apt-get apt-cache dpkg-deb dpkg-query cpio gzip ldd sha256sum tar flock find sort; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian/Ubuntu host with cpio installed required)"
done

# path:package pairs copied from the host into the guest
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
host_files=(
  "/usr/sbin/pcscd:pcscd"
  "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist:libccid"
  "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Linux/libccid.so:libccid"
  "/usr/bin/opensc-tool:opensc"
  "/usr/bin/pkcs15-tool:opensc"
  "/usr/bin/pkcs11-tool:opensc"
  "/usr/lib/$MA/opensc-pkcs11.so:opensc-pkcs11"
  "/usr/bin/openssl:openssl"
  "/usr/lib/$MA/libpcsclite.so.1:libpcsclite1"
  "/usr/lib/$MA/libgcc_s.so.1:libgcc-s1"
)
missing=()
for pair in "${host_files[@]}"; do
  [ -e "${pair%%:*}" ] || missing+=("${pair##*:} (${pair%%:*})")
done
[ ${#missing[@]} -eq 0 ] || die "missing on the host, install with apt-get: ${missing[*]}"

exec 9>"$out/.lock"
flock 9

# ---------------------------------------------------------------- what to build
# The generic kernel: the metapackage linux-image-amd64 depends on exactly one
# linux-image-<abi>-amd64 at an exact version (what `apt-cache depends linux-image-amd64`
# shows). The -cloud- flavour is built without USB support, so it cannot see usb-ccid.
# One apt-cache call for both packages: each call costs ~0.6 s without a pkgcache.bin.
query_apt() {
  apt-cache show --no-all-versions linux-image-amd64 busybox-static 2>/dev/null | awk '
    /^Package: / { pkg = $2 }
    pkg == "linux-image-amd64" && /^Depends: / {
      if (match($0, /linux-image-[0-9][^ ,]*-amd64 \(= [^)]+\)/)) {
        split(substr($0, RSTART, RLENGTH), a, /[ ()=]+/); print "kpkg=" a[1]; print "kver=" a[2]
      }
    }
    pkg == "busybox-static" && /^Version: / { print "bbver=" $2 }'
}
apt_info=$(query_apt) || true
if ! grep -q '^kpkg=' <<<"$apt_info" && [ "$(id -u)" -eq 0 ]; then
  # A fresh container often has no package lists; root can fetch them.
  log "apt-cache does not know linux-image-amd64; running apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed (no network to the Debian mirror?)"
  apt_info=$(query_apt) || true
fi
kpkg=$(sed -n 's/^kpkg=//p' <<<"$apt_info")
kver=$(sed -n 's/^kver=//p' <<<"$apt_info")
bbver=$(sed -n 's/^bbver=//p' <<<"$apt_info")
[ -n "$kpkg" ] && [ -n "$kver" ] ||
  die "cannot resolve linux-image-amd64 to a linux-image-<abi>-amd64 with apt-cache (run 'apt-get update' first)"
[ -n "$bbver" ] || die "apt-cache knows no version of busybox-static (run 'apt-get update' first)"
kabi=${kpkg#linux-image-}

host_versions=$(dpkg-query -W -f='${Package}=${Version}\n' \
  pcscd libccid opensc opensc-pkcs11 openssl libpcsclite1 libgcc-s1 libc6 2>/dev/null | sort) ||
  die "dpkg-query failed; are pcscd libccid opensc opensc-pkcs11 openssl installed?"

key=$({
  echo "$kpkg=$kver"
  echo "busybox-static=$bbver"
  echo "$host_versions"
  sha256sum "$here/build-initramfs.sh" "$here/init.sh" "$here/opensc.conf" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)

if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ -f "$out/build-info" ] &&
  grep -qx "key=$key" "$out/build-info"; then
  log "up to date ($out, key ${key:0:12})"
  exit 0
fi
started=$(date +%s.%N)

# ---------------------------------------------------------------- downloads (cached)
# deb_for PACKAGE VERSION: prints the cached .deb, downloading it first if needed.
deb_for() {
  local pkg=$1 ver=$2 f
  for f in "$cache/${pkg}_"*.deb; do
    [ -f "$f" ] || continue
    if [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$ver" ]; then
      echo "$f"
      return 0
    fi
  done
  log "downloading $pkg=$ver"
  local sandbox=()
  # apt's _apt sandbox user cannot write into root's directories; do not pretend it can.
  [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
  (cd "$cache" && apt-get download -q "${sandbox[@]}" "$pkg=$ver" >&2) ||
    die "apt-get download $pkg=$ver failed (network to the Debian mirror? 'apt-get update'?)"
  for f in "$cache/${pkg}_"*.deb; do
    if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$ver" ]; then
      echo "$f"
      return 0
    fi
  done
  die "apt-get download $pkg=$ver left no matching .deb in $cache"
}
kdeb=$(deb_for "$kpkg" "$kver")
bbdeb=$(deb_for busybox-static "$bbver")

# Unpack only the kernel image and the USB host/core modules, once per kernel version.
kdir="$cache/$kpkg-$kver"
if [ ! -f "$kdir/.done" ]; then
  log "unpacking $(basename "$kdeb")"
  rm -rf "$kdir"
  mkdir -p "$kdir"
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kdir" --wildcards \
    "./boot/vmlinuz-$kabi" \
    "./lib/modules/$kabi/kernel/drivers/usb/common/*" \
    "./lib/modules/$kabi/kernel/drivers/usb/core/*" \
    "./lib/modules/$kabi/kernel/drivers/usb/host/*" ||
    die "unpacking $kdeb failed"
  [ -s "$kdir/boot/vmlinuz-$kabi" ] || die "$kdeb has no boot/vmlinuz-$kabi"
  touch "$kdir/.done"
fi
bbdir="$cache/busybox-static-$bbver"
if [ ! -f "$bbdir/.done" ]; then
  rm -rf "$bbdir"
  mkdir -p "$bbdir"
  dpkg-deb --fsys-tarfile "$bbdeb" | tar -x -C "$bbdir" ./bin/busybox || die "unpacking $bbdeb failed"
  touch "$bbdir/.done"
fi

# ---------------------------------------------------------------- the root file system
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,"usr/lib/$MA",usr/lib/modules,usr/lib64,etc/opensc,proc,sys,dev,run,tmp,root,var}
# Merged /usr like the host, so every path ldd prints (/lib/..., /usr/lib/...) resolves.
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s ../run "$root/var/run"

install -m 0755 "$bbdir/bin/busybox" "$root/bin/busybox"
install -m 0755 "$here/init.sh" "$root/init"
install -m 0644 "$here/opensc.conf" "$root/etc/opensc/opensc.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

# Kernel modules: uhci-hcd and what its .modinfo says it depends on, in load order.
mods_in_order=()
add_module() {
  local name=$1 ko dep
  for m in "${mods_in_order[@]}"; do [ "$m" = "$name" ] && return 0; done
  ko=$(find "$kdir/lib/modules/$kabi" -name "$name.ko" -print -quit)
  [ -n "$ko" ] || die "kernel module $name.ko not found in $kpkg"
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$ko" | head -n 1 | sed 's/^depends=//; s/,/ /g'); do
    add_module "$dep"
  done
  cp "$ko" "$root/usr/lib/modules/$name.ko"
  mods_in_order+=("$name")
}
add_module uhci-hcd
printf '%s\n' "${mods_in_order[@]}" >"$root/usr/lib/modules/load-order"

# Host binaries and libraries, at the paths they have on the host (symlinks dereferenced:
# the bundle's Info.plist is a symlink into /etc).
copy_host() {
  local src=$1 dst
  case "$src" in
    /lib64/*) dst="/usr$src" ;;
    /lib/*) dst="/usr$src" ;;
    *) dst="$src" ;;
  esac
  [ -e "$root$dst" ] && return 0
  mkdir -p "$(dirname "$root$dst")"
  cp -L "$src" "$root$dst" || die "cannot copy $src"
}
libs_tmp="$work/libs"
: >"$libs_tmp"
for pair in "${host_files[@]}"; do
  f=${pair%%:*}
  copy_host "$f"
  case "$f" in
    *.plist) continue ;;
  esac
  # ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader.
  ldd "$f" >"$work/ldd.out" 2>&1 || die "ldd $f failed: $(cat "$work/ldd.out")"
  if grep -q 'not found' "$work/ldd.out"; then
    die "ldd $f: $(grep 'not found' "$work/ldd.out" | tr '\n' ' ')"
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$work/ldd.out" >>"$libs_tmp"
done
nlibs=0
for lib in $(sort -u "$libs_tmp"); do
  copy_host "$lib"
  nlibs=$((nlibs + 1))
done

# ---------------------------------------------------------------- pack
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
  gzip -n -6 >"$work/initrd.gz" || die "cpio/gzip failed"
cp "$kdir/boot/vmlinuz-$kabi" "$work/vmlinuz"
# Replace the outputs, build-info last (it carries the key that marks them complete).
rm -f "$out/build-info"
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.gz" "$out/initrd.gz"
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
{
  echo "key=$key"
  echo "kernel=$kpkg=$kver"
  echo "busybox-static=$bbver"
  echo "$host_versions" | sed 's/^/host:/'
  echo "modules=${mods_in_order[*]}"
  echo "libraries=$nlibs"
  echo "initrd-bytes=$(stat -c %s "$out/initrd.gz")"
  echo "vmlinuz-bytes=$(stat -c %s "$out/vmlinuz")"
  echo "build-seconds=$elapsed"
} >"$out/build-info.tmp"
mv -f "$out/build-info.tmp" "$out/build-info"
log "built $out/vmlinuz and $out/initrd.gz ($(stat -c %s "$out/initrd.gz") bytes, $nlibs libraries) in ${elapsed}s"
