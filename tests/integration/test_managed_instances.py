# SPDX-License-Identifier: Apache-2.0
"""Lambda Managed Instances mode (per_environment_concurrency > 1; DESIGN "Lifecycle", spec
§6.1): N invocations at once in one environment, answers routed by request id, never
frozen, a timeout that answers the caller and leaves the environment running (a late
answer gets 410), a full environment counting as busy, a dead worker failing only what it
held, the runtime's exit resetting the environment — with the Python fixture (forked
worker processes, as AWS's Python client) and the Go one (goroutines sharing a client, as
aws-lambda-go), and the Go map race that only this mode can show.
"""
import concurrent.futures
import json
import os
import time
import unittest

import harness


class ManagedInstancesTest(unittest.TestCase):

    def setUp(self):
        self.lemus = []

    def tearDown(self):
        for l in self.lemus:
            try:
                l.stop()
                self.assertEqual(l.leftover_pids(), [])
            finally:
                l.cleanup()

    def lemu(self, fixture, n, args=(), **fn):
        f = {"bootstrap": harness.fixture(fixture), "per_environment_concurrency": n,
             "timeout_s": 10, "sandbox": {"cpu": "off"}}
        if args:
            f["args"] = list(args)
        f.update(fn)
        l = harness.Lemu(config={"functions": {"function": f}})
        self.lemus.append(l)
        return l.start()

    def invoke(self, l, event, timeout=30):
        status, headers, body = l.invoke(payload=json.dumps(event), timeout=timeout)
        self.assertEqual(status, 200, body)
        return headers, body

    def envs(self, l):
        _, e = l.control("GET", "/functions/function/environments")
        return e["environments"]

    def warm(self, l, n):
        """Starts the first environment and waits until its n workers wait in /next."""
        headers, body = self.invoke(l, {"warm": True})
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        env_id = headers["x-lemu-environment-id"]
        harness.wait_for(lambda: any(e["id"] == env_id and e.get("workers_waiting") == n
                                     for e in self.envs(l)),
                         20, what="%d workers waiting in %s" % (n, env_id))
        return env_id, json.loads(body)

    def parallel(self, l, events, timeout=60):
        with concurrent.futures.ThreadPoolExecutor(len(events)) as pool:
            futures = [pool.submit(l.invoke, payload=json.dumps(e), timeout=timeout)
                       for e in events]
            return [f.result(timeout) for f in futures]

    # ---- N at once in one environment ----------------------------------------------------

    def concurrent_in_one(self, fixture, n):
        l = self.lemu(fixture, n)
        env_id, first = self.warm(l, n)
        self.assertEqual(first["max_concurrency"], str(n))
        self.assertEqual(first["initialization_type"], "lambda-managed-instances")
        t0 = time.monotonic()
        answers = self.parallel(l, [{"sleep_ms": 1500, "i": i} for i in range(n)])
        elapsed = time.monotonic() - t0
        for status, headers, body in answers:
            self.assertEqual(status, 200, body)
            self.assertNotIn("x-amz-function-error", headers, body)
            self.assertEqual(headers["x-lemu-environment-id"], env_id)
            self.assertEqual(headers["x-lemu-cold-start"], "false")
        bodies = [json.loads(b) for _, _, b in answers]
        # Answers routed by request id: each caller got its own event back.
        self.assertEqual(sorted(b["event"]["i"] for b in bodies), list(range(n)))
        for (_, headers, _), b in zip(answers, bodies):
            self.assertEqual(b["request_id"], headers["x-amzn-requestid"])
        self.assertEqual(len({b["worker"] for b in bodies}), n)
        # Run side by side, not one after another.
        self.assertLess(elapsed, 1.5 * n * 0.75, "the %d invocations did not overlap" % n)
        self.assertEqual([e["id"] for e in self.envs(l)], [env_id])
        return l, bodies

    def test_python_workers_run_at_once(self):
        _, bodies = self.concurrent_in_one("python-mi", 4)
        self.assertEqual(len({b["pid"] for b in bodies}), 4)  # forked workers

    def test_go_workers_run_at_once(self):
        _, bodies = self.concurrent_in_one("go-mi", 4)
        self.assertEqual(len({b["pid"] for b in bodies}), 1)  # goroutines

    def test_full_environment_counts_as_busy(self):
        l = self.lemu("python-mi", 2)
        env_id, _ = self.warm(l, 2)
        answers = self.parallel(l, [{"sleep_ms": 2000}] * 3)
        served = sorted(h["x-lemu-environment-id"] for _, h, _ in answers)
        self.assertEqual(served.count(env_id), 2, served)
        other = [s for s in served if s != env_id]
        self.assertEqual(len(other), 1, served)
        cold = [h["x-lemu-cold-start"] for _, h, _ in answers
                if h["x-lemu-environment-id"] != env_id]
        self.assertEqual(cold, ["true"])

    def test_never_frozen(self):
        l = self.lemu("python-mi", 2)
        env_id, first = self.warm(l, 2)
        # Well past the freeze delay of classic mode: still running, not stopped.
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            (env,) = self.envs(l)
            self.assertEqual(env["state"], "idle")
            time.sleep(0.05)
        with open("/proc/%d/stat" % first["pid"]) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        # SIGSTOP shows as T; running, sleeping or idle (I) are what a live worker shows.
        self.assertNotIn(state, ("T", "t"), "a worker is stopped (state %s)" % state)

    # ---- timeouts --------------------------------------------------------------------------

    def test_timeout_answers_caller_and_keeps_environment(self):
        l = self.lemu("python-mi", 2, timeout_s=0.5)
        env_id, first = self.warm(l, 2)
        slow, quick = self.parallel(l, [{"sleep_ms": 1500}, {"sleep_ms": 0}])
        status, headers, body = slow
        rid = headers["x-amzn-requestid"]
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertRegex(body.decode(),
                         r'^\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: %s '
                         r'Error: Task timed out after 0\.5\d seconds"\}$' % rid)
        self.assertEqual(quick[0], 200)
        self.assertNotIn("x-amz-function-error", quick[1])
        self.assertEqual(quick[1]["x-lemu-environment-id"], env_id)
        # The handler went on; its late answer is refused with 410 InvokeTimeout.
        l.wait_log("python-mi: late answer for %s refused: 410 "
                   '{"errorMessage":"Invoke timeout","errorType":"InvokeTimeout"}' % rid, 10)
        _, rec = l.control("GET", "/invocations/" + rid)
        self.assertEqual((rec["status"], rec["error_type"]), ("timeout", "Sandbox.Timedout"))
        # Not reset: the same processes serve the next one, warm.
        headers, body = self.invoke(l, {})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        (env,) = self.envs(l)
        self.assertEqual(env["resets"], 0)
        harness.wait_for(lambda: self.envs(l)[0]["workers_waiting"] == 2, 10,
                         what="both workers back in /next")

    # ---- workers and runtimes that die --------------------------------------------------

    def test_dead_worker_fails_only_its_invocation(self):
        l = self.lemu("python-mi", 2)
        env_id, _ = self.warm(l, 2)
        headers, body = self.invoke(l, {"die": True})
        rid = headers["x-amzn-requestid"]
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(json.loads(body), {
            "errorType": "Runtime.ExitError",
            "errorMessage": "RequestId: %s Error: Runtime exited without providing a reason"
                            % rid})
        # The other worker goes on in the same environment, warm, not reset.
        headers, body = self.invoke(l, {})
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        (env,) = self.envs(l)
        self.assertEqual(env["resets"], 0)
        # Once no worker is left, the runtime exits and the environment re-inits (cold).
        headers, body = self.invoke(l, {"die": True})
        self.assertEqual(json.loads(body)["errorType"], "Runtime.ExitError")
        harness.wait_for(lambda: self.envs(l)[0]["resets"] == 1, 20,
                         what="the runtime's exit once no worker is left")
        headers, body = self.invoke(l, {})
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)

    def test_runtime_exit_fails_what_it_held_and_resets(self):
        l = self.lemu("go-mi", 4)
        env_id, _ = self.warm(l, 4)
        # The sleepers outlast a slow machine's delivery of the exit (they end with it), and
        # stay within the function's 10 s.
        answers = self.parallel(l, [{"sleep_ms": 8000}, {"sleep_ms": 8000}, {"exit": True}])
        types = sorted(json.loads(b).get("errorType") for _, _, b in answers)
        self.assertEqual(types, ["Runtime.ExitError"] * 3)
        for _, _, b in answers:
            self.assertIn("Runtime exited with error: exit status 3", json.loads(b)["errorMessage"])
        headers, body = self.invoke(l, {})
        self.assertNotIn("x-amz-function-error", headers, body)
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(headers["x-lemu-environment-id"], env_id)
        (env,) = self.envs(l)
        self.assertEqual(env["resets"], 1)

    # ---- the race on a global map ----------------------------------------------------------

    def race(self, fixed):
        args = ["race"] + (["fixed"] if fixed else [])
        l = self.lemu("go-mi", 8, args=args, memory_mb=1769, timeout_s=5)
        self.warm(l, 8)
        failures = []
        done = 0
        deadline = time.monotonic() + 30
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while done < 200 and time.monotonic() < deadline and not (failures and not fixed):
                futures = [pool.submit(l.invoke, payload=json.dumps({"key": "k%d" % i}))
                           for i in range(8)]
                for f in futures:
                    status, headers, body = f.result(60)
                    self.assertEqual(status, 200, body)
                    done += 1
                    if "x-amz-function-error" in headers:
                        failures.append(json.loads(body))
        return l, done, failures

    def test_map_race_fails_under_concurrency(self):
        l, done, failures = self.race(fixed=False)
        self.assertTrue(failures, "no failure in %d invocations" % done)
        self.assertEqual(failures[0]["errorType"], "Runtime.ExitError")
        l.wait_log("concurrent map", 10)

    def test_map_race_twin_never_fails(self):
        _, done, failures = self.race(fixed=True)
        self.assertEqual(failures, [])
        self.assertGreaterEqual(done, 200)


if __name__ == "__main__":
    harness.main()
