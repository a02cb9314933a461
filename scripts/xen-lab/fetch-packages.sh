#!/usr/bin/env bash
# Fetches (once) and unpacks the Debian packages the Xen lab is assembled from into a cache directory.
# Nothing is installed on the host: Xen must never become the host's own hypervisor. `apt-get download`
# only places .deb files in the current directory; `dpkg-deb -x` unpacks each into its own tree.
#   usage: fetch-packages.sh [CACHE_DIR]   (default /var/cache/replink-xen-lab)
set -euo pipefail
cache=${1:-${REPLINK_XEN_LAB_CACHE:-/var/cache/replink-xen-lab}}
mkdir -p "$cache/debs" "$cache/unpacked"

log() { printf '[xen-lab] %s\n' "$*"; }
# One fetcher at a time (the stream test and the lab test may both ask).
exec 9>"$cache/.lock"
flock 9

# The kernel meta package names the real image package: resolve it once (apt-cache needs a package list).
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then apt-get update -qq; fi
kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kernel_pkg ]] || { log "step fetch: cannot resolve linux-image-amd64"; exit 1; }

PACKAGES=(
  xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
  libxenmisc4.17 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4
  libxentoollog1 libxentoolcore1 libxendevicemodel1 libxenhypfs1 libyajl2
  busybox-static "$kernel_pkg"
)

cd "$cache/debs"
for p in "${PACKAGES[@]}"; do
  if ! compgen -G "${p}_*.deb" >/dev/null; then
    log "downloading $p"
    apt-get download -qq "$p" || { apt-get update -qq && apt-get download -qq "$p"; }
  fi
done
for deb in "$cache"/debs/*.deb; do
  name=$(basename "$deb" .deb)
  if [[ ! -d "$cache/unpacked/$name" ]]; then
    dpkg-deb -x "$deb" "$cache/unpacked/$name.tmp" && mv "$cache/unpacked/$name.tmp" "$cache/unpacked/$name"
  fi
done
echo "$kernel_pkg" >"$cache/kernel-package"
log "packages ready in $cache"
