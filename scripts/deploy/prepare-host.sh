#!/usr/bin/env bash
# Prepares a host for replink-dataplane on a real NIC (run as root, at boot by replink-host.service):
#   1. 2 MiB hugepages for DPDK (and hugetlbfs mounted on /dev/hugepages),
#   2. the replication NIC unbound from its kernel driver and bound to vfio-pci (dpdk-devbind.py),
#      so the dataplane owns it ([port] pci = the same address).
# Settings come from /etc/replink/host.env (or the file given with --env):
#   REPLINK_HUGEPAGES=1024            2 MiB pages to reserve (mempool + delta caches + staging)
#   REPLINK_NIC=0000:3b:00.0          PCI address of the dedicated replication NIC (empty: none)
#   REPLINK_NIC_DRIVER=vfio-pci       DPDK-capable driver to bind it to
# Options: --dry-run prints every step instead of doing it; --restore DRIVER gives the NIC back to a
# kernel driver (e.g. ice, mlx5_core) after the dataplane was stopped.
set -euo pipefail

env_file=/etc/replink/host.env
dry_run=0
restore=""
while (($#)); do
  case $1 in
    --env) env_file=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --restore) restore=$2; shift 2 ;;
    *) echo "usage: $0 [--env FILE] [--dry-run] [--restore KERNEL_DRIVER]" >&2; exit 2 ;;
  esac
done

REPLINK_HUGEPAGES=1024
REPLINK_NIC=""
REPLINK_NIC_DRIVER=vfio-pci
if [[ -f $env_file ]]; then
  # shellcheck source=/dev/null
  source "$env_file"
fi

log() { printf '[replink-host] %s\n' "$*"; }
run() {
  if ((dry_run)); then log "would run: $*"; else "$@"; fi
}

if ((!dry_run)) && [[ $(id -u) -ne 0 ]]; then
  log "must run as root"
  exit 1
fi
if [[ -n $REPLINK_NIC && ! $REPLINK_NIC =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
  log "REPLINK_NIC '$REPLINK_NIC' is not a PCI address like 0000:3b:00.0"
  exit 2
fi

if [[ -n $restore ]]; then
  [[ -n $REPLINK_NIC ]] || { log "no REPLINK_NIC to restore"; exit 2; }
  run dpdk-devbind.py --bind="$restore" "$REPLINK_NIC"
  exit 0
fi

# 1. Hugepages: only ever raised, so other DPDK users on the host keep theirs.
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if ((have < REPLINK_HUGEPAGES)); then
  run sh -c "echo $REPLINK_HUGEPAGES > /proc/sys/vm/nr_hugepages"
  ((dry_run)) || log "hugepages: $have -> $(cat /proc/sys/vm/nr_hugepages) (wanted $REPLINK_HUGEPAGES)"
else
  log "hugepages: $have already (wanted $REPLINK_HUGEPAGES)"
fi
if ! mountpoint -q /dev/hugepages 2>/dev/null; then
  run mkdir -p /dev/hugepages
  run mount -t hugetlbfs nodev /dev/hugepages
fi

# 2. The NIC: vfio-pci needs the IOMMU (intel_iommu=on / amd_iommu=on on the kernel command line);
# without one, vfio's no-IOMMU mode works but gives DMA protection up, so it is not enabled here.
if [[ -z $REPLINK_NIC ]]; then
  log "no REPLINK_NIC: nothing to bind (virtual ports need none)"
  exit 0
fi
if [[ ! -e /sys/bus/pci/devices/$REPLINK_NIC ]]; then
  log "no PCI device $REPLINK_NIC on this host (see: dpdk-devbind.py --status-dev net)"
  ((dry_run)) || exit 1
fi
current=$(basename "$(readlink -f "/sys/bus/pci/devices/$REPLINK_NIC/driver" 2>/dev/null)" 2>/dev/null || true)
if [[ $current == "$REPLINK_NIC_DRIVER" ]]; then
  log "$REPLINK_NIC is bound to $REPLINK_NIC_DRIVER already"
  exit 0
fi
if [[ $REPLINK_NIC_DRIVER == vfio-pci && ! -d /sys/kernel/iommu_groups/0 ]]; then
  log "warning: no IOMMU groups: boot with intel_iommu=on (or amd_iommu=on) for vfio-pci"
fi
# A NIC whose interface carries routes is in use by the host (perhaps its management link): taking it
# away would cut the host off. Refuse unless told it is the dedicated replication link.
# (The interface may sit below the PCI function, e.g. virtio: .../0000:00:03.0/virtio2/net/eth0.)
for netdev in /sys/class/net/*; do
  [[ $(readlink -f "$netdev") == */"$REPLINK_NIC"/* ]] || continue
  name=$(basename "$netdev")
  if [[ -n $(ip -o route show dev "$name" 2>/dev/null) && ${REPLINK_NIC_FORCE:-0} != 1 ]]; then
    log "refusing: $REPLINK_NIC is $name, which carries routes (the host uses it); set REPLINK_NIC_FORCE=1 if it"
    log "really is the dedicated replication link"
    exit 1
  fi
  run ip link set "$name" down
done
run modprobe "$REPLINK_NIC_DRIVER"
run dpdk-devbind.py --bind="$REPLINK_NIC_DRIVER" "$REPLINK_NIC"
if ((dry_run)); then
  log "would rebind $REPLINK_NIC: ${current:-no driver} -> $REPLINK_NIC_DRIVER"
else
  dpdk-devbind.py --status-dev net | grep -F "$REPLINK_NIC" || true
  log "$REPLINK_NIC: ${current:-no driver} -> $REPLINK_NIC_DRIVER"
fi
