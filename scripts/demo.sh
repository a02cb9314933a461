#!/usr/bin/env bash
# The README's main job: two replink appliances on this host (memif by default, or af_packet on a
# veth pair between two network namespaces with REPLINK_DEMO_TRANSPORT=veth), the ledger guest
# (a real KVM guest) protected on the primary with a live throughput line every second, then the
# primary killed with SIGKILL (shim and dataplane), the guest resumed on the secondary from its
# replica, and a report: receipts seen, last receipt before the kill, first after resume, ledger
# invariant and log replay OK, failover time.
# Without /dev/kvm it falls back to a synthetic guest (replication and verification only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${REPLINK_DEMO_SECONDS:-5}
transport=${REPLINK_DEMO_TRANSPORT:-memif}

bash scripts/bootstrap.sh
if [[ -f build-demo/build.ninja ]]; then
  meson setup --reconfigure build-demo -Dbuildtype=release >/dev/null
else
  meson setup build-demo -Dbuildtype=release >/dev/null
fi
ninja -C build-demo hostshim/replink-shim dataplane/replink-dataplane tests/tools/replink-ledger-check \
  tests/tools/replink-replica-check guests/ledger.bin

if [[ -r /dev/kvm && -w /dev/kvm ]]; then
  exec python3 scripts/demo_failover.py --build "$root/build-demo" --seconds "$seconds" --transport "$transport" \
    --netns-script "$root/scripts/netns.sh"
fi
echo "demo: /dev/kvm is not usable here: replicating a synthetic guest instead (no failover)"
exec python3 tests/dataplane/dataplane_e2e_test.py --build "$root/build-demo" --scenario memif
