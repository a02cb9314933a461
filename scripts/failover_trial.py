"""One failover trial: the ledger guest protected by two real appliances, the primary killed.

  1. primary and secondary dataplanes over memif; the ledger guest (KVM, CPL3) runs under a
     replink-shim registered at the primary, its receipts (the output the outside world sees)
     written to primary.out only once their epoch is committed on the secondary;
  2. after a (seeded) random time the primary's shim and dataplane are killed with SIGKILL;
  3. the secondary declares the primary dead (heartbeats missed for failure_timeout_ms), closes the
     replica at its last committed epoch and runs the VM's promote_command: replink-ledger-check on
     the replica, then replink-shim --restore, which resumes the guest (resumed.out);
  4. checks: the ledger invariant holds and the disk log replays to the memory state at the failover
     epoch; no receipt seen on primary.out is missing from the resumed guest (its first receipt is the
     last one seen, re-emitted, or the next); the resumed receipts continue without a gap; the
     invariant total is in every receipt.

Used by scripts/demo.sh (one verbose trial) and tests/failover (many trials).
"""

import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replink_pair  # noqa: E402

RECEIPT = re.compile(r"^receipt (\d+) (\d+) (\d+) (\d+) (\d+)$")


def receipts(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                m = RECEIPT.match(line.strip())
                if m:
                    out.append(tuple(int(x) for x in m.groups()))
    except OSError:
        pass
    return out


class TrialResult:
    def __init__(self):
        self.ok = False
        self.problems = []
        self.primary_receipts = 0
        self.last_seen = 0
        self.first_resumed = 0
        self.resumed_receipts = 0
        self.failover_ms = None
        self.ledger_check = ""
        self.epoch = None

    def fail(self, why):
        self.problems.append(why)

    def summary(self):
        status = "OK" if self.ok else "FAIL: " + "; ".join(self.problems)
        fo = f"{self.failover_ms:.0f} ms" if self.failover_ms is not None else "n/a"
        return (f"receipts seen {self.primary_receipts}, last before the kill {self.last_seen}, first after "
                f"resume {self.first_resumed}, resumed {self.resumed_receipts}; failover {fo}; {status}")


def run_trial(build, seed, *, run_s=None, verbose=False, heartbeat_ms=20, failure_timeout_ms=200,
              transport="memif", netns_script=None, accounts=256, initial=1000, interval_us=200,
              verify_replica=True):
    """verify_replica=False resumes without the ledger check of the replica first (for timing: the
    check reads the whole replica before the guest may touch it, and adds to the failover time)."""
    rng = random.Random(seed)
    run_s = run_s if run_s is not None else rng.uniform(0.3, 1.5)
    shim_bin = os.path.join(build, "hostshim", "replink-shim")
    check_bin = os.path.join(build, "tests", "tools", "replink-ledger-check")
    result = TrialResult()
    pair = None
    try:
        # The promote command: check the replica as found, then resume the guest from it.
        placeholder_dir = "{replica_dir}"
        pair = replink_pair.AppliancePair(build, transport=transport, netns_script=netns_script, backend="kvm",
                                          heartbeat_ms=heartbeat_ms, failure_timeout_ms=failure_timeout_ms,
                                          promote_command="PROMOTE")
        d = pair.dir
        check = f"{check_bin} --replica {placeholder_dir} > {d}/ledger-check.out 2>&1; " if verify_replica else ""
        promote = (f"{check}exec {shim_bin} --backend kvm --restore {placeholder_dir} --unprotected "
                   f"--output {d}/resumed.out > {d}/resumed.log 2>&1")
        cfg = pair.config["secondary"]
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace('promote_command = "PROMOTE"', f'promote_command = "{promote}"'))
        pair.start_both()
        shim = pair.start_shim(["--backend", "kvm", "--guest", "ledger", "--vm-id", "1", "--vm-name", "vm1",
                                "--guest-args", str(accounts), str(initial), "0", str(interval_us),
                                "--seed", str(seed), "--output", f"{d}/primary.out", "--mode", "pipelined"])
        # Protected from the first commit on; then run for the trial's time.
        deadline = time.time() + 30
        while not receipts(f"{d}/primary.out"):
            if time.time() > deadline or shim.poll() is not None:
                result.fail("no receipt was committed within 30 s")
                if verbose:
                    pair.dump_logs()
                return result
            time.sleep(0.02)
        end = time.time() + run_s
        shown = {"primary": 0, "secondary": 0}
        while time.time() < end:
            if verbose:
                time.sleep(max(0.0, min(1.0, end - time.time())))
                for name in ("primary", "secondary"):  # the appliances' live status lines, once each
                    lines = [l for l in pair.read_log(name).splitlines() if l.startswith(f"[{name}]")]
                    for line in lines[shown[name]:]:
                        print(line, flush=True)
                    shown[name] = len(lines)
            else:
                time.sleep(max(0.0, end - time.time()))
        # The primary host dies.
        shim.send_signal(signal.SIGKILL)
        pair.kill("primary")
        killed_at = time.time()
        shim.wait()
        seen = receipts(f"{d}/primary.out")
        if verbose:
            print(f"*** primary killed (SIGKILL shim and dataplane) after {run_s:.2f} s; "
                  f"{len(seen)} receipts seen so far")
        # The secondary promotes and resumes the guest.
        resumed = []
        deadline = killed_at + 30
        first_at = None
        while time.time() < deadline and len(resumed) < 50:
            resumed = receipts(f"{d}/resumed.out")
            if resumed and first_at is None:
                first_at = time.time()
            time.sleep(0.005)
        log = pair.read_log("secondary")
        m = re.search(r"resuming the guest: .* \(pid (\d+)\)", log)
        restore_pid = int(m.group(1)) if m else None
        if restore_pid:
            try:
                os.killpg(restore_pid, signal.SIGKILL)
            except OSError:
                pass
        result.primary_receipts = len(seen)
        result.last_seen = seen[-1][0] if seen else 0
        result.resumed_receipts = len(resumed)
        result.first_resumed = resumed[0][0] if resumed else 0
        if first_at is not None:
            result.failover_ms = (first_at - killed_at) * 1000
        try:
            with open(f"{d}/ledger-check.out") as f:
                result.ledger_check = f.read().strip()
        except OSError:
            result.ledger_check = ""
        m = re.search(r"epoch (\d+)", result.ledger_check)
        result.epoch = int(m.group(1)) if m else None
        # The checks.
        total = accounts * initial
        if verify_replica and not result.ledger_check.startswith("ledger-check: OK"):
            result.fail(f"replica check: {result.ledger_check or 'did not run'}")
        if [r[0] for r in seen] != list(range(1, len(seen) + 1)):
            result.fail("primary receipts are not consecutive from 1")
        if not resumed:
            result.fail("the resumed guest produced no receipt")
        else:
            if not (result.last_seen <= result.first_resumed <= result.last_seen + 1):
                result.fail(f"first resumed receipt {result.first_resumed} vs last seen {result.last_seen}: "
                            + ("receipts lost" if result.first_resumed > result.last_seen + 1 else "state went back"))
            seqs = [r[0] for r in resumed]
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                result.fail("resumed receipts have a gap")
            if result.first_resumed == result.last_seen and seen and resumed[0] != seen[-1]:
                result.fail("the re-emitted last receipt differs from the one seen")
        if any(r[4] != total for r in seen + resumed):
            result.fail("a receipt shows a broken invariant total")
        result.ok = not result.problems
        if verbose or not result.ok:
            if not result.ok:
                pair.dump_logs()
        return result
    finally:
        if pair is not None:
            pair.close()
