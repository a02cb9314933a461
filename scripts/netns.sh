#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, for replink over net_af_packet.
#
#   scripts/netns.sh up [SUFFIX]      create replink-a$SUFFIX and replink-b$SUFFIX
#   scripts/netns.sh down [SUFFIX]    delete them (and with them the veth pair)
#   scripts/netns.sh status [SUFFIX]  show the interfaces
#
# Inside each namespace the interface is called replink0 (so configs/veth-a.toml and veth-b.toml
# work unchanged with any SUFFIX), is up, has MTU $REPLINK_NETNS_MTU (default 1500) and IPv6
# disabled so that the wire carries only what DPDK sends. The pair is created directly inside the
# namespaces: nothing appears in the root namespace, so parallel runs with different suffixes
# cannot collide. Needs root. Exit status 0 on success; `down` ignores what is already gone.
set -euo pipefail

cmd=${1:-}
suffix=${2:-}
ns_a="replink-a${suffix}"
ns_b="replink-b${suffix}"
mtu=${REPLINK_NETNS_MTU:-1500}

die() { printf 'netns.sh: %s\n' "$*" >&2; exit 1; }
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

up() {
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  command -v ip >/dev/null || die "iproute2 (ip) is not installed"
  if ns_exists "$ns_a" || ns_exists "$ns_b"; then
    die "$ns_a or $ns_b already exists (run: $0 down $suffix)"
  fi
  # Undo a half-built pair if anything below fails.
  trap 'down >/dev/null 2>&1 || true' ERR
  ip netns add "$ns_a"
  ip netns add "$ns_b"
  ip link add replink0 netns "$ns_a" type veth peer name replink0 netns "$ns_b"
  for ns in "$ns_a" "$ns_b"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
    ip -n "$ns" link set lo up
    ip -n "$ns" link set replink0 mtu "$mtu" up
  done
  trap - ERR
  printf 'netns.sh: %s <-> %s over replink0 (mtu %s)\n' "$ns_a" "$ns_b" "$mtu"
}

down() {
  local ns
  for ns in "$ns_a" "$ns_b"; do
    if ns_exists "$ns"; then ip netns del "$ns"; fi
  done
}

status() {
  local ns
  for ns in "$ns_a" "$ns_b"; do
    if ns_exists "$ns"; then
      printf '%s:\n' "$ns"
      ip -n "$ns" -brief link show replink0
    else
      printf '%s: absent\n' "$ns"
    fi
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status [SUFFIX]" ;;
esac
