#!/usr/bin/env bash
# The README's main job. For now (foundation): a synthetic shim protects a guest and writes its epochs
# into a capture ring; a consumer in another process decodes every page through the codec chain,
# verifies each epoch's checksum and the replica against the guest's memory, and prints throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
epochs=${REPLINK_DEMO_EPOCHS:-5000}

bash scripts/bootstrap.sh
if [[ -f build-demo/build.ninja ]]; then meson setup --reconfigure build-demo -Dbuildtype=release -Dtests=false >/dev/null
else meson setup build-demo -Dbuildtype=release -Dtests=false >/dev/null; fi
ninja -C build-demo hostshim/replink-shim dataplane/ring_verifier/replink-ring-verifier

run_dir=$(mktemp -d /tmp/replink-demo.XXXXXX)
sock="$run_dir/shim.sock"
verifier_pid=
cleanup() {
  [[ -n $verifier_pid ]] && kill "$verifier_pid" 2>/dev/null || true
  rm -rf "$run_dir"
}
trap cleanup EXIT

echo "== replink foundation demo: synthetic guest -> capture ring -> codecs -> verified replica =="
"$root/build-demo/dataplane/ring_verifier/replink-ring-verifier" --socket "$sock" --compare-each-epoch &
verifier_pid=$!
"$root/build-demo/hostshim/replink-shim" --socket "$sock" --vm-id 1 --vm-name demo-vm --guest-mib 256 \
  --epochs "$epochs" --mode strict --share-guest-memory --dirty-pages 256 --content mixed --locality hotset
wait "$verifier_pid"
rc=$?
verifier_pid=
exit $rc
