# SPDX-License-Identifier: Apache-2.0
"""Sandbox limits: for each limit, the c-limits fixture breaks it and the exact outcome is
asserted (fixtures/c-limits/main.c lists its modes).

As root, lemu makes cgroups (v1 here, v2 on most machines): memory (OOM kill, reported as
Runtime.OutOfMemory, and a reset of the same environment), pids.max, the CPU share, and the
freeze between invocations. Those tests skip with a reason elsewhere. Other limits hold for
any user: RLIMIT_NOFILE, threads, the Runtime API that admits only the environment's own
processes, the namespaces that take a function's leftover children.

The unprivileged subset runs lemu as nobody (through setpriv when the test runs as root, as
CI does) from copies other users can read, and checks that what it cannot enforce is said:
the warning on stderr, `enforced` and `sandbox` in GET /_lemu/functions, and the RSS
watchdog that kills a function over its memory size instead of a memory cgroup.

Every wait is a wait_for with a deadline, except the one measured idle gap of the freeze
test, which is the point of that test.
"""
import json
import os
import re
import shutil
import signal
import socket
import time
import unittest

import harness

GONE_WITHIN_S = 2.0
IS_ROOT = os.geteuid() == 0
NOT_ROOT = "needs root: cgroups (memory, pids, cpu, freeze) can only be made by root here"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
CGROUP_WARNING = "memory limits are not enforced by cgroups"


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def cmdline(pid):
    data = read("/proc/%d/cmdline" % pid, "rb")
    return data.split(b"\0")[:-1] if data is not None else None


def children(pid):
    """@pid's descendants, parents first."""
    out = []
    text = read("/proc/%d/task/%d/children" % (pid, pid)) or ""
    for c in text.split():
        out.append(int(c))
        out.extend(children(int(c)))
    return out


def environ(pid):
    data = read("/proc/%d/environ" % pid, "rb") or b""
    return dict(kv.split(b"=", 1) for kv in data.split(b"\0") if b"=" in kv)


def start_time(pid):
    stat = read("/proc/%d/stat" % pid)
    return int(stat[stat.rindex(")") + 2:].split()[19])


def cgroup_mounts():
    """{controller: mount point}; "" is the cgroup2 (unified) mount."""
    mounts = {}
    for line in (read("/proc/self/mountinfo") or "").splitlines():
        left, right = line.split(" - ", 1)
        point = left.split()[4]
        fstype, _, opts = right.split()[:3]
        if fstype == "cgroup2":
            mounts.setdefault("", point)
        elif fstype == "cgroup":
            for c in opts.split(","):
                mounts.setdefault(c, point)
    return mounts


def env_cgroup(lemu_pid, controller, env):
    """The cgroup directory of environment @env in @controller's hierarchy: lemu's own cgroup
    there, then lemu-<pid>-<starttime>/<env>, as sandbox/cgroup.h names it."""
    mounts = cgroup_mounts()
    for line in (read("/proc/%d/cgroup" % lemu_pid) or "").splitlines():
        _, ctrls, rel = line.split(":", 2)
        if (controller in ctrls.split(",")) or (controller == "" and ctrls == ""):
            base = mounts.get(controller)
            if base is None:
                return None
            rel = "" if rel == "/" else rel
            return "%s%s/lemu-%d-%d/%s" % (base, rel, lemu_pid, start_time(lemu_pid), env)
    return None


def report_line(logs, request_id):
    for line in logs.splitlines():
        if " REPORT RequestId: %s\t" % request_id in line:
            return line
    raise AssertionError("no REPORT line for %s in:\n%s" % (request_id, logs))


def report_field(line, name):
    m = re.search(r"\t%s: ([^\t]*)" % re.escape(name), line)
    return m.group(1) if m else None


class LimitsBase(harness.LemuTestCase):

    def call(self, l, event, function="function", ok=True, timeout=60):
        """Invokes and returns (headers, parsed body); @ok asserts a plain success."""
        status, headers, body = l.invoke(function=function, payload=json.dumps(event),
                                          timeout=timeout)
        self.assertEqual(status, 200, body)
        if ok:
            self.assertNotIn("x-amz-function-error", headers, body)
        return headers, json.loads(body)

    def function_info(self, l, name="function"):
        status, j = l.control("GET", "/functions/" + name)
        self.assertEqual(status, 200, j)
        return j

    def environments(self, l, name="function"):
        status, j = l.control("GET", "/functions/%s/environments" % name)
        self.assertEqual(status, 200, j)
        return j["environments"]

    def runtime_pid(self, l, name="function"):
        """The host pid of the function's bootstrap: a descendant of its launcher."""
        envs = self.environments(l, name)
        self.assertEqual(len(envs), 1, envs)
        launcher = envs[0]["pid"]
        self.assertIsNotNone(launcher, envs)
        return harness.wait_for(
            lambda: next((p for p in children(launcher)
                          if (cmdline(p) or [b""])[0].endswith(b"bootstrap")), None),
            what="the bootstrap process of %s" % name)

    def sleepers(self, l):
        return sorted(p for p in l.leftover_pids()
                      if p != l.proc.pid and cmdline(p) == [b"sleep", b"1000"])

    def assert_gone(self, pids):
        alive = lambda: [p for p in pids if cmdline(p) is not None]
        try:
            harness.wait_for(lambda: not alive(), GONE_WITHIN_S, what="%s to go" % pids)
        except AssertionError:
            self.fail("left behind: %s" % [(p, cmdline(p)) for p in alive()])


    def wait_frozen(self, l, how):
        """Waits until the idle environment is frozen: cgroup.events says so (unified
        hierarchy), or every thread of the runtime is stopped (SIGSTOP)."""
        if how == "cgroup":
            events = env_cgroup(l.proc.pid, "", "function-1") + "/cgroup.events"
            frozen = lambda: "frozen 1" in (read(events) or "")
        else:
            pid = self.runtime_pid(l)
            tasks = "/proc/%d/task" % pid

            def frozen():
                states = [(read("%s/%s/stat" % (tasks, t)) or "").rsplit(")", 1)[-1].split()[:1]
                          for t in os.listdir(tasks)]
                return states and all(s == ["T"] for s in states)
        harness.wait_for(frozen, 5, what="function-1 to be frozen (%s)" % how)

    def idle_gap_ticks(self, l):
        """Ticks stamped inside a measured 300 ms idle gap (the fixture stamps each tick with
        CLOCK_MONOTONIC, the clock of time.monotonic()), so that the moments around the gap
        (the answer before the freeze, the next event after the thaw) never count."""
        start = time.monotonic() * 1000
        time.sleep(0.3)  # the measured idle gap: the one wait of this file without a deadline
        end = time.monotonic() * 1000
        _, answer = self.call(l, {"mode": "ticks", "from_ms": start, "to_ms": end})
        after = time.monotonic() * 1000
        self.assertTrue(end <= answer["now_ms"] <= after,
                        "the function's clock is not the test's: %s, gap %.3f-%.3f"
                        % (answer, start, end))
        return answer["between"], answer


@unittest.skipUnless(IS_ROOT, NOT_ROOT)
class PrivilegedLimitsTest(LimitsBase):
    """Limits held by cgroups: only root can make them on this host."""

    def lemu(self, *args, **kw):
        l = super().lemu(*args, **kw)
        if CGROUP_WARNING in l.logs():
            self.skipTest("lemu could not make memory cgroups here: " +
                          l.logs().split(CGROUP_WARNING, 1)[1].splitlines()[0].strip())
        return l

    # ---- memory -----------------------------------------------------------------------

    def test_memory_1gib_under_128mb_is_out_of_memory_then_cold_in_the_same_environment(self):
        l = self.lemu("--sandbox-cpu", "off", "--timeout", "30", harness.fixture("c-limits"))
        first, _ = self.call(l, {"mode": "rss"})
        env_id = first["x-lemu-environment-id"]
        headers, _ = self.call(l, {"mode": "rss"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")

        status, headers, body = l.invoke(payload=b'{"mode":"alloc","mb":1024}', timeout=60)
        rid = headers["x-amzn-requestid"]
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        self.assertEqual(json.loads(body), {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: signal: killed"
                            % rid})
        l.wait_log(" REPORT RequestId: %s\t" % rid)
        report = report_line(l.logs(), rid)
        self.assertEqual(report_field(report, "Status"), "error", report)
        self.assertEqual(report_field(report, "Error Type"), "Runtime.OutOfMemory", report)
        self.assertEqual(report_field(report, "Memory Size"), "128 MB", report)

        # The same environment takes the next call, cold (its init runs again).
        headers, answer = self.call(l, {"mode": "rss"})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        self.assertEqual(answer["mode"], "rss")
        envs = self.environments(l)
        self.assertEqual([(e["id"], e["resets"]) for e in envs], [(env_id, 1)])
        info = self.function_info(l)
        self.assertTrue(info["enforced"]["memory"])
        self.assertIn(info["sandbox"]["memory"], ("cgroup-v1", "cgroup-v2"))

    def test_memory_60mb_under_128mb_is_max_memory_used(self):
        l = self.lemu("--sandbox-cpu", "off", "--timeout", "30", harness.fixture("c-limits"))
        status, headers, body = l.invoke(payload=b'{"mode":"alloc","mb":60}', timeout=60)
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(json.loads(body)["allocated_mb"], 60)
        used = int(headers["x-lemu-max-memory-used-mb"])
        self.assertTrue(60 <= used < 128, used)
        rid = headers["x-amzn-requestid"]
        l.wait_log(" REPORT RequestId: %s\t" % rid)
        report = report_line(l.logs(), rid)
        self.assertEqual(report_field(report, "Max Memory Used"), "%d MB" % used, report)
        self.assertIsNone(report_field(report, "Error Type"), report)

    # ---- processes, files, threads ------------------------------------------------------

    def test_2000_forks_stop_at_pids_max(self):
        # Forks are slow on this machine (about 7 ms each): a long timeout, the CPU share off.
        # 1,000 processes' kernel memory (stacks, page tables) is charged to the memory
        # cgroup: at 128 MB the OOM killer can come before pids.max, so memory is ample here.
        l = self.lemu("--sandbox-cpu", "off", "--memory", "2048", "--timeout", "30",
                      harness.fixture("c-limits"))
        _, answer = self.call(l, {"mode": "forks", "n": 2000})
        self.assertEqual(answer["errno"], "Resource temporarily unavailable", answer)
        # pids.max 1024 counts the runtime and lemu's own processes in the environment.
        self.assertLess(answer["ok"], 1024, answer)
        self.assertGreater(answer["ok"], 1000, answer)
        pids = env_cgroup(l.proc.pid, "pids", "function-1")
        self.assertEqual(read(pids + "/pids.max").strip(), "1024")
        info = self.function_info(l)
        self.assertTrue(info["enforced"]["pids"])
        self.assertIn(info["sandbox"]["pids"], ("cgroup-v1", "cgroup-v2"))
        # The environment still works (the forks were reaped).
        self.call(l, {"mode": "rss"})

    def test_cpu_share_at_128mb_and_off(self):
        l = self.lemu("--timeout", "10", harness.fixture("c-limits"))
        self.call(l, {"mode": "rss"})
        info = self.function_info(l)
        cpu = env_cgroup(l.proc.pid, "cpu", "function-1")
        if info["sandbox"]["cpu"] == "cgroup-v2":
            cpu = env_cgroup(l.proc.pid, "", "function-1")
            self.assertEqual(read(cpu + "/cpu.max"), "7235 100000\n")
        else:
            self.assertEqual(info["sandbox"]["cpu"], "cgroup-v1")
            # 128/1769 of a CPU.
            self.assertEqual(read(cpu + "/cpu.cfs_period_us"), "100000\n")
            self.assertEqual(read(cpu + "/cpu.cfs_quota_us"), "7235\n")
            mem = env_cgroup(l.proc.pid, "memory", "function-1")
            self.assertEqual(read(mem + "/memory.limit_in_bytes"), "134217728\n")
        self.assertTrue(info["enforced"]["cpu"])
        l.stop()

        l = self.lemu("--sandbox-cpu", "off", harness.fixture("c-limits"))
        self.call(l, {"mode": "rss"})
        info = self.function_info(l)
        self.assertFalse(info["enforced"]["cpu"])
        self.assertEqual(info["sandbox"]["cpu"], "off")
        # The environment still has its cpu cgroup (for accounting), without a quota.
        if info["sandbox"]["memory"] == "cgroup-v2":
            cpu = env_cgroup(l.proc.pid, "", "function-1")
            self.assertEqual(read(cpu + "/cpu.max"), "max 100000\n")
        else:
            cpu = env_cgroup(l.proc.pid, "cpu", "function-1")
            self.assertEqual(read(cpu + "/cpu.cfs_quota_us"), "-1\n")

    # ---- freezing -----------------------------------------------------------------------

    def test_ticker_stops_while_idle_and_resumes_on_the_next_invocation(self):
        l = self.lemu("--sandbox-cpu", "off", harness.fixture("c-limits"))
        self.call(l, {"mode": "ticker_start"})
        self.call(l, {"mode": "ticks"})
        how = self.function_info(l)["sandbox"]["freeze"]
        self.assertIn(how, ("cgroup", "signals"))
        self.wait_frozen(l, how)
        between, answer = self.idle_gap_ticks(l)
        self.assertLessEqual(between, 2, answer)
        # It resumes: during a 200 ms invocation it ticks about 20 times.
        self.call(l, {"mode": "busy", "ms": 200})
        _, answer = self.call(l, {"mode": "ticks"})
        self.assertGreaterEqual(answer["ticks"], 10, answer)

    def test_ticker_runs_while_idle_without_freeze(self):
        l = self.lemu("--sandbox-cpu", "off", "--freeze", "false", harness.fixture("c-limits"))
        self.call(l, {"mode": "ticker_start"})
        self.call(l, {"mode": "ticks"})
        info = self.function_info(l)
        self.assertEqual(info["sandbox"]["freeze"], "off")
        self.assertFalse(info["enforced"]["freeze"])
        between, answer = self.idle_gap_ticks(l)
        self.assertGreaterEqual(between, 20, answer)


class AnyUserLimitsTest(LimitsBase):
    """What holds for any user, without cgroups: descriptors, threads, the Runtime API's
    peers, namespaces (the pid namespace takes leftover children; network none)."""

    def test_2000_files_stop_at_nofile(self):
        l = self.lemu("--sandbox-cpu", "off", harness.fixture("c-limits"))
        _, answer = self.call(l, {"mode": "files", "n": 2000})
        self.assertEqual(answer["errno"], "Too many open files", answer)
        # RLIMIT_NOFILE 1024, less stdin, stdout, stderr and the runtime's own descriptors.
        self.assertLessEqual(answer["ok"], 1024 - 3, answer)
        self.assertGreater(answer["ok"], 1000, answer)
        self.assertEqual(self.function_info(l)["sandbox"]["nofile"], 1024)
        self.assertTrue(self.function_info(l)["enforced"]["nofile"])

    def test_100_threads_work(self):
        l = self.lemu("--sandbox-cpu", "off", harness.fixture("c-limits"))
        _, answer = self.call(l, {"mode": "threads", "n": 100})
        self.assertEqual(answer, {"mode": "threads", "ok": 100, "errno": ""})

    def test_runtime_api_admits_only_its_environment(self):
        fx = harness.fixture("c-limits")
        l = self.lemu("--sandbox-cpu", "off", "--function", "a=" + fx, "--function", "b=" + fx)
        self.call(l, {"mode": "rss"}, "a")
        self.call(l, {"mode": "rss"}, "b")
        addr = environ(self.runtime_pid(l, "a")).get(b"AWS_LAMBDA_RUNTIME_API")
        self.assertIsNotNone(addr)
        addr = addr.decode()
        before = self.environments(l, "a")[0]["invocations"]
        self.assertEqual(before, 1)

        # b's runtime calls a's Runtime API: closed, and a never gets an event.
        _, answer = self.call(l, {"mode": "rapi", "addr": addr}, "b")
        self.assertEqual(answer["result"], "closed", answer)
        l.wait_log("closed a Runtime API connection from a process outside a-1")
        self.assertEqual(self.environments(l, "a")[0]["invocations"], before)
        self.assertEqual(self.function_info(l, "a")["counters"]["invocations"], 1)

        # So does a process of the test itself, without an answer.
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=5)
        try:
            s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                self.fail("the connection was neither answered nor closed within 5 s")
        finally:
            s.close()
        self.assertEqual(data, b"")
        self.assertEqual(self.environments(l, "a")[0]["invocations"], before)

        # a itself is untouched: warm, its runtime still waiting on its own connection.
        headers, _ = self.call(l, {"mode": "rss"}, "a")
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        info = self.function_info(l, "a")
        self.assertEqual(info["sandbox"]["runtime_api_isolation"], "peer-check")
        self.assertTrue(info["enforced"]["runtime_api_isolation"])

    # ---- the function's children --------------------------------------------------------

    def test_child_left_running_is_gone_after_recycle_and_after_lemu_exits(self):
        l = self.lemu("--sandbox-cpu", "off", harness.fixture("c-limits"))
        headers, answer = self.call(l, {"mode": "child"})
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        self.assertGreater(answer["child"], 0)
        first = harness.wait_for(lambda: self.sleepers(l), what="the sleep child")
        self.assertEqual(len(first), 1)
        self.assertEqual(self.sleepers(l), first)  # still there while idle
        self.assertEqual(l.control("POST", "/functions/function/recycle")[0], 200)
        self.assert_gone(first)

        headers, _ = self.call(l, {"mode": "child"})
        self.assertNotEqual(headers["x-lemu-environment-id"], "function-1")
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        second = harness.wait_for(lambda: self.sleepers(l), what="the second sleep child")
        self.assertEqual(l.stop(signal.SIGTERM, timeout=5), 0)
        self.assert_gone(second)

    # ---- network: none ------------------------------------------------------------------

    def test_network_none_works_and_survives_crashes(self):
        l = self.lemu("--sandbox-cpu", "off", "--sandbox-network", "none", "--timeout", "30",
                      "--function", "bad=" + harness.fixture("c-bad"),
                      "--function", "lim=" + harness.fixture("c-limits"))
        ask = {"env": "AWS_LAMBDA_RUNTIME_API"}
        h1, a1 = self.call(l, ask, "bad")
        h2, a2 = self.call(l, ask, "bad")
        self.assertEqual((h1["x-lemu-cold-start"], a1["count"]), ("true", 1))
        self.assertEqual((h2["x-lemu-cold-start"], a2["count"]), ("false", 2))
        self.assertEqual(a1["env_value"], "127.0.0.1:9001")
        env_id = h1["x-lemu-environment-id"]

        # A crash: the environment restarts in the namespace it kept.
        status, headers, body = l.invoke(function="bad", payload=b'{"mode":"exit"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["errorType"], "Runtime.ExitError")
        h3, a3 = self.call(l, ask, "bad")
        self.assertEqual((h3["x-lemu-cold-start"], a3["count"]), ("true", 1))
        self.assertEqual(h3["x-lemu-environment-id"], env_id)
        self.assertEqual(a3["env_value"], "127.0.0.1:9001")

        # An OOM kill too.
        h4, _ = self.call(l, {"mode": "rss"}, "lim")
        status, headers, body = l.invoke(function="lim", payload=b'{"mode":"alloc","mb":1024}',
                                         timeout=60)
        self.assertEqual(json.loads(body)["errorType"], "Runtime.OutOfMemory", body)
        h5, a5 = self.call(l, {"mode": "rss"}, "lim")
        self.assertEqual(h5["x-lemu-cold-start"], "true")
        self.assertEqual(h5["x-lemu-environment-id"], h4["x-lemu-environment-id"])
        self.assertEqual(environ(self.runtime_pid(l, "lim")).get(b"AWS_LAMBDA_RUNTIME_API"),
                         b"127.0.0.1:9001")
        info = self.function_info(l, "lim")
        self.assertEqual(info["sandbox"]["network"], "none")
        self.assertEqual(info["sandbox"]["runtime_api_isolation"], "namespace")
        self.assertTrue(info["enforced"]["runtime_api_isolation"])


class UnprivilegedTest(LimitsBase):
    """lemu as nobody: no cgroups; what is not enforced is said, and memory is watched."""

    def setUp(self):
        super().setUp()
        build = os.path.dirname(os.path.dirname(os.path.abspath(harness.LEMU)))
        launcher = os.path.join(build, "sandbox", "lemu-launcher")
        if not os.access(launcher, os.X_OK):
            self.skipTest("no lemu-launcher beside lemu (%s)" % launcher)
        if IS_ROOT and not shutil.which("setpriv"):
            self.skipTest("setpriv is not installed")
        # Copies nobody can read and run: checkouts and build trees may sit under 0700 homes.
        d = self.tmpdir("lemu-nobody-")
        self.bin = os.path.join(d, "lemu")
        self.launcher = os.path.join(d, "lemu-launcher")
        shutil.copy2(harness.LEMU, self.bin)
        shutil.copy2(launcher, self.launcher)
        fx = harness.copy_fixture_tree(os.path.dirname(harness.fixture("c-limits")))
        self.dirs.append(os.path.dirname(fx))
        self.bootstrap = os.path.join(fx, "bootstrap")
        for p in (self.bin, self.launcher, self.bootstrap):
            os.chmod(p, 0o755)

    def nobody_lemu(self, *args):
        l = harness.Lemu(*args, lemu=self.bin, prefix=NOBODY if IS_ROOT else None,
                         env={"LEMU_LAUNCHER": self.launcher})
        os.chmod(l.tmp, 0o1777)  # its working directory: writable by nobody
        self.lemus.append(l)
        l.start()
        if os.stat("/proc/%d" % l.proc.pid).st_uid == 0:
            self.fail("lemu runs as root under setpriv")
        return l

    def test_unenforced_limits_are_reported_and_memory_is_watched(self):
        l = self.nobody_lemu("--sandbox-cpu", "off", "--timeout", "30", self.bootstrap)
        info = self.function_info(l)
        if info["sandbox"]["memory"] != "watchdog":
            self.skipTest("this user can make memory cgroups (%s): nothing to report"
                          % info["sandbox"]["memory"])
        self.assertIn("lemu: " + CGROUP_WARNING, l.logs())
        self.assertFalse(info["enforced"]["memory"])
        self.assertFalse(info["enforced"]["pids"])
        self.assertFalse(info["enforced"]["cpu"])
        self.assertEqual(info["sandbox"]["pids"], "off")
        self.assertIn(info["sandbox"]["freeze"], ("cgroup", "signals"))

        # Functions still work, cold then warm.
        h1, _ = self.call(l, {"mode": "rss"})
        h2, _ = self.call(l, {"mode": "rss"})
        self.assertEqual((h1["x-lemu-cold-start"], h2["x-lemu-cold-start"]), ("true", "false"))
        env_id = h1["x-lemu-environment-id"]

        # 300 MB under 128 MB: the RSS watchdog kills it, reported as the OOM killer's.
        status, headers, body = l.invoke(payload=b'{"mode":"alloc","mb":300}', timeout=60)
        rid = headers["x-amzn-requestid"]
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(json.loads(body), {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: signal: killed"
                            % rid})
        l.wait_log(" REPORT RequestId: %s\t" % rid)
        report = report_line(l.logs(), rid)
        self.assertEqual(report_field(report, "Error Type"), "Runtime.OutOfMemory", report)
        h3, _ = self.call(l, {"mode": "rss"})
        self.assertEqual(h3["x-lemu-cold-start"], "true")
        self.assertEqual(h3["x-lemu-environment-id"], env_id)

    def test_freeze_by_signals_without_cgroups(self):
        l = self.nobody_lemu("--sandbox-cpu", "off", self.bootstrap)
        how = self.function_info(l)["sandbox"]["freeze"]
        if how != "signals":
            self.skipTest("this user can freeze through cgroups (%s)" % how)
        self.call(l, {"mode": "ticker_start"})
        self.call(l, {"mode": "ticks"})
        self.wait_frozen(l, how)
        between, answer = self.idle_gap_ticks(l)
        self.assertLessEqual(between, 2, answer)
        self.call(l, {"mode": "busy", "ms": 200})
        _, answer = self.call(l, {"mode": "ticks"})
        self.assertGreaterEqual(answer["ticks"], 10, answer)

    def test_nofile_and_threads_hold_without_cgroups(self):
        l = self.nobody_lemu("--sandbox-cpu", "off", self.bootstrap)
        _, answer = self.call(l, {"mode": "files", "n": 2000})
        self.assertEqual(answer["errno"], "Too many open files", answer)
        self.assertLessEqual(answer["ok"], 1024 - 3, answer)
        _, answer = self.call(l, {"mode": "threads", "n": 100})
        self.assertEqual(answer["ok"], 100, answer)
        self.assertTrue(self.function_info(l)["enforced"]["nofile"])


if __name__ == "__main__":
    harness.main()
