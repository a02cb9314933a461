#!/usr/bin/env python3
"""Smoke test for replink-codec-bench: runs --quick --json and checks the output is well-formed.

No timing thresholds: only that the program ran, printed valid JSON with the expected shape,
and that every number is finite and in range. Usage: codec_bench_check.py PATH/TO/replink-codec-bench
"""
import json
import math
import subprocess
import sys

SYNTHETIC = {"incompressible", "sparse-delta", "zero", "text"}
CODECS = {"zero", "xor-delta", "lz4", "raw", "encoder", "lz4-lib", "zstd-1"}


def fail(message):
    print(f"codec_bench_check: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: codec_bench_check.py BENCH_BINARY")
    run = subprocess.run([sys.argv[1], "--quick", "--json"], capture_output=True, text=True,
                         timeout=50)
    if run.returncode != 0:
        fail(f"exit status {run.returncode}\nstderr:\n{run.stderr}")
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        fail(f"output is not JSON: {e}\n{run.stdout[:2000]}")

    for key in ("tool", "date", "quick", "datasets", "rows"):
        if key not in report:
            fail(f"missing key {key!r}")
    if report["tool"] != "replink-codec-bench" or report["quick"] is not True:
        fail("wrong tool name or quick flag")

    names = {d["name"] for d in report["datasets"]}
    if not SYNTHETIC <= names:
        fail(f"datasets {sorted(names)} lack {sorted(SYNTHETIC - names)}")
    pairs = {d["name"]: d["pairs"] for d in report["datasets"]}

    seen = {}
    for row in report["rows"]:
        for key in ("dataset", "codec", "pages", "encode_pages_per_s", "decode_pages_per_s",
                    "mean_bytes", "accepted", "mix"):
            if key not in row:
                fail(f"row {row} lacks {key!r}")
        if row["codec"] not in CODECS:
            fail(f"unknown codec row {row['codec']!r}")
        for key in ("encode_pages_per_s", "decode_pages_per_s", "mean_bytes", "accepted"):
            value = row[key]
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                fail(f"{row['dataset']}/{row['codec']}: bad {key} {value!r}")
        if row["encode_pages_per_s"] <= 0:
            fail(f"{row['dataset']}/{row['codec']}: no encode rate")
        if not 0 <= row["mean_bytes"] <= 4096 or not 0 <= row["accepted"] <= 1:
            fail(f"{row['dataset']}/{row['codec']}: size or share out of range")
        if row["pages"] != pairs.get(row["dataset"]):
            fail(f"{row['dataset']}/{row['codec']}: pages {row['pages']} != pairs")
        seen.setdefault(row["dataset"], set()).add(row["codec"])

    for dataset in names:
        if pairs[dataset] and seen.get(dataset) != CODECS:
            fail(f"dataset {dataset} rows {sorted(seen.get(dataset, ()))}, expected all codecs")

    # Facts that hold whatever the machine speed: the bound, and what each set is made of.
    rows = {(r["dataset"], r["codec"]): r for r in report["rows"]}
    if rows[("zero", "zero")]["accepted"] != 1 or rows[("zero", "zero")]["mean_bytes"] != 0:
        fail("zero pages were not all encoded as zero pages")
    if rows[("incompressible", "lz4")]["accepted"] != 0:
        fail("lz4 accepted random pages")
    if rows[("sparse-delta", "xor-delta")]["accepted"] != 1:
        fail("xor-delta refused a sparse delta")
    if rows[("incompressible", "raw")]["mean_bytes"] != 4096:
        fail("raw is not 4096 bytes")
    print(f"codec_bench_check: ok ({len(report['rows'])} rows, datasets {sorted(names)})")


if __name__ == "__main__":
    main()
