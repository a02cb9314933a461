#!/usr/bin/env bash
# The whole replink benchmark suite: replink against its baselines (Remus-style kernel TCP and
# io_uring senders) and the physical limit (page gather, memif frames), plus pause, compression,
# scaling and failover. Writes results.json / results.csv / results.md into $BUILD/bench-results/<time>/.
#
#   bash scripts/bench.sh              # full suite (~30 min on a 2-core machine), as root
#   bash scripts/bench.sh --quick      # seconds: does it still run (tests/bench runs this)
#   bash scripts/bench.sh --only throughput,latency --runs 5
# BUILD=dir picks the meson build directory (default build-bench, set up and built if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
if [[ ! -f "$BUILD/build.ninja" ]]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" -j"${JOBS:-2}" \
  dataplane/replink-dataplane hostshim/replink-shim tests/tools/replink-replica-check \
  tests/tools/replink-ledger-check tests/dataplane/replink-port-probe guests/churn.bin guests/ledger.bin \
  hostshim/kvm/replink-kvm-pause-bench \
  bench/replink-page-gather-bench bench/replink-corpus-bench bench/replink-remus-baseline >/dev/null
exec python3 scripts/bench/run_bench.py --build "$BUILD" "$@"
