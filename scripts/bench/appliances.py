"""Real replink appliance pairs for the benchmark: AppliancePair (scripts/replink_pair.py) with one
[[vm]] per VM id the benchmark will use, and a shim runner that returns what the shim and the primary
dataplane reported about that VM (the primary prints each stream's final figures when its shim leaves).
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import replink_pair  # noqa: E402

DONE = re.compile(r"done: (\d+) epochs \((\d+) committed, (\d+) failed\), (\d+) pages, (\d+) disk bytes in "
                  r"([0-9.]+) s; pause mean ([0-9.]+) us max ([0-9.]+) us")


def vm_section(pair, name, vm, backend):
    return (f'\n[[vm]]\nid = {vm}\nname = "vm{vm}"\nbackend = "{backend}"\n'
            f'replica_dir = "{pair.dir}/{name}/replica-vm{vm}"\ndurability = "page-cache"\npromote_command = ""\n')


class BenchPair:
    """Two dataplanes over memif with VM ids 1..vms configured on both."""

    def __init__(self, build, vms, backend="synthetic", window=None, poll_us=None):
        self.pair = replink_pair.AppliancePair(build, backend=backend)
        for name in ("primary", "secondary"):
            # The e2e harness pins window = 64 (its fault tests want every frame SACK-covered); the
            # benchmark runs the product's default (docs/CONFIG.md: 4096) unless given a window.
            with open(self.pair.config[name]) as f:
                text = f.read()
            text = text.replace("window = 64\n", f"window = {window}\n" if window else "")
            if poll_us is not None:  # dedicated-core behaviour: busy-poll this long before any sleep
                text = text.replace("poll_us = 200\n", f"poll_us = {poll_us}\n")
            with open(self.pair.config[name], "w") as f:
                f.write(text)
            with open(self.pair.config[name], "a") as f:
                for vm in range(2, vms + 1):
                    f.write(vm_section(self.pair, name, vm, backend))
        self.vms = vms
        self.next_vm = 1
        self.pair.start_both()

    def take_vm(self):
        if self.next_vm > self.vms:
            raise RuntimeError(f"all {self.vms} configured VM ids used")
        vm = self.next_vm
        self.next_vm += 1
        return vm

    def pid(self, name):
        return self.pair.procs[name].pid

    def start_shim(self, vm, args):
        return self.pair.start_shim(["--vm-id", str(vm), "--vm-name", f"vm{vm}", *args], log_name=f"shim-vm{vm}")

    def finish_shim(self, vm, proc, timeout):
        """Waits for the shim and the primary's final line for its stream; returns a dict."""
        try:
            proc.wait(timeout=timeout)
        except Exception:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"shim vm{vm} did not finish within {timeout} s")
        log = self.pair.read_log(f"shim-vm{vm}")
        m = DONE.search(log)
        # Exit 2 (some epochs failed) and 1 (gave up, e.g. a commit timeout) still print the done line:
        # the caller decides what a failure means for its figure; without the line there is nothing.
        if not m:
            raise RuntimeError(f"shim vm{vm} exited {proc.returncode}:\n{log[-2000:]}")
        error = ""
        if proc.returncode != 0:
            said = [ln for ln in log.splitlines() if "done:" not in ln and re.search(r"timeout|error|fail", ln, re.I)]
            error = said[-1] if said else f"{m.group(3)} epochs failed (exit {proc.returncode})"
        out = {"exit": proc.returncode, "error": error,
               "epochs": int(m.group(1)), "committed": int(m.group(2)), "failed": int(m.group(3)),
               "pages": int(m.group(4)), "seconds": float(m.group(6)), "pause_mean_us": float(m.group(7)),
               "pause_max_us": float(m.group(8))}
        out["stream"] = self.stream_final(vm)
        return out

    def stream_final(self, vm, timeout=15):
        pattern = re.compile(rf"vm {vm} 'vm{vm}': shim disconnected; stream closed; final (\{{.*\}})")
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = pattern.search(self.pair.read_log("primary"))
            if m:
                return json.loads(m.group(1))
            time.sleep(0.1)
        raise RuntimeError(f"primary never reported vm{vm}'s closed stream")

    def run_shim(self, args, timeout=300):
        vm = self.take_vm()
        return self.finish_shim(vm, self.start_shim(vm, args), timeout)

    def close(self):
        finals = {}
        for name in ("primary", "secondary"):
            try:
                finals[name] = self.pair.stop(name)
            except Exception as e:  # keep closing the other one
                finals[name] = {"error": str(e)}
        self.pair.close()
        return finals


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
