#!/usr/bin/env python3
"""Failover trials: the primary (shim + dataplane) is SIGKILLed at a random moment, again and again.

Each trial (scripts/failover_trial.py) starts a fresh appliance pair with the ledger guest protected,
kills the primary after a seeded random 0.3-1.5 s, lets the secondary promote and resume the guest,
and checks the ledger invariant, the log replay at the failover epoch and that no receipt the outside
world saw is missing from the resumed guest. Reports trials, failures and the failover-time
distribution (kill -> first output of the resumed guest). REPLINK_FAILOVER_TRIALS sets the count
(200 by default, as in CI; more for a long run).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import failover_trial  # noqa: E402
import replink_pair  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--trials", type=int, default=int(os.environ.get("REPLINK_FAILOVER_TRIALS", "200")))
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--sanitized", default="none")
    args = ap.parse_args()
    if args.sanitized not in ("", "none"):
        print(f"SKIP: failover trials run in the unsanitized build only (CPU budget; {args.sanitized} build)")
        sys.exit(77)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not usable: the ledger guest needs KVM")
        sys.exit(77)
    times, failed = [], []
    infra_retries = 0
    start = time.time()
    for i in range(args.trials):
        seed = args.first_seed + i
        r = None
        # A trial whose appliances could not even be started (the harness raised before the kill) says
        # nothing about failover: retry it, at most twice, and report how often that happened. Every
        # failed *check* fails the test.
        for attempt in range(3):
            try:
                r = failover_trial.run_trial(args.build, seed)
                break
            except replink_pair.TestSkip as e:
                print(f"SKIP: {e}")
                sys.exit(77)
            except (RuntimeError, OSError) as e:
                infra_retries += 1
                print(f"trial {i + 1} seed {seed}: set-up failed (attempt {attempt + 1}): {str(e)[:300]}", flush=True)
        if r is None:
            failed.append(seed)
            continue
        print(f"trial {i + 1}/{args.trials} seed {seed}: {r.summary()}", flush=True)
        if r.ok:
            times.append(r.failover_ms)
        else:
            failed.append(seed)
    times.sort()
    if times:
        pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
        print(f"failover time (kill -> first resumed output) over {len(times)} trials: "
              f"p50 {pick(0.5):.0f} ms, p90 {pick(0.9):.0f} ms, max {times[-1]:.0f} ms "
              f"(heartbeat 20 ms, failure timeout 200 ms)")
    print(f"{len(times)} trials passed, {len(failed)} failed in {time.time() - start:.0f} s"
          + (f"; failing seeds: {failed}" if failed else "")
          + (f"; {infra_retries} set-up retries" if infra_retries else ""))
    print(f"{len(times)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
