# SPDX-License-Identifier: Apache-2.0
"""lemu's commands as a user runs them (DESIGN "Commands", "Config"): `run`, `serve` with
`invoke`, `validate`, `help` and `--version`, the precedence of flags, LEMU_* variables and
the config file, serve's exit on signals, and the `aws-lambda-rie` drop-in. Every process
runs with a timeout.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness

LEMU = harness.LEMU
RIE = os.path.join(os.path.dirname(os.path.abspath(LEMU)), "aws-lambda-rie")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
INVOKE = "/2015-03-31/functions/%s/invocations"


clean_env = harness.clean_env


class CommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lemu-cmd-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.echo = harness.fixture("c-echo")
        self.bad = harness.fixture("c-bad")

    def lemu(self, *args, input=None, env=None, timeout=60, exe=None):
        return subprocess.run([exe or LEMU] + list(args), input=input, capture_output=True,
                              env=clean_env(env), timeout=timeout, cwd=self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertExit(self, p, code):
        self.assertEqual(p.returncode, code,
                         "exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                         (p.returncode, code, p.stdout[-2000:], p.stderr[-2000:]))


class RunTest(CommandTest):
    def lines(self, p):
        self.assertTrue(p.stdout.endswith(b"\n"), p.stdout)
        return p.stdout.decode().split("\n")[:-1]

    def test_repeat(self):
        p = self.lemu("run", "--repeat", "3", "--event", '{"id":1}', "--sandbox-cpu", "off",
                      self.echo)
        self.assertExit(p, 0)
        lines = self.lines(p)
        self.assertEqual(len(lines), 3, p.stdout)
        bodies = [json.loads(l) for l in lines]
        self.assertEqual([b["count"] for b in bodies], [1, 2, 3])
        self.assertEqual([b["event"] for b in bodies], [{"id": 1}] * 3)
        self.assertEqual(len({b["pid"] for b in bodies}), 1)
        # Each line is the body exactly as the function returned it.
        for l, b in zip(lines, bodies):
            self.assertEqual(l, json.dumps(b, separators=(",", ":")))
        err = p.stderr.decode()
        self.assertEqual(len(re.findall(r"INIT_START ", err)), 1, err)
        reports = re.findall(r"REPORT RequestId: (%s)\t" % UUID, err)
        self.assertEqual(reports, [b["request_id"] for b in bodies], err)
        self.assertIn("Init Duration:", err.split("REPORT")[1])

    def test_concurrency_keeps_invocation_order(self):
        # A short sleep keeps both invocations of the first pair in flight together.
        p = self.lemu("run", "--concurrency", "2", "--repeat", "4", "--event",
                      '{"mode":"sleep","sleep_s":0.05}', "--sandbox-cpu", "off", self.bad)
        self.assertExit(p, 0)
        lines = self.lines(p)
        self.assertEqual(len(lines), 4, p.stdout)
        bodies = [json.loads(l) for l in lines]
        rids = [b["request_id"] for b in bodies]
        self.assertEqual(len(set(rids)), 4)
        err = p.stderr.decode()
        # Which environment served which request: "[function/function-N] START RequestId: X".
        env_of = dict((rid, env) for env, rid in
                      re.findall(r"\[function/(function-\d+)\] START RequestId: (%s)" % UUID,
                                 err))
        self.assertEqual(set(env_of), set(rids), err)
        # Invocations 1 and 2 start together, each cold on its own environment, created in
        # order; 3 and 4 reuse them.
        self.assertEqual([env_of[r] for r in rids[:2]], ["function-1", "function-2"])
        self.assertEqual([b["count"] for b in bodies[:2]], [1, 1])
        for env in ("function-1", "function-2"):
            counts = [b["count"] for b in bodies if env_of[b["request_id"]] == env]
            self.assertEqual(counts, list(range(1, len(counts) + 1)), env)
        self.assertEqual(len(re.findall(r"INIT_START ", err)), 2, err)
        self.assertEqual(len(re.findall(r"REPORT RequestId: ", err)), 4, err)

    def test_event_from_file_and_stdin(self):
        path = self.write("event.json", '{"from": "file",\n "n": [1, 2]}\n')
        p = self.lemu("run", "--event", "@" + path, self.echo)
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["event"], {"from": "file", "n": [1, 2]})
        p = self.lemu("run", "--event", "-", self.echo, input=b'{"from":"stdin"}')
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["event"], {"from": "stdin"})
        # No --event: {}.
        p = self.lemu("run", self.echo)
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["event"], {})

    def test_bad_events(self):
        p = self.lemu("run", "--event", "@" + os.path.join(self.tmp, "missing.json"), self.echo)
        self.assertExit(p, 2)
        self.assertIn(b"missing.json", p.stderr)
        p = self.lemu("run", "--event", '{"a":', self.echo)
        self.assertExit(p, 2)
        self.assertEqual(p.stdout, b"")

    def test_function_error(self):
        p = self.lemu("run", "--event", '{"mode":"error"}', self.bad)
        self.assertExit(p, 1)
        self.assertEqual(json.loads(p.stdout), {"errorMessage": "boom", "errorType": "MyError",
                                                "stackTrace": ["a", "b"]})
        # One error among successes still gives 1; every body is printed.
        p = self.lemu("run", "--repeat", "2", "--event", '{"mode":"error"}', self.bad)
        self.assertExit(p, 1)
        self.assertEqual(len(self.lines(p)), 2)

    def test_usage_errors(self):
        cases = [
            (["run", "--bogus", self.echo], b"--bogus"),
            (["run", "--memory", "100", self.echo], b"memory"),
            (["run", "--memory", "lots", self.echo], b"memory"),
            (["run", "--repeat", "0", self.echo], b"--repeat"),
            (["run", "--repeat"], b"--repeat"),
            (["run"], b"BOOTSTRAP"),
            (["run", os.path.join(self.tmp, "nope", "bootstrap")], b"does not exist"),
            (["serve", "--listen", "127.0.0.1:0", os.path.join(self.tmp, "nope")],
             b"does not exist"),
            (["frobnicate"], b"frobnicate"),
        ]
        for args, text in cases:
            p = self.lemu(*args, timeout=20)
            self.assertExit(p, 2)
            self.assertIn(text, p.stderr, args)
            self.assertEqual(p.stdout, b"", args)

    def test_timeout(self):
        start = time.monotonic()
        p = self.lemu("run", "--timeout", "0.5", "--event", '{"mode":"sleep"}', self.bad)
        self.assertLess(time.monotonic() - start, 8)
        self.assertExit(p, 1)
        body = json.loads(p.stdout)
        self.assertEqual(body["errorType"], "Sandbox.Timedout")
        self.assertRegex(body["errorMessage"],
                         r"^RequestId: %s Error: Task timed out after 0\.5\d seconds$" % UUID)
        self.assertIn(b"Status: timeout", p.stderr)

    def test_bootstrap_args(self):
        # Options stop at BOOTSTRAP: the rest goes to the bootstrap (c-bad's process mode).
        p = self.lemu("run", self.bad, "error")
        self.assertExit(p, 1)
        self.assertEqual(json.loads(p.stdout)["errorType"], "MyError")
        p = self.lemu("run", "--", self.bad, "echo")
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["runtime"], "c-bad")


class ServeInvokeTest(CommandTest):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Lemu("--sandbox-cpu", "off",
                                  "--function", "bad=" + harness.fixture("c-bad"),
                                  harness.fixture("c-echo"))
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.server.stop() == 0
        finally:
            cls.server.cleanup()

    def invoke(self, *args, **kw):
        return self.lemu("invoke", "--endpoint", self.server.url, *args, timeout=30, **kw)

    def test_invoke(self):
        p = self.invoke("function", "--event", '{"a":1}')
        self.assertExit(p, 0)
        self.assertTrue(p.stdout.endswith(b"}\n"))
        body = json.loads(p.stdout)
        self.assertEqual(body["event"], {"a": 1})
        self.assertEqual(p.stderr, b"")

    def test_invoke_event_sources(self):
        path = self.write("ev.json", '{"from":"file"}')
        p = self.invoke("function", "--event", "@" + path)
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["event"], {"from": "file"})
        p = self.invoke("function", "--event", "-", input=b'{"from":"stdin"}')
        self.assertExit(p, 0)
        self.assertEqual(json.loads(p.stdout)["event"], {"from": "stdin"})

    def test_log_tail(self):
        p = self.invoke("function", "--event", "{}", "--log-type", "Tail")
        self.assertExit(p, 0)
        rid = json.loads(p.stdout)["request_id"]
        self.assertIn(("REPORT RequestId: " + rid).encode(), p.stderr)
        self.assertIn(("START RequestId: " + rid).encode(), p.stderr)

    def test_event_type(self):
        p = self.invoke("function", "--event", '{"e":1}', "--type", "Event")
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, b"")
        self.assertRegex(p.stderr.decode(), r"^%s\n$" % UUID)
        p = self.invoke("function", "--type", "DryRun")
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, b"")

    def test_unknown_function(self):
        p = self.invoke("nope", "--event", "{}")
        self.assertExit(p, 4)
        self.assertIn(b"ResourceNotFoundException", p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_function_error(self):
        p = self.invoke("bad", "--event", '{"mode":"error"}')
        self.assertExit(p, 1)
        self.assertEqual(json.loads(p.stdout)["errorType"], "MyError")

    def test_transport_and_usage_errors(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = self.lemu("invoke", "--endpoint", "http://127.0.0.1:%d" % port, "function",
                      timeout=30)
        self.assertExit(p, 4)
        p = self.invoke("function", "--type", "Sometimes")
        self.assertExit(p, 2)
        p = self.invoke()
        self.assertExit(p, 2)


class ValidateTest(CommandTest):
    def test_ok(self):
        path = self.write("ok.json", '// a comment\n{"functions": {"f": {"bootstrap": %s,'
                          ' /* inline */ "memory_mb": 256}}}\n' % json.dumps(self.echo))
        p = self.lemu("validate", path)
        self.assertExit(p, 0)

    def test_unknown_key(self):
        path = self.write("bad.json",
                          '{\n'
                          '  "functions": {\n'
                          '    "f": {\n'
                          '      "bootstrap": %s,\n'
                          '      "memroy_mb": 256\n'
                          '    }\n'
                          '  }\n'
                          '}\n' % json.dumps(self.echo))
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        err = p.stderr.decode()
        self.assertIn(path + ":5:7:", err)
        self.assertIn("functions.f.memroy_mb", err)
        # A nested section too.
        path = self.write("bad2.json", '{"limits": {\n  "max_conections": 5}}')
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        self.assertIn(path + ":2:3:", p.stderr.decode())
        self.assertIn("limits.max_conections", p.stderr.decode())

    def test_bad_value(self):
        path = self.write("val.json", '{"functions": {"f": {"bootstrap": %s,\n'
                          '  "memory_mb": 64}}}' % json.dumps(self.echo))
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        self.assertIn(path + ":2:3:", p.stderr.decode())  # the key's position
        self.assertIn("functions.f.memory_mb", p.stderr.decode())

    def test_syntax_error(self):
        path = self.write("syn.json", '{\n  "region": "us-east-1"\n  "seed": 1\n}\n')
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        self.assertIn(path + ":3:3:", p.stderr.decode())
        path = self.write("syn2.json", '{"seed": 1,\n  "region": "us-east-1",,\n}')
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        self.assertIn(path + ":2:25:", p.stderr.decode())
        path = self.write("syn3.json", '{"seed": 1 /* never closed\n}')
        p = self.lemu("validate", path)
        self.assertExit(p, 2)
        self.assertRegex(p.stderr.decode(), re.escape(path) + r":1:\d+:")

    def test_missing_file_and_usage(self):
        p = self.lemu("validate", os.path.join(self.tmp, "none.json"))
        self.assertExit(p, 2)
        self.assertIn(b"none.json", p.stderr)
        p = self.lemu("validate")
        self.assertExit(p, 2)

    def test_dump_config(self):
        path = self.write("min.json", '{"functions": {"f": {"bootstrap": %s}}}'
                          % json.dumps(self.echo))
        p = self.lemu("validate", path, "--dump-config")
        self.assertExit(p, 0)
        d = json.loads(p.stdout)
        f = d["functions"]["f"]
        self.assertEqual(f["memory_mb"], 128)
        self.assertEqual(f["timeout_s"], 3)
        self.assertEqual(f["init_timeout_s"], 10)
        self.assertEqual(f["ephemeral_storage_mb"], 512)
        self.assertEqual(f["lifecycle"]["reuse"], "warm")
        self.assertEqual(f["lifecycle"]["route"], "mru")
        self.assertEqual(f["async"]["max_retries"], 2)
        self.assertEqual(f["async"]["retry_delays_s"], [60, 120])
        self.assertEqual(f["sandbox"]["nofile"], 1024)
        self.assertEqual(f["bootstrap"], self.echo)
        self.assertEqual(d["region"], "us-east-1")
        self.assertEqual(d["account_id"], "000000000000")
        self.assertEqual(d["limits"]["max_header_bytes"], 65536)
        # The dump is a config lemu accepts again, and dumps to the same thing.
        again = self.write("dump.json", p.stdout.decode())
        p2 = self.lemu("validate", again)
        self.assertExit(p2, 0)
        p3 = self.lemu("validate", again, "--dump-config")
        self.assertExit(p3, 0)
        self.assertEqual(json.loads(p3.stdout), d)


class HelpTest(CommandTest):
    def test_version(self):
        p = self.lemu("--version")
        self.assertExit(p, 0)
        self.assertRegex(p.stdout.decode(), r"^lemu \d+\.\d+\.\d+\n$")

    def test_help(self):
        p = self.lemu("help")
        self.assertExit(p, 0)
        out = p.stdout.decode()
        for cmd in ("run", "serve", "invoke", "validate", "help"):
            self.assertIn("lemu " + cmd, out)
        p = self.lemu("help", "config")
        self.assertExit(p, 0)
        self.assertIn(b"memory_mb", p.stdout)
        p = self.lemu("help", "nope")
        self.assertExit(p, 2)
        self.assertIn(b"nope", p.stderr)
        p = self.lemu("run", "--help")
        self.assertExit(p, 0)
        self.assertIn(b"--repeat", p.stdout)
        p = self.lemu("serve", "--help")
        self.assertExit(p, 0)
        self.assertIn(b"listening on", p.stdout)

    def test_no_args(self):
        p = self.lemu()
        self.assertExit(p, 2)


class PrecedenceTest(CommandTest):
    def memory_seen(self, args, env):
        cfg = {"functions": {"function": {"bootstrap": self.echo, "memory_mb": 256,
                                          "sandbox": {"cpu": "off"}}}}
        with harness.Lemu(*args, config=cfg, env=clean_env(env)) as srv:
            status, _, body = srv.invoke(payload=b'{"env":"AWS_LAMBDA_FUNCTION_MEMORY_SIZE"}')
            self.assertEqual(status, 200, body)
            _, fn = srv.control("GET", "/functions/function")
            srv.cleanup()
        self.assertEqual(fn["config"]["memory_mb"], int(json.loads(body)["env_value"]))
        return json.loads(body)["env_value"]

    def test_flag_env_file(self):
        self.assertEqual(self.memory_seen(["--memory", "1024"], {"LEMU_MEMORY": "512"}), "1024")
        self.assertEqual(self.memory_seen([], {"LEMU_MEMORY": "512"}), "512")
        self.assertEqual(self.memory_seen([], {}), "256")

    def test_bad_env_value(self):
        p = self.lemu("run", self.echo, env={"LEMU_MEMORY": "64"})
        self.assertExit(p, 2)
        self.assertIn(b"LEMU_MEMORY", p.stderr)


class SignalTest(CommandTest):
    def check_signal(self, sig):
        srv = harness.Lemu("--sandbox-cpu", "off", self.echo)
        srv.start()
        try:
            status, _, body = srv.invoke(payload=b"{}")
            self.assertEqual(status, 200, body)
            self.assertEqual(srv.stop(sig), 0, srv.logs())
            harness.wait_for(lambda: not srv.leftover_pids(), timeout=5,
                             what="the function's processes to end")
        finally:
            srv.stop()
            srv.cleanup()

    def test_sigterm(self):
        self.check_signal(signal.SIGTERM)

    def test_sigint(self):
        self.check_signal(signal.SIGINT)

    def test_idle_without_environments(self):
        srv = harness.Lemu(self.echo)
        srv.start()
        try:
            self.assertEqual(srv.stop(signal.SIGTERM), 0, srv.logs())
        finally:
            srv.cleanup()


class RieTest(CommandTest):
    def start_rie(self, bootstrap, env):
        # The drop-in takes RIE's flags only and, as root, runs the function as the sandbox
        # user: give it a copy of the code that user can read, as a container image would.
        code = os.path.join(self.tmp, "task")
        os.mkdir(code)
        os.chmod(code, 0o755)
        shutil.copy2(bootstrap, os.path.join(code, "bootstrap"))
        bootstrap = os.path.join(code, "bootstrap")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        log = open(os.path.join(self.tmp, "rie.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([RIE, "--runtime-interface-emulator-address",
                                 "127.0.0.1:%d" % port, bootstrap],
                                stdout=log, stderr=subprocess.STDOUT, env=clean_env(env),
                                cwd=self.tmp)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.addCleanup(stop)

        def up():
            if proc.poll() is not None:
                raise AssertionError("aws-lambda-rie exited %d" % proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        harness.wait_for(up, timeout=10, what="aws-lambda-rie to listen")
        return proc, port

    def post(self, port, body, path=INVOKE % "function"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request("POST", path, body=body)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def test_echo_and_host_environment(self):
        proc, port = self.start_rie(self.echo, {"HOST_VAR": "from-the-container"})
        status, h, body = self.post(port, b'{"env":"HOST_VAR"}')
        self.assertEqual(status, 200, body)
        j = json.loads(body)
        self.assertEqual(j["event"], {"env": "HOST_VAR"})
        self.assertEqual(j["env_value"], "from-the-container")
        self.assertEqual(h["x-amzn-requestid"], j["request_id"])
        status, h, body = self.post(port, b'{"env":"AWS_LAMBDA_FUNCTION_NAME"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["count"], 2)
        proc.terminate()
        self.assertEqual(proc.wait(15), 0)

    def test_rie_env_vars(self):
        proc, port = self.start_rie(self.echo, {"AWS_LAMBDA_FUNCTION_NAME": "myfn",
                                                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"})
        for var, want in (("AWS_LAMBDA_FUNCTION_NAME", "myfn"),
                          ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")):
            status, _, body = self.post(port, json.dumps({"env": var}))
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["env_value"], want, var)

    def test_timeout_is_lambdas_answer(self):
        proc, port = self.start_rie(self.bad, {"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
        start = time.monotonic()
        status, h, body = self.post(port, b'{"mode":"sleep"}')
        self.assertLess(time.monotonic() - start, 8)
        self.assertEqual(status, 200, body)
        self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(h.get("content-type"), "application/json")
        j = json.loads(body)
        self.assertEqual(j["errorType"], "Sandbox.Timedout")
        self.assertRegex(j["errorMessage"],
                         r"^RequestId: %s Error: Task timed out after 1\.\d\d seconds$"
                         % h["x-amzn-requestid"])
        # The environment is reset and serves the next request.
        status, h, body = self.post(port, b'{"mode":"echo"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["count"], 1)


if __name__ == "__main__":
    harness.main()
