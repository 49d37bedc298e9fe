# SPDX-License-Identifier: Apache-2.0
"""Execution-environment lifecycle (DESIGN "Lifecycle", spec §4): timeouts, crashes, init
failures and suppressed inits, the platform log lines byte for byte (§4.4), async retries
with their on-failure record, idle shutdown, recycle, the log tail and a log flood.

Every test starts its own lemu with c-bad (fixtures/c-bad), whose event "mode" picks a
behaviour, and waits for what it expects with a deadline.
"""
import base64
import json
import math
import os
import re
import threading

import harness

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PREFIX = "[function/function-1] "


def lines_of(l, env="function-1"):
    """The log lines of one environment, without their prefix."""
    p = "[function/%s] " % env
    return [x[len(p):] for x in l.logs().splitlines() if x.startswith(p)]


def report_of(l, rid, timeout=5.0):
    """Waits for the REPORT line of request @rid and returns it (without prefix)."""
    def find():
        return [x for x in re.findall(r"^\[function/function-\d+\] (REPORT .*)$", l.logs(), re.M)
                if x.startswith("REPORT RequestId: %s\t" % rid)]
    return harness.wait_for(find, timeout, what="REPORT of %s" % rid)[0]


class LifecycleTest(harness.LemuTestCase):

    def bad(self, *args, mode_args=(), **kw):
        # CPU share off (STYLE "Tests"): 128 MB's 7 % of a core makes timings flaky.
        return self.lemu("--sandbox-cpu", "off", *args, harness.fixture("c-bad"), *mode_args,
                         **kw)

    def bad_config(self, **fn):
        """A lemu from a config file: 'function' is c-bad plus the keys given."""
        f = {"bootstrap": harness.fixture("c-bad"), "timeout_s": 3, "sandbox": {"cpu": "off"}}
        f.update(fn)
        return self.lemu(config={"functions": {"function": f}})

    def invoke(self, l, event, **kw):
        status, headers, body = l.invoke(payload=json.dumps(event), **kw)
        self.assertEqual(status, 200, body)
        return headers, body

    def assert_cold_again(self, l, env_id):
        """The next invocation re-inits the same environment: cold, counter from 1."""
        headers, body = self.invoke(l, {"mode": "echo"})
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        self.assertEqual(json.loads(body)["count"], 1)
        return headers

    # ---- timeouts and crashes -----------------------------------------------------------

    def test_timeout(self):
        l = self.bad("--timeout", "1")
        first, _ = self.invoke(l, {"mode": "echo"})
        env_id = first["x-lemu-environment-id"]
        headers, body = self.invoke(l, {"mode": "sleep", "sleep_s": 30})
        rid = headers["x-amzn-requestid"]
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        self.assertRegex(body.decode(),
                         r'^\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: %s '
                         r'Error: Task timed out after 1\.0\d seconds"\}$' % rid)
        report = report_of(l, rid)
        self.assertTrue(report.endswith("\tStatus: timeout\t") or
                        report.endswith("\tStatus: timeout"), report)
        self.assertNotIn("Error Type", report)
        _, rec = l.control("GET", "/invocations/" + rid)
        self.assertEqual((rec["status"], rec["error_type"]), ("timeout", "Sandbox.Timedout"))
        self.assert_cold_again(l, env_id)
        _, envs = l.control("GET", "/functions/function/environments")
        self.assertEqual([(e["id"], e["resets"]) for e in envs["environments"]], [(env_id, 1)])
        _, fn = l.control("GET", "/functions/function")
        self.assertEqual(fn["counters"]["timeouts"], 1)

    def crash(self, event, text):
        l = self.bad("--timeout", "3")
        first, _ = self.invoke(l, {"mode": "echo"})
        env_id = first["x-lemu-environment-id"]
        headers, body = self.invoke(l, event)
        rid = headers["x-amzn-requestid"]
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(body.decode(),
                         '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: %s '
                         'Error: Runtime exited with error: %s"}' % (rid, text))
        report = report_of(l, rid)
        self.assertIn("\tStatus: error\tError Type: Runtime.ExitError", report)
        self.assertIn("RequestId: %s Error: Runtime exited with error: %s" % (rid, text),
                      lines_of(l))
        _, rec = l.control("GET", "/invocations/" + rid)
        self.assertEqual(rec["error_type"], "Runtime.ExitError")
        self.assert_cold_again(l, env_id)
        _, envs = l.control("GET", "/functions/function/environments")
        self.assertEqual([(e["id"], e["resets"]) for e in envs["environments"]], [(env_id, 1)])

    def test_crash_exit_status(self):
        self.crash({"mode": "exit"}, "exit status 3")

    def test_crash_exit_status_given(self):
        self.crash({"mode": "exit", "code": 7}, "exit status 7")

    def test_crash_signal(self):
        self.crash({"mode": "kill"}, "signal: killed")

    # ---- init failures ------------------------------------------------------------------

    def init_lines(self, l):
        return [x for x in lines_of(l) if x.startswith(("INIT_START ", "INIT_REPORT "))]

    def test_init_error(self):
        l = self.bad("--timeout", "3", mode_args=["init_error"])
        payload = (b'{"errorMessage":"cannot load handler",'
                   b'"errorType":"Runtime.ImportModuleError","stackTrace":[]}')
        for round_ in (1, 2):
            status, headers, body = l.invoke(payload=b"{}")
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
            self.assertEqual(body, payload)
            self.assertEqual(headers["x-lemu-cold-start"], "true")
            self.assertEqual(headers["x-lemu-environment-id"], "function-1")
            rid = headers["x-amzn-requestid"]
            report = report_of(l, rid)
            self.assertIn("\tStatus: error\tError Type: Runtime.ImportModuleError", report)
            # Each invocation: an init that fails, then a suppressed one that fails too.
            init = self.init_lines(l)
            self.assertEqual(len(init), 4 * round_, init)
            for start, rep, phase in ((init[-4], init[-3], "init"),
                                      (init[-2], init[-1], "invoke")):
                self.assertRegex(start, r"^INIT_START Runtime Version: \S+\tRuntime Version "
                                        r"ARN: arn:aws:lambda:us-east-1::runtime:\S+$")
                self.assertRegex(rep, r"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: %s\t"
                                      r"Status: error\tError Type: Runtime\.ImportModuleError$"
                                 % phase)

    def test_init_exit(self):
        l = self.bad("--timeout", "3", mode_args=["init_exit"])
        status, headers, body = l.invoke(payload=b"{}")
        rid = headers["x-amzn-requestid"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(body.decode(),
                         '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: %s '
                         'Error: Runtime exited with error: exit status 2"}' % rid)
        self.assertIn("\tStatus: error\tError Type: Runtime.ExitError", report_of(l, rid))
        reports = [x for x in self.init_lines(l) if x.startswith("INIT_REPORT")]
        self.assertEqual(len(reports), 2, reports)
        self.assertRegex(reports[0], r"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\t"
                                     r"Status: error\tError Type: Runtime\.ExitError$")
        self.assertRegex(reports[1], r"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: invoke\t"
                                     r"Status: error\tError Type: Runtime\.ExitError$")

    def test_init_timeout_then_suppressed_init_times_out(self):
        l = self.bad("--init-timeout", "0.3", "--timeout", "0.5", "--env", "INIT_SLEEP_S=1",
                     mode_args=["init_sleep"])
        status, headers, body = l.invoke(payload=b"{}")
        rid = headers["x-amzn-requestid"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertRegex(body.decode(),
                         r'^\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: %s '
                         r'Error: Task timed out after 0\.[5-9]\d seconds"\}$' % rid)
        report = report_of(l, rid)
        self.assertIn("\tStatus: timeout", report)
        reports = [x for x in self.init_lines(l) if x.startswith("INIT_REPORT")]
        self.assertEqual(len(reports), 2, reports)
        m = re.match(r"^INIT_REPORT Init Duration: (\d+\.\d\d) ms\tPhase: init\tStatus: timeout$",
                     reports[0])
        self.assertTrue(m, reports[0])
        self.assertGreaterEqual(float(m.group(1)), 300)
        self.assertRegex(reports[1], r"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: invoke\t"
                                     r"Status: timeout$")

    def test_init_timeout_then_suppressed_init_succeeds(self):
        l = self.bad("--init-timeout", "0.3", "--timeout", "3", "--env", "INIT_SLEEP_S=1",
                     mode_args=["init_sleep"])
        status, headers, body = l.invoke(payload=b'{"k":1}')
        self.assertEqual(status, 200)
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        answer = json.loads(body)
        self.assertEqual(answer["event"], {"k": 1})
        self.assertEqual(answer["count"], 1)
        # The suppressed init ran on the invocation's clock: at least the 1 s of sleep.
        self.assertGreaterEqual(float(headers["x-lemu-duration-ms"]), 1000)
        reports = [x for x in self.init_lines(l) if x.startswith("INIT_REPORT")]
        self.assertRegex(reports[0],
                         r"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: timeout$")
        self.assertEqual(len([x for x in self.init_lines(l) if x.startswith("INIT_START")]), 2)
        # Then it is an ordinary warm environment.
        headers, body = self.invoke(l, {})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(json.loads(body)["count"], 2)

    # ---- platform lines -----------------------------------------------------------------

    def test_report_format(self):
        l = self.bad("--timeout", "3")
        cold, _ = self.invoke(l, {"mode": "echo"})
        warm, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(cold["x-lemu-cold-start"], "true")
        self.assertEqual(warm["x-lemu-cold-start"], "false")
        report_of(l, warm["x-amzn-requestid"])
        lines = lines_of(l)
        self.assertRegex(lines[0], r"^INIT_START Runtime Version: \S+\tRuntime Version ARN: "
                                   r"arn:aws:lambda:us-east-1::runtime:\S+$")
        for h, is_cold in ((cold, True), (warm, False)):
            rid = h["x-amzn-requestid"]
            self.assertRegex(rid, "^" + UUID_RE + "$")
            start = lines.index("START RequestId: %s Version: $LATEST" % rid)
            end = lines.index("END RequestId: %s" % rid)
            report = report_of(l, rid)
            self.assertEqual(lines.index(report), end + 1)
            self.assertLess(start, end)
            m = re.match(r"^REPORT RequestId: %s\tDuration: (\d+\.\d\d) ms\tBilled Duration: "
                         r"(\d+) ms\tMemory Size: 128 MB\tMax Memory Used: (\d+) MB\t"
                         r"(Init Duration: (\d+\.\d\d) ms\t)?$" % rid, report)
            self.assertTrue(m, repr(report))
            duration, billed = float(m.group(1)), int(m.group(2))
            self.assertEqual(m.group(4) is not None, is_cold, report)
            self.assertEqual(h["x-lemu-duration-ms"], m.group(1))
            self.assertEqual(h["x-lemu-max-memory-used-mb"], m.group(3))
            self.assertGreaterEqual(int(m.group(3)), 1)
            if is_cold:
                init = float(m.group(5))
                self.assertEqual(h["x-lemu-init-duration-ms"], m.group(5))
                self.assertGreater(init, 0)
                # Billed Duration = ceil(Init + Duration) since Aug 2025; the printed values
                # are rounded to 0.01 ms, so allow for that rounding only.
                self.assertIn(billed, {math.ceil(duration + init - 0.01),
                                       math.ceil(duration + init + 0.01)}, report)
            else:
                self.assertNotIn("x-lemu-init-duration-ms", h)
                self.assertIn(billed, {max(1, math.ceil(duration - 0.005)),
                                       max(1, math.ceil(duration + 0.005))}, report)
        # One INIT_START for the one cold start.
        self.assertEqual(len([x for x in lines if x.startswith("INIT_START")]), 1)

    def test_log_tail(self):
        l = self.bad("--timeout", "3")
        status, headers, body = l.invoke(payload=b'{"mode":"wrong_id"}',
                                         headers={"X-Amz-Log-Type": "Tail"})
        self.assertEqual(status, 200)
        rid = headers["x-amzn-requestid"]
        tail = base64.b64decode(headers["x-amz-log-result"]).decode().splitlines()
        self.assertIn("START RequestId: %s Version: $LATEST" % rid, tail)
        self.assertIn("wrong id status: 400", tail)
        self.assertEqual(tail[-2], "END RequestId: %s" % rid)
        self.assertTrue(tail[-1].startswith("REPORT RequestId: %s\tDuration: " % rid), tail[-1])
        self.assertLess(tail.index("START RequestId: %s Version: $LATEST" % rid),
                        tail.index("wrong id status: 400"))
        # Without Tail there is no log result.
        status, headers, _ = l.invoke(payload=b'{"mode":"echo"}')
        self.assertNotIn("x-amz-log-result", headers)

    def test_flood(self):
        l = self.bad("--timeout", "5")
        status, headers, body = l.invoke(payload=b'{"mode":"flood"}',
                                         headers={"X-Amz-Log-Type": "Tail"})
        self.assertEqual(status, 200)
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(body, b'{"ok":true}')
        rid = headers["x-amzn-requestid"]
        tail = base64.b64decode(headers["x-amz-log-result"])
        self.assertLessEqual(len(tail), 4096)
        tail_lines = tail.decode().splitlines()
        self.assertEqual(tail_lines[-3], "flood line 10000 " + "x" * 82)
        self.assertTrue(tail_lines[-1].startswith("REPORT RequestId: %s\t" % rid))
        self.assertEqual(l.control("GET", "/health"), (200, {"status": "ok"}))

        def flood_lines():
            return [x for x in l.logs().splitlines() if x.startswith(PREFIX + "flood line ")]
        got = harness.wait_for(lambda: len(flood_lines()) >= 10000 and flood_lines(),
                               timeout=10, what="10,000 flood lines")
        self.assertEqual(len(got), 10000)
        for i in (0, 1, 4999, 9999):
            self.assertEqual(got[i], PREFIX + "flood line %05d " % (i + 1) + "x" * 82)
        self.assertEqual([int(x.split()[3]) for x in got], list(range(1, 10001)))
        # All of them before END: lemu read the pipe before closing the invocation's books.
        lines = lines_of(l)
        self.assertLess(lines.index("flood line 10000 " + "x" * 82),
                        lines.index("END RequestId: %s" % rid))
        self.assertEqual(l.control("GET", "/health"), (200, {"status": "ok"}))
        headers, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")

    # ---- async --------------------------------------------------------------------------

    def on_failure_lines(self, path):
        try:
            with open(path) as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return [x for x in data.split("\n") if x] if data.endswith("\n") else []

    def async_failure(self, max_retries, delays):
        d = self.tmpdir()
        path = os.path.join(d, "failures.jsonl")
        l = self.bad_config(**{"async": {"max_retries": max_retries, "retry_delays_s": delays,
                                         "on_failure": path}})
        event = {"mode": "error", "n": 12345678901234567890, "s": "é"}
        status, headers, body = l.invoke(payload=json.dumps(event),
                                         headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        self.assertEqual(body, b"")
        rid = headers["x-amzn-requestid"]
        recs = harness.wait_for(lambda: self.on_failure_lines(path), timeout=10,
                                what="on_failure record")
        starts = [x for x in lines_of(l) if x == "START RequestId: %s Version: $LATEST" % rid]
        self.assertEqual(len(starts), max_retries + 1)
        # Nothing more runs: a synchronous call goes through, and no attempt was added.
        sync, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(len(self.on_failure_lines(path)), 1)
        starts = [x for x in lines_of(l) if x == "START RequestId: %s Version: $LATEST" % rid]
        self.assertEqual(len(starts), max_retries + 1)
        self.assertEqual(len(recs), 1)
        rec = json.loads(recs[0])
        self.assertEqual(rec["version"], "1.0")
        self.assertRegex(rec["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        ctx = rec["requestContext"]
        self.assertEqual(ctx["requestId"], rid)
        self.assertEqual(ctx["condition"], "RetriesExhausted")
        self.assertEqual(ctx["approximateInvokeCount"], max_retries + 1)
        self.assertEqual(ctx["functionArn"],
                         "arn:aws:lambda:us-east-1:000000000000:function:function:$LATEST")
        self.assertEqual(rec["requestPayload"], event)
        self.assertEqual(rec["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(rec["responseContext"]["statusCode"], 200)
        self.assertEqual(rec["responsePayload"],
                         {"errorMessage": "boom", "errorType": "MyError", "stackTrace": ["a", "b"]})

    def test_async_retries_then_on_failure(self):
        self.async_failure(2, [0.1, 0.2])

    def test_async_no_retry(self):
        self.async_failure(0, [0.1])

    def test_async_success_writes_no_record(self):
        d = self.tmpdir()
        path = os.path.join(d, "failures.jsonl")
        l = self.bad_config(**{"async": {"max_retries": 2, "retry_delays_s": [0.1],
                                         "on_failure": path}})
        status, headers, _ = l.invoke(payload=b'{"mode":"echo"}',
                                      headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        rid = headers["x-amzn-requestid"]
        report_of(l, rid)
        self.assertEqual(
            [x for x in lines_of(l) if x.startswith("START RequestId: %s " % rid)],
            ["START RequestId: %s Version: $LATEST" % rid])
        self.assertFalse(os.path.exists(path))

    # ---- ends of environments -----------------------------------------------------------

    def env_ids(self, l):
        status, envs = l.control("GET", "/functions/function/environments")
        self.assertEqual(status, 200)
        return [e["id"] for e in envs["environments"]]

    def test_idle_timeout(self):
        l = self.bad_config(lifecycle={"idle_timeout_s": 0.3})
        headers, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        harness.wait_for(lambda: self.env_ids(l) == [], timeout=5,
                         what="the idle environment to go")
        headers, body = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], "function-2")
        self.assertEqual(json.loads(body)["count"], 1)

    def test_recycle(self):
        l = self.bad("--timeout", "3")
        headers, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        self.assertEqual(l.control("POST", "/functions/function/recycle")[0], 200)
        headers, body = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], "function-2")
        self.assertEqual(json.loads(body)["count"], 1)
        harness.wait_for(lambda: self.env_ids(l) == ["function-2"], timeout=5,
                         what="function-1 to go")
        headers, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(headers["x-lemu-environment-id"], "function-2")

    def test_recycle_of_a_busy_environment_waits_for_its_invocation(self):
        l = self.bad("--timeout", "3")
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=l.invoke(payload=b'{"mode":"sleep","sleep_s":0.5}')))
        t.start()
        try:
            harness.wait_for(lambda: any(x.startswith("START ") for x in lines_of(l)),
                             what="the sleep invocation to start")
            self.assertEqual(l.control("POST", "/functions/function/recycle")[0], 200)
        finally:
            t.join(10)
        status, headers, body = result["r"]
        self.assertEqual(status, 200)
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(json.loads(body)["count"], 1)
        headers, _ = self.invoke(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], "function-2")


class ColdStartsTest(harness.LemuTestCase):
    def burst(self, cold_starts, n, **fn):
        """n concurrent invokes ({"n": i}) of a runtime with 0.4 s inits that answers after
        1 s, with limits.cold_starts; returns the lemu and a function that waits for and
        returns the n answers."""
        boot = harness.slow_init_runtime(self.tmpdir(), 1.0)
        fn.update({"bootstrap": boot, "timeout_s": 30, "sandbox": {"cpu": "off"}})
        l = self.lemu(config={"limits": {"cold_starts": cold_starts},
                              "functions": {"function": fn}})
        answers = [None] * n

        def call(i):
            answers[i] = l.invoke(payload=json.dumps({"n": i}).encode(), timeout=60)
        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()

        def wait():
            for t in threads:
                t.join(90)
            self.assertTrue(all(a is not None for a in answers), answers)
            return answers
        return l, wait

    def test_a_synchronous_burst_initialises_a_few_at_a_time(self):
        """limits.cold_starts: of 6 concurrent invokes, each on a new environment (each
        answer takes 1 s), at most 2 initialise at once; every caller gets its answer, on
        its own environment, and Init Duration does not count the wait."""
        l, wait = self.burst(2, 6, init_timeout_s=2)
        envs = set()
        for i, (status, headers, body) in enumerate(wait()):
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body), {"n": i})
            self.assertEqual(headers["x-lemu-cold-start"], "true")
            self.assertLess(float(headers["x-lemu-init-duration-ms"]), 2000)
            envs.add(headers["x-lemu-environment-id"])
        self.assertEqual(len(envs), 6)
        inits, most = harness.inits_at_once(l.logs())
        self.assertEqual(len(inits), 6, l.logs()[-2000:])
        self.assertLessEqual(most, 2, inits)

    def test_a_recycle_leaves_an_init_that_waits_for_its_turn(self):
        """An environment whose init waits for its turn has run nothing: a recycle (as
        --watch does on a code change) leaves it, and its caller gets the answer."""
        l, wait = self.burst(1, 3)

        def waiting():
            _, j = l.control("GET", "/functions/function/environments")
            envs = j["environments"]
            return (len(envs) == 3 and sum(e["init_waiting"] for e in envs) == 2 and
                    all(e["state"] == "initializing" for e in envs))
        harness.wait_for(waiting, 10, what="two inits waiting for their turn")
        status, j = l.control("POST", "/functions/function/recycle")
        self.assertEqual(status, 200, j)
        for i, (status, headers, body) in enumerate(wait()):
            self.assertEqual(status, 200, body)
            self.assertNotIn("x-amz-function-error", headers, body)
            self.assertEqual(json.loads(body), {"n": i})


if __name__ == "__main__":
    harness.main()
