#!/usr/bin/env python3
"""The demo's failover run: one verbose failover trial (see failover_trial.py) with a report."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_trial  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--transport", default="memif", choices=["memif", "veth"])
    ap.add_argument("--netns-script")
    args = ap.parse_args()
    print(f"== replink demo: the ledger guest protected by two appliances over {args.transport}, "
          f"then the primary dies ==")
    r = failover_trial.run_trial(args.build, seed=42, run_s=args.seconds, verbose=True,
                                 transport=args.transport, netns_script=args.netns_script)
    print("== report ==")
    print(f"receipts seen on the primary's output : {r.primary_receipts}")
    print(f"last receipt before the kill           : {r.last_seen}")
    print(f"first receipt after resume             : {r.first_resumed}"
          + ("  (the last one, re-emitted: the I/O of an uncommitted epoch)" if r.first_resumed == r.last_seen else ""))
    print(f"receipts from the resumed guest        : {r.resumed_receipts}")
    print(f"replica at failover                    : {r.ledger_check}")
    print(f"failover (kill -> first resumed output): "
          + (f"{r.failover_ms:.0f} ms" if r.failover_ms is not None else "n/a"))
    print(f"result                                 : {'OK' if r.ok else 'FAILED: ' + '; '.join(r.problems)}")
    sys.exit(0 if r.ok else 1)


if __name__ == "__main__":
    main()
