# SPDX-License-Identifier: Apache-2.0
"""`lemu test SCENARIO.json` (DESIGN "`lemu test` scenarios", "Exit codes"): the examples in
fixtures/scenarios/ pass, with a JUnit report of one testcase a step with expectations;
a wrong expectation fails the step (exit 1) naming what was expected and what came; a bad
scenario is refused before anything runs (exit 2) naming the step and the key; a fault
step is refused in this build; --seed replaces the scenario's seed; a parallel step's
invocations run at once in distinct environments; findings are claimed or fail the run.
"""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import harness

LEMU = harness.LEMU
SCENARIOS = os.path.join(harness.FIXTURES_SRC, "scenarios")


clean_env = harness.clean_env


class ScenarioTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lemu-scn-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.echo = harness.fixture("c-echo")
        self.bad = harness.fixture("c-bad")

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data, indent=1))
        return path

    def scenario(self, steps, name="scn.json", function="echo", bootstrap=None, **fn):
        fc = {"bootstrap": bootstrap or self.echo, "sandbox": {"cpu": "off"}}
        fc.update(fn)
        return self.write(name, {"name": "t", "config": {"functions": {function: fc}},
                                 "steps": steps})

    def lemu_test(self, *args, timeout=120):
        return subprocess.run([LEMU, "test"] + list(args), capture_output=True,
                              env=clean_env(), timeout=timeout, cwd=self.tmp)

    def assertExit(self, p, code):
        self.assertEqual(p.returncode, code,
                         "exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                         (p.returncode, code, p.stdout[-3000:], p.stderr[-3000:]))

    def last_line(self, p):
        lines = p.stdout.decode().splitlines()
        self.assertTrue(lines, p.stdout)
        return lines[-1]

    def junit(self, path):
        root = ET.parse(path).getroot()
        self.assertEqual(root.tag, "testsuites")
        return root

    def cases(self, root):
        return list(root.iter("testcase"))

    def outputs(self, case):
        """(environment, cold) of each invocation of a testcase, from its <system-out>."""
        out = case.find("system-out")
        text = out.text if out is not None else ""
        return re.findall(r"environment (\S+), cold (\w+)", text)

    def example(self, name):
        """A copy of fixtures/scenarios/NAME whose bootstraps are this build's fixtures."""
        with open(os.path.join(SCENARIOS, name)) as f:
            text = f.read()
        self.assertIn("../../build/fixtures/", text)
        text = text.replace("../../build/fixtures/", harness.FIXTURES_BUILD + "/")
        return self.write(name, text)


class ExamplesTest(ScenarioTest):
    def test_echo_warm(self):
        path = self.example("echo-warm.json")
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit)
        self.assertExit(p, 0)
        self.assertEqual(self.last_line(p), "8 passed, 0 failed")
        root = self.junit(junit)
        suites = list(root.iter("testsuite"))
        self.assertEqual(len(suites), 1)
        self.assertEqual(suites[0].get("name"), "c-echo warm reuse")
        self.assertEqual(suites[0].get("tests"), "8")
        self.assertEqual(suites[0].get("failures"), "0")
        cases = self.cases(root)
        # One testcase a step with `expect` (and expect_findings), named after the step.
        self.assertEqual([c.get("name") for c in cases],
                         ["step 0: invoke c-echo", "step 1: invoke c-echo",
                          "step 3: invoke c-echo", "step 5: invoke c-echo",
                          "step 6: invoke c-echo", "step 8: invoke c-echo",
                          "step 9: invoke c-echo", "step 11: expect_findings"])
        self.assertFalse([c for c in cases if c.find("failure") is not None])
        # Warm reuse, then a new environment after the recycle.
        self.assertEqual(self.outputs(cases[0]), [("c-echo-1", "true")])
        self.assertEqual(self.outputs(cases[1]), [("c-echo-1", "false")])
        [(env, cold)] = self.outputs(cases[2])
        self.assertNotEqual(env, "c-echo-1")
        self.assertEqual(cold, "true")
        err = p.stderr.decode()
        self.assertIn("[12/12] step 11: expect_findings: ok", err)

    def test_errors(self):
        path = self.example("errors.json")
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit)
        self.assertExit(p, 0)
        self.assertEqual(self.last_line(p), "7 passed, 0 failed")
        cases = self.cases(self.junit(junit))
        self.assertEqual(len(cases), 7)
        self.assertFalse([c for c in cases if c.find("failure") is not None])
        # A reset keeps the environment's id: all of it ran in c-bad-1.
        envs = {e for c in cases for e, _ in self.outputs(c)}
        self.assertEqual(envs, {"c-bad-1"})

    def test_faults(self):
        path = self.example("faults.json")
        runs = []
        for run in range(2):
            junit = os.path.join(self.tmp, "junit%d.xml" % run)
            p = self.lemu_test(path, "--junit", junit)
            self.assertExit(p, 0)
            self.assertEqual(self.last_line(p), "9 passed, 0 failed")
            cases = self.cases(self.junit(junit))
            self.assertFalse([c for c in cases if c.find("failure") is not None])
            runs.append([c.get("name") for c in cases])
        self.assertEqual(runs[0], runs[1])
        self.assertIn("step 2: invoke c-bad", runs[0])
        # Another seed does not move faults keyed on invocation numbers.
        p = self.lemu_test(path, "--seed", "8")
        self.assertExit(p, 0)

    def test_two_files(self):
        a = self.example("echo-warm.json")
        b = self.example("errors.json")
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(a, b, "--junit", junit)
        self.assertExit(p, 0)
        self.assertEqual(self.last_line(p), "15 passed, 0 failed")
        root = self.junit(junit)
        self.assertEqual([s.get("name") for s in root.iter("testsuite")],
                         ["c-echo warm reuse", "c-bad errors"])
        self.assertEqual(root.get("tests"), "15")


class FailureTest(ScenarioTest):
    def test_wrong_expectation(self):
        path = self.scenario([
            {"invoke": "echo", "event": {"id": 1},
             "expect": {"status": 200, "cold": True, "json": {"$.count": 1}}},
            {"invoke": "echo",
             "expect": {"status": 201, "json": {"$.count": 7, "$.event.id": 1}}},
            {"invoke": "echo", "expect": {"cold": False}},
        ])
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit)
        self.assertExit(p, 1)
        self.assertEqual(self.last_line(p), "2 passed, 1 failed")
        err = p.stderr.decode()
        self.assertIn("step 1: invoke echo: FAILED", err)
        self.assertIn("status: expected 201, got 200", err)
        self.assertIn("json $.count: expected 7, got 2", err)
        self.assertIn("json $.event.id: expected 1, got nothing there", err)
        # The failed invocation's log is shown.
        self.assertRegex(err, r"log of request [0-9a-f-]{36}")
        cases = self.cases(self.junit(junit))
        self.assertEqual(len(cases), 3)
        failures = [(c.get("name"), c.find("failure")) for c in cases
                    if c.find("failure") is not None]
        self.assertEqual(len(failures), 1)
        name, failure = failures[0]
        self.assertEqual(name, "step 1: invoke echo")
        msg = failure.get("message")
        self.assertIn("status: expected 201, got 200", msg)
        self.assertIn("json $.count: expected 7, got 2", msg)

    def test_function_error_expectations(self):
        path = self.scenario([
            {"invoke": "bad", "event": {"mode": "error"},
             "expect": {"function_error": None, "error_type": "Runtime.ExitError"}},
        ], function="bad", bootstrap=self.bad)
        p = self.lemu_test(path)
        self.assertExit(p, 1)
        err = p.stderr.decode()
        self.assertIn("function_error: expected none, got 'Unhandled'", err)
        self.assertIn("error_type: expected 'Runtime.ExitError', got 'MyError'", err)

    def test_failed_step_without_expect(self):
        # A step with nothing to check still fails when it cannot do its job.
        path = self.scenario([
            {"invoke": "bad", "type": "Event", "event": {"mode": "sleep", "sleep_s": 3}},
            {"wait_idle": {"timeout_s": 0.2}},
        ], function="bad", bootstrap=self.bad, timeout_s=5)
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit)
        self.assertExit(p, 1)
        self.assertEqual(self.last_line(p), "0 passed, 1 failed")
        self.assertIn("still busy after 0.2 s", p.stderr.decode())
        cases = self.cases(self.junit(junit))
        self.assertEqual([c.get("name") for c in cases], ["step 1: wait_idle"])


class BadScenarioTest(ScenarioTest):
    def refused(self, path, *fragments):
        p = self.lemu_test(path)
        self.assertExit(p, 2)
        err = p.stderr.decode()
        for f in fragments:
            self.assertIn(f, err)
        # Nothing ran: no summary line.
        self.assertNotIn("passed", p.stdout.decode())
        return err

    def test_unknown_key(self):
        path = self.scenario([{"invoke": "echo"}, {"invoke": "echo"}, {"invoke": "echo"},
                              {"invoke": "echo", "expct": {"status": 200}}])
        err = self.refused(path, "scn.json:", "step 3: unknown key 'expct'")
        self.assertIn("did you mean 'expect'", err)
        path = self.scenario([{"invoke": "echo", "expect": {"cold": True, "stauts": 200}}])
        self.refused(path, "step 0: expect: unknown key 'stauts'")

    def test_bad_step_index(self):
        path = self.scenario([{"invoke": "echo"},
                              {"invoke": "echo", "expect": {"environment": {"same_as": 4}}}])
        self.refused(path, "step 1: expect.environment.same_as: step 4 is not an earlier step")
        path = self.scenario([{"recycle": "echo"},
                              {"invoke": "echo", "expect": {"environment": {"same_as": 0}}}])
        self.refused(path, "step 1: expect.environment.same_as: step 0 is no "
                           "RequestResponse invoke step")

    def test_missing_files(self):
        path = self.scenario([{"invoke": "echo", "event": "@events/none.json"}])
        self.refused(path, "step 0: event: cannot read '%s/events/none.json'" % self.tmp)
        path = self.write("c.json", {"config": "no-config.json", "steps": [{"invoke": "f"}]})
        self.refused(path, "config '%s/no-config.json'" % self.tmp)
        path = self.scenario([{"invoke": "echo"}], bootstrap=os.path.join(self.tmp, "none"))
        self.refused(path, "config: functions.echo.bootstrap")
        p = self.lemu_test(os.path.join(self.tmp, "none.json"))
        self.assertExit(p, 2)

    def test_unknown_function_and_config_key(self):
        path = self.scenario([{"invoke": "echo"}, {"recycle": "other"}])
        self.refused(path, "step 1: recycle: no function 'other' in the config (it has echo)")
        path = self.scenario([{"invoke": "echo"}], memroy_mb=256)
        self.refused(path, "config.functions.echo.memroy_mb")
        path = self.scenario([{"lifecycle": "echo", "set": {"reuse": "often"}}])
        self.refused(path, "step 0: set.reuse")

    def test_syntax_and_usage(self):
        path = self.write("s.json", '// comments are fine\n{"config": {}, "steps": [\n'
                                    '  {"invoke": "f",}\n]}\n')
        self.refused(path, "s.json:3:", "a comma before '}'")
        for args in ([], ["--bogus", path], ["--junit"]):
            p = self.lemu_test(*args)
            self.assertExit(p, 2)
        p = self.lemu_test(self.scenario([{"invoke": "echo"}]), "--seed", "x")
        self.assertExit(p, 2)
        self.assertIn("--seed", p.stderr.decode())

    def test_fault_step(self):
        path = self.scenario([
            {"invoke": "echo"},
            {"fault": "echo", "add": {"action": "crash", "when": {"invocation": 0}}},
            {"invoke": "echo"}])
        self.refused(path, "step 1: add: when.invocation: expected a whole number from 1 to")
        path = self.scenario([{"fault": "echo", "add": {"action": "crash"}, "clear": "all"}])
        self.refused(path, "step 0: give one of 'add' (a fault object) or 'clear'")
        path = self.scenario([{"fault": "nope", "clear": "all"}])
        self.refused(path, "step 0: fault: no function 'nope' in the config")

    def test_junit_unwritable(self):
        path = self.scenario([{"invoke": "echo"}])
        p = self.lemu_test(path, "--junit", os.path.join(self.tmp, "no", "dir", "j.xml"))
        self.assertExit(p, 2)
        self.assertIn("cannot write", p.stderr.decode())


class RunTest(ScenarioTest):
    def pattern(self, path, *args):
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit, *args)
        self.assertExit(p, 0)
        root = self.junit(junit)
        seed = [pr.get("value") for pr in root.iter("property") if pr.get("name") == "seed"]
        return seed, [o for c in self.cases(root) for o in self.outputs(c)], p

    def test_seed_override(self):
        # reuse random: which invocations reuse an environment comes from the seed.
        steps = [{"invoke": "echo", "expect": {"status": 200}} for _ in range(16)]
        path = self.write("seeded.json", {
            "name": "seeded", "seed": 7,
            "config": {"seed": 3, "functions": {"echo": {
                "bootstrap": self.echo, "sandbox": {"cpu": "off"},
                "lifecycle": {"reuse": "random", "reuse_probability": 0.5}}}},
            "steps": steps})
        seed7, own, p = self.pattern(path)
        self.assertEqual(seed7, ["7"])
        self.assertIn("seed 7", p.stderr.decode())
        seed1, first, p = self.pattern(path, "--seed", "1")
        self.assertEqual(seed1, ["1"])
        self.assertIn("seed 1", p.stderr.decode())
        _, again, _ = self.pattern(path, "--seed=1")
        self.assertEqual(len(first), 16)
        self.assertEqual(first, again)  # the same seed, the same assignments
        self.assertNotEqual(first, own)  # another seed, others
        colds = [c for _, c in first]
        self.assertIn("true", colds[1:])
        self.assertIn("false", colds[1:])

    def test_parallel_distinct_environments(self):
        path = self.scenario([
            {"invoke": "echo", "parallel": 4, "event": {"n": 1},
             "expect": {"status": 200, "cold": True, "json": {"$.count": 1, "$.event.n": 1}}},
            {"invoke": "echo", "parallel": 4, "expect": {"status": 200, "cold": False}},
        ])
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit)
        self.assertExit(p, 0)
        self.assertEqual(self.last_line(p), "2 passed, 0 failed")
        cases = self.cases(self.junit(junit))
        first = self.outputs(cases[0])
        self.assertEqual(len(first), 4)
        self.assertEqual(len({e for e, _ in first}), 4, first)
        # The four warm ones run in environments of the first four (how many of them is
        # up to timing: one may be idle again before the last request is read).
        second = self.outputs(cases[1])
        self.assertEqual(len(second), 4)
        self.assertLessEqual({e for e, _ in second}, {e for e, _ in first})
        self.assertIn("4 invocations, 4 environments", p.stderr.decode())

    def test_tty_progress(self):
        path = self.example("echo-warm.json")
        master, slave = pty.openpty()
        proc = subprocess.Popen([LEMU, "test", path], stdout=subprocess.PIPE, stderr=slave,
                                env=clean_env(), cwd=self.tmp)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        os.close(master)
        stdout, _ = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, out)
        self.assertEqual(stdout.decode().splitlines()[-1], "8 passed, 0 failed")
        text = out.decode(errors="replace")
        # One updating line: each step rewrites it; passed steps leave no line of their own.
        self.assertIn("\r\x1b[K[1/12] step 0: invoke c-echo...", text)
        self.assertIn("\r\x1b[K[12/12] step 11: expect_findings...", text)
        self.assertNotIn(": ok", text)

    def test_findings(self):
        leaks = os.path.join(harness.FIXTURES_SRC, "python-leaks", "bootstrap")
        if not os.access(leaks, os.X_OK):
            self.skipTest("no python-leaks fixture")
        fn = {"args": ["counter"], "lifecycle": {"shadow": True}}
        warm = [{"invoke": "leaky", "expect": {"json": {"$.count": 1}}},
                {"invoke": "leaky", "expect": {"cold": False}}]
        # Claimed: passes.
        path = self.scenario(warm + [
            {"expect_findings": [{"kind": "state_leak", "path": "$.count"}]},
            {"expect_findings": "none"}], function="leaky", bootstrap=leaks, **fn)
        p = self.lemu_test(path, timeout=180)
        self.assertExit(p, 0)
        self.assertEqual(self.last_line(p), "4 passed, 0 failed")
        # Unclaimed: one failed testcase for it.
        path = self.scenario(warm, function="leaky", bootstrap=leaks, **fn)
        junit = os.path.join(self.tmp, "junit.xml")
        p = self.lemu_test(path, "--junit", junit, timeout=180)
        self.assertExit(p, 1)
        self.assertEqual(self.last_line(p), "2 passed, 1 failed")
        cases = self.cases(self.junit(junit))
        self.assertEqual(cases[-1].get("name"), "unclaimed finding: state_leak at $.count in leaky")
        self.assertIsNotNone(cases[-1].find("failure"))
        # Expected but not there / there but "none".
        path = self.scenario(warm + [{"expect_findings": "none"}], function="leaky",
                             bootstrap=leaks, **fn)
        p = self.lemu_test(path, timeout=180)
        self.assertExit(p, 1)
        self.assertIn("expected no findings, got 1", p.stderr.decode())
        self.assertEqual(self.last_line(p), "2 passed, 1 failed")
        path = self.scenario([warm[0], {"expect_findings": [{"kind": "state_leak"}]}],
                             function="leaky", bootstrap=leaks, **fn)
        p = self.lemu_test(path, timeout=180)
        self.assertExit(p, 1)
        self.assertIn("expected a state_leak finding, got none", p.stderr.decode())


if __name__ == "__main__":
    harness.main()
