"""The benchmark's sections. Each returns {"figures": [...], "runs": [...], "notes": [...]} where a
figure is {"name", "unit", "samples", "median", "min", "max", "better", "vs": {baseline: ratio}}.
Runs of the measured thing and its baselines are interleaved run by run."""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import appliances

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


class Skip(Exception):
    pass


@dataclass
class Context:
    build: str
    quick: bool
    runs: int
    out: str
    failover_trials: int
    window: int = 0        # link.window of the benchmark pairs (0: the product default)
    contents: tuple = ()   # throughput content mixes (empty: all)
    poll_us: int = -1      # workers.poll_us of the benchmark pairs (-1: the e2e harness's 200)
    sizes: tuple = ()      # latency epoch sizes (empty: all)

    def bin(self, rel):
        path = os.path.join(self.build, rel)
        if not os.path.exists(path):
            raise Skip(f"{rel} is not built in {self.build}")
        return path


def figure(name, unit, samples, better="higher", **extra):
    samples = [s for s in samples if s is not None]
    f = {"name": name, "unit": unit, "samples": samples, "better": better,
         "median": statistics.median(samples) if samples else None,
         "min": min(samples) if samples else None, "max": max(samples) if samples else None, "vs": {}}
    f.update(extra)
    return f


def ratio(f, baseline, label):
    """How many times better f is than baseline (>1 = better), from the medians of the same run."""
    a, b = f["median"], baseline["median"]
    if a is None or b is None or a == 0 or b == 0:
        return
    f["vs"][label] = round(a / b if f["better"] == "higher" else b / a, 3)


def run_json(cmd, timeout=300, prefix='{"tool"'):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-1500:]}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith(prefix)]
    if not rows:
        raise RuntimeError(f"{' '.join(cmd)} printed no result: {r.stdout[-800:]}")
    return rows


def need_root(what):
    if os.geteuid() != 0:
        raise Skip(f"{what} needs root (DPDK memif pair)")


def appliance_pair(ctx, vms, backend="synthetic"):
    need_root("the appliance pair")
    for rel in ("dataplane/replink-dataplane", "hostshim/replink-shim", "tests/tools/replink-replica-check"):
        ctx.bin(rel)
    try:
        return appliances.BenchPair(ctx.build, vms, backend=backend, window=ctx.window or None,
                                     poll_us=None if ctx.poll_us < 0 else ctx.poll_us)
    except appliances.replink_pair.TestSkip as e:
        raise Skip(str(e))


# --- (1) ceiling -------------------------------------------------------------------------------

GATHER_PAGES = 256


def gather_once(ctx, pages=GATHER_PAGES):
    seconds = "0.2" if ctx.quick else "1.0"
    return run_json([ctx.bin("bench/replink-page-gather-bench"), "--pages", str(pages), "--seconds", seconds])[0]


def memif_frames_once(ctx, tmp):
    """tests/dataplane/replink-port-probe pair over memif: raw 8 KiB frame throughput, one core per side."""
    probe = ctx.bin("tests/dataplane/replink-port-probe")
    sock = os.path.join(tmp, "memif.sock")
    count = 20000 if ctx.quick else 300000

    def cfg(name, ident, peer, lcore, role):
        text = (f'[appliance]\nid = {ident}\nname = "{name}"\n[eal]\nlcores = [{lcore}]\n'
                f'file_prefix = "{name}-{os.getpid()}"\nno_huge = true\nmemory_mb = 256\nno_pci = true\n'
                f'log_level = "lib.eal:error"\n[port]\nvdev = "net_memif0,role={role},socket={sock},'
                f'socket-abstract=no,bsize=9216"\nmtu = 9000\nmempool_size = 8191\n[peer]\nid = {peer}\n'
                f'[control]\nsocket = "{tmp}/{name}-control.sock"\n[shim]\nsocket = "{tmp}/{name}-shim.sock"\n')
        path = os.path.join(tmp, f"{name}.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    recv_cfg, send_cfg = cfg("bprecv", 1, 2, 1, "server"), cfg("bpsend", 2, 1, 0, "client")
    common = ["--count", str(count), "--size", "8192", "--timeout-ms", "60000"]
    recv = subprocess.Popen([probe, "--config", recv_cfg, "--mode", "recv", "--idle-ms", "2000"] + common,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        send = subprocess.run([probe, "--config", send_cfg, "--mode", "send"] + common, capture_output=True,
                              text=True, timeout=120)
        rout, rerr = recv.communicate(timeout=120)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    rows = [json.loads(x) for x in rout.splitlines() if x.startswith('{"role"')]
    if recv.returncode != 0 or not rows:
        raise RuntimeError(f"port probe receiver exited {recv.returncode}: {rerr[-800:]} / sender: {send.stderr[-800:]}")
    r = rows[-1]
    # A 4 KiB page needs ~half an 8 KiB frame: the memif ceiling in pages/s is 2 x frames/s.
    return {"frames_per_s": r["mpps"] * 1e6, "gbps": r["gbps"], "pages_per_s": 2 * r["mpps"] * 1e6,
            "unique": r.get("unique"), "corrupt": r.get("corrupt")}


def section_ceiling(ctx):
    need_root("the memif probe")
    gathers, frames = [], []
    tmp = tempfile.mkdtemp(prefix="replink-bench-probe-")
    try:
        for _ in range(ctx.runs):
            gathers.append(gather_once(ctx))
            frames.append(memif_frames_once(ctx, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figs = [figure("page gather (memcpy, 1 core, 256-page epochs)", "pages/s", [g["pages_per_s"] for g in gathers]),
            figure("page gather payload", "Gbit/s", [g["gbps"] for g in gathers]),
            figure("memif raw 8 KiB frames (1 core per side)", "frames/s", [f["frames_per_s"] for f in frames]),
            figure("memif raw frame payload", "Gbit/s", [f["gbps"] for f in frames])]
    return {"figures": figs, "runs": {"gather": gathers, "memif": frames}}


# --- (2) throughput ----------------------------------------------------------------------------

CONTENTS = ["incompressible", "sparse", "zero", "text", "mixed"]


def workload_args(ctx, content, pages, epochs, mode="pipelined", rate=0, locality="hotset", guest_mib=32):
    return ["--content", content, "--dirty-pages", str(pages), "--epochs", str(epochs), "--mode", mode,
            "--rate", str(rate), "--locality", locality, "--guest-mib", str(guest_mib), "--seed", "11"]


def children_cpu_s():
    """CPU seconds of every child this harness has waited for (their waited-for children included)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def baseline_once(ctx, transport, wl):
    c0 = children_cpu_s()
    r = run_json([ctx.bin("bench/replink-remus-baseline"), "--transport", transport, *wl])[0]
    r["cpu_s"] = children_cpu_s() - c0  # sender + receiver processes
    r["pages_per_cpu_s"] = r["pages"] / r["cpu_s"] if r["cpu_s"] > 0 else None
    return r


def replink_once(pair, wl):
    c0 = children_cpu_s()
    d0 = sum(process_cpu_s(pair.pid(n)) for n in ("primary", "secondary"))
    r = pair.run_shim(["--stats-interval-ms", "0", *wl])
    if r["exit"] != 0:
        raise RuntimeError(f"replink run failed ({r['failed']} of {r['epochs']} epochs failed): {r['error']}")
    # The shim's CPU plus both dataplanes' over the run (they busy-poll: idle polling counts too).
    cpu = children_cpu_s() - c0 + sum(process_cpu_s(pair.pid(n)) for n in ("primary", "secondary")) - d0
    s = r["stream"]
    pages, secs = r["pages"], r["seconds"]
    return {"pages": pages, "seconds": secs, "pages_per_s": pages / secs if secs else 0,
            "cpu_s": cpu, "pages_per_cpu_s": pages / cpu if cpu > 0 else None,
            "payload_gbps": pages * 4096 * 8 / secs / 1e9 if secs else 0,
            "wire_bytes_per_page": s["wire_bytes"] / s["pages"] if s["pages"] else None,
            "commit_p50_us": s["commit_p50_us"], "commit_p99_us": s["commit_p99_us"],
            "commit_p999_us": s["commit_p999_us"], "commits": s["commits"], "failed": r["failed"],
            "pause_mean_us": r["pause_mean_us"], "retransmits": s["retransmits"]}


def section_throughput(ctx):
    epochs = 60 if ctx.quick else 2000
    contents = list(ctx.contents) or (["sparse"] if ctx.quick else CONTENTS)
    pair = appliance_pair(ctx, vms=len(contents) * ctx.runs + 1)
    figs, raw = [], []
    try:
        for content in contents:
            wl = workload_args(ctx, content, GATHER_PAGES, epochs)
            rep, tcp, uring, gat = [], [], [], []
            for _ in range(ctx.runs):  # interleaved: replink, tcp, io_uring, ceiling, then again
                rep.append(replink_once(pair, wl))
                tcp.append(baseline_once(ctx, "tcp", wl))
                uring.append(baseline_once(ctx, "uring", wl))
                gat.append(gather_once(ctx))
            raw.append({"content": content, "replink": rep, "tcp": tcp, "uring": uring, "gather": gat})
            f = figure(f"replink {content}", "pages/s", [r["pages_per_s"] for r in rep], content=content,
                       payload_gbps=statistics.median(r["payload_gbps"] for r in rep),
                       wire_bytes_per_page=statistics.median(r["wire_bytes_per_page"] or 0 for r in rep))
            ft = figure(f"kernel TCP {content}", "pages/s", [r["pages_per_s"] for r in tcp], content=content,
                        payload_gbps=statistics.median(r["payload_gbps"] for r in tcp))
            fu = figure(f"io_uring TCP {content}", "pages/s", [r["pages_per_s"] for r in uring], content=content,
                        payload_gbps=statistics.median(r["payload_gbps"] for r in uring))
            fg = figure(f"page gather ceiling ({content} run)", "pages/s", [g["pages_per_s"] for g in gat])
            ratio(f, ft, "kernel TCP")
            ratio(f, fu, "io_uring TCP")
            ratio(f, fg, "gather ceiling")
            # On a shared 2-core host CPU time is the scarce thing: pages per CPU-second of all processes.
            fc = figure(f"replink {content} per CPU-second", "pages/cpu-s", [r["pages_per_cpu_s"] for r in rep],
                        content=content)
            ftc = figure(f"kernel TCP {content} per CPU-second", "pages/cpu-s", [r["pages_per_cpu_s"] for r in tcp],
                         content=content)
            fuc = figure(f"io_uring TCP {content} per CPU-second", "pages/cpu-s",
                         [r["pages_per_cpu_s"] for r in uring], content=content)
            ratio(fc, ftc, "kernel TCP")
            ratio(fc, fuc, "io_uring TCP")
            figs += [f, ft, fu, fg, fc, ftc, fuc]
    finally:
        finals = pair.close()
    return {"figures": figs, "runs": raw, "appliance_final": finals,
            "notes": [f"{epochs} epochs of {GATHER_PAGES} dirty pages, 32 MiB synthetic guest (hot set), pipelined, "
                      "in-flight 64; pages/s over the shim's run, first full-memory epoch included; link window "
                      f"{ctx.window or 'default (4096)'}; per CPU-second = pages / CPU time of every process of the "
                      "run (shim + both dataplanes, or sender + receiver)"]}


# --- (3) latency -------------------------------------------------------------------------------

LATENCY_SIZES = [1, 16, 64, 256, 1024, 4096]


def latency_plan(ctx, pages):
    """(epochs, rate): enough samples for p99.9 where time allows, rate far below saturation."""
    if ctx.quick:
        return 30, 200
    # The interval stays several times the epoch's own cost on this 2-core host (no queueing), so
    # the largest sizes get fewer samples: their p99.9 is close to their max.
    return {1: (2000, 1000), 16: (2000, 500), 64: (1000, 300), 256: (500, 100), 1024: (200, 20),
            4096: (60, 5)}[pages]


def section_latency(ctx):
    sizes = list(ctx.sizes) or ([1, 64] if ctx.quick else LATENCY_SIZES)
    pair = appliance_pair(ctx, vms=len(sizes) * ctx.runs + 1)
    figs, raw = [], []
    try:
        for pages in sizes:
            epochs, rate = latency_plan(ctx, pages)
            wl = workload_args(ctx, "mixed", pages, epochs, mode="strict", rate=rate, locality="random")
            rep, tcp, uring = [], [], []
            for _ in range(ctx.runs):
                rep.append(replink_once(pair, wl))
                tcp.append(baseline_once(ctx, "tcp", wl))
                uring.append(baseline_once(ctx, "uring", wl))
            raw.append({"pages": pages, "epochs": epochs, "rate": rate, "replink": rep, "tcp": tcp, "uring": uring})
            for q in ("p50", "p99", "p999"):
                key = f"commit_{q}_us"
                f = figure(f"replink {pages} pages {q}", "us", [r[key] for r in rep], better="lower", pages=pages,
                           quantile=q)
                ft = figure(f"kernel TCP {pages} pages {q}", "us", [r[key] for r in tcp], better="lower",
                            pages=pages, quantile=q)
                fu = figure(f"io_uring TCP {pages} pages {q}", "us", [r[key] for r in uring], better="lower",
                            pages=pages, quantile=q)
                ratio(f, ft, "kernel TCP")
                ratio(f, fu, "io_uring TCP")
                figs += [f, ft, fu]
    finally:
        finals = pair.close()
    return {"figures": figs, "runs": raw, "appliance_final": finals,
            "notes": ["strict mode (one epoch in flight), 'mixed' content, random locality, fixed I/O rate well "
                      "below saturation; replink: shim capture timestamp -> commit ack at the primary dataplane "
                      "(its latency histogram, bucket upper bounds, 1/64 octave); baselines: I/O event -> ack read; "
                      f"dataplanes' workers.poll_us {ctx.poll_us if ctx.poll_us >= 0 else 200}"]}


# --- (4) pause (KVM) ---------------------------------------------------------------------------

PAUSE_SIZES = [16, 64, 256, 1024]


def kvm_pause_bench_once(ctx, sizes, epochs):
    """The KVM engineer's replink-kvm-pause-bench: the shim's own pause (ring consumer in-process, no
    network), p50/p99/max and the step breakdown, parsed from its table."""
    path = os.path.join(ctx.build, "hostshim", "kvm", "replink-kvm-pause-bench")
    if not os.path.exists(path):
        return None
    r = subprocess.run([path, "--sizes", ",".join(map(str, sizes)), "--epochs", str(epochs)], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"replink-kvm-pause-bench exited {r.returncode}: {r.stderr[-800:]}")
    rows = {}
    keys = ["pages_per_epoch", "mean_us", "p50_us", "p99_us", "max_us", "collect_us", "copy_us", "vcpu_us",
            "epochs_per_s"]
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 11 and f[0] in ("strict", "pipelined"):
            rows[f"{f[0]}/{int(f[1])}"] = dict(zip(keys, map(float, f[2:])))
    return rows


def section_pause(ctx):
    if not os.path.exists("/dev/kvm") or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise Skip("/dev/kvm is not usable")
    ctx.bin("guests/churn.bin")
    sizes = [64] if ctx.quick else PAUSE_SIZES
    rounds = 40 if ctx.quick else 400
    pair = appliance_pair(ctx, vms=len(sizes) * 2 * ctx.runs + 1, backend="kvm")
    figs, raw = [], []
    local = []  # shim-only pause (no network), one table per run, interleaved with the appliance runs
    try:
        for pages in sizes:
            res = {"strict": [], "pipelined": []}
            for run in range(ctx.runs):
                if pages == sizes[0]:
                    local.append(kvm_pause_bench_once(ctx, sizes, 10 if ctx.quick else 200))
                for mode in ("strict", "pipelined"):
                    vm = pair.take_vm()
                    args = ["--backend", "kvm", "--guest", "churn", "--guest-mib", "64", "--mode", mode,
                            "--guest-args", str(max(1024, 2 * pages)), str(pages), "1000", str(rounds), "4",
                            "--output", "/dev/null", "--stats-interval-ms", "0"]
                    r = pair.finish_shim(vm, pair.start_shim(vm, args), timeout=300)
                    res[mode].append(r)
            raw.append({"pages": pages, **res})
            fs = figure(f"KVM strict {pages} pages: mean pause", "us", [r["pause_mean_us"] for r in res["strict"]],
                        better="lower", pages=pages, mode="strict",
                        max_us=max(r["pause_max_us"] for r in res["strict"]))
            fp = figure(f"KVM pipelined {pages} pages: mean pause", "us",
                        [r["pause_mean_us"] for r in res["pipelined"]], better="lower", pages=pages, mode="pipelined",
                        max_us=max(r["pause_max_us"] for r in res["pipelined"]))
            ratio(fp, fs, "strict")
            figs += [fs, fp]
            for mode in ("strict", "pipelined"):
                rows = [t[f"{mode}/{pages}"] for t in local if t and f"{mode}/{pages}" in t]
                if rows:
                    figs.append(figure(f"KVM {mode} {pages} pages, shim only (no network): p99 pause", "us",
                                       [r["p99_us"] for r in rows], better="lower", pages=pages, mode=mode,
                                       p50_us=statistics.median(r["p50_us"] for r in rows),
                                       max_us=max(r["max_us"] for r in rows)))
    finally:
        finals = pair.close()
    return {"figures": figs, "runs": raw, "appliance_final": finals,
            "local": local,
            "notes": [f"churn guest (guests/churn.c): N pages dirtied per round, one output per round, "
                      f"{rounds} rounds, 1 ms between rounds; pause = guest stopped per sync (shim's mean/max, "
                      "the max includes the first, full-memory epoch); 'shim only' rows: "
                      "hostshim/kvm/replink-kvm-pause-bench (in-process ring consumer, no network, 200 epochs)"]}


# --- (5) compression ---------------------------------------------------------------------------

SQL_WORKLOAD = """CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
CREATE INDEX IF NOT EXISTS tk ON t(k);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000)
INSERT INTO t(k, v) SELECT abs(random()) % 100000, printf('row-%d-%s', x, hex(randomblob(24))) FROM c;
UPDATE t SET v = v || 'x', k = k + 1 WHERE id % 3 = 0;
SELECT k, count(*), max(v) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 3;
DELETE FROM t WHERE id % 5 = 0;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000)
INSERT INTO t(k, v) SELECT abs(random()) % 100000, printf('again-%d-%s', x, hex(randomblob(16))) FROM c;
SELECT sum(length(v)) FROM t;
"""


def compiler_workload(tmp):
    """cc1plus (the C++ compiler proper) on a preprocessed translation unit of this project."""
    cc1 = subprocess.run(["g++", "-print-prog-name=cc1plus"], capture_output=True, text=True).stdout.strip()
    if not cc1 or not os.path.exists(cc1):
        return None
    src = os.path.join(ROOT, "bench", "codec_bench.cc")
    ii = os.path.join(tmp, "unit.ii")
    r = subprocess.run(["g++", "-std=c++20", "-E", f"-I{ROOT}", src, "-o", ii], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return f"compiler={cc1} -quiet -O2 -std=c++20 {ii} -o /dev/null"


def section_compression(ctx):
    corpus = ctx.bin("bench/replink-corpus-bench")
    tmp = tempfile.mkdtemp(prefix="replink-bench-corpus-")
    notes = []
    try:
        workloads = ["python"]
        cc = compiler_workload(tmp)
        if cc:
            workloads.append(cc)
        else:
            notes.append("compiler corpus skipped: g++/cc1plus unavailable")
        if shutil.which("sqlite3"):
            sql = os.path.join(tmp, "w.sql")
            with open(sql, "w") as f:
                f.write(SQL_WORKLOAD * 20)
            # -init runs the script, then stdin (/dev/null) ends the shell; the database is in memory.
            workloads.append(f"sqlite={shutil.which('sqlite3')} -batch -init {sql} :memory:")
        else:
            notes.append("sqlite3 corpus skipped: sqlite3 not installed (scripts/bootstrap.sh installs it)")
        runs = []
        for _ in range(ctx.runs):  # each run samples the programs afresh: corpora differ run to run
            cmd = [corpus, "--seconds", "0.05" if ctx.quick else "0.3", "--warmup-ms", "300" if ctx.quick else "1500",
                   "--gap-ms", "50"]
            for w in workloads:
                cmd += ["--workload", w]
            runs.append(run_json(cmd, timeout=600))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figs = []
    corpora = []
    for row in runs[0]:
        if row["corpus"] not in corpora and row.get("pages"):
            corpora.append(row["corpus"])
    for c in corpora:
        by = {}
        for codec in ("replink-chain", "lz4", "zstd-1", "raw"):
            rows = [r for run in runs for r in run if r["corpus"] == c and r["codec"] == codec]
            by[codec] = (figure(f"{c}: {codec} bytes/page", "bytes", [r["bytes_per_page"] for r in rows],
                                better="lower", corpus=c, codec=codec,
                                pages=statistics.median(r["pages"] for r in rows)),
                         figure(f"{c}: {codec} encode", "pages/cpu-s", [r["encode_pages_per_cpu_s"] for r in rows],
                                corpus=c, codec=codec))
        for codec in ("replink-chain", "lz4", "zstd-1"):
            for i in (0, 1):
                if codec == "replink-chain":
                    ratio(by[codec][i], by["lz4"][i], "lz4")
                    ratio(by[codec][i], by["zstd-1"][i], "zstd-1")
            figs += list(by[codec])
    return {"figures": figs, "runs": runs, "notes": notes + [
        "pages that changed between two reads of a live program's writable anonymous memory 50 ms apart "
        "(the base is the first read); a page a codec cannot shrink counts 4096 bytes; CPU time of the "
        "encoding thread"]}


# --- (6) scaling -------------------------------------------------------------------------------

SCALE_VMS = [1, 2, 4, 8]


def section_scaling(ctx):
    counts = [1, 2] if ctx.quick else SCALE_VMS
    epochs = 40 if ctx.quick else 600
    pair = appliance_pair(ctx, vms=sum(counts) * ctx.runs + 1)
    figs, raw = [], []
    try:
        time.sleep(1.0)
        idle = {n: appliances.rss_kib(pair.pid(n)) for n in ("primary", "secondary")}
        for n in counts:
            totals, rss, fails, errors = [], [], [], []
            for _ in range(ctx.runs):
                vms = [pair.take_vm() for _ in range(n)]
                wl = ["--stats-interval-ms", "0"] + workload_args(ctx, "mixed", GATHER_PAGES, epochs, guest_mib=16)
                t0 = time.time()
                procs = {vm: pair.start_shim(vm, wl) for vm in vms}
                peak = dict(idle)
                while any(p.poll() is None for p in procs.values()) and time.time() - t0 < 300:
                    for name in peak:
                        peak[name] = max(peak[name], appliances.rss_kib(pair.pid(name)))
                    time.sleep(0.1)
                done = {vm: pair.finish_shim(vm, p, timeout=60) for vm, p in procs.items()}
                wall = max(d["seconds"] for d in done.values())
                # Only committed epochs count (a shim that gave up or saw failed epochs says so).
                pages = sum(d["pages"] * d["committed"] / max(1, d["epochs"]) for d in done.values())
                failed = sum(d["failed"] + (d["epochs"] - d["committed"] - d["failed"]) for d in done.values())
                problems = [f"vm{vm}: {d['error']}" for vm, d in done.items() if d["exit"] != 0]
                totals.append(pages / wall)
                fails.append(failed)
                errors.extend(problems)
                rss.append({name: (peak[name] - idle[name]) / n for name in peak})
                raw.append({"vms": n, "pages": pages, "wall_s": wall, "per_vm": done, "rss_peak_kib": peak,
                            "rss_idle_kib": idle})
            figs.append(figure(f"{n} VM(s): total committed", "pages/s", totals, vms=n,
                               failed_epochs=sum(fails), errors=errors[:4]))
            figs.append(figure(f"{n} VM(s): primary RSS per VM", "KiB", [r["primary"] for r in rss], better="lower",
                               vms=n))
            figs.append(figure(f"{n} VM(s): secondary RSS per VM", "KiB", [r["secondary"] for r in rss],
                               better="lower", vms=n))
        one = figs[0]
        for f in figs[3::3]:
            ratio(f, one, "1 VM")
    finally:
        finals = pair.close()
    return {"figures": figs, "runs": raw, "appliance_final": finals,
            "notes": [f"N synthetic shims (16 MiB guests, mixed content, {GATHER_PAGES} dirty pages, {epochs} epochs "
                      "each) against one appliance pair; total = sum of pages / longest shim run; RSS = "
                      "(peak during the run - idle before the first VM) / N, per dataplane"]}


# --- (7) failover ------------------------------------------------------------------------------

def section_failover(ctx):
    if ctx.failover_trials <= 0:
        raise Skip("no trials asked for (--failover-trials 0; the quick mode runs none)")
    need_root("the failover trials")
    if not os.path.exists("/dev/kvm"):
        raise Skip("/dev/kvm is missing (the ledger guest runs on KVM)")
    ctx.bin("tests/tools/replink-ledger-check")
    ctx.bin("guests/ledger.bin")
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import failover_trial
    times, failed = [], []
    for seed in range(1, ctx.failover_trials + 1):
        r = failover_trial.run_trial(ctx.build, seed)
        if r.ok and r.failover_ms is not None:
            times.append(r.failover_ms)
        else:
            failed.append({"seed": seed, "summary": r.summary()})
    figs = [figure("kill -> first guest output on the peer", "ms", times, better="lower",
                   p90=sorted(times)[int(0.9 * (len(times) - 1))] if times else None)]
    return {"figures": figs, "runs": {"failover_ms": times, "failed_trials": failed},
            "notes": [f"{len(times)} of {ctx.failover_trials} trials OK (scripts/failover_trial.py: heartbeat 20 ms, "
                      "failure timeout 200 ms, ledger guest on KVM, SIGKILL of the primary shim + dataplane)"]}


SECTIONS = {
    "ceiling": section_ceiling,
    "throughput": section_throughput,
    "latency": section_latency,
    "pause": section_pause,
    "compression": section_compression,
    "scaling": section_scaling,
    "failover": section_failover,
}
