#!/usr/bin/env bash
# Boots the Xen lab under QEMU (TCG) and runs one scenario in dom0; the serial log goes to stdout and
# to OUT/serial-SCENARIO.log. Exit status: 0 if the scenario ended with status 0, else 1.
#   usage: run-lab.sh BUILD_DIR OUT_DIR SCENARIO [TIMEOUT_S]
# Needs qemu-system-x86 (scripts/bootstrap.sh installs it) and the packages from fetch-packages.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 out=$2 scenario=$3 timeout_s=${4:-600}
cache=${REPLINK_XEN_LAB_CACHE:-/var/cache/replink-xen-lab}
log() { printf '[xen-lab] %s\n' "$*"; }

command -v qemu-system-x86_64 >/dev/null || { log "FAILED step qemu: qemu-system-x86_64 missing"; exit 1; }
bash "$here/fetch-packages.sh" "$cache" || { log "FAILED step fetch-packages"; exit 1; }
bash "$here/build-images.sh" "$build" "$out" "$cache" || { log "FAILED step build-images"; exit 1; }

serial=$out/serial-$scenario.log
rm -f "$serial"  # before QEMU starts: the wait loop must never see an old run's end marker
: >"$serial"
# Xen needs HAP: SVM + nested paging in the emulated CPU. The SSE4.2/POPCNT flags let DPDK run in dom0.
# Xen under -accel kvm does not work on this kind of host; TCG does.
qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64,+svm,+npt,+ssse3,+sse4.1,+sse4.2,+popcnt \
  -smp 2 -m 3072 -nographic -no-reboot -monitor none -serial stdio -nic none \
  -kernel "$out/xen" \
  -append "dom0_mem=1536M,max:1536M dom0_max_vcpus=2 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all" \
  -initrd "$out/vmlinuz console=hvc0 earlyprintk=xen loglevel=4 rdinit=/init replink_scenario=$scenario,$out/dom0.cpio" \
  </dev/null >"$serial" 2>&1 &
qemu=$!
log "QEMU pid $qemu booting Xen (scenario $scenario, log $serial)"
deadline=$((SECONDS + timeout_s))
status=1
while kill -0 "$qemu" 2>/dev/null; do
  if grep -q 'REPLINK-LAB-END' "$serial" 2>/dev/null; then
    sleep 2
    break
  fi
  if ((SECONDS > deadline)); then
    log "FAILED step timeout: scenario $scenario did not finish within ${timeout_s}s"
    break
  fi
  sleep 1
done
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true
if grep -q 'REPLINK-LAB-END status=0' "$serial"; then status=0; fi
grep -a 'REPLINK-LAB' "$serial" || true
exit $status
