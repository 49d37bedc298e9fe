#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Soak: minutes of mixed load with seeded random misbehaviour against one `lemu serve`.

    tests/soak/soak.py [--minutes 10] [--seed 1] [--workers 4]

(with LEMU, FIXTURES_BUILD and FIXTURES_SRC set as meson sets them for the integration
tests; tests/integration/test_soak.py runs one minute of it in CI).

Load, chosen by a seeded generator per worker: synchronous invokes of a well-behaved echo
function; synchronous and async invokes of c-bad in random modes (function errors, exits,
SIGKILLs, timeouts, 7 MB answers, log floods, Runtime API misuse, init errors); recycles and
lifecycle changes; malformed HTTP. Platform faults from the fault catalogue join when this
lemu has it (POST /_lemu/functions/{fn}/faults answers 201).

Checked at the end:
- the daemon never crashed and stops with exit 0 on SIGTERM;
- every async 202 was delivered (a successful REPORT) or written to on_failure;
- no growth of the daemon's RSS or descriptors between two quiet points (after warm-up
  and at the end: load paused, wait-idle, environments recycled) — skipped in a sanitizer
  build, whose allocator keeps freed memory in quarantine;
- no process left with the test's marker, no cgroup or /var/tmp folder of that lemu left.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

INVOKE = "/2015-03-31/functions/%s/invocations"
SYNC_MODES = [("echo", 30), ("error", 10), ("exit", 5), ("kill", 4), ("sleep", 10),
              ("timeout", 2), ("big", 1), ("flood", 2), ("post_twice", 4), ("wrong_id", 4),
              ("next_twice", 4), ("bad_mode", 4), ("init_error", 3)]
ASYNC_MODES = [("echo", 40), ("error", 20), ("exit", 10), ("kill", 10), ("sleep", 20)]
GARBAGE = [
    b"BREW / HTTP/1.1\r\n\r\n",
    b"POST " + (INVOKE % "echo").encode() + b" HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"a\":",
    b"POST " + (INVOKE % "echo").encode() + b" HTTP/1.1\r\nContent-Length: 7\r\n\r\n{} junk",
    b"POST " + (INVOKE % "echo").encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /_lemu/invocations?since=-1 HTTP/1.1\r\n\r\n",
    b"POST " + (INVOKE % "echo").encode() + b" HTTP/1.1\r\nX-Amz-Client-Context: !!\r\n"
    b"Content-Length: 2\r\n\r\n{}",
]


def weighted(rng, table):
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for v, w in table:
        x -= w
        if x <= 0:
            return v
    return table[-1][0]


def proc_stats(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


class Soak:
    def __init__(self, minutes, seed, workers, log=print):
        self.minutes = minutes
        self.seed = seed
        self.n_workers = workers
        self.log = log
        self.lock = threading.Lock()
        self.async_ids = set()
        self.counts = {}
        self.errors = []
        self.stop = threading.Event()
        self.pause = threading.Event()
        self.paused = threading.Semaphore(0)
        self.faults = False

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def fail(self, what):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(what)

    # ---- one lemu ------------------------------------------------------------------

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="lemu-soak-")
        os.chmod(self.tmp, 0o755)
        self.on_failure = os.path.join(self.tmp, "failed.jsonl")
        bad = {"bootstrap": harness.fixture("c-bad"), "timeout_s": 1, "memory_mb": 256,
               "sandbox": {"cpu": "off"}, "reserved_concurrency": 6,
               "async": {"max_retries": 1, "retry_delays_s": [0.05],
                         "on_failure": self.on_failure}}
        echo = {"bootstrap": harness.fixture("c-echo"), "sandbox": {"cpu": "off"},
                "reserved_concurrency": 8}
        cfg = {"seed": self.seed, "records_max": 1000,
               "state_dir": os.path.join(self.tmp, "state"),
               "limits": {"header_timeout_s": 2, "body_timeout_s": 2},
               "functions": {"echo": echo, "bad": bad}}
        self.lemu = harness.Lemu(config=cfg, env={"INIT_SLEEP_S": "0.1"})
        self.lemu.start()
        status, _ = self.lemu.control(
            "POST", "/functions/bad/faults",
            {"action": "crash", "when": {"probability": 0.02, "phase": "invoke"}})
        self.faults = status == 201

    def conn(self):
        return http.client.HTTPConnection(self.lemu.host, self.lemu.port, timeout=60)

    # ---- the load ------------------------------------------------------------------

    def op(self, rng, c):
        r = rng.random()
        if r < 0.45:
            body = json.dumps({"n": rng.randrange(1 << 30)}).encode()
            c.request("POST", INVOKE % "echo", body=body)
            resp = c.getresponse()
            data = resp.read()
            if resp.status == 200 and json.loads(data)["event"] != json.loads(body):
                self.fail("echo answered another event: %r" % data[:200])
            elif resp.status not in (200, 429):
                self.fail("echo: %d %r" % (resp.status, data[:200]))
            self.count("sync echo %d" % resp.status)
        elif r < 0.75:
            mode = weighted(rng, SYNC_MODES)
            ev = {"mode": mode}
            if mode == "sleep":
                ev["sleep_s"] = round(rng.uniform(0.01, 0.2), 3)
            elif mode == "timeout":
                ev = {"mode": "sleep", "sleep_s": 3}
            elif mode == "exit":
                ev["code"] = rng.randrange(0, 256)
            c.request("POST", INVOKE % "bad", body=json.dumps(ev).encode())
            resp = c.getresponse()
            data = resp.read()
            if resp.status not in (200, 429):
                self.fail("bad %s: %d %r" % (mode, resp.status, data[:200]))
            self.count("sync bad %s %d" % (mode, resp.status))
        elif r < 0.93:
            mode = weighted(rng, ASYNC_MODES)
            ev = {"mode": mode, "sleep_s": round(rng.uniform(0.01, 0.1), 3)}
            c.request("POST", INVOKE % "bad", body=json.dumps(ev).encode(),
                      headers={"X-Amz-Invocation-Type": "Event"})
            resp = c.getresponse()
            data = resp.read()
            if resp.status == 202:
                with self.lock:
                    self.async_ids.add(resp.getheader("X-Amzn-RequestId"))
            else:
                self.fail("async: %d %r" % (resp.status, data[:200]))
            self.count("async %d" % resp.status)
        elif r < 0.96:
            fn = rng.choice(["echo", "bad"])
            if rng.random() < 0.5:
                c.request("POST", "/_lemu/functions/%s/recycle" % fn)
            else:
                lc = {"reuse": rng.choice(["warm", "cold", "random"]),
                      "route": rng.choice(["mru", "lru", "random", "round_robin"])}
                c.request("PUT", "/_lemu/functions/%s/lifecycle" % fn,
                          body=json.dumps(lc).encode())
            resp = c.getresponse()
            resp.read()
            if resp.status != 200:
                self.fail("control: %d" % resp.status)
            self.count("control")
        else:
            s = socket.create_connection((self.lemu.host, self.lemu.port), timeout=30)
            try:
                s.sendall(rng.choice(GARBAGE))
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
            finally:
                s.close()
            self.count("garbage")

    def worker(self, i):
        rng = random.Random(self.seed * 1000 + i)
        c = self.conn()
        while not self.stop.is_set():
            if self.pause.is_set():
                c.close()
                self.paused.release()
                while self.pause.is_set() and not self.stop.is_set():
                    time.sleep(0.05)
                c = self.conn()
                continue
            try:
                self.op(rng, c)
            except (OSError, http.client.HTTPException) as e:
                if self.lemu.proc.poll() is not None:
                    self.fail("lemu died: exit %r" % self.lemu.proc.returncode)
                    return
                self.fail("request failed: %r" % e)
                c.close()
                c = self.conn()
        c.close()

    # ---- quiet points ----------------------------------------------------------------

    def quiet_point(self):
        """Load paused, nothing in flight, environments recycled: RSS (kB) and descriptors."""
        self.pause.set()
        for _ in range(self.n_workers):
            self.paused.acquire()
        status, body = self.lemu.control("POST", "/wait-idle?timeout_s=120")
        if status != 200:
            self.fail("wait-idle at a quiet point: %d %r" % (status, body))
        for fn in ("echo", "bad"):
            self.lemu.control("POST", "/functions/%s/recycle" % fn)

        def envs_gone():
            for fn in ("echo", "bad"):
                _, b = self.lemu.control("GET", "/functions/%s/environments" % fn)
                if b["environments"]:
                    return False
            return True
        harness.wait_for(envs_gone, 60, interval=0.1, what="the environments to end")
        # A spare is made right after: let the counts settle before reading them.
        time.sleep(0.5)
        stats = proc_stats(self.lemu.proc.pid)
        self.pause.clear()
        return stats

    # ---- run and check --------------------------------------------------------------

    def run(self):
        self.start()
        pid = self.lemu.proc.pid
        try:
            threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                       for i in range(self.n_workers)]
            for t in threads:
                t.start()
            total = self.minutes * 60
            warm = max(10, total * 0.2)
            time.sleep(warm)
            base = self.quiet_point()
            self.log("# warm-up done after %.0fs: RSS %d kB, %d descriptors" %
                     (warm, base[0], base[1]))
            deadline = time.monotonic() + total - warm
            while time.monotonic() < deadline and self.lemu.proc.poll() is None:
                time.sleep(min(5, max(0.1, deadline - time.monotonic())))
            end = self.quiet_point()
            self.stop.set()
            for t in threads:
                t.join(120)
            self.log("# end: RSS %d kB, %d descriptors" % end)
            alive = self.lemu.proc.poll() is None
            logs = self.lemu.logs()
            rc = self.lemu.stop(timeout=60)
        except BaseException:
            self.stop.set()
            self.lemu.stop(signal.SIGKILL)
            raise
        report = {"counts": dict(sorted(self.counts.items())), "async": len(self.async_ids),
                  "faults": self.faults, "rss_kb": [base[0], end[0]],
                  "fds": [base[1], end[1]], "errors": self.errors}
        problems = list(self.errors)
        if not alive:
            problems.append("lemu crashed during the soak")
        if rc != 0:
            problems.append("lemu serve exited %r on SIGTERM" % rc)
        delivered = set()
        for m in re.finditer(r"REPORT RequestId: ([0-9a-f-]{36})([^\n]*)", logs):
            if "Status:" not in m.group(2):
                delivered.add(m.group(1))
        failed = set()
        if os.path.exists(self.on_failure):
            with open(self.on_failure) as f:
                for line in f:
                    failed.add(json.loads(line)["requestContext"]["requestId"])
        lost = self.async_ids - delivered - failed
        report["async_delivered"] = len(self.async_ids & delivered)
        report["async_on_failure"] = len(self.async_ids & failed)
        if lost:
            problems.append("%d async events neither delivered nor in on_failure: %s" %
                            (len(lost), sorted(lost)[:5]))
        if not os.environ.get("LEMU_SANITIZED"):
            if end[1] > base[1] + 8:
                problems.append("descriptors grew from %d to %d" % (base[1], end[1]))
            if end[0] > base[0] * 1.25 + 8192:
                problems.append("RSS grew from %d kB to %d kB" % (base[0], end[0]))
        try:
            harness.wait_for(lambda: not self.lemu.leftover_pids(), 10, what="no process")
        except AssertionError:
            problems.append("processes left: %s" % self.lemu.leftover_pids())
        tag = "lemu-%d-" % pid
        if any(n.startswith(tag) for n in os.listdir("/var/tmp")):
            problems.append("a /var/tmp folder of lemu %d is left" % pid)
        for root, dirs, _ in os.walk("/sys/fs/cgroup"):
            if any(d.startswith(tag) for d in dirs):
                problems.append("a cgroup of lemu %d is left under %s" % (pid, root))
                break
            if root.count("/") > 6:
                dirs[:] = []
        report["problems"] = problems
        self.lemu.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args()
    report = Soak(a.minutes, a.seed, a.workers).run()
    print(json.dumps(report, indent=1))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
