#!/usr/bin/env bash
# Idempotent machine preparation for replink on Debian 12 (run as root).
# Installs every Debian package the build, tests and demo need, and prepares hugepages.
# Safe to run repeatedly: it only installs what is missing and only raises the hugepage count.
set -euo pipefail

PACKAGES=(
  build-essential meson ninja-build pkg-config python3
  dpdk dpdk-dev libdpdk-dev
  liburing-dev libfmt-dev liblz4-dev libzstd-dev libxxhash-dev
  libtomlplusplus-dev libcli11-dev
  libxen-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps util-linux tmux
  sqlite3 valgrind  # the benchmark (scripts/bench.sh): an sqlite3 page-delta corpus; callgrind profiles
  nlohmann-json3-dev prometheus  # the control plane's JSON; promtool checks the metrics endpoint in tests
  qemu-system-x86  # the Xen lab boots Xen 4.17 under QEMU (tests/xen); Xen is never installed on the host
)

log() { printf '[bootstrap] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (installs packages, configures hugepages)"
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Only promtool is wanted from 'prometheus': do not leave a Prometheus server running that we started.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
else
  log "all packages present"
fi

# Hugepages: DPDK prefers them; everything in replink also runs without (--no-huge), so a
# failure here is reported but not fatal.
want=${REPLINK_HUGEPAGES:-512}
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if ((have < want)); then
  if echo "$want" >/proc/sys/vm/nr_hugepages 2>/dev/null; then
    log "nr_hugepages: $have -> $(cat /proc/sys/vm/nr_hugepages)"
  else
    log "warning: could not raise nr_hugepages (have $have); DPDK runs will use --no-huge"
  fi
fi
if ! mountpoint -q /dev/hugepages 2>/dev/null; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null \
    && log "mounted hugetlbfs on /dev/hugepages" \
    || log "warning: could not mount hugetlbfs on /dev/hugepages"
fi
