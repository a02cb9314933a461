#!/usr/bin/env bash
# The deployment files (scripts/deploy): systemd units pass `systemd-analyze verify` (with the
# binaries of this build in place of /usr/local), and prepare-host.sh in --dry-run mode takes the right
# decisions: nothing to bind without a NIC, a malformed PCI address refused, the NIC that carries this
# host's default route refused. Nothing on the host is changed.
set -euo pipefail
source_root=$1
build=$2
deploy=$source_root/scripts/deploy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

bash -n "$deploy/prepare-host.sh" "$deploy/install.sh"

printf 'REPLINK_HUGEPAGES=1\nREPLINK_NIC=\n' >"$tmp/none.env"
out=$(bash "$deploy/prepare-host.sh" --env "$tmp/none.env" --dry-run) || fail "no NIC: exit $?"
grep -q "nothing to bind" <<<"$out" || fail "no NIC: $out"

printf 'REPLINK_NIC=3b:00.0\n' >"$tmp/bad.env"
rc=0; bash "$deploy/prepare-host.sh" --env "$tmp/bad.env" --dry-run >/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "malformed PCI address: exit $rc"

dev=$(ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1); exit}')
pci=""
[[ -n $dev ]] && pci=$(readlink -f "/sys/class/net/$dev" | grep -oE '[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' | tail -1 || true)
if [[ -n $pci ]]; then
  printf 'REPLINK_NIC=%s\n' "$pci" >"$tmp/busy.env"
  rc=0; out=$(bash "$deploy/prepare-host.sh" --env "$tmp/busy.env" --dry-run) || rc=$?
  [[ $rc -eq 1 ]] && grep -q "carries routes" <<<"$out" || fail "the host's own NIC $pci ($dev) was not refused: $out"
  echo "prepare-host.sh refuses $pci ($dev, the default route's NIC)"
else
  echo "note: no PCI NIC carries the default route here; the busy-NIC refusal was not exercised"
fi

if command -v systemd-analyze >/dev/null; then
  for unit in "$deploy"/*.service; do
    sed -e "s|/usr/local/bin/replink-dataplane|$build/dataplane/replink-dataplane|" \
        -e "s|/usr/local/bin/replinkctl|$build/control/replinkctl|" \
        -e "s|/usr/local/bin/replink-shim|$build/hostshim/replink-shim|" \
        -e "s|/usr/local/lib/replink/prepare-host.sh|$deploy/prepare-host.sh|" "$unit" >"$tmp/$(basename "$unit")"
  done
  cp "$tmp/replink-shim@.service" "$tmp/replink-shim@vm1.service"
  out=$(cd "$tmp" && systemd-analyze verify ./replink-host.service ./replink-dataplane.service \
        ./replink-shim@vm1.service 2>&1) || fail "systemd-analyze verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify: $out"
  echo "systemd-analyze verify: 3 units clean"
else
  echo "note: systemd-analyze not installed; units not verified"
fi
echo PASS
