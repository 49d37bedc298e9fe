# SPDX-License-Identifier: Apache-2.0
"""No function process outlives its environment or lemu, and SIGTERM is orderly.

harness.Lemu puts a unique marker in every function's environment (`--env`), so every
process a function starts, and their children, can be found in /proc; lemu itself has it
too while it runs. After lemu exits, or after an environment is recycled, the processes
must be gone within 2 s.
"""
import json
import os
import signal
import socket
import threading
import time

import harness

GONE_WITHIN_S = 2.0

# A runtime that, when the event says {"action": "fork"}, starts two `sleep 1000`: one in
# its own process group and one that escapes into a new session, as a daemonising child
# would. Both inherit the environment, and so the marker. "fork_and_die" then exits 5
# without answering.
FORKER = r'''#!/usr/bin/python3
import http.client, json, os, subprocess

API = os.environ["AWS_LAMBDA_RUNTIME_API"]


def call(method, path, body=None):
    host, _, port = API.rpartition(":")
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


while True:
    r, body = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body or b"{}")
    out = {"pid": os.getpid()}
    if event.get("action") in ("fork", "fork_and_die"):
        a = subprocess.Popen(["sleep", "1000"])
        b = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        out["children"] = [a.pid, b.pid]
    if event.get("action") == "fork_and_die":
        print("started children", flush=True)
        os._exit(5)
    call("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(out).encode())
'''


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[:-1]
    except OSError:
        return None


class ProcessTest(harness.LemuTestCase):

    stop_signal = signal.SIGKILL

    def forker(self, **fn):
        path = self.write_bootstrap(FORKER, "lemu-proc-")
        # CPU share off: Python's start at 128 MB's 7 % of a core would take a second.
        f = {"bootstrap": path, "timeout_s": 5, "sandbox": {"cpu": "off"}}
        f.update(fn)
        return self.lemu(config={"functions": {"function": f}})

    def function_pids(self, l):
        """Marked processes other than lemu itself."""
        return [p for p in l.leftover_pids() if p != l.proc.pid]

    def sleepers(self, l):
        return sorted(p for p in self.function_pids(l) if cmdline(p) == [b"sleep", b"1000"])

    def assert_all_gone(self, l, pids=None, alive=None):
        """Waits up to GONE_WITHIN_S for @pids (default: every marked process, or what
        @alive() returns) to go."""
        if alive is None and pids is None:
            alive = l.leftover_pids
        elif alive is None:
            alive = lambda: [p for p in pids if cmdline(p) is not None]
        deadline = time.monotonic() + GONE_WITHIN_S
        while alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        left = alive()
        self.assertEqual(left, [], "left behind: %s" % [(p, cmdline(p)) for p in left])

    def invoke(self, l, event):
        status, headers, body = l.invoke(payload=json.dumps(event))
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        return headers, json.loads(body)

    # ---- lemu's exit --------------------------------------------------------------------

    def test_sigterm_exits_0_and_leaves_no_process(self):
        l = self.lemu("--timeout", "3", "--sandbox-cpu", "off", harness.fixture("c-bad"))
        self.invoke(l, {"mode": "echo"})
        self.assertNotEqual(self.function_pids(l), [])
        self.assertEqual(l.stop(signal.SIGTERM, timeout=5), 0)
        self.assert_all_gone(l)

    def test_sigkill_of_lemu_leaves_no_process(self):
        l = self.lemu("--timeout", "3", "--sandbox-cpu", "off", harness.fixture("c-bad"))
        self.invoke(l, {"mode": "echo"})
        pids = self.function_pids(l)
        self.assertNotEqual(pids, [])
        self.assertEqual(l.stop(signal.SIGKILL, timeout=5), -signal.SIGKILL)
        self.assert_all_gone(l)

    def test_sigterm_with_idle_and_initializing_environments(self):
        """An environment in init (c-bad init_sleep) and an idle one both end on SIGTERM."""
        l = self.lemu("--timeout", "3", "--init-timeout", "5", "--env", "INIT_SLEEP_S=30",
                      "--sandbox-cpu", "off",
                      "--shutdown-grace", "0.2",
                      "--function", "idle=" + harness.fixture("c-echo"),
                      harness.fixture("c-bad"), "init_sleep")
        status, _, _ = l.invoke(function="idle", payload=b"{}")
        self.assertEqual(status, 200)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=l.invoke(payload=b"{}")))
        t.start()
        harness.wait_for(lambda: "[function/function-1] INIT_START" in l.logs(),
                         what="function-1 to start init")
        self.assertEqual(l.stop(signal.SIGTERM, timeout=5), 0)
        t.join(5)
        status, headers, body = result["r"]
        self.assertEqual(status, 500, body)
        self.assertEqual(headers.get("x-amzn-errortype"), "ServiceException")
        self.assert_all_gone(l)

    # ---- children of the function -------------------------------------------------------

    def test_background_children_end_with_recycle_and_with_lemu(self):
        l = self.forker()
        headers, _ = self.invoke(l, {"action": "fork"})
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        first = harness.wait_for(lambda: len(self.sleepers(l)) == 2 and self.sleepers(l),
                                 what="two sleep children")
        self.assertEqual(l.control("POST", "/functions/function/recycle")[0], 200)
        self.assert_all_gone(l, first)
        self.assertEqual(self.sleepers(l), [])
        self.assertIsNone(l.proc.poll())
        # A new environment, new children; then lemu's exit takes them.
        headers, _ = self.invoke(l, {"action": "fork"})
        self.assertEqual(headers["x-lemu-environment-id"], "function-2")
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        second = harness.wait_for(lambda: len(self.sleepers(l)) == 2 and self.sleepers(l),
                                  what="two new sleep children")
        self.assertEqual(set(first) & set(second), set())
        self.assertEqual(l.stop(signal.SIGTERM, timeout=5), 0)
        self.assert_all_gone(l)

    def test_background_children_end_with_a_crash(self):
        l = self.forker()
        first, _ = self.invoke(l, {})
        status, headers, body = l.invoke(payload=b'{"action":"fork_and_die"}')
        rid = headers["x-amzn-requestid"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(body.decode(), '{"errorType":"Runtime.ExitError","errorMessage":'
                         '"RequestId: %s Error: Runtime exited with error: exit status 5"}' % rid)
        self.assertIn("[function/function-1] started children", l.logs())
        # The reset takes the whole environment, the escaped child too.
        self.assert_all_gone(l, alive=lambda: self.sleepers(l))
        headers, answer = self.invoke(l, {})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], first["x-lemu-environment-id"])

    def test_runtime_killed_while_idle(self):
        """A runtime killed from outside between invocations (frozen or not): the next
        invocation is answered, not left hanging, and no process is left over."""
        l = self.forker()
        self.invoke(l, {"action": "fork"})
        children = harness.wait_for(lambda: len(self.sleepers(l)) == 2 and self.sleepers(l),
                                    what="two sleep children")
        runtime = [p for p in self.function_pids(l)
                   if (cmdline(p) or [b""])[0] == b"/usr/bin/python3"]
        self.assertEqual(len(runtime), 1, [(p, cmdline(p)) for p in self.function_pids(l)])
        os.kill(runtime[0], signal.SIGKILL)
        status, headers, body = l.invoke(payload=b"{}", timeout=10)
        self.assertEqual(status, 200)
        if "x-amz-function-error" in headers:
            # lemu handed the event over before it saw the /next connection go: the
            # invocation failed with the runtime's death.
            self.assertEqual(headers["x-lemu-cold-start"], "false")
            self.assertEqual(json.loads(body)["errorType"], "Runtime.ExitError")
            self.assertIn("signal: killed", json.loads(body)["errorMessage"])
            headers, _ = self.invoke(l, {})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        self.assert_all_gone(l, children)
        headers, _ = self.invoke(l, {})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(l.stop(signal.SIGTERM, timeout=5), 0)
        self.assert_all_gone(l)

    def test_background_children_end_when_lemu_is_killed(self):
        l = self.forker()
        self.invoke(l, {"action": "fork"})
        harness.wait_for(lambda: len(self.sleepers(l)) == 2, what="two sleep children")
        self.assertEqual(l.stop(signal.SIGKILL, timeout=5), -signal.SIGKILL)
        self.assert_all_gone(l)

    # ---- callers during shutdown --------------------------------------------------------

    def start_long_invocation(self, l):
        result = {}

        def run():
            try:
                result["r"] = l.invoke(payload=b'{"mode":"sleep","sleep_s":30}', timeout=20)
            except OSError as e:  # lemu stopped at once: no answer at all
                result["error"] = e

        t = threading.Thread(target=run)
        t.start()
        harness.wait_for(lambda: "[function/function-1] START RequestId: " in l.logs(),
                         what="the invocation to start")
        return t, result

    def test_sigterm_answers_callers_after_the_grace(self):
        l = self.lemu(config={"shutdown_grace_s": 0.2, "functions": {"function": {
            "bootstrap": harness.fixture("c-bad"), "timeout_s": 10, "sandbox": {"cpu": "off"}}}})
        t, result = self.start_long_invocation(l)
        t0 = time.monotonic()
        l.proc.send_signal(signal.SIGTERM)
        t.join(10)
        answered_after = time.monotonic() - t0
        status, headers, body = result["r"]
        self.assertEqual(status, 500)
        self.assertEqual(headers.get("x-amzn-errortype"), "ServiceException")
        self.assertEqual(json.loads(body), {"Type": "Service", "Message": "lemu is shutting down"})
        self.assertRegex(headers.get("x-amzn-requestid", ""), r"^[0-9a-f-]{36}$")
        self.assertGreaterEqual(answered_after, 0.15)
        self.assertLess(answered_after, 3)
        self.assertEqual(l.proc.wait(5), 0)
        self.assert_all_gone(l)

    def test_invocation_finishing_within_the_grace_is_answered(self):
        l = self.lemu(config={"shutdown_grace_s": 5, "functions": {"function": {
            "bootstrap": harness.fixture("c-bad"), "timeout_s": 10, "sandbox": {"cpu": "off"}}}})
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=l.invoke(payload=b'{"mode":"sleep","sleep_s":0.5}')))
        t.start()
        harness.wait_for(lambda: "[function/function-1] START RequestId: " in l.logs(),
                         what="the invocation to start")
        l.proc.send_signal(signal.SIGTERM)
        t.join(10)
        status, headers, body = result["r"]
        self.assertEqual(status, 200)
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(json.loads(body)["count"], 1)
        self.assertEqual(l.proc.wait(5), 0)
        self.assert_all_gone(l)

    def test_second_signal_stops_at_once(self):
        l = self.lemu(config={"shutdown_grace_s": 60, "functions": {"function": {
            "bootstrap": harness.fixture("c-bad"), "timeout_s": 30, "sandbox": {"cpu": "off"}}}})
        t, result = self.start_long_invocation(l)
        l.proc.send_signal(signal.SIGTERM)
        # The first signal closes the listener; wait for that, then send the second.
        harness.wait_for(lambda: not self.accepts(l), what="the listener to close")
        t0 = time.monotonic()
        l.proc.send_signal(signal.SIGTERM)
        self.assertEqual(l.proc.wait(5), 0)
        self.assertLess(time.monotonic() - t0, 2)
        t.join(5)
        self.assertFalse(t.is_alive())
        self.assertIn("error", result)
        self.assert_all_gone(l)

    def accepts(self, l):
        try:
            socket.create_connection((l.host, l.port), timeout=1).close()
            return True
        except OSError:
            return False


if __name__ == "__main__":
    harness.main()
