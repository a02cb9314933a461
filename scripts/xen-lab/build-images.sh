#!/usr/bin/env bash
# Assembles the Xen lab's boot images from the unpacked Debian packages (fetch-packages.sh) and a
# replink build directory:
#   OUT/xen           the hypervisor (multiboot image QEMU boots with -kernel)
#   OUT/vmlinuz       Debian's kernel, used for dom0 and for the PVH domU
#   OUT/dom0.cpio     dom0's initramfs: busybox, Xen tools + their libraries, dom0 modules, replink's
#                     binaries with their libraries, the memif PMD plugins, the domU's images and the
#                     scenario scripts
#   usage: build-images.sh BUILD_DIR OUT_DIR [CACHE_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
out=$2
cache=${3:-${REPLINK_XEN_LAB_CACHE:-/var/cache/replink-xen-lab}}
log() { printf '[xen-lab] %s\n' "$*"; }
fail() { printf '[xen-lab] FAILED step build-images: %s\n' "$*" >&2; exit 1; }

u=$cache/unpacked
pkgdir() { compgen -G "$u/$1_*" | head -1; }
xen_utils=$(pkgdir xen-utils-4.17); xen_common=$(pkgdir xen-utils-common)
xs_utils=$(pkgdir xenstore-utils); hyp=$(pkgdir xen-hypervisor-4.17-amd64)
bb=$(pkgdir busybox-static)
kpkg=$(cat "$cache/kernel-package"); kdir=$(pkgdir "$kpkg")
for d in xen_utils xen_common xs_utils hyp bb kdir; do [[ -n ${!d} && -d ${!d} ]] || fail "package for $d missing (run fetch-packages.sh)"; done
for b in replink-shim replink-dataplane replink-xen replink-xen-workload; do
  [[ -x $(find "$build" -name "$b" -type f | head -1) ]] || fail "$b not built in $build"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
zcat "$hyp"/boot/xen-4.17-amd64.gz >"$out/xen"
kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")
cp "$kdir/boot/vmlinuz-$kver" "$out/vmlinuz"
mods=$kdir/lib/modules/$kver/kernel

# Library search path for ldd: the unpacked Xen libraries first, then the host's (same Debian release).
libpath=""
for p in "$u"/lib*; do
  for d in "$p/usr/lib/x86_64-linux-gnu" "$p/lib/x86_64-linux-gnu"; do [[ -d $d ]] && libpath+="$d:"; done
done
libpath+="$xen_utils/usr/lib/xen-4.17/lib"

# copy_with_libs ROOT FILE...: copies each file (keeping its path) and every library ldd resolves.
copy_with_libs() {
  local root=$1; shift
  local f lib
  for f in "$@"; do
    { LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null || true; } | awk '/=> \// {print $3} $1 ~ /^\/lib64\// {print $1}' |
      while read -r lib; do
        local dest=$root/lib/x86_64-linux-gnu/$(basename "$lib")
        [[ $lib == /lib64/* ]] && dest=$root$lib
        [[ -e $dest ]] || { mkdir -p "$(dirname "$dest")"; cp -L "$lib" "$dest"; }
      done
    if { LD_LIBRARY_PATH=$libpath ldd "$f" 2>&1 || true; } | grep -q 'not found'; then
      fail "unresolved libraries for $f: $(LD_LIBRARY_PATH=$libpath ldd "$f" | grep 'not found' | tr '\n' ' ')"
    fi
  done
}

# ---- domU initramfs: busybox, blkfront, the workload ----
du=$(mktemp -d); trap 'rm -rf "$du" "${d0:-}"' EXIT
mkdir -p "$du"/{bin,dev,proc,sys,lib/modules}
cp "$bb/bin/busybox" "$du/bin/busybox"
cp "$mods/drivers/block/xen-blkfront.ko" "$du/lib/modules/"
cp "$(find "$build" -name replink-xen-workload -type f | head -1)" "$du/bin/workload"
install -m 0755 "$here/domu-init" "$du/init"
(cd "$du" && find . | "$bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out/domU.cpio.gz"

# ---- dom0 initramfs ----
d0=$(mktemp -d)
mkdir -p "$d0"/{bin,sbin,dev,proc,sys,run,tmp,etc/xen,lib/modules,var/log/xen/console,var/lib/xen,var/lib/xenstored,var/run/xen,lab,usr/lib/xen-4.17/bin,usr/bin}
cp "$bb/bin/busybox" "$d0/bin/busybox"
for m in drivers/xen/xen-evtchn.ko drivers/xen/xen-privcmd.ko drivers/xen/xen-gntdev.ko drivers/xen/xen-gntalloc.ko \
         drivers/xen/xenfs/xenfs.ko; do
  cp "$mods/$m" "$d0/lib/modules/"
done
xbin=$xen_utils/usr/lib/xen-4.17/bin
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper xenconsole; do
  cp "$xbin/$b" "$d0/usr/lib/xen-4.17/bin/"
  copy_with_libs "$d0" "$xbin/$b"
done
for b in xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-list; do
  cp "$xs_utils/usr/bin/$b" "$d0/usr/bin/" 2>/dev/null || cp "$xs_utils/usr/bin/xenstore" "$d0/usr/bin/$b"
  copy_with_libs "$d0" "$d0/usr/bin/$b"
done
# libxl loads libxenlight's helpers by path; the xenstore-utils names are links to one binary.
cp -a "$xen_utils/usr/lib/xen-4.17/lib" "$d0/usr/lib/xen-4.17/" 2>/dev/null || true
mkdir -p "$d0/usr/lib/xen-4.17/lib"
for b in replink-shim replink-dataplane replink-xen replink-xen-workload; do
  f=$(find "$build" -name "$b" -type f | head -1)
  # Without debug info: the initramfs is unpacked by an emulated CPU, every megabyte costs.
  strip --strip-debug -o "$d0/usr/bin/$b" "$f"
  copy_with_libs "$d0" "$f"
done
# The memif PMD and what a vdev port needs, loaded with -d (the default plugin directory is absent on
# purpose: EAL would try to load all ~100 PMDs and their libraries).
pmds=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
mkdir -p "$d0/lab/pmds"
for p in librte_bus_vdev librte_mempool_ring librte_net_memif; do
  cp -L "$pmds/$p.so.23" "$d0/lab/pmds/$p.so"
  copy_with_libs "$d0" "$pmds/$p.so.23"
done
cp "$out/vmlinuz" "$d0/lab/vmlinuz"
cp "$out/domU.cpio.gz" "$d0/lab/domU.cpio.gz"
install -m 0755 "$here/dom0-init" "$d0/init"
install -m 0755 "$here"/scenario-*.sh "$d0/lab/"
cp "$here"/*.toml "$here"/*.cfg "$here"/promote.sh "$d0/lab/"
echo "root:x:0:0:root:/:/bin/sh" >"$d0/etc/passwd"
: >"$d0/etc/xen/xl.conf"
# glibc dlopens libgcc_s for pthread_cancel (xl aborts without it); ldd does not list it.
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$d0/lib/x86_64-linux-gnu/"
# Uncompressed: decompressing under TCG took longer than loading the bigger file.
(cd "$d0" && find . | "$bb/bin/busybox" cpio -o -H newc 2>/dev/null) >"$out/dom0.cpio"
log "images in $out: xen, vmlinuz, dom0.cpio ($(du -h "$out/dom0.cpio" | cut -f1)), domU.cpio.gz"
