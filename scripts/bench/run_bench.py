#!/usr/bin/env python3
"""The replink benchmark suite (scripts/bench.sh): replink against its baselines and the physical
limit, every figure the median of several runs with min and max, runs of the thing measured and of
its baselines interleaved (A B C A B C ...) so machine noise hits all of them.

Sections (docs/BENCHMARKS.md explains each): ceiling, throughput, latency, pause, compression,
scaling, failover. Writes results.json (machine description, every figure, every raw run),
results.csv and results.md (the tables) into --out. Sections that need root, /dev/kvm or a binary
that is missing are skipped with the reason recorded, never silently.

--quick: seconds-long smoke run (tests/bench); checks nothing about speed.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import appliances  # noqa: E402
import report  # noqa: E402
import sections  # noqa: E402


def machine_description():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"cpu": cpu, "online_cpus": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load],
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="meson build directory with the binaries")
    ap.add_argument("--out", default=None, help="output directory (default BUILD/bench-results/<time>)")
    ap.add_argument("--quick", action="store_true", help="smoke mode: seconds, one run each")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max)")
    ap.add_argument("--only", default="", help="comma list of sections to run")
    ap.add_argument("--failover-trials", type=int, default=20)
    ap.add_argument("--window", type=int, default=0, help="link.window of the appliance pairs (default: product's)")
    ap.add_argument("--contents", default="", help="comma list of throughput content mixes (default: all)")
    ap.add_argument("--poll-us", type=int, default=-1,
                    help="workers.poll_us of the appliance pairs (default 200; large = dedicated-core busy polling)")
    ap.add_argument("--sizes", default="", help="comma list of latency epoch sizes in pages (default: all)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    out = args.out or os.path.join(build, "bench-results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    runs = 1 if args.quick else max(1, args.runs)
    ctx = sections.Context(build=build, quick=args.quick, runs=runs, out=out,
                           failover_trials=0 if args.quick else args.failover_trials, window=args.window,
                           contents=tuple(c for c in args.contents.split(",") if c), poll_us=args.poll_us,
                           sizes=tuple(int(x) for x in args.sizes.split(",") if x))
    wanted = [s for s in args.only.split(",") if s] or list(sections.SECTIONS)
    results = {"tool": "replink-bench", "quick": args.quick, "runs": runs, "window": args.window or "default",
               "poll_us": args.poll_us if args.poll_us >= 0 else 200,
               "machine": machine_description(),
               "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "sections": {}}
    for name in wanted:
        fn = sections.SECTIONS.get(name)
        if fn is None:
            print(f"unknown section {name}; known: {', '.join(sections.SECTIONS)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        t0 = time.time()
        try:
            section = fn(ctx)
        except sections.Skip as e:
            section = {"skipped": str(e)}
            print(f"   skipped: {e}", flush=True)
        except Exception as e:  # record and go on: one broken part must not lose the others' numbers
            section = {"error": f"{type(e).__name__}: {e}"}
            print(f"   error: {e}", flush=True)
        section["seconds"] = round(time.time() - t0, 1)
        results["sections"][name] = section
        with open(os.path.join(out, "results.json"), "w") as f:  # after each section: partial results survive
            json.dump(results, f, indent=1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report.write_csv(results, os.path.join(out, "results.csv"))
    md = report.markdown(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"results: {out}/results.json, results.csv, results.md")
    errors = [n for n, s in results["sections"].items() if "error" in s]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
