# SPDX-License-Identifier: Apache-2.0
"""Extensions API (spec §4.1, §5.1; DESIGN "Lifecycle"): external extensions start before the
runtime and register; INVOKE reaches them with the runtime's event; the environment is frozen
only once they asked for their next event (the caller has its answer before); SHUTDOWN with
its reason and deadline on recycle and on a timeout; misuse answered as RAPID does; init
failures of extensions; failures after init (an extension's exit/error, exit or death, the
runtime's exit) reset the environment with SHUTDOWN failure to the others; internal
extensions registered from the runtime's process; Telemetry API and Logs API deliveries
(HTTP and TCP destinations).

The extensions are fixtures/c-ext (C) and fixtures/sh-ext (sh and curl); they print what they
see on stdout, which lemu logs as the extension's output, with the environment's prefix.
"""
import json
import os
import re
import shutil
import signal
import stat
import threading
import time
import unittest

import harness

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def c_ext_path():
    p = os.path.join(harness.FIXTURES_BUILD, "c-ext", "c-ext")
    if not os.access(p, os.X_OK):
        raise unittest.SkipTest("c-ext is not built")
    return p


def sh_ext_path():
    return os.path.join(harness.FIXTURES_SRC, "sh-ext", "sh-ext")


def lines(l, env="function-1"):
    p = "[function/%s] " % env
    return [x[len(p):] for x in l.logs().splitlines() if x.startswith(p)]


class ExtensionsTest(harness.LemuTestCase):

    def ext_dir(self, *exts):
        """A world-readable extensions folder holding copies of @exts (name -> source)."""
        d = os.path.join(self.tmpdir(), "extensions")
        os.mkdir(d)
        os.chmod(d, 0o755)
        for name, src in exts:
            dst = os.path.join(d, name)
            shutil.copy(src, dst)
            os.chmod(dst, 0o755)
        return d

    def lemu(self, exts, runtime=None, **fn):
        f = {"bootstrap": runtime or harness.fixture("c-echo"), "extensions_dir": exts,
             "memory_mb": 1769, "timeout_s": 10, "sandbox": {"cpu": "off"}}
        f.update(fn)
        l = harness.Lemu(config={"functions": {"function": f}})
        self.lemus.append(l)
        return l.start()

    def invoke(self, l, event=None, status=200):
        s, h, body = l.invoke(payload=json.dumps(event or {}))
        self.assertEqual(s, status, body)
        return h, body

    def env_state(self, l):
        s, body = l.control("GET", "/functions/function/environments")
        self.assertEqual(s, 200)
        envs = body["environments"]
        return envs[0]["state"] if envs else None

    # ---- lifecycle ------------------------------------------------------------------------

    def test_lifecycle_order(self):
        """REGISTER before the runtime's first event, INVOKE with each request id (both
        extensions), SHUTDOWN spindown with a deadline 2 s away on recycle."""
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path())))
        h1, _ = self.invoke(l, {"n": 1})
        h2, _ = self.invoke(l, {"n": 2})
        self.assertEqual(h1["x-lemu-cold-start"], "true")
        self.assertEqual(h2["x-lemu-cold-start"], "false")
        r1, r2 = h1["x-amzn-requestid"], h2["x-amzn-requestid"]
        for ext in ("c-ext", "sh-ext"):
            l.wait_log("%s INVOKE %s" % (ext, r2))
        s, _ = l.control("POST", "/functions/function/recycle")
        self.assertEqual(s, 200)
        l.wait_log("c-ext SHUTDOWN spindown")
        l.wait_log("sh-ext SHUTDOWN spindown")
        out = lines(l)
        idx = lambda pred: next(i for i, x in enumerate(out) if pred(x))
        init = idx(lambda x: x.startswith("INIT_START"))
        reg_c = idx(lambda x: x.startswith("c-ext REGISTER function "))
        reg_s = idx(lambda x: x.startswith("sh-ext REGISTER "))
        start1 = idx(lambda x: x.startswith("START RequestId: %s" % r1))
        self.assertLess(init, reg_c)
        self.assertLess(max(reg_c, reg_s), start1)
        for ext in ("c-ext", "sh-ext"):
            i1 = idx(lambda x: x.startswith("%s INVOKE %s" % (ext, r1)))
            i2 = idx(lambda x: x.startswith("%s INVOKE %s" % (ext, r2)))
            sd = idx(lambda x: x.startswith("%s SHUTDOWN spindown" % ext))
            self.assertLess(i1, i2)
            self.assertLess(i2, sd)
        m = re.search(r"c-ext SHUTDOWN spindown (-?\d+)", l.logs())
        self.assertTrue(0 < int(m.group(1)) <= 2000, m.group(0))
        m = re.search(r"c-ext INVOKE %s (\d+)" % r1, l.logs())
        self.assertGreater(int(m.group(1)), 1.6e12)  # an epoch in ms
        # Each extension saw each invocation once.
        for ext in ("c-ext", "sh-ext"):
            self.assertEqual(l.logs().count("%s INVOKE %s" % (ext, r1)), 1)
        harness.wait_for(lambda: not l.control("GET", "/functions/function/environments")[1]
                         ["environments"], 10, what="the environment to end")
        l.stop()
        self.assertEqual(l.leftover_pids(), [])

    def test_freeze_waits_for_extension(self):
        """The caller gets its answer when the runtime responds; the environment stays busy
        (not frozen) until the extension asks for its next event."""
        # In the extensions folder: lemu carries it into the sandbox, whose /tmp is its own.
        exts = self.ext_dir(("c-ext", c_ext_path()))
        hold = os.path.join(exts, "release")
        l = self.lemu(exts, environment={"C_EXT_HOLD": hold})
        h, body = self.invoke(l, {"n": 1})
        rid = h["x-amzn-requestid"]
        self.assertEqual(json.loads(body)["event"], {"n": 1})
        l.wait_log("c-ext INVOKE %s" % rid)
        self.assertEqual(self.env_state(l), "busy")
        # Still busy a while later: the extension holds it.
        with self.assertRaises(AssertionError):
            harness.wait_for(lambda: self.env_state(l) != "busy", 0.5, what="not busy")
        with open(hold, "w"):
            pass
        l.wait_log("c-ext RELEASED %s" % rid)
        harness.wait_for(lambda: self.env_state(l) == "frozen", 10, what="frozen")
        # The next invocation is warm and reaches the extension too.
        h2, _ = self.invoke(l, {"n": 2})
        self.assertEqual(h2["x-lemu-cold-start"], "false")
        l.wait_log("c-ext INVOKE %s" % h2["x-amzn-requestid"])

    def test_timeout_sends_shutdown_timeout(self):
        """A timeout resets the environment: the extension gets SHUTDOWN with reason
        timeout; the next invocation starts it again (cold)."""
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path())), runtime=harness.fixture("c-bad"),
                      timeout_s=1)
        _, body = self.invoke(l, {"mode": "sleep", "sleep_s": 5})
        self.assertEqual(json.loads(body)["errorType"], "Sandbox.Timedout")
        l.wait_log("c-ext SHUTDOWN timeout")
        m = re.search(r"c-ext SHUTDOWN timeout (-?\d+)", l.logs())
        self.assertTrue(0 < int(m.group(1)) <= 2000, m.group(0))
        h, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(h["x-lemu-cold-start"], "true")
        harness.wait_for(lambda: l.logs().count("c-ext REGISTER") == 2, 10,
                         what="a second registration")

    # ---- misuse and failures --------------------------------------------------------------

    def test_misuse_answers(self):
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path())), environment={"C_EXT_MODE": "misuse"})
        self.invoke(l)
        l.wait_log("c-ext CHECK tel-after-init")
        got = dict((m.group(1), (int(m.group(2)), m.group(3))) for m in
                   re.finditer(r"c-ext CHECK (\S+) (\d+) (\S+)", l.logs()))
        want = {
            "register-twice": (403, "Extension.InvalidExtensionState"),
            "bad-event": (403, "Extension.InvalidEventType"),
            "internal-shutdown": (403, "Extension.InvalidEventType"),
            "no-name": (403, "Extension.InvalidExtensionName"),
            "no-id": (403, "Extension.MissingExtensionIdentifier"),
            "bad-id": (403, "Extension.InvalidExtensionIdentifier"),
            "unknown-id": (403, "Extension.UnknownExtensionIdentifier"),
            "init-error-no-type": (403, "Extension.MissingHeader"),
            "register-after-init": (403, "Extension.RegistrationClosed"),
            "tel-bad-schema": (400, "ValidationError"),
            "tel-bad-buffering": (400, "ValidationError"),
            "tel-bad-host": (400, "ValidationError"),
            "logs-ok": (200, "-"),
            "tel-mixed": (400, "ValidationError"),
            "tel-after-init": (403, "Telemetry.SubscriptionClosed"),
        }
        self.assertEqual(got, want)

    def test_init_error_and_crash(self):
        """An extension's init/error fails init with its error type; one that exits during
        init fails it with Extension.Crash; either way the caller gets the error."""
        for mode, etype in (("init-error", "Extension.TestInitError"),
                            ("crash", "Extension.Crash")):
            with self.subTest(mode=mode):
                l = self.lemu(self.ext_dir(("c-ext", c_ext_path())),
                              environment={"C_EXT_MODE": mode})
                h, body = self.invoke(l)
                self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
                self.assertEqual(json.loads(body)["errorType"], etype)
                l.wait_log("Phase: invoke\tStatus: error\tError Type: %s" % etype)

    # ---- failures after init: the environment is reset ---------------------------------

    def report_line(self, l, rid):
        return harness.wait_for(
            lambda: next((x for x in lines(l) if x.startswith("REPORT RequestId: %s" % rid)),
                         None), 10, what="REPORT of " + rid)

    def assert_reset(self, l, exts, register_count=2):
        """The next invocation gets a fresh environment: cold, the extensions registered
        again (c-ext no longer failing), and nothing failed."""
        with open(os.path.join(exts, "failed-once"), "w"):
            pass
        h, body = self.invoke(l, {"mode": "echo"})
        self.assertEqual(h["x-lemu-cold-start"], "true")
        self.assertNotIn("x-amz-function-error", h, body)
        harness.wait_for(lambda: l.logs().count("c-ext REGISTER") == register_count, 10,
                         what="a second registration")

    def failing_ext(self, mode, **env):
        exts = self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path()))
        env.update({"C_EXT_MODE": mode, "C_EXT_ONCE": os.path.join(exts, "failed-once")})
        return exts, self.lemu(exts, runtime=harness.fixture("c-bad"), environment=env)

    def test_extension_fails_during_invoke(self):
        """An extension that posts exit/error, or dies, while the function runs: the
        invocation fails at once with the extension's error type (Extension.Crash for a
        death), the other extension gets SHUTDOWN failure, and the next invocation is cold."""
        cases = (("exit-error", "Extension.TestExitError",
                  "Extension 'c-ext' reported an exit error: Extension.TestExitError"),
                 ("crash-on-invoke", "Extension.Crash",
                  "Extension 'c-ext' exited with error: signal: killed"))
        for mode, etype, text in cases:
            with self.subTest(mode=mode):
                exts, l = self.failing_ext(mode)
                t0 = time.monotonic()
                h, body = self.invoke(l, {"mode": "sleep", "sleep_s": 8})
                self.assertLess(time.monotonic() - t0, 7, "answered before the function ended")
                rid = h["x-amzn-requestid"]
                self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
                self.assertEqual(json.loads(body), {
                    "errorType": etype, "errorMessage": "RequestId: %s Error: %s" % (rid, text)})
                l.wait_log("sh-ext SHUTDOWN failure")
                self.assertIn("\tStatus: error\tError Type: %s" % etype, self.report_line(l, rid))
                s, rec = l.control("GET", "/invocations/" + rid)
                self.assertEqual(s, 200, rec)
                self.assertEqual((rec["status"], rec["error_type"]), ("failure", etype), rec)
                self.assertNotIn("c-ext SHUTDOWN", l.logs())
                self.assert_reset(l, exts)
                l.stop()
                self.assertEqual(l.leftover_pids(), [])

    @staticmethod
    def pids_running(path):
        """Host pids of processes whose argv[0] is @path."""
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
            except OSError:
                continue
            if argv0 == path.encode():
                out.append(int(p))
        return out

    def test_extension_ends_after_the_answer(self):
        """An extension that exits, or is killed, after the caller has its answer (while it
        still works on the invocation): the answer stands, the environment is reset (the
        other extension gets SHUTDOWN failure) and the next invocation is cold."""
        for how in ("exit", "kill"):
            with self.subTest(how=how):
                exts = self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path()))
                hold = os.path.join(exts, "release")
                env = {"C_EXT_HOLD": hold}
                if how == "exit":
                    env.update({"C_EXT_MODE": "exit-after-hold",
                                "C_EXT_ONCE": os.path.join(exts, "failed-once")})
                l = self.lemu(exts, runtime=harness.fixture("c-bad"), environment=env)
                h, body = self.invoke(l, {"mode": "echo"})
                self.assertNotIn("x-amz-function-error", h, body)
                rid = h["x-amzn-requestid"]
                l.wait_log("c-ext INVOKE %s" % rid)
                self.assertEqual(self.env_state(l), "busy")
                if how == "exit":
                    with open(hold, "w"):
                        pass
                    l.wait_log("Extension 'c-ext' exited with status 4")
                else:
                    pids = self.pids_running(os.path.join(exts, "c-ext"))
                    self.assertEqual(len(pids), 1, pids)
                    os.kill(pids[0], signal.SIGKILL)
                    l.wait_log("Extension 'c-ext' exited with error: signal: killed")
                    with open(hold, "w"):
                        pass
                l.wait_log("sh-ext SHUTDOWN failure")
                self.assertNotIn("Status:", self.report_line(l, rid))
                self.assert_reset(l, exts)
                l.stop()
                self.assertEqual(l.leftover_pids(), [])

    def test_extension_killed_while_idle(self):
        """Between invocations (freezing off, so that it can die then): an extension killed
        resets the idle environment; the other gets SHUTDOWN failure, the next call is cold."""
        exts = self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path()))
        l = self.lemu(exts, runtime=harness.fixture("c-bad"), lifecycle={"freeze": False})
        self.invoke(l, {"mode": "echo"})
        harness.wait_for(lambda: self.env_state(l) == "idle", 10, what="idle")
        pids = self.pids_running(os.path.join(exts, "c-ext"))
        self.assertEqual(len(pids), 1, pids)
        os.kill(pids[0], signal.SIGKILL)
        l.wait_log("sh-ext SHUTDOWN failure")
        self.assertIn("Extension 'c-ext' exited with error: signal: killed", l.logs())
        self.assert_reset(l, exts)

    def test_runtime_crash_sends_shutdown_failure(self):
        """The runtime exits during an invocation: the caller gets Runtime.ExitError at once,
        both extensions get SHUTDOWN failure with a deadline within the 2 s budget, and the
        next invocation is cold."""
        exts = self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path()))
        l = self.lemu(exts, runtime=harness.fixture("c-bad"))
        h, body = self.invoke(l, {"mode": "exit", "code": 3})
        rid = h["x-amzn-requestid"]
        self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(json.loads(body), {
            "errorType": "Runtime.ExitError",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: exit status 3" % rid})
        l.wait_log("c-ext SHUTDOWN failure")
        l.wait_log("sh-ext SHUTDOWN failure")
        m = re.search(r"c-ext SHUTDOWN failure (-?\d+)", l.logs())
        self.assertTrue(0 < int(m.group(1)) <= 2000, m.group(0))
        self.assertIn("\tStatus: error\tError Type: Runtime.ExitError", self.report_line(l, rid))
        self.assert_reset(l, exts)

    def test_runtime_init_exit_sends_shutdown_failure(self):
        """A runtime that exits during init: the extensions get SHUTDOWN failure, for the
        init and for its retry inside the invocation, whose caller gets Runtime.ExitError."""
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path())), runtime=harness.fixture("c-bad"),
                      environment={"BAD_MODE": "init_exit"})
        h, body = self.invoke(l)
        self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(json.loads(body)["errorType"], "Runtime.ExitError")
        harness.wait_for(lambda: l.logs().count("c-ext SHUTDOWN failure") == 2, 10,
                         what="SHUTDOWN failure for both inits")
        l.wait_log("Phase: invoke\tStatus: error\tError Type: Runtime.ExitError")

    @staticmethod
    def beside(d, name):
        """A copy of fixture @name in the function's own folder @d: the function sees that
        one wherever the checkout is (a checkout under /tmp is hidden by its private /tmp)."""
        path = os.path.join(d, name)
        shutil.copy2(harness.fixture(name), path)
        return path

    def test_internal_extension(self):
        """An extension registered from the runtime's process (a name that is no file in
        extensions_dir) gets INVOKE; it may not subscribe to SHUTDOWN."""
        d = self.tmpdir()
        boot = os.path.join(d, "bootstrap")
        with open(boot, "w") as f:
            f.write(INTERNAL_BOOTSTRAP % {"echo": self.beside(d, "sh-echo")})
        os.chmod(boot, 0o755)
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path())), runtime=boot)
        h, _ = self.invoke(l, {"n": 1})
        rid = h["x-amzn-requestid"]
        l.wait_log("inner INVOKE %s" % rid)
        self.assertIn("inner REGISTER 200", l.logs())
        self.assertIn("inner-shutdown REGISTER 403", l.logs())
        l.wait_log("c-ext INVOKE %s" % rid)

    def test_two_environments(self):
        """Two environments at once, each with its own extensions."""
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path())), runtime=harness.fixture("c-bad"))
        res = []

        def call():
            res.append(l.invoke(payload=json.dumps({"mode": "sleep", "sleep_s": 0.5})))

        ts = [threading.Thread(target=call) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(r[0] for r in res), [200, 200])
        envs = sorted(r[1]["x-lemu-environment-id"] for r in res)
        self.assertEqual(envs, ["function-1", "function-2"])
        for r, env in ((r, r[1]["x-lemu-environment-id"]) for r in res):
            harness.wait_for(lambda: any(x.startswith("c-ext INVOKE %s" % r[1]["x-amzn-requestid"])
                                         for x in lines(l, env)), 10, what="INVOKE in " + env)


    # ---- Telemetry API -----------------------------------------------------------------

    def test_telemetry(self):
        """A subscribing extension receives, in order, the init's events (replayed: it
        subscribed after they happened), the function's and sh-ext's log lines, and per
        invocation platform.start, platform.runtimeDone and platform.report with REPORT's
        figures; the last report comes with SHUTDOWN."""
        d = self.tmpdir()
        boot = os.path.join(d, "bootstrap")
        with open(boot, "w") as f:
            f.write("#!/bin/sh\necho fn-init-line\nexec %s\n" % self.beside(d, "c-echo"))
        os.chmod(boot, 0o755)
        l = self.lemu(self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path())),
                      runtime=boot, environment={"C_EXT_MODE": "telemetry"})
        rids = [self.invoke(l, {"n": i})[0]["x-amzn-requestid"] for i in range(2)]
        self.assertIn("c-ext SUBSCRIBE 200 \"OK\"", l.logs())
        l.wait_log("c-ext TEL platform.report %s" % rids[0])
        l.control("POST", "/functions/function/recycle")
        l.wait_log("c-ext TELSUM")
        tel = [x[len("c-ext TEL "):] for x in lines(l) if x.startswith("c-ext TEL ")]
        types = [t.split(" ")[0] for t in tel]
        order = ["platform.initStart", "platform.initRuntimeDone", "platform.initReport"]
        for rid in rids:
            order += ["platform.start " + rid, "platform.runtimeDone " + rid,
                      "platform.report " + rid]
        pos = []
        for want in order:
            hit = [i for i, t in enumerate(tel) if t.startswith(want + " ") or t == want]
            self.assertEqual(len(hit), 1, "%s in %s" % (want, tel))
            pos.append(hit[0])
        self.assertEqual(pos, sorted(pos), tel)
        self.assertIn("platform.telemetrySubscription", types)
        fn = [t for t in tel if t.startswith("function ")]
        self.assertIn('function "fn-init-line"', fn)
        self.assertLess(tel.index('function "fn-init-line"'), pos[1])
        # The Invoke phase ends when the extensions are done: what sh-ext printed about an
        # invocation comes before that invocation's report.
        for rid in rids:
            said = [i for i, t in enumerate(tel) if t.startswith('extension "sh-ext INVOKE %s' % rid)]
            self.assertEqual(len(said), 1, tel)
            report = tel.index(next(t for t in tel if t.startswith("platform.report %s " % rid)))
            self.assertLess(said[0], report, tel)
        for i, rid in enumerate(rids):
            rep = next(t for t in tel if t.startswith("platform.report %s " % rid))
            _, _, status, metrics = rep.split(" ", 3)
            self.assertEqual(status, "success")
            m = json.loads(metrics)
            line = next(x for x in lines(l) if x.startswith("REPORT RequestId: %s" % rid))
            fig = dict(kv.split(": ", 1) for kv in line.split("\t")[1:] if ": " in kv)
            self.assertAlmostEqual(m["durationMs"], float(fig["Duration"].split()[0]), 2)
            self.assertEqual(m["billedDurationMs"], int(fig["Billed Duration"].split()[0]))
            self.assertEqual(m["memorySizeMB"], 1769)
            self.assertEqual(m["maxMemoryUsedMB"], int(fig["Max Memory Used"].split()[0]))
            self.assertEqual("initDurationMs" in m, i == 0)
            if i == 0:
                self.assertAlmostEqual(m["initDurationMs"],
                                       float(fig["Init Duration"].split()[0]), 2)
            done = next(t for t in tel if t.startswith("platform.runtimeDone %s " % rid))
            self.assertEqual(done.split(" ")[2], "success")
            self.assertGreater(json.loads(done.split(" ", 3)[3])["producedBytes"], 0)
        init = next(t for t in tel if t.startswith("platform.initReport "))
        self.assertEqual(init.split(" ")[2], "success")
        self.assertGreater(json.loads(init.split(" ", 3)[3])["durationMs"], 0)


    def test_logs_api(self):
        """A Logs API (2020-08-15) subscriber receives, over HTTP or over TCP
        (newline-delimited JSON), platform.logsSubscription, the function's lines and per
        invocation platform.start, platform.end and platform.report (with its figures), in
        order; none of the Telemetry API's init events."""
        for proto in ("HTTP", "TCP"):
            with self.subTest(proto=proto):
                d = self.tmpdir()
                boot = os.path.join(d, "bootstrap")
                with open(boot, "w") as f:
                    f.write("#!/bin/sh\necho fn-init-line\nexec %s\n" % self.beside(d, "c-echo"))
                os.chmod(boot, 0o755)
                l = self.lemu(self.ext_dir(("c-ext", c_ext_path()), ("sh-ext", sh_ext_path())),
                              runtime=boot, environment={"C_EXT_MODE": "logs",
                                                         "C_EXT_LOGS_PROTO": proto})
                rids = [self.invoke(l, {"n": i})[0]["x-amzn-requestid"] for i in range(2)]
                self.assertIn("c-ext SUBSCRIBE 200", l.logs())
                l.wait_log("c-ext TEL platform.report %s" % rids[0])
                l.control("POST", "/functions/function/recycle")
                l.wait_log("c-ext TELSUM")
                tel = [x[len("c-ext TEL "):] for x in lines(l) if x.startswith("c-ext TEL ")]
                types = [t.split(" ")[0] for t in tel]
                self.assertIn("platform.logsSubscription", types)
                for t in ("platform.initStart", "platform.initReport",
                          "platform.telemetrySubscription"):
                    self.assertNotIn(t, types)
                self.assertIn('function "fn-init-line"', tel)
                pos = []
                for rid in rids:
                    for want in ("platform.start", "platform.end", "platform.report"):
                        hit = [i for i, t in enumerate(tel) if t.startswith("%s %s " % (want, rid))]
                        self.assertEqual(len(hit), 1, "%s %s in %s" % (want, rid, tel))
                        pos.append(hit[0])
                self.assertEqual(pos, sorted(pos), tel)
                for rid in rids:
                    rep = next(t for t in tel if t.startswith("platform.report %s " % rid))
                    m = json.loads(rep.split(" ", 3)[3])
                    line = self.report_line(l, rid)
                    fig = dict(kv.split(": ", 1) for kv in line.split("\t")[1:] if ": " in kv)
                    self.assertAlmostEqual(m["durationMs"], float(fig["Duration"].split()[0]), 2)
                    self.assertEqual(m["memorySizeMB"], 1769)
                self.assertNotIn("TCP-BAD-LINE", l.logs())
                said = [t for t in tel if t.startswith('extension "sh-ext INVOKE %s' % rids[0])]
                self.assertEqual(len(said), 1, tel)
                l.stop()


# A runtime that registers an internal extension from its own process (a background loop
# that asks for events), then becomes sh-echo.
INTERNAL_BOOTSTRAP = r"""#!/bin/sh
base="http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension"
t=$(mktemp -d)
code=$(curl -sS -D "$t/h" -o "$t/b" -w '%%{http_code}' -H 'Lambda-Extension-Name: inner' \
        -d '{"events":["INVOKE"]}' "$base/register")
echo "inner REGISTER $code"
code2=$(curl -sS -o /dev/null -w '%%{http_code}' -H 'Lambda-Extension-Name: inner-shutdown' \
        -d '{"events":["SHUTDOWN"]}' "$base/register")
echo "inner-shutdown REGISTER $code2"
id=$(sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier:[[:space:]]*//p' "$t/h" | tr -d '\r\n')
(
        while :; do
                curl -sS -o "$t/e" -H "Lambda-Extension-Identifier: $id" "$base/event/next" || exit 0
                echo "inner INVOKE $(sed -n 's/.*"requestId":"\([^"]*\)".*/\1/p' "$t/e")"
        done
) &
exec %(echo)s
"""


if __name__ == "__main__":
    harness.main()
