#!/usr/bin/env python3
"""bench_quick: the benchmark harness still runs and its output is well formed (never its speed).

  1. replink-remus-baseline (tcp and io_uring, strict and pipelined) and replink-page-gather-bench
     run a few epochs and print one well-formed JSON line each; every epoch is committed;
  2. scripts/bench/run_bench.py --quick writes results.json / .csv / .md with the machine description
     and, for every section, either figures (median within [min, max]) or a skip/error reason. Without
     sanitizers it runs every section but failover (the appliance ones skip without root); under
     sanitizers only the sections that do not drive the appliance.

argv: build_dir source_dir b_sanitize. Exit 0 pass, 1 fail, 77 skip.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run_json(cmd, timeout=120):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        fail(f"{cmd[0]} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if not rows:
        fail(f"{cmd[0]} printed no JSON:\n{r.stdout[-2000:]}")
    return rows


def check_figure(section, fig):
    for key in ("name", "unit", "samples", "median", "min", "max", "better", "vs"):
        if key not in fig:
            fail(f"{section}: figure without {key}: {fig}")
    if fig["samples"] and not (fig["min"] <= fig["median"] <= fig["max"]):
        fail(f"{section}: {fig['name']}: median outside [min, max]")


def main():
    if len(sys.argv) < 3:
        print("usage: bench_quick_test.py BUILD SOURCE [b_sanitize]")
        return 2
    build, source = sys.argv[1], sys.argv[2]
    sanitized = len(sys.argv) > 3 and sys.argv[3] not in ("", "none")
    print(f"build {build}, sanitizers: {sys.argv[3] if sanitized else 'none'}")

    baseline = os.path.join(build, "bench", "replink-remus-baseline")
    gather = os.path.join(build, "bench", "replink-page-gather-bench")
    for b in (baseline, gather):
        if not os.path.exists(b):
            fail(f"missing {b}")
    with tempfile.TemporaryDirectory(prefix="replink-bench-test-") as tmp:
        for transport in ("tcp", "uring"):
            for mode in ("strict", "pipelined"):
                row = run_json([baseline, "--transport", transport, "--mode", mode, "--epochs", "40",
                                "--dirty-pages", "16", "--guest-mib", "4", "--content", "sparse", "--dir", tmp])[0]
                if row["epochs"] != 40 or row["pages"] < 40 * 16 or not row["commit_p50_us"] > 0:
                    fail(f"baseline {transport}/{mode}: {row}")
                print(f"baseline {transport}/{mode}: {row['epochs']} epochs, p50 {row['commit_p50_us']} us")
        row = run_json([gather, "--pages", "64", "--seconds", "0.05", "--guest-mib", "16", "--ring-mib", "4"])[0]
        if not row["pages_per_s"] > 0:
            fail(f"page gather: {row}")

        out = os.path.join(tmp, "results")
        cmd = [sys.executable, os.path.join(source, "scripts", "bench", "run_bench.py"), "--build", build,
               "--quick", "--out", out]
        only = ["ceiling", "throughput", "latency", "pause", "compression", "scaling"]
        if sanitized:
            only = ["compression"]  # the rest drive two polling dataplanes: too slow under ASan
        cmd += ["--only", ",".join(only)]
        print("+", " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=360)
        print(r.stdout[-6000:])
        if r.returncode != 0:
            fail(f"run_bench.py exited {r.returncode}:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        for key in ("cpu", "online_cpus", "kernel", "started_utc"):
            if key not in results["machine"]:
                fail(f"machine description lacks {key}")
        if sorted(results["sections"]) != sorted(only):
            fail(f"sections {sorted(results['sections'])} != {sorted(only)}")
        figures = 0
        for name, section in results["sections"].items():
            if "error" in section:
                fail(f"section {name}: {section['error']}")
            if "skipped" in section:
                print(f"section {name} skipped: {section['skipped']}")
                continue
            if not section.get("figures"):
                fail(f"section {name} has no figures")
            for fig in section["figures"]:
                check_figure(name, fig)
                figures += 1
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.reader(f))
        if rows[0][:4] != ["section", "figure", "unit", "median"] or len(rows) - 1 != figures:
            fail(f"results.csv: {len(rows) - 1} rows for {figures} figures")
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        if not md.startswith("# replink benchmark run") or "| figure |" not in md and figures:
            fail("results.md is not the expected table")
        print(f"bench quick: {figures} figures in {len(results['sections'])} sections, output well formed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
