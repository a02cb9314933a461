#!/usr/bin/env bash
# The Xen lab test (meson: suite xen, slow): boots Xen 4.17 under QEMU TCG with this build's binaries in
# dom0 and runs the failover scenario (scripts/xen-lab/scenario-failover.sh). It never skips: a missing
# piece (root, QEMU, the Debian packages) fails the test naming the step.
#   usage: xen_lab_test.sh BUILD_DIR
set -uo pipefail
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/xen-lab
step() { echo "xen-lab: FAILED step $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || step "root (the lab unpacks packages into ${REPLINK_XEN_LAB_CACHE:-/var/cache/replink-xen-lab})"
command -v qemu-system-x86_64 >/dev/null || step "qemu (qemu-system-x86 not installed: run scripts/bootstrap.sh)"
rm -rf "$out"
mkdir -p "$out"
bash "$root/scripts/xen-lab/run-lab.sh" "$build" "$out" failover 780
status=$?
serial=$out/serial-failover.log
echo "---- lab log (REPLINK-LAB lines) ----"
grep -a 'REPLINK-LAB' "$serial" | sed 's/\r$//'
if [[ $status -ne 0 ]]; then
  echo "---- last 60 lines of the serial log ----"
  tail -60 "$serial"
  grep -a -q 'FAILED step' "$serial" || step "lab (see the serial log above: $serial)"
  exit 1
fi
# Every step of the story must be in the log.
for want in 'dom0 up: Xen 4.17' 'domU protected' 'epochs committed' 'primary killed' 'restore:' \
            'numbers: last before the kill' 'disk check OK'; do
  grep -a -q "$want" "$serial" || step "log line '$want' missing"
done
echo "xen-lab: failover scenario passed"
