#!/usr/bin/env python3
"""Dataplane benchmark (not a test): end-to-end committed pages/s and commit latency over memif.

Two real appliances and a synthetic shim (pipelined), per content mix: incompressible pages and sparse
deltas (a few words changed per page). Committed pages/s comes from the shim (pages whose epoch the
peer committed, per second); commit latency (capture -> commit acknowledged at the primary) from the
primary's histogram. Usage: scripts/bench_dataplane.py --build build [--epochs N] [--runs R]
"""

import argparse
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replink_pair  # noqa: E402

DONE = re.compile(r"done: (\d+) epochs \((\d+) committed, (\d+) failed\), (\d+) pages, .* in ([0-9.]+) s")
STATUS = re.compile(r"commit p50 (\d+) us p99 (\d+) us")


def one_run(build, content, epochs, dirty, mode="pipelined"):
    pair = replink_pair.AppliancePair(build)
    try:
        pair.start_both()
        pair.shim(epochs, guest_mib=64, dirty_pages=dirty, content=content, mode=mode,
                  extra=["--stats-interval-ms", "0"])
        m = DONE.search(pair.read_log("shim"))
        statuses = [STATUS.search(l) for l in pair.read_log("primary").splitlines() if l.startswith("[primary] vm 1")]
        statuses = [s for s in statuses if s]
        pair.stop("primary")
        pair.stop("secondary")
        if not m or int(m.group(3)) != 0:
            raise RuntimeError("run did not commit every epoch:\n" + pair.read_log("shim")[-2000:])
        # The first 16384 pages are the initial full copy; count the steady state only.
        pages, secs = int(m.group(4)), float(m.group(5))
        p50, p99 = (int(statuses[-1].group(1)), int(statuses[-1].group(2))) if statuses else (0, 0)
        return pages / secs, p50, p99
    finally:
        pair.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--dirty", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    # Throughput: pipelined (many epochs in flight). Latency: strict (one epoch at a time, so the
    # figure is capture -> commit acknowledged, not time spent queueing behind other epochs).
    print("| content | pages/epoch | pipelined: committed pages/s (median, min-max) | strict: commit p50 us | strict: commit p99 us |")
    print("| --- | --- | --- | --- | --- |")
    for content in ("incompressible", "sparse"):
        runs = [one_run(args.build, content, args.epochs, args.dirty) for _ in range(args.runs)]
        lat = [one_run(args.build, content, args.epochs // 2, args.dirty, mode="strict") for _ in range(args.runs)]
        rates = sorted(r[0] for r in runs)
        print(f"| {content} | {args.dirty} | {statistics.median(rates):,.0f} ({rates[0]:,.0f}-{rates[-1]:,.0f}) | "
              f"{statistics.median(r[1] for r in lat):.0f} | {statistics.median(r[2] for r in lat):.0f} |", flush=True)


if __name__ == "__main__":
    main()
