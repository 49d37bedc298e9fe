# SPDX-License-Identifier: Apache-2.0
"""Fault injection (DESIGN "Surfacing bugs", `lemu help faults`): the control API of the
fault table, and for every action what the caller gets, what the record says and what the
log says; the same faults at the same invocations for the same seed; faults from the config.

Functions are c-bad (its event "mode" picks a behaviour) and python-faults (handlers that
meet a fault, each with a twin that copes with it). Timings are small (timeouts of 1 s, 3 s
for the Python fixtures, whose exits take long under load;
retries 0.1 s apart) and every wait has a deadline.
"""
import json
import os
import socket
import tempfile
import threading
import time
import unittest

import harness

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class IdleClosingServer:
    """A line server ("ping" → "pong") that closes a connection idle for idle_s: what a
    database or a load balancer does to a client frozen between invocations."""

    def __init__(self, idle_s):
        self.idle_s = idle_s
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed_idle = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(self.idle_s)
        with c:
            while True:
                try:
                    data = c.recv(64)
                except socket.timeout:
                    self.closed_idle += 1
                    return
                except OSError:
                    return
                if not data:
                    return
                c.sendall(b"pong\n")

    def stop(self):
        self.stopping = True
        self.sock.close()


class FaultsTest(harness.LemuTestCase):

    def start(self, faults=None, fixture="c-bad", seed=7, **fn):
        f = {"bootstrap": harness.fixture(fixture), "timeout_s": 1, "memory_mb": 1769,
             "sandbox": {"cpu": "off"},
             "async": {"max_retries": 2, "retry_delays_s": [0.1, 0.2]}}
        if faults is not None:
            f["faults"] = faults
        f.update(fn)
        return self.lemu(config={"seed": seed, "functions": {"fn": f}})

    def add(self, l, fault):
        status, body = l.control("POST", "/functions/fn/faults", fault)
        self.assertEqual(status, 201, body)
        return body["id"]

    def invoke(self, l, event=None, **kw):
        status, headers, body = l.invoke("fn", payload=json.dumps(event or {}), **kw)
        return status, headers, body

    def record(self, l, rid):
        status, rec = l.control("GET", "/invocations/" + rid)
        self.assertEqual(status, 200, rec)
        return rec

    def records(self, l):
        status, body = l.control("GET", "/invocations?function=fn")
        self.assertEqual(status, 200, body)
        return body["invocations"]

    def wait_records(self, l, pred, what, timeout=15):
        return harness.wait_for(lambda: pred(self.records(l)), timeout, 0.02, what)

    def fault_entry(self, rec, fid, action, phase):
        self.assertEqual(rec["faults"], [{"id": fid, "action": action, "phase": phase}], rec)
        self.assertIn("lemu: fault '%s' (%s, phase %s) fired on RequestId: %s"
                      % (fid, action, phase, rec["request_id"]), rec["log"])

    def error_of(self, headers, body):
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body)
        return json.loads(body)

    # ---- the table -----------------------------------------------------------------------

    def test_control_api(self):
        l = self.start()
        self.assertEqual(l.control("GET", "/functions/fn/faults"), (200, {"faults": []}))
        self.assertEqual(self.add(l, {"action": "crash", "when": {"invocation": 2}}), "crash-1")
        self.assertEqual(self.add(l, {"id": "slow", "action": "delay", "ms": 5}), "slow")
        status, body = l.control("POST", "/functions/fn/faults", {"id": "slow", "action": "oom"})
        self.assertEqual((status, body["errorType"]), (400, "InvalidParameterValueException"))
        self.assertEqual(body["errorMessage"], "id: a fault with id 'slow' is already set")
        for fault, msg in [
                ({"action": "explode"}, "action: expected one of crash, init_hang, delay, "),
                ({"when": {}}, "action: missing"),
                ({"action": "delay"}, "ms: missing (delay needs it)"),
                ({"action": "delay", "ms": -1}, "ms: expected milliseconds from 0 to 900000"),
                ({"action": "crash", "ms": 3}, "unknown key 'ms' for crash (it takes after_ms)"),
                ({"action": "timeout", "status": 500},
                 "unknown key 'status' for timeout (it takes no parameters)"),
                ({"action": "crash", "when": {"phase": "idle"}},
                 "when.phase: crash fires in init, invoke, after_response, got 'idle'"),
                ({"action": "crash", "when": {"probability": 2}},
                 "when.probability: expected a number from 0 to 1"),
                ({"action": "crash", "when": {"invocation": 0}},
                 "when.invocation: expected a whole number from 1 to"),
                ({"action": "crash", "when": {"evry": 2}}, "when: unknown key 'evry'"),
                ({"action": "runtime_api_error", "endpoint": "init"},
                 "endpoint: expected 'next' or 'response'"),
                ({"action": "error_response", "body": {}, "error_type": "X"},
                 "body: give either body (the answer) or error_type/error_message"),
                ({"action": "crash", "times": 0}, "times: expected a whole number from 1 to"),
                ({"action": "crash", "id": "no spaces"}, "id: expected 1 to 64 letters"),
        ]:
            with self.subTest(fault=fault):
                status, body = l.control("POST", "/functions/fn/faults", fault)
                self.assertEqual(status, 400, body)
                self.assertTrue(body["errorMessage"].startswith(msg), body["errorMessage"])
        status, body = l.control("POST", "/functions/fn/faults", None)
        self.assertEqual((status, body["errorMessage"]), (400, "not valid JSON"))
        status, body = l.control("GET", "/functions/fn/faults")
        self.assertEqual(body["faults"], [
            {"id": "crash-1", "action": "crash", "when": {"invocation": 2},
             "invocations": 0, "fired": 0},
            {"id": "slow", "action": "delay", "ms": 5, "invocations": 0, "fired": 0}])
        self.invoke(l)
        status, body = l.control("GET", "/functions/fn/faults")
        self.assertEqual([(f["invocations"], f["fired"]) for f in body["faults"]],
                         [(1, 0), (1, 1)])
        self.assertEqual(l.control("DELETE", "/functions/fn/faults/slow"), (200, {"cleared": 1}))
        status, body = l.control("DELETE", "/functions/fn/faults/slow")
        self.assertEqual((status, body["errorMessage"]), (404, "no fault with id 'slow'"))
        self.assertEqual(l.control("DELETE", "/functions/fn/faults"), (200, {"cleared": 1}))
        self.assertEqual(l.control("PUT", "/functions/fn/faults")[0], 405)
        self.assertEqual(l.control("GET", "/functions/nope/faults")[0], 404)
        # Cleared before its invocation: it never fires.
        status, headers, body = self.invoke(l)
        self.assertEqual((status, headers.get("x-amz-function-error")), (200, None), body)

    def test_config_faults_and_validation(self):
        l = self.start(faults=[{"id": "second", "action": "error_response",
                                "when": {"invocation": 2}, "error_type": "Boom"}])
        status, headers, body = self.invoke(l)
        self.assertEqual(headers.get("x-amz-function-error"), None, body)
        status, headers, body = self.invoke(l)
        self.assertEqual(self.error_of(headers, body)["errorType"], "Boom")
        status, headers, body = self.invoke(l)
        self.assertEqual(headers.get("x-amz-function-error"), None, body)
        # A bad fault in a config is refused before anything starts, naming the key.
        d = tempfile.mkdtemp(prefix="lemu-fc-")
        path = os.path.join(d, "lemu.json")
        with open(path, "w") as f:
            json.dump({"functions": {"fn": {"bootstrap": "/bin/true", "faults": [
                {"action": "crash"}, {"action": "delay", "ms": "soon"}]}}}, f)
        import subprocess
        p = subprocess.run([harness.LEMU, "validate", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("functions.fn.faults[1]: ms: expected milliseconds from 0 to 900000, "
                      "got a string", p.stderr)

    # ---- the actions ---------------------------------------------------------------------

    def test_crash_invoke(self):
        l = self.start()
        self.invoke(l)
        fid = self.add(l, {"action": "crash", "when": {"invocation": 1}})
        status, headers, body = self.invoke(l)
        self.assertEqual(status, 200)
        rid = headers["x-amzn-requestid"]
        self.assertEqual(self.error_of(headers, body), {
            "errorType": "Runtime.ExitError",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: signal: killed"
                            % rid})
        rec = self.record(l, rid)
        self.assertEqual((rec["status"], rec["error_type"]), ("failure", "Runtime.ExitError"))
        self.fault_entry(rec, fid, "crash", "invoke")
        # A reset: the same environment, cold, and the fault has fired its one time.
        status, headers, body = self.invoke(l)
        self.assertEqual((headers["x-lemu-cold-start"], headers["x-lemu-environment-id"]),
                         ("true", "fn-1"))
        self.assertEqual(self.record(l, headers["x-amzn-requestid"])["faults"], [])

    def test_crash_after_ms_only_while_running(self):
        l = self.start()
        fid = self.add(l, {"action": "crash", "after_ms": 300, "times": 2})
        # Answered before after_ms: nothing is killed, nothing fired.
        status, headers, body = self.invoke(l)
        self.assertEqual(headers.get("x-amz-function-error"), None, body)
        self.assertEqual(self.record(l, headers["x-amzn-requestid"])["faults"], [])
        t0 = time.monotonic()
        status, headers, body = self.invoke(l, {"mode": "sleep", "sleep_s": 0.8})
        self.assertEqual(self.error_of(headers, body)["errorType"], "Runtime.ExitError")
        self.assertGreater(time.monotonic() - t0, 0.25)
        self.fault_entry(self.record(l, headers["x-amzn-requestid"]), fid, "crash", "invoke")

    def test_crash_after_response(self):
        l = self.start()
        fid = self.add(l, {"action": "crash", "when": {"phase": "after_response"}, "times": 1})
        status, headers, body = self.invoke(l)
        self.assertEqual((status, headers.get("x-amz-function-error")), (200, None), body)
        self.assertEqual(json.loads(body)["count"], 1)
        self.fault_entry(self.record(l, headers["x-amzn-requestid"]), fid, "crash",
                         "after_response")
        # The environment died after answering: the next invocation re-runs init there.
        status, headers, body = self.invoke(l)
        self.assertEqual((json.loads(body)["count"], headers["x-lemu-cold-start"],
                          headers["x-lemu-environment-id"]), (1, "true", "fn-1"))

    def test_crash_init(self):
        l = self.start()
        fid = self.add(l, {"action": "crash", "when": {"phase": "init"}, "after_ms": 0})
        status, headers, body = self.invoke(l)
        # Init failed in phase init and ran again, suppressed, inside the invocation.
        self.assertEqual((status, headers.get("x-amz-function-error")), (200, None), body)
        rec = self.record(l, headers["x-amzn-requestid"])
        self.fault_entry(rec, fid, "crash", "init")
        self.assertRegex(rec["log"], r"INIT_REPORT Init Duration: [0-9.]+ ms\tPhase: init\t"
                                     r"Status: error\tError Type: Runtime.ExitError")
        status, headers, body = self.invoke(l)
        self.assertEqual(headers["x-lemu-cold-start"], "false")

    def test_init_hang(self):
        l = self.start(init_timeout_s=0.3)
        fid = self.add(l, {"action": "init_hang", "times": 1})
        t0 = time.monotonic()
        status, headers, body = self.invoke(l)
        elapsed = time.monotonic() - t0
        err = self.error_of(headers, body)
        self.assertEqual(err["errorType"], "Sandbox.Timedout")
        self.assertRegex(err["errorMessage"],
                         r"^RequestId: %s Error: Task timed out after 1\.\d\d seconds$"
                         % headers["x-amzn-requestid"])
        self.assertGreater(elapsed, 1.25)
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual(rec["status"], "timeout")
        self.fault_entry(rec, fid, "init_hang", "init")
        logs = l.logs()
        self.assertRegex(logs, r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\t"
                               r"Status: timeout")
        self.assertRegex(logs, r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: invoke\t"
                               r"Status: timeout")
        # Only init hangs, and only on the invocations it is armed on: the next is cold and
        # succeeds (every: is what keeps hanging every init).
        status, headers, body = self.invoke(l)
        self.assertEqual((headers.get("x-amz-function-error"), headers["x-lemu-cold-start"]),
                         (None, "true"), body)

    def test_delay(self):
        l = self.start()
        self.invoke(l)
        fid = self.add(l, {"action": "delay", "ms": 400, "times": 1})
        t0 = time.monotonic()
        status, headers, body = self.invoke(l, {"client_context": True})
        elapsed = time.monotonic() - t0
        self.assertEqual(headers.get("x-amz-function-error"), None, body)
        self.assertGreater(elapsed, 0.39)
        # The deadline counts from the invoke's start, before the hold.
        self.assertGreaterEqual(float(headers["x-lemu-duration-ms"]), 400)
        rec = self.record(l, headers["x-amzn-requestid"])
        self.fault_entry(rec, fid, "delay", "invoke")
        # Held past the deadline: the timeout, at the deadline, not after the hold.
        self.add(l, {"action": "delay", "ms": 5000})
        t0 = time.monotonic()
        status, headers, body = self.invoke(l)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(self.error_of(headers, body)["errorType"], "Sandbox.Timedout")

    def test_timeout(self):
        l = self.start()
        fid = self.add(l, {"action": "timeout", "when": {"every": 2}})
        status, headers, body = self.invoke(l)
        self.assertEqual(headers.get("x-amz-function-error"), None, body)
        t0 = time.monotonic()
        status, headers, body = self.invoke(l)
        self.assertGreater(time.monotonic() - t0, 0.95)
        rid = headers["x-amzn-requestid"]
        err = self.error_of(headers, body)
        self.assertEqual(err["errorType"], "Sandbox.Timedout")
        self.assertRegex(err["errorMessage"],
                         r"^RequestId: %s Error: Task timed out after 1\.\d\d seconds$" % rid)
        rec = self.record(l, rid)
        self.assertEqual((rec["status"], rec["error_type"]), ("timeout", "Sandbox.Timedout"))
        self.fault_entry(rec, fid, "timeout", "invoke")
        # A reset, as after a real timeout; the third call is not an "every 2".
        status, headers, body = self.invoke(l)
        self.assertEqual((headers.get("x-amz-function-error"), headers["x-lemu-cold-start"]),
                         (None, "true"), body)

    def test_oom(self):
        l = self.start(memory_mb=256)
        fid = self.add(l, {"action": "oom"})
        status, headers, body = self.invoke(l)
        rid = headers["x-amzn-requestid"]
        self.assertEqual(self.error_of(headers, body), {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: signal: killed"
                            % rid})
        rec = self.record(l, rid)
        self.assertEqual((rec["status"], rec["error_type"], rec["max_memory_mb"]),
                         ("failure", "Runtime.OutOfMemory", 256))
        self.fault_entry(rec, fid, "oom", "invoke")
        self.assertRegex(rec["log"], r"REPORT RequestId: %s\t.*Max Memory Used: 256 MB\t.*"
                                     r"Status: error\tError Type: Runtime.OutOfMemory" % rid)

    def test_throttle(self):
        l = self.start()
        fid = self.add(l, {"action": "throttle", "when": {"invocation": 1}, "times": 2,
                           "reason": "ConcurrentInvocationLimitExceeded"})
        status, headers, body = self.invoke(l)
        self.assertEqual(status, 429)
        self.assertEqual(headers["x-amzn-errortype"], "TooManyRequestsException")
        self.assertEqual(json.loads(body), {"Reason": "ConcurrentInvocationLimitExceeded",
                                            "Type": "User", "message": "Rate Exceeded."})
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual((rec["status"], rec["environment"]), ("throttled", None))
        self.fault_entry(rec, fid, "throttle", "invoke")
        # An async event is not lost: it is retried after the first retry delay.
        status, headers, body = self.invoke(l, headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        rid = headers["x-amzn-requestid"]
        recs = self.wait_records(
            l, lambda rs: [r for r in rs if r["request_id"] == rid and r["status"] == "success"]
            and [r for r in rs if r["request_id"] == rid], "the retried event")
        self.assertEqual([(r["status"], r["attempt"], len(r["faults"])) for r in recs],
                         [("throttled", 1, 1), ("success", 1, 0)])
        _, fn = l.control("GET", "/functions/fn")
        self.assertEqual(fn["counters"]["throttles"], 2)

    def test_error_response(self):
        l = self.start()
        fid = self.add(l, {"action": "error_response", "error_type": "Custom.Failure",
                           "error_message": "injected", "when": {"invocation": 1}})
        status, headers, body = self.invoke(l)
        self.assertEqual(status, 200)
        self.assertEqual(self.error_of(headers, body),
                         {"errorMessage": "injected", "errorType": "Custom.Failure"})
        rec = self.record(l, headers["x-amzn-requestid"])
        # The handler did not run: no environment served it.
        self.assertEqual((rec["status"], rec["error_type"], rec["environment"]),
                         ("error", "Custom.Failure", None))
        self.fault_entry(rec, fid, "error_response", "invoke")
        # With the handler: it runs (its count moves on) and its answer is replaced.
        fid = self.add(l, {"action": "error_response", "run_handler": True, "times": 1})
        status, headers, body = self.invoke(l)
        self.assertEqual(self.error_of(headers, body), {
            "errorMessage": "lemu injected this error (fault '%s')" % fid,
            "errorType": "Lemu.InjectedError"})
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual(rec["environment"], "fn-1")
        # body: a success with that answer (FIS's http-response).
        self.add(l, {"action": "error_response", "body": {"statusCode": 503}, "times": 1})
        status, headers, body = self.invoke(l)
        self.assertEqual((status, headers.get("x-amz-function-error"), json.loads(body)),
                         (200, None, {"statusCode": 503}))
        status, headers, body = self.invoke(l)
        self.assertEqual(json.loads(body)["count"], 2)

    def test_clock_skew(self):
        l = self.start(fixture="python-faults", timeout_s=3)
        self.invoke(l)
        fid = self.add(l, {"action": "clock_skew", "ms": -5000, "when": {"invocation": 1}})
        status, headers, body = self.invoke(l, {"mode": "deadline"})
        remaining = json.loads(body)["remaining_ms"]
        self.assertTrue(-5000 < remaining < -2000, remaining)
        self.fault_entry(self.record(l, headers["x-amzn-requestid"]), fid, "clock_skew",
                         "invoke")
        status, headers, body = self.invoke(l, {"mode": "deadline"})
        remaining = json.loads(body)["remaining_ms"]
        self.assertTrue(0 < remaining <= 3000, remaining)

    def test_reclaim(self):
        l = self.start()
        status, headers, body = self.invoke(l)
        self.assertEqual(headers["x-lemu-environment-id"], "fn-1")
        fid = self.add(l, {"action": "reclaim"})
        status, headers, body = self.invoke(l)
        self.assertEqual((headers["x-lemu-cold-start"], json.loads(body)["count"]), ("true", 1))
        self.assertNotEqual(headers["x-lemu-environment-id"], "fn-1")
        rec = self.record(l, headers["x-amzn-requestid"])
        self.fault_entry(rec, fid, "reclaim", "idle")
        self.assertIn("idle environment fn-1 ended", rec["log"])
        harness.wait_for(lambda: "fn-1" not in [e["id"] for e in l.control(
            "GET", "/functions/fn/environments")[1]["environments"]], 10, what="fn-1 ended")

    def test_duplicate(self):
        l = self.start()
        fid = self.add(l, {"action": "duplicate"})
        status, headers, body = self.invoke(l, headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        rid = headers["x-amzn-requestid"]
        recs = self.wait_records(l, lambda rs: len(rs) == 2 and rs, "two deliveries")
        self.assertEqual([(r["request_id"], r["status"], r["attempt"]) for r in recs],
                         [(rid, "success", 1)] * 2)
        self.assertEqual(sorted(len(r["faults"]) for r in recs), [0, 1])
        self.assertIn({"id": fid, "action": "duplicate", "phase": "invoke"},
                      recs[0]["faults"] + recs[1]["faults"])

    def test_async_fail(self):
        d = tempfile.mkdtemp(prefix="lemu-af-")
        os.chmod(d, 0o755)
        failures = os.path.join(d, "failed.jsonl")
        l = self.start(**{"async": {"max_retries": 2, "retry_delays_s": [0.1, 0.2],
                                    "on_failure": failures}})
        fid = self.add(l, {"action": "async_fail", "attempts": 2, "times": 1})
        status, headers, _ = self.invoke(l, headers={"X-Amz-Invocation-Type": "Event"})
        rid = headers["x-amzn-requestid"]
        recs = self.wait_records(l, lambda rs: len(rs) == 3 and rs, "three attempts")
        self.assertEqual([(r["request_id"], r["attempt"], r["status"], r["error_type"])
                          for r in recs],
                         [(rid, 1, "error", "Lemu.InjectedAsyncFailure"),
                          (rid, 2, "error", "Lemu.InjectedAsyncFailure"),
                          (rid, 3, "success", None)])
        self.assertEqual([r["faults"] for r in recs],
                         [[{"id": fid, "action": "async_fail", "phase": "invoke"}]] * 2 + [[]])
        # More failing attempts than retries: the event ends in on_failure.
        self.add(l, {"action": "async_fail", "attempts": 3,
                     "error_type": "Throttled.Downstream"})
        status, headers, _ = self.invoke(l, headers={"X-Amz-Invocation-Type": "Event"})
        line = harness.wait_for(lambda: os.path.exists(failures) and open(failures).read(),
                                10, what="the on_failure record")
        rec = json.loads(line)
        self.assertEqual((rec["requestContext"]["requestId"], rec["requestContext"]["condition"],
                          rec["requestContext"]["approximateInvokeCount"],
                          rec["responsePayload"]["errorType"]),
                         (headers["x-amzn-requestid"], "RetriesExhausted", 3,
                          "Throttled.Downstream"))

    def test_runtime_api_error(self):
        l = self.start(fixture="python-faults", timeout_s=3)
        self.invoke(l)
        fid = self.add(l, {"action": "runtime_api_error", "endpoint": "next", "status": 500,
                           "times": 1})
        status, headers, body = self.invoke(l)
        rid = headers["x-amzn-requestid"]
        # A runtime that exits on a failed /next, as runtimes are told to.
        self.assertEqual(self.error_of(headers, body), {
            "errorType": "Runtime.ExitError",
            "errorMessage": "RequestId: %s Error: Runtime exited with error: exit status 1"
                            % rid})
        rec = self.record(l, rid)
        self.fault_entry(rec, fid, "runtime_api_error", "invoke")
        self.assertIn("python-faults: /next answered 500", rec["log"])
        # A failed /response: the answer is lost, the runtime's next /next gets the same
        # event again (spec §1.3), and the handler runs a second time.
        fid = self.add(l, {"action": "runtime_api_error", "endpoint": "response",
                           "status": 502, "times": 1})
        status, headers, body = self.invoke(l)
        self.assertEqual((headers.get("x-amz-function-error"), json.loads(body)["count"]),
                         (None, 2), body)
        self.fault_entry(self.record(l, headers["x-amzn-requestid"]), fid,
                         "runtime_api_error", "invoke")

    def test_runtime_api_drop(self):
        # python-echo retries a call whose connection dropped; python-faults does not.
        for fixture, coping in (("python-echo", True), ("python-faults", False)):
            with self.subTest(fixture=fixture):
                l = self.start(fixture=fixture, timeout_s=3)
                self.invoke(l)
                fid = self.add(l, {"action": "runtime_api_drop", "when": {"invocation": 1}})
                status, headers, body = self.invoke(l)
                rid = headers["x-amzn-requestid"]
                if coping:
                    self.assertEqual((headers.get("x-amz-function-error"),
                                      json.loads(body).get("count")), (None, 2), body)
                else:
                    err = self.error_of(headers, body)
                    self.assertEqual(err["errorType"], "Runtime.ExitError")
                    self.assertIn("RemoteDisconnected", self.record(l, rid)["log"])
                self.fault_entry(self.record(l, rid), fid, "runtime_api_drop", "invoke")
        l = self.start(fixture="python-echo", timeout_s=3)
        self.invoke(l)
        self.add(l, {"action": "runtime_api_drop", "endpoint": "response", "times": 1})
        status, headers, body = self.invoke(l)
        self.assertEqual((headers.get("x-amz-function-error"), json.loads(body).get("count")),
                         (None, 2), body)

    def test_long_freeze(self):
        server = IdleClosingServer(idle_s=0.8)
        self.addCleanup(server.stop)
        l = self.start(fixture="python-faults", timeout_s=3)
        for coping in (False, True):
            with self.subTest(coping=coping):
                event = {"mode": "keepalive", "port": server.port, "handle": coping}
                l.control("POST", "/functions/fn/recycle")
                status, headers, body = self.invoke(l, event)
                self.assertEqual(json.loads(body), {"reply": "pong", "reconnected": False})
                status, headers, body = self.invoke(l, event)  # warm, the same connection
                self.assertEqual(json.loads(body), {"reply": "pong", "reconnected": False})
                fid = self.add(l, {"action": "long_freeze", "ms": 1200, "times": 1})
                t0 = time.monotonic()
                status, headers, body = self.invoke(l, event)
                self.assertGreater(time.monotonic() - t0, 1.15)
                self.assertEqual(headers["x-lemu-cold-start"], "false")
                rec = self.record(l, headers["x-amzn-requestid"])
                self.fault_entry(rec, fid, "long_freeze", "idle")
                # The freeze is idle time: the invocation's own clock starts at the thaw.
                self.assertLess(rec["duration_ms"], 1100)
                if coping:
                    self.assertEqual(json.loads(body), {"reply": "pong", "reconnected": True})
                else:
                    self.assertEqual(self.error_of(headers, body)["errorType"],
                                     "ConnectionResetError")
        self.assertGreaterEqual(server.closed_idle, 2)

    def tmp_mode(self, l):
        return l.control("GET", "/functions/fn")[1]["sandbox"]["tmp"]["mode"]

    def test_tmp_full(self):
        l = self.start(fixture="python-faults", timeout_s=3, ephemeral_storage_mb=512)
        if self.tmp_mode(l) == "dir":
            raise unittest.SkipTest("/tmp is a plain folder here: its cap is not enforced")
        self.invoke(l)
        fid = self.add(l, {"action": "tmp_full", "times": 2})
        status, headers, body = self.invoke(l, {"mode": "write_tmp"})
        err = self.error_of(headers, body)
        self.assertEqual(err, {"errorType": "OSError",
                               "errorMessage": "[Errno 28] No space left on device"})
        self.fault_entry(self.record(l, headers["x-amzn-requestid"]), fid, "tmp_full", "invoke")
        status, headers, body = self.invoke(l, {"mode": "write_tmp", "handle": True})
        self.assertEqual(json.loads(body), {"written": False, "errno": "ENOSPC"})
        # The space comes back once the invocation ends.
        status, headers, body = self.invoke(l, {"mode": "write_tmp"})
        self.assertEqual(json.loads(body), {"written": True})

    def test_nofile_limit(self):
        l = self.start(fixture="python-faults", timeout_s=3)
        self.invoke(l)
        fid = self.add(l, {"action": "nofile_limit", "n": 5, "times": 2})
        status, headers, body = self.invoke(l, {"mode": "open_files", "handle": True})
        self.assertEqual(json.loads(body), {"opened": 5})
        rec = self.record(l, headers["x-amzn-requestid"])
        self.fault_entry(rec, fid, "nofile_limit", "invoke")
        self.assertRegex(rec["log"], r"the runtime's open-file limit is \d+ \(\d+ open\)")
        status, headers, body = self.invoke(l, {"mode": "open_files"})
        self.assertEqual(self.error_of(headers, body),
                         {"errorType": "OSError",
                          "errorMessage": "[Errno 24] Too many open files: '/dev/null'"})
        # The limit is put back after the invocation.
        status, headers, body = self.invoke(l, {"mode": "open_files", "handle": True})
        self.assertGreater(json.loads(body)["opened"], 900)

    # ---- determinism ---------------------------------------------------------------------

    def fired_at(self, seed):
        l = self.start(seed=seed, faults=[
            {"id": "coin", "action": "error_response", "when": {"probability": 0.5}},
            {"id": "third", "action": "error_response", "error_type": "Third",
             "when": {"every": 3, "probability": 0.7}}])
        out = []
        for i in range(12):
            status, headers, body = self.invoke(l)
            rec = self.record(l, headers["x-amzn-requestid"])
            out.append(tuple(f["id"] for f in rec["faults"]))
        l.stop()
        return out

    def test_same_seed_same_faults(self):
        a, b, c = self.fired_at(7), self.fired_at(7), self.fired_at(8)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertTrue(any(a) and not all(a), a)
        # "every 3" only ever fires on a multiple of 3 (at most one fault fires here: the
        # first error_response answers before the second is looked at).
        for i, ids in enumerate(a + c):
            if "third" in ids:
                self.assertEqual((i % 12 + 1) % 3, 0)


if __name__ == "__main__":
    harness.main()
