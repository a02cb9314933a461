#!/usr/bin/env python3
"""replinkctl, DPDK telemetry and the Prometheus endpoint against a real appliance pair.

Two replink-dataplane processes over net_memif (scripts/replink_pair.py) and a synthetic shim on the
primary. One scenario per meson test:

  live      status / stats / vm list / link show as JSON; invalid `link set` values are refused with
            their ranges and change nothing; live `link set` of codec, MTU, window, batch, delta cache,
            rate cap and heartbeat during traffic, each visibly in effect, with no epoch failed, no new
            session, and the replica byte-exact with the guest at the end; dpdk-telemetry.py shows the
            replink commands; promtool accepts scrapes of both appliances under traffic; `top` under a
            pseudo-terminal (script) refreshes with moving numbers and a stable layout; SO_PEERCRED
            refuses another user even on a world-writable socket; garbage on the socket is refused
            without harm; vm unprotect / protect.
  failover  planned switch-over is refused as unsupported (exit 4) on the primary and as the wrong
            role (exit 1) on the secondary; a forced promotion needs --yes (exit 2) and a dead primary
            (exit 1 while it lives); after SIGKILL of the primary it promotes the replica (exit 0) at
            its last committed epoch, and a second request reports it promoted already.

Exit status: 0 pass, 1 fail, 77 skip. Every child runs under a timeout and is killed by pid.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import replink_pair  # noqa: E402

SKIP = 77


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Harness:
    def __init__(self, build, sanitized):
        self.build = build
        self.ctl = os.path.join(build, "control", "replinkctl")
        self.slow = 3 if sanitized not in ("", "none") else 1  # ASan: more patience, same checks
        self.pair = replink_pair.AppliancePair(build, heartbeat_ms=50, failure_timeout_ms=600)
        self.metrics = {}
        self.prefix = {}
        for name in ("primary", "secondary"):
            path = self.pair.config[name]
            text = open(path).read()
            # Free ports of our own: other tests on this host use the helper's fixed ones.
            self.metrics[name] = free_port()
            text = re.sub(r'metrics = "127.0.0.1:\d+"', f'metrics = "127.0.0.1:{self.metrics[name]}"', text)
            open(path, "w").write(text)
            self.prefix[name] = re.search(r'file_prefix = "([^"]+)"', text).group(1)

    def socket(self, name):
        return f"{self.pair.dir}/{name}/control.sock"

    def run(self, name, *args, expect=0, user=None, timeout=30):
        cmd = [self.ctl, "-c", self.pair.config[name], *args]
        preexec = None
        if user is not None:
            cmd = [self.ctl, "-s", self.socket(name), *args]  # nobody cannot read the config's directory

            def preexec():
                os.setgid(user)
                os.setuid(user)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)
        print(f"$ replinkctl {' '.join(args)} [{name}] -> {r.returncode}", flush=True)
        if expect is not None and r.returncode != expect:
            raise Failure(f"replinkctl {' '.join(args)} on {name}: exit {r.returncode}, expected {expect}\n"
                          f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def json(self, name, *args):
        r = self.run(name, *args, "--json")
        return json.loads(r.stdout)

    def vm(self, name, stats, vm_id=1):
        for vm in stats["vms"]:
            if vm["id"] == vm_id:
                return vm
        raise Failure(f"vm {vm_id} not in {name}'s stats")

    def wait(self, what, predicate, timeout):
        deadline = time.time() + timeout * self.slow
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        raise Failure(f"timed out waiting for {what}")

    def committed(self, name="primary"):
        vms = [v for v in self.json(name, "stats")["vms"] if v["id"] == 1]
        return vms[0]["last_committed_epoch"] if vms else 0

    def fresh_stats(self, name):
        """Stats from a worker snapshot taken after now (published twice a second)."""
        first = self.json(name, "stats")["appliance"]["taken_ns"]
        return self.wait("a new snapshot", lambda: (lambda s: s if s["appliance"]["taken_ns"] > first else None)(
            self.json(name, "stats")), 5)

    def close(self):
        self.pair.close()


# ---------------------------------------------------------------------------------------- live --

def check_reports(h):
    status = h.json("primary", "status")
    check(status["appliance"]["name"] == "primary", "status names the appliance")
    check(status["link"]["session"] == "established" and status["link"]["liveness"] == "up", "link up")
    vm = status["vms"][0]
    check(vm["role"] == "primary" and vm["state"] == "protected", f"vm protected: {vm}")
    check(vm["last_committed_epoch"] > 0 and vm["last_commit_age_ms"] is not None, "a commit and its age")
    sec = h.json("secondary", "status")
    check(sec["vms"][0]["role"] == "secondary", "the secondary holds the replica")
    vms = h.json("primary", "vm", "list")["vms"]
    check(len(vms) == 1 and vms[0]["configured"] and vms[0]["name"] == "vm1", f"vm list: {vms}")
    stats = h.fresh_stats("primary")
    v = h.vm("primary", stats)
    for key in ("epochs_per_s", "pages_per_s", "payload_gbps", "wire_gbps"):
        check(key in v["rates"], f"rate {key}")
    check(v["rates"]["pages_per_s"] > 0, "pages flow")
    for key in ("p50", "p99", "p999"):
        check(v["commit_latency_us"][key] > 0, f"commit latency {key}")
    check("by_codec" in v["compression"] and "ring" in v and "credits" in v["flow"], "codec, ring, credits")
    check("bad-checksum" in stats["link"]["drops"], "drops by reason")
    human = h.run("primary", "stats").stdout
    check("commit latency:" in human and "capture ring:" in human, "human stats")


def check_invalid_values(h):
    before = h.json("primary", "link", "show")["values"]
    r = h.run("primary", "link", "set", "window=5", "mtu=99999", "bogus=1", expect=2)
    check("3 problems, nothing changed" in r.stderr, r.stderr)
    check("window: 5 is out of range [16, 64]" in r.stderr, r.stderr)
    check("mtu: 99999 is out of range [1280, 1500]" in r.stderr, r.stderr)
    r = h.run("primary", "link", "set", "codec=zip", "rate_mbps=10", expect=2)
    check("auto, none, lz4, delta" in r.stderr, r.stderr)
    h.run("primary", "link", "set", "rate_mbps", expect=2)  # not NAME=VALUE
    r = h.run("primary", "--json", "link", "set", "failure_timeout_ms=50", expect=2)
    check(json.loads(r.stdout)["error"]["code"] == "invalid-argument", r.stdout)
    after = h.json("primary", "link", "show")["values"]
    check(after == before, f"rejected values changed nothing: {before} -> {after}")


def codec_pages(vm):
    return {name: c["pages"] for name, c in vm["compression"]["by_codec"].items()}


def check_live_settings(h):
    # codec=none: from the next page on, nothing is compressed.
    h.run("primary", "link", "set", "codec=none")
    a = h.vm("primary", h.fresh_stats("primary"))
    time.sleep(1.5)
    b = h.vm("primary", h.fresh_stats("primary"))
    pa, pb = codec_pages(a), codec_pages(b)
    check(pb["raw"] > pa["raw"], "raw pages keep flowing")
    check(pb["lz4"] == pa["lz4"] and pb["xor-delta"] == pa["xor-delta"], f"codec none: {pa} -> {pb}")

    # Smaller frames, a smaller window, smaller polls, a new delta cache, compression back on.
    r = h.json("primary", "link", "set", "mtu=1280", "window=16", "batch_size=8", "delta_cache_mib=16",
               "codec=auto")
    check(set(r["changed"]) == {"mtu", "window", "batch_size", "delta_cache_mib", "codec"}, r)
    check(r["streams_retuned"] == [1], r)
    time.sleep(1.5)
    a = h.vm("primary", h.fresh_stats("primary"))
    time.sleep(1.5)
    b = h.vm("primary", h.fresh_stats("primary"))
    frames = (b["totals"]["frames"] - a["totals"]["frames"]) + (b["retransmits"]["total"] - a["retransmits"]["total"])
    wire = b["totals"]["wire_bytes"] - a["totals"]["wire_bytes"]
    check(frames > 0, "frames flow")
    # Every DATA frame now fits 1280 + 14 bytes (probes and opens are smaller still).
    check(wire / frames <= 1294, f"mean frame {wire / frames:.0f} B after mtu=1280")
    for _ in range(4):
        check(h.vm("primary", h.json("primary", "stats"))["flow"]["frames_in_flight"] <= 16, "window 16")
        time.sleep(0.3)
    check(codec_pages(b)["xor-delta"] > codec_pages(a)["xor-delta"] or codec_pages(b)["lz4"] > codec_pages(a)["lz4"],
          "compression back on with codec=auto")

    # A rate cap (an upper bound only: a loaded machine can only make it lower).
    h.run("primary", "link", "set", "rate_mbps=40")
    time.sleep(2.0)  # the rate is measured over the last second of snapshots: all of it capped
    capped = h.vm("primary", h.fresh_stats("primary"))
    check(capped["rates"]["wire_gbps"] <= 0.08, f"rate cap 40 Mbit/s: {capped['rates']}")
    h.run("primary", "link", "set", "rate_mbps=0")

    # Heartbeat: renegotiated in the session; the secondary adopts the shorter offer.
    h.run("primary", "link", "set", "heartbeat_interval_ms=20")
    h.wait("the secondary to agree on 20 ms heartbeats",
           lambda: h.json("secondary", "status")["link"]["agreed"]["heartbeat_ms"] == 20, 5)
    shown = h.json("primary", "link", "show")["values"]
    check(shown["mtu"] == "1280" and shown["window"] == "16" and shown["heartbeat_interval_ms"] == "20", shown)


def check_telemetry(h):
    script = shutil.which("dpdk-telemetry.py")
    if script is None:
        print("note: dpdk-telemetry.py not installed; telemetry not checked")
        return
    commands = "/replink/status\n/replink/stats\n/replink/vms\n/replink/vm,1\n/replink/link\n/\n"
    r = subprocess.run([script, "-f", h.prefix["primary"]], input=commands, capture_output=True, text=True,
                       timeout=30)
    answers = {}
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            answers.update(json.loads(line))
    check("/replink/stats" in answers, f"dpdk-telemetry.py answered: {r.stdout[:500]} {r.stderr[-500:]}")
    check(answers["/replink/status"]["link/session"] == "established", answers["/replink/status"])
    check(answers["/replink/stats"]["link/totals/tx_frames"] > 0, "link counters")
    check(answers["/replink/vms"] == [1], answers["/replink/vms"])
    vm = answers["/replink/vm"]
    check(vm["totals/pages"] > 0 and "commit_latency_us/p99" in vm and "ring/occupancy" in vm, vm)
    check(answers["/replink/link"]["values/mtu"] == "1280", answers["/replink/link"])
    check("/replink/vm" in answers["/"], "listed among the telemetry commands")
    print(f"telemetry: {len(vm)} values for vm 1, e.g. totals/pages = {vm['totals/pages']}")


def scrape(port, path="/metrics", method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def check_prometheus(h):
    promtool = shutil.which("promtool")
    for name in ("primary", "secondary"):
        status, body = scrape(h.metrics[name])
        check(status == 200 and body.startswith("# HELP"), f"{name} metrics: {status}")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, f"promtool on {name}: {r.stdout} {r.stderr}")
        else:
            print("note: promtool not installed (Debian 'prometheus'); exposition not linted")
    _, body = scrape(h.metrics["primary"])
    m = re.search(r'^replink_vm_epochs_committed_total\{vm="1",name="vm1"\} (\d+)$', body, re.M)
    check(m and int(m.group(1)) > 0, "committed epochs exported")
    check('replink_vm_commit_latency_seconds_bucket{vm="1",name="vm1",le="+Inf"}' in body, "histogram")
    _, body = scrape(h.metrics["secondary"])
    check(re.search(r'^replink_replica_epochs_committed_total\{vm="1",name="vm1"\} [1-9]', body, re.M), "replica")
    check(scrape(h.metrics["primary"], "/nope")[0] == 404, "404")
    check(scrape(h.metrics["primary"], "/metrics", "POST")[0] == 405, "405")
    with socket.create_connection(("127.0.0.1", h.metrics["primary"]), timeout=5) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        check(s.recv(100).startswith(b"HTTP/1.1 400"), "garbage -> 400")


def check_top(h):
    script = shutil.which("script")
    if script is None:
        print("note: 'script' not installed; top not checked under a pseudo-terminal")
        return
    command = f"{h.ctl} -s {h.socket('primary')} top --interval 500 --count 6"
    env = dict(os.environ, TERM="xterm", COLUMNS="160", LINES="40")
    r = subprocess.run([script, "-qfec", command, "/dev/null"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60 * h.slow, env=env)
    check(r.returncode == 0, f"top exited {r.returncode}: {r.stdout[-500:]!r}")
    out = r.stdout.decode(errors="replace")
    check("\x1b[?1049h" in out and "\x1b[?1049l" in out and "\x1b[?25h" in out, "alternate screen entered and left")
    screens = [s for s in out.split("\x1b[H\x1b[2J")[1:]]
    check(len(screens) == 6, f"6 screens, got {len(screens)}")
    clean = [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", s).replace("\r", "") for s in screens]
    shapes, epochs = set(), []  # shapes: lines per screen
    for s in clean:
        lines = [l for l in s.split("\n") if l.strip()]
        check(lines[0].startswith("replink top - primary"), f"header: {lines[0]!r}")
        header = next(i for i, l in enumerate(lines) if l.lstrip().startswith("VM"))
        columns = lines[header].split()
        check(columns[:4] == ["VM", "ROLE", "STATE", "EPOCH/S"] and columns[-1] == "EPOCH", columns)
        row = lines[header + 1].split()
        check(len(row) == len(columns), f"row fits the columns: {row}")
        # Right-aligned numbers end where their titles end.
        check(lines[header + 1].rstrip().endswith(row[-1]) and len(lines[header + 1].rstrip()) == len(lines[header]),
              "aligned")
        shapes.add(len(lines))
        epochs.append(int(row[-1]))
    check(len(shapes) == 1, f"layout stays put (lines per screen): {shapes}")
    check(epochs[-1] > epochs[0], f"numbers move: {epochs}")
    print(f"top: 6 screens, last committed epoch {epochs[0]} -> {epochs[-1]}")


def check_peer_credentials(h):
    nobody = 65534
    path = h.socket("primary")

    def as_nobody():
        os.setgid(nobody)
        os.setuid(nobody)
    try:
        usable = subprocess.run([h.ctl, "--help"], capture_output=True, preexec_fn=as_nobody, timeout=10).returncode == 0
    except OSError:
        usable = False
    if not usable:
        print("note: user nobody cannot run this build's replinkctl (directory permissions); SO_PEERCRED not checked")
        return
    # Let nobody reach the socket file; its own mode (0600) is the first barrier.
    for d in (h.pair.dir, os.path.dirname(path)):
        os.chmod(d, 0o711)
    r = h.run("primary", "status", user=nobody, expect=3)
    check("permission denied" in r.stderr, r.stderr)
    os.chmod(path, 0o666)  # as if loosened by hand: SO_PEERCRED still refuses
    try:
        r = h.run("primary", "status", user=nobody, expect=3)
        check("may not use this control socket" in r.stderr, r.stderr)
    finally:
        os.chmod(path, 0o600)
    h.pair.wait_for_log("primary", "control: refused a connection", 5)


def check_garbage(h):
    for payload in (b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", struct.pack("<IHBBII", 0x434C5052, 1, 1, 0, 9, 5) + b"{nope"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(h.socket("primary"))
            s.sendall(payload)
            answer = s.recv(65536)
            check(len(answer) > 16 and b"protocol-error" in answer, f"refused with a reason: {answer!r}")
    h.run("primary", "status")  # still serving


def stream_state(h):
    return {v["id"]: v["state"] for v in h.json("primary", "vm", "list")["vms"]}.get(1)


def check_unprotect(h):
    # Same geometry as the first shim (the replica refuses another), a fresh process each time.
    guest = ["--vm-id", "1", "--vm-name", "vm1", "--guest-mib", "32"]
    h.wait("the first shim's stream to close", lambda: stream_state(h) == "idle", 20)
    shim = h.pair.start_shim(guest + ["--rate", "100"], log_name="shim2")
    h.wait("the second shim to be protected", lambda: stream_state(h) == "protected", 20)
    r = h.json("primary", "vm", "unprotect", "vm1")
    check(r["protected"] is False, r)
    rc = shim.wait(timeout=30 * h.slow)
    check(rc != 0 and "unprotected by the operator" in h.pair.read_log("shim2"), "the shim stopped, saying why")
    h.wait("the unprotected stream to close", lambda: stream_state(h) == "unprotected", 20)
    refused = h.pair.start_shim(guest, log_name="shim3")
    check(refused.wait(timeout=30 * h.slow) != 0 and "unprotected" in h.pair.read_log("shim3"),
          "registrations refused while unprotected")
    check(stream_state(h) == "unprotected", "still unprotected")
    check("may register again" in h.json("primary", "vm", "protect", "1")["message"], "protect")
    again = h.pair.start_shim(guest + ["--rate", "100"], log_name="shim4")
    h.wait("protection again", lambda: stream_state(h) == "protected", 20)
    r = h.run("primary", "vm", "protect", "42", expect=4)
    check("adding VMs at run time is not supported" in r.stderr, r.stderr)
    again.send_signal(signal.SIGINT)
    again.wait(timeout=30 * h.slow)


def scenario_live(h):
    h.pair.start_both()
    # A long failure timeout on both sides first (itself a live change): two polling appliances on a
    # loaded 2-core machine must not declare each other down during the test.
    for name in ("primary", "secondary"):
        h.run(name, "link", "set", "failure_timeout_ms=5000")
    check_unprotect(h)
    h.wait("the last shim's stream to close", lambda: stream_state(h) == "idle", 20)
    shim = h.pair.shim(0, rate=300, dirty_pages=64, background=True)
    h.wait("commits", lambda: h.committed() > 50, 30)
    check_reports(h)
    check_invalid_values(h)
    check_live_settings(h)
    check_telemetry(h)
    check_prometheus(h)
    check_top(h)
    check_peer_credentials(h)
    check_garbage(h)
    # The guest stops; every epoch captured must have been committed despite all the changes.
    shim.send_signal(signal.SIGINT)
    rc = shim.wait(timeout=60 * h.slow)
    summary = [l for l in h.pair.read_log("shim").splitlines() if "replink-shim: done:" in l]
    print(summary[-1] if summary else h.pair.read_log("shim")[-2000:])
    check(rc == 0 and summary and " 0 failed)" in summary[-1], "every epoch committed")
    stats = h.json("primary", "stats")
    check(stats["link"]["session_counters"]["sessions"] == 1 and stats["link"]["session_counters"]["peer_restarts"] == 0,
          "one session throughout: the link was never dropped")
    # The replica can be opened once the secondary has closed it.
    h.pair.stop("primary")
    h.pair.stop("secondary")
    for name in ("primary", "secondary"):  # a clean exit (under ASan: no leak, no error report)
        check(h.pair.procs[name].returncode == 0, f"{name} exited {h.pair.procs[name].returncode}")
    rc, out = h.pair.check_replica()
    print(out.strip())
    check(rc == 0, "replica byte-exact with the guest")


# ------------------------------------------------------------------------------------ failover --

def scenario_failover(h):
    h.pair.start_both()
    shim = h.pair.shim(0, rate=200, dirty_pages=32, background=True)
    h.wait("commits", lambda: h.committed() > 20, 30)
    r = h.run("primary", "failover", expect=4)
    check("not supported yet" in r.stderr, r.stderr)
    r = h.run("primary", "--json", "failover", expect=4)
    check(json.loads(r.stdout)["error"]["details"]["vms"][0]["vm"] == 1, r.stdout)
    r = h.run("secondary", "failover", expect=1)
    check("starts on the primary" in r.stderr, r.stderr)
    r = h.run("secondary", "failover", "--force", expect=2)
    check("--yes" in r.stderr, r.stderr)
    r = h.run("secondary", "failover", "--force", "--yes", expect=1)
    check("split the brain" in r.stderr, r.stderr)
    h.pair.kill("primary")
    shim.kill()
    shim.wait()
    h.wait("the secondary to declare the primary down",
           lambda: h.json("secondary", "status")["link"]["liveness"] == "down", 10)
    committed = h.json("secondary", "status")["vms"][0]["last_committed_epoch"]
    result = h.json("secondary", "failover", "--force", "--yes")
    vm = result["vms"][0]
    check(vm["promoted"] and not vm["already_promoted"] and vm["epoch"] == committed, result)
    check("resume the guest from" in vm["resume"], vm["resume"])
    h.wait("status to show the replica promoted",
           lambda: h.json("secondary", "status")["vms"][0]["state"] == "promoted", 5)
    again = h.json("secondary", "failover", "--force", "--yes", "--vm", "1")
    check(again["vms"][0]["already_promoted"], again)
    print(h.run("secondary", "failover", "--force", "--yes").stdout.strip())
    h.pair.stop("secondary")
    check(h.pair.procs["secondary"].returncode == 0, f"secondary exited {h.pair.procs['secondary'].returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--scenario", choices=["live", "failover"], required=True)
    ap.add_argument("--sanitized", default="none")
    args = ap.parse_args()
    try:
        h = Harness(args.build, args.sanitized)
    except replink_pair.TestSkip as e:
        print(f"SKIP: {e}")
        return SKIP
    try:
        {"live": scenario_live, "failover": scenario_failover}[args.scenario](h)
        print("PASS")
        return 0
    except (Failure, RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        print(f"FAIL: {e}")
        h.pair.dump_logs()
        return 1
    finally:
        h.close()


if __name__ == "__main__":
    sys.exit(main())
