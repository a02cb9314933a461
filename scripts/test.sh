#!/usr/bin/env bash
# The README's test command: prepares the machine, builds replink twice (warnings as errors; and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test suite in both builds.
# Tests that need /dev/kvm, hugepages or network namespaces skip with a message when unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/bootstrap.sh

jobs=${REPLINK_BUILD_JOBS:-$(nproc)}
setup() {  # setup DIR [meson options...]
  local dir=$1; shift
  if [[ -f "$dir/build.ninja" ]]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

echo "== build (werror) =="
setup "$root/build-test" -Dwerror=true -Dbuildtype=debugoptimized
ninja -C "$root/build-test" -j "$jobs"
echo "== build (ASan + UBSan) =="
setup "$root/build-asan" -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
ninja -C "$root/build-asan" -j "$jobs"

status=0
echo "== tests =="
meson test -C "$root/build-test" --print-errorlogs --num-processes 2 --no-suite slow || status=1
# The failover trials (200 SIGKILLs of the primary, ~13 min) run when asked:
# REPLINK_FAILOVER_TRIALS=200 bash scripts/test.sh. They are not in the default run yet: a trial can
# still find a replica without the guest's state at failover (see the KVM issue's notes).
if [[ -n ${REPLINK_FAILOVER_TRIALS:-} ]]; then
  echo "== failover trials =="
  meson test -C "$root/build-test" --print-errorlogs --suite failover || status=1
fi
# The Xen-in-QEMU lab (tests/xen/xen_lab_test.sh): boot Xen, protect a PVH guest, kill the primary,
# restore on the secondary. ~70 s on an idle 2-core machine (4-5 min under heavy load). Opt-in until
# it has passed on the CI machine (one unexplained memif-handshake hang under load): REPLINK_XEN_LAB=1.
if [[ ${REPLINK_XEN_LAB:-0} == 1 ]]; then
  echo "== Xen lab =="
  meson test -C "$root/build-test" --print-errorlogs xen_lab_failover || status=1
fi
echo "== tests under ASan + UBSan =="
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
REPLINK_SANITIZED=1 \
  meson test -C "$root/build-asan" --print-errorlogs --num-processes 2 --no-suite slow || status=1
exit $status
