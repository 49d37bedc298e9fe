# SPDX-License-Identifier: Apache-2.0
"""Shadow runs (DESIGN "Surfacing bugs"): a warm invocation run again on a fresh
environment, its answer compared JSON-aware, a difference reported as a state_leak finding.

The bug fixtures (fixtures/go-leaks, fixtures/python-leaks; BUG=counter|buffer|cache) each
leak one piece of state between warm invocations; FIXED=1 is the correct twin. For each:
two invocations, POST /_lemu/wait-idle (which waits for shadow runs), then the warm (second)
invocation's record names the leak at its path, and the twin's has none. Then ignore_paths
and ignore_values, the shadow environment (<fn>-shadow-<n>: listed, never serving a caller,
not counted), `lemu run --check-leaks` (exit 3 with the finding on stderr; 0 on the twin)
and lemu_findings_total.
"""
import json
import os
import re
import subprocess
import time

import harness

# bug: (first event, second event, path of the leak, warm value, fresh value)
BUGS = {
    "counter": ({"items": [1, 2]}, {"items": [1, 2]}, "$.count", "4", "2"),
    "buffer": ({"user": "alice"}, {"user": "alice"}, "$.message",
               '"hello alice;hello alice;"', '"hello alice;"'),
    "cache": ({"user": "alice"}, {"user": "bob"}, "$.display_name", '"Alice"', '"Bob"'),
}
FIXTURES = ("go-leaks", "python-leaks")


clean_env = harness.clean_env


class ShadowTest(harness.LemuTestCase):

    def start(self, bootstrap, shadow=True, env=None, **fn):
        f = {"bootstrap": bootstrap, "sandbox": {"cpu": "off"},
             "lifecycle": {"shadow": shadow}, "environment": env or {}}
        f.update(fn)
        return self.lemu(config={"functions": {"function": f}})

    def invoke(self, l, event):
        status, headers, body = l.invoke(payload=json.dumps(event))
        self.assertEqual(status, 200, body)
        return headers["x-amzn-requestid"], headers, json.loads(body)

    def wait_idle(self, l):
        status, body = l.control("POST", "/wait-idle?timeout_s=60")
        self.assertEqual(status, 200, body)

    def records(self, l):
        status, body = l.control("GET", "/invocations?function=function")
        self.assertEqual(status, 200, body)
        return {r["request_id"]: r for r in body["invocations"]}

    def run_pair(self, l, bug):
        first, second = BUGS[bug][0], BUGS[bug][1]
        rid1, h1, _ = self.invoke(l, first)
        rid2, h2, _ = self.invoke(l, second)
        self.assertEqual(h1["x-lemu-cold-start"], "true")
        self.assertEqual(h2["x-lemu-cold-start"], "false")
        self.wait_idle(l)
        recs = self.records(l)
        return recs[rid1], recs[rid2]

    def check_bug(self, fixture, bug):
        _, _, path, warm, fresh = BUGS[bug]
        l = self.start(harness.fixture(fixture), env={"BUG": bug})
        r1, r2 = self.run_pair(l, bug)
        self.assertEqual(r1["findings"], [], "the cold invocation has no shadow")
        self.assertEqual(len(r2["findings"]), 1, r2)
        f = r2["findings"][0]
        self.assertEqual(f["kind"], "state_leak")
        self.assertEqual(f["path"], path)
        self.assertEqual(f["warm"], warm)
        self.assertEqual(f["fresh"], fresh)
        self.assertIn("function-shadow-1", f["detail"])
        _, fn = l.control("GET", "/functions/function")
        self.assertEqual(fn["counters"]["findings"], 1)
        # The shadow run is not an invocation of the function.
        self.assertEqual(fn["counters"]["invocations"], 2)
        self.assertIn("lemu: finding state_leak in function", l.logs())

    def check_twin(self, fixture, bug):
        l = self.start(harness.fixture(fixture), env={"BUG": bug, "FIXED": "1"})
        r1, r2 = self.run_pair(l, bug)
        self.assertEqual((r1["findings"], r2["findings"]), ([], []))
        _, fn = l.control("GET", "/functions/function")
        self.assertEqual(fn["counters"]["findings"], 0)
        # The shadow did run: its environment's lines are in the log.
        self.assertIn("[function/function-shadow-1] START RequestId: %s" % r2["request_id"],
                      l.logs())

    # ---- each bug, each language, and its twin ----------------------------------------

    def test_bugs_reported(self):
        for fixture in FIXTURES:
            for bug in BUGS:
                with self.subTest(fixture=fixture, bug=bug):
                    self.check_bug(fixture, bug)

    def test_twins_clean(self):
        for fixture in FIXTURES:
            for bug in BUGS:
                with self.subTest(fixture=fixture, bug=bug):
                    self.check_twin(fixture, bug)

    # ---- ignore_paths and ignore_values ----------------------------------------------

    def test_ignore_paths(self):
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture, ignore="$.count"):
                l = self.start(harness.fixture(fixture), env={"BUG": "counter"},
                               lifecycle={"shadow": {"ignore_paths": ["$.count"]}})
                r1, r2 = self.run_pair(l, "counter")
                self.assertEqual(r2["findings"], [])
            with self.subTest(fixture=fixture, ignore="another path"):
                l = self.start(harness.fixture(fixture), env={"BUG": "counter"},
                               lifecycle={"shadow": {"ignore_paths": ["$.items[*]", "$.x"]}})
                r1, r2 = self.run_pair(l, "counter")
                self.assertEqual([f["path"] for f in r2["findings"]], ["$.count"])

    def test_ignore_values(self):
        for fixture in FIXTURES:
            with self.subTest(fixture=fixture):
                l = self.start(harness.fixture(fixture), env={"BUG": "counter"},
                               lifecycle={"shadow": {"ignore_values": ["^[0-9]+$"]}})
                r1, r2 = self.run_pair(l, "counter")
                self.assertEqual(r2["findings"], [])
                # A regex that matches one side only hides nothing.
                l = self.start(harness.fixture(fixture), env={"BUG": "buffer"},
                               lifecycle={"shadow": {"ignore_values": ["^hello [a-z]+;$"]}})
                r1, r2 = self.run_pair(l, "buffer")
                self.assertEqual([f["path"] for f in r2["findings"]], ["$.message"])

    def test_ignore_paths_checked_at_start(self):
        l = harness.Lemu(config={"functions": {"function": {
            "bootstrap": harness.fixture("python-leaks"),
            "lifecycle": {"shadow": {"ignore_paths": ["$..ts"]}}}}}, start_timeout=5)
        self.lemus.append(l)
        with self.assertRaises(AssertionError):
            l.start()
        self.assertIn("JSONPath subset", l.logs())

    # ---- the shadow environment -------------------------------------------------------

    def test_shadow_environment(self):
        # c-bad sleeps 1 s on {"mode": "sleep"}: long enough to see the shadow at work. Its
        # echo answer counts invocations, so the shadow finds that leak too.
        l = self.start(harness.fixture("c-bad"))
        event = {"mode": "sleep", "sleep_s": 1}
        self.invoke(l, {})
        rid, headers, _ = self.invoke(l, event)
        self.assertEqual(headers["x-lemu-environment-id"], "function-1")
        # The caller was answered; the shadow still runs, and wait-idle says so.
        status, body = l.control("POST", "/wait-idle?timeout_s=0")
        self.assertEqual(status, 408, body)
        self.assertEqual(body["shadow"], 1)

        def shadow_listed():
            _, j = l.control("GET", "/functions/function/environments")
            return [e for e in j["environments"] if e["id"] == "function-shadow-1"]
        env = harness.wait_for(shadow_listed, 10, what="function-shadow-1 listed")[0]
        self.assertIn(env["state"], ("initializing", "busy"))
        # Meanwhile callers are served by function-1 only, never by the shadow.
        for _ in range(3):
            _, h, _ = self.invoke(l, {})
            self.assertEqual(h["x-lemu-environment-id"], "function-1")
        self.wait_idle(l)
        recs = self.records(l)
        self.assertEqual({r["environment"] for r in recs.values()}, {"function-1"})
        self.assertEqual([f["path"] for f in recs[rid]["findings"]], ["$.count"])
        # Discarded afterwards.
        harness.wait_for(lambda: not shadow_listed(), 10, what="function-shadow-1 gone")
        _, fn = l.control("GET", "/functions/function")
        self.assertEqual(fn["counters"]["invocations"], 5)
        self.assertEqual(fn["counters"]["cold_starts"], 1)
        # One shadow per warm invocation: 4 of them, numbered on.
        self.assertIn("[function/function-shadow-4] ", l.logs())
        self.assertNotIn("[function/function-shadow-5] ", l.logs())
        self.assertEqual(fn["counters"]["findings"], 4)

    def test_errors_compared(self):
        # The same function error warm and fresh: compared, equal, no finding.
        l = self.start(harness.fixture("c-bad"))
        self.invoke(l, {})
        status, headers, body = l.invoke(payload=json.dumps({"mode": "error"}))
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.wait_idle(l)
        rec = self.records(l)[headers["x-amzn-requestid"]]
        self.assertEqual(rec["findings"], [])
        self.assertIn("[function/function-shadow-1] START", l.logs())

    def test_off_by_default(self):
        l = self.start(harness.fixture("python-leaks"), shadow=False, env={"BUG": "counter"})
        r1, r2 = self.run_pair(l, "counter")
        self.assertEqual(r2["findings"], [])
        self.assertNotIn("shadow", l.logs())

    def test_switched_on_at_run_time(self):
        l = self.start(harness.fixture("go-leaks"), shadow=False, env={"BUG": "counter"})
        status, body = l.control("PUT", "/functions/function/lifecycle",
                                 {"shadow": {"ignore_paths": ["$.nothing"]}})
        self.assertEqual(status, 200, body)
        r1, r2 = self.run_pair(l, "counter")
        self.assertEqual([f["path"] for f in r2["findings"]], ["$.count"])

    def test_metrics(self):
        l = self.start(harness.fixture("python-leaks"), env={"BUG": "counter"})
        self.run_pair(l, "counter")
        self.invoke(l, {})
        self.wait_idle(l)
        status, _, text = l.request("GET", "/_lemu/metrics")
        self.assertEqual(status, 200)
        m = re.search(r'^lemu_findings_total\{function="function",kind="state_leak"\} (\d+)$',
                      text.decode(), re.M)
        self.assertIsNotNone(m, text)
        self.assertEqual(int(m.group(1)), 2)

    # ---- lemu run --check-leaks ------------------------------------------------------

    def lemu_run(self, *args):
        return subprocess.run([harness.LEMU, "run", "--sandbox-cpu", "off"] + list(args),
                              capture_output=True, env=clean_env(), timeout=120)

    def test_run_check_leaks(self):
        for fixture, bug, path in (("go-leaks", "counter", "$.count"),
                                   ("python-leaks", "counter", "$.count"),
                                   ("go-leaks", "buffer", "$.message"),
                                   ("python-leaks", "buffer", "$.message")):
            boot = harness.fixture(fixture)
            with self.subTest(fixture=fixture, bug=bug):
                p = self.lemu_run("--check-leaks", "--repeat", "2", boot, bug)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 3, err[-3000:])
                self.assertEqual(len(p.stdout.decode().splitlines()), 2)
                self.assertRegex(err, r"(?m)^lemu: finding state_leak at %s \(invocation 2, "
                                 % re.escape(path))
            with self.subTest(fixture=fixture, bug=bug, twin=True):
                p = self.lemu_run("--check-leaks", "--repeat", "2", boot, bug, "fixed")
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 0, err[-3000:])
                self.assertNotIn("lemu: finding", err)
                self.assertIn("[function/function-shadow-1] START", err)

    def test_run_without_check_leaks(self):
        # Without --check-leaks, run has no shadow runs and exits 0.
        p = self.lemu_run("--repeat", "2", harness.fixture("go-leaks"), "counter")
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-3000:])
        self.assertNotIn(b"shadow", p.stderr)

    def test_run_check_leaks_function_error(self):
        # Leaky echo answers (c-bad counts its invocations): 3. The same function error warm
        # and fresh: no finding, and the error's own exit code, 1.
        p = self.lemu_run("--check-leaks", "--repeat", "3", harness.fixture("c-bad"))
        self.assertEqual(p.returncode, 3, p.stderr.decode()[-3000:])
        self.assertIn(b"lemu: --check-leaks: 2 findings", p.stderr)
        p = self.lemu_run("--check-leaks", "--repeat", "2", "--event", '{"mode":"error"}',
                          harness.fixture("c-bad"))
        self.assertEqual(p.returncode, 1, p.stderr.decode()[-3000:])
        self.assertNotIn(b"lemu: finding", p.stderr)

if __name__ == "__main__":
    harness.main()
