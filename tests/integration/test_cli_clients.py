# SPDX-License-Identifier: Apache-2.0
"""lemu through the real clients: the AWS CLI, boto3 and the AWS SDK for JavaScript v3.

Every client runs with retries off (AWS_MAX_ATTEMPTS=1, botocore's total_max_attempts=1,
maxAttempts: 1 in the JS SDK), so that a throttle or an error is seen exactly once, and
with dummy credentials. Also here: every echo fixture cold then warm, and concurrent
invocations each getting their own environment.

Event invocations are checked for delivery with a recorder runtime (written below to a
temporary folder): it prints `delivered <request id> <event>` on stdout, which lemu logs
under the environment's tag, and answers {"ok":true}.
"""
import atexit
import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import uuid

import harness

AWS = "/usr/bin/aws"
REGION = "us-east-1"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")
SRC_FIXTURES = harness.FIXTURES_SRC or os.path.join(HERE, "..", "..", "fixtures")

# Clients must not read the developer's ~/.aws, nor ask EC2 for credentials.
CLIENT_ENV = dict(os.environ)
CLIENT_ENV.update({
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_PAGER": "",
    "AWS_CONFIG_FILE": "/nonexistent/lemu-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/lemu-test-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
})
CLIENT_ENV.pop("AWS_SESSION_TOKEN", None)
CLIENT_ENV.pop("AWS_PROFILE", None)
CLIENT_ENV.pop("AWS_ENDPOINT_URL", None)

RECORDER = r'''#!/usr/bin/python3
# Prints every event it gets as `delivered <request id> <event>` and answers {"ok":true}.
import http.client, os
host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
conn = http.client.HTTPConnection(host, int(port))
base = "/2018-06-01/runtime/invocation/"
while True:
    conn.request("GET", base + "next")
    resp = conn.getresponse()
    event = resp.read()
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    print("delivered %s %s" % (rid, event.decode()), flush=True)
    conn.request("POST", base + rid + "/response", body=b'{"ok":true}')
    conn.getresponse().read()
'''

_recorder_path = None


def recorder():
    """Path of the recorder bootstrap, in a world-readable temporary folder."""
    global _recorder_path
    if _recorder_path is None:
        d = tempfile.mkdtemp(prefix="lemu-rec-")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        p = os.path.join(d, "bootstrap")
        with open(p, "w") as f:
            f.write(RECORDER)
        os.chmod(p, 0o755)
        _recorder_path = p
    return _recorder_path


def start_lemu(test, *args, **kw):
    """Starts a Lemu that is stopped, then removed, when test ends."""
    lemu = harness.Lemu(*args, **kw)
    lemu.start()
    test.addCleanup(lemu.cleanup)
    test.addCleanup(lemu.stop)
    return lemu


def config(bootstrap, **keys):
    """A config with one function named `function`."""
    fn = {"bootstrap": bootstrap}
    fn.update(keys)
    return {"functions": {"function": fn}}


def wait_delivered(lemu, payload, request_id=None, timeout=15.0):
    """Waits for the recorder's line for payload (a str); returns the request id it names."""
    rid = re.escape(request_id) if request_id else r"\S+"
    pattern = re.compile(r"^\[function/function-\d+\] delivered (%s) %s$"
                         % (rid, re.escape(payload)), re.M)
    m = harness.wait_for(lambda: pattern.search(lemu.logs()), timeout,
                         what="delivery of %s" % payload)
    return m.group(1)


def counters(lemu, fn="function"):
    status, body = lemu.control("GET", "/functions/" + fn)
    assert status == 200, (status, body)
    return body["counters"]


def platform_lines(text, request_id):
    """The START, END and REPORT lines of request_id found in text, in order."""
    out = []
    for line in text.splitlines():
        for kind in ("START", "END", "REPORT"):
            if line.startswith("%s RequestId: %s" % (kind, request_id)):
                out.append(kind)
    return out


# ---------------------------------------------------------------------------------------
# AWS CLI v2 (Debian's /usr/bin/aws)
# ---------------------------------------------------------------------------------------

class AwsCliTest(unittest.TestCase):
    def setUp(self):
        if not os.access(AWS, os.X_OK):
            self.skipTest("%s is not installed" % AWS)
        self.tmp = tempfile.mkdtemp(prefix="lemu-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def lemu(self, bootstrap=None, cfg=None):
        return start_lemu(self, *([bootstrap] if bootstrap else []), config=cfg)

    def aws(self, lemu, function, *args, payload=None):
        """Runs `aws lambda invoke`; returns (exit code, parsed stdout or None, stderr,
        outfile bytes or None)."""
        outfile = os.path.join(self.tmp, "out-%s" % uuid.uuid4().hex)
        cmd = [AWS, "lambda", "invoke", "--endpoint-url", lemu.url, "--region", REGION,
               "--cli-binary-format", "raw-in-base64-out", "--output", "json",
               "--function-name", function]
        if payload is not None:
            cmd += ["--payload", payload]
        cmd += list(args) + [outfile]
        p = subprocess.run(cmd, capture_output=True, env=CLIENT_ENV, timeout=60)
        out = json.loads(p.stdout) if p.stdout.strip() else None
        data = None
        if os.path.exists(outfile):
            with open(outfile, "rb") as f:
                data = f.read()
        return p.returncode, out, p.stderr.decode(errors="replace"), data

    def test_request_response(self):
        lemu = self.lemu(harness.fixture("c-echo"))
        payload = '{"client":"aws-cli","n":[1,2.5,null,true],"s":"caf\u00e9"}'
        rc, out, err, data = self.aws(lemu, "function", payload=payload)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"StatusCode": 200, "ExecutedVersion": "$LATEST"})
        self.assertTrue(data.startswith(b'{"event":' + payload.encode() + b',"count":1,'), data)
        body = json.loads(data)
        self.assertEqual(body["runtime"], "c")
        self.assertIn("START RequestId: %s Version: $LATEST" % body["request_id"], lemu.logs())

    def test_event_is_delivered(self):
        lemu = self.lemu(cfg=config(recorder(), memory_mb=1769))
        payload = '{"client":"aws-cli","nonce":"%s"}' % uuid.uuid4()
        rc, out, err, data = self.aws(lemu, "function", "--invocation-type", "Event",
                                      payload=payload)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"StatusCode": 202})
        self.assertEqual(data, b"")
        rid = wait_delivered(lemu, payload)
        lemu.wait_log("REPORT RequestId: " + rid)
        harness.wait_for(lambda: counters(lemu)["invocations"] == 1, 10,
                         what="invocations counter 1")
        self.assertEqual(counters(lemu)["errors"], 0)

    def test_dry_run(self):
        lemu = self.lemu(harness.fixture("c-echo"))
        rc, out, err, data = self.aws(lemu, "function", "--invocation-type", "DryRun",
                                      payload='{"a":1}')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"StatusCode": 204})
        self.assertEqual(data, b"")
        # Nothing ran: no invocation counted and no environment started.
        self.assertEqual(counters(lemu)["invocations"], 0)
        self.assertEqual(lemu.control("GET", "/functions/function/environments"),
                         (200, {"environments": []}))

    def test_log_type_tail(self):
        lemu = self.lemu(harness.fixture("c-echo"))
        rc, out, err, data = self.aws(lemu, "function", "--log-type", "Tail",
                                      payload='{"tail":1}')
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out), ["ExecutedVersion", "LogResult", "StatusCode"])
        self.assertEqual(out["StatusCode"], 200)
        rid = json.loads(data)["request_id"]
        tail = base64.b64decode(out["LogResult"], validate=True).decode()
        self.assertEqual(platform_lines(tail, rid), ["START", "END", "REPORT"], tail)

    def test_unknown_function(self):
        lemu = self.lemu(harness.fixture("c-echo"))
        rc, out, err, data = self.aws(lemu, "nope", payload="{}")
        self.assertIn(rc, (254, 255), err)
        self.assertIsNone(out)
        self.assertIn("An error occurred (ResourceNotFoundException) when calling the Invoke "
                      "operation", err)
        self.assertIn(": Function not found: " + ARN_PREFIX + "nope", err)
        self.assertEqual(counters(lemu)["invocations"], 0)

    def test_function_error(self):
        lemu = self.lemu(harness.fixture("c-bad"))
        rc, out, err, data = self.aws(lemu, "function", payload='{"mode":"error"}')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"StatusCode": 200, "FunctionError": "Unhandled",
                               "ExecutedVersion": "$LATEST"})
        self.assertEqual(data, b'{"errorMessage":"boom","errorType":"MyError",'
                               b'"stackTrace":["a","b"]}')


# ---------------------------------------------------------------------------------------
# boto3 (Debian's python3-boto3, this interpreter)
# ---------------------------------------------------------------------------------------

class Boto3Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if importlib.util.find_spec("boto3") is None:
            raise unittest.SkipTest("boto3 is not installed for this interpreter")

    def lemu(self, cfg):
        return start_lemu(self, config=cfg)

    def client(self, lemu):
        import boto3
        from botocore.config import Config
        # botocore's "max_attempts" counts retries (1 would allow a second attempt);
        # "total_max_attempts" counts attempts, as AWS_MAX_ATTEMPTS does.
        cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
        return boto3.session.Session().client(
            "lambda", endpoint_url=lemu.url, region_name=REGION, aws_access_key_id="test",
            aws_secret_access_key="test", config=cfg)

    def assert_client_error(self, call, code, status, message=None):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            call()
        r = cm.exception.response
        self.assertEqual(r["Error"]["Code"], code, r)
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], status, r)
        self.assertEqual(r["ResponseMetadata"]["RetryAttempts"], 0, r)
        if message is not None:
            self.assertEqual(r["Error"]["Message"], message, r)
        return r

    def test_function_error(self):
        lemu = self.lemu(config(harness.fixture("c-bad")))
        r = self.client(lemu).invoke(FunctionName="function", Payload=b'{"mode":"error"}')
        self.assertEqual(r["StatusCode"], 200)
        self.assertEqual(r["FunctionError"], "Unhandled")
        self.assertEqual(r["ExecutedVersion"], "$LATEST")
        self.assertEqual(json.loads(r["Payload"].read()),
                         {"errorMessage": "boom", "errorType": "MyError",
                          "stackTrace": ["a", "b"]})
        self.assertEqual(counters(lemu)["errors"], 1)

    def test_log_type_tail(self):
        lemu = self.lemu(config(harness.fixture("c-bad")))
        r = self.client(lemu).invoke(FunctionName="function", LogType="Tail",
                                     Payload=b'{"mode":"exit","code":0}')
        rid = r["ResponseMetadata"]["RequestId"]
        self.assertEqual(r["FunctionError"], "Unhandled")
        tail = base64.b64decode(r["LogResult"], validate=True).decode()
        self.assertEqual(platform_lines(tail, rid), ["START", "END", "REPORT"], tail)
        # The function's own output is in the tail too, between START and END.
        self.assertIn("\nexiting\n", tail)
        self.assertEqual(json.loads(r["Payload"].read())["errorType"], "Runtime.ExitError")

    def test_event_is_delivered(self):
        lemu = self.lemu(config(recorder(), memory_mb=1769))
        payload = '{"client":"boto3","nonce":"%s"}' % uuid.uuid4()
        r = self.client(lemu).invoke(FunctionName="function", InvocationType="Event",
                                     Payload=payload.encode())
        self.assertEqual(r["StatusCode"], 202)
        self.assertEqual(r["Payload"].read(), b"")
        rid = r["ResponseMetadata"]["RequestId"]
        self.assertRegex(rid, r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        wait_delivered(lemu, payload, rid)

    def test_throttled_by_reserved_concurrency(self):
        lemu = self.lemu(config(harness.fixture("c-bad"), reserved_concurrency=1, timeout_s=10))
        client = self.client(lemu)
        first = {}

        def slow():
            try:
                first["r"] = client.invoke(FunctionName="function",
                                           Payload=b'{"mode":"sleep","sleep_s":3}')
                first["payload"] = json.loads(first["r"]["Payload"].read())
            except Exception as e:  # reported by the main thread
                first["error"] = e

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        self.addCleanup(t.join, 30)

        def busy():
            status, body = lemu.control("GET", "/functions/function/environments")
            return status == 200 and [e["state"] for e in body["environments"]] == ["busy"]
        harness.wait_for(busy, 10, what="the sleeping invocation to be in flight")

        r = self.assert_client_error(
            lambda: client.invoke(FunctionName="function", Payload=b'{"second":true}'),
            "TooManyRequestsException", 429, "Rate Exceeded.")
        self.assertEqual(r["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded")
        self.assertEqual(r["Type"], "User")
        t.join(30)
        self.assertFalse(t.is_alive(), "the first invocation did not end")
        self.assertNotIn("error", first)
        self.assertEqual(first["r"]["StatusCode"], 200)
        self.assertNotIn("FunctionError", first["r"])
        self.assertEqual(first["payload"]["event"], {"mode": "sleep", "sleep_s": 3})
        c = counters(lemu)
        self.assertEqual((c["throttles"], c["invocations"]), (1, 1), c)

    def test_payload_too_large(self):
        cfg = config(harness.fixture("c-echo"), **{"async": {"max_payload_bytes": 1024}})
        lemu = self.lemu(cfg)
        client = self.client(lemu)
        big = b'"' + b"a" * (6291456 - 1) + b'"'  # 6 MB + 1 byte
        self.assert_client_error(
            lambda: client.invoke(FunctionName="function", Payload=big),
            "RequestEntityTooLargeException", 413,
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation")

        def event(n):
            body = b'{"p":"' + b"x" * (n - 8) + b'"}'
            assert len(body) == n
            return body
        self.assert_client_error(
            lambda: client.invoke(FunctionName="function", InvocationType="Event",
                                  Payload=event(1025)),
            "RequestEntityTooLargeException", 413,
            "1025 byte payload is too large for the Event invocation type (limit 1024 bytes)")
        # At the limit an event is accepted, and the async limit does not apply to sync calls.
        r = client.invoke(FunctionName="function", InvocationType="Event", Payload=event(1024))
        self.assertEqual(r["StatusCode"], 202)
        r = client.invoke(FunctionName="function", Payload=event(4096))
        self.assertEqual(r["StatusCode"], 200)
        self.assertEqual(len(json.loads(r["Payload"].read())["event"]["p"]), 4096 - 8)

    def test_qualifiers_arns_and_aliases(self):
        lemu = self.lemu(config(harness.fixture("c-echo"), aliases={"live": "$LATEST"}))
        client = self.client(lemu)
        calls = [
            ({"FunctionName": ARN_PREFIX + "function"}, ARN_PREFIX + "function"),
            ({"FunctionName": "function:$LATEST"}, ARN_PREFIX + "function:$LATEST"),
            ({"FunctionName": "function", "Qualifier": "$LATEST"},
             ARN_PREFIX + "function:$LATEST"),
            ({"FunctionName": "function:live"}, ARN_PREFIX + "function:live"),
            ({"FunctionName": "function", "Qualifier": "live"}, ARN_PREFIX + "function:live"),
            ({"FunctionName": ARN_PREFIX + "function:live"}, ARN_PREFIX + "function:live"),
        ]
        for i, (kw, arn) in enumerate(calls):
            with self.subTest(**kw):
                event = {"i": i, "client_context": True}
                r = client.invoke(Payload=json.dumps(event).encode(), **kw)
                self.assertEqual(r["StatusCode"], 200)
                self.assertEqual(r["ExecutedVersion"], "$LATEST")
                self.assertNotIn("FunctionError", r)
                body = json.loads(r["Payload"].read())
                self.assertEqual(body["event"], event)
                self.assertEqual(body["count"], i + 1)
                self.assertEqual(body["arn"], arn)
        missing = "Function not found: " + ARN_PREFIX + "function:nope"
        self.assert_client_error(
            lambda: client.invoke(FunctionName="function:nope", Payload=b"{}"),
            "ResourceNotFoundException", 404, missing)
        self.assert_client_error(
            lambda: client.invoke(FunctionName="function", Qualifier="nope", Payload=b"{}"),
            "ResourceNotFoundException", 404, missing)
        self.assertEqual(counters(lemu)["invocations"], len(calls))


# ---------------------------------------------------------------------------------------
# AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, tests/integration/js)
# ---------------------------------------------------------------------------------------

class JsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            p = subprocess.run([os.path.join(JS_DIR, "setup.sh")], capture_output=True,
                               timeout=600)
        except FileNotFoundError:
            raise unittest.SkipTest("js/setup.sh needs /bin/sh")
        if p.returncode == 77:
            raise unittest.SkipTest("node or npm is missing: " + p.stderr.decode().strip())
        if p.returncode != 0:
            raise AssertionError("js/setup.sh failed (%d):\n%s%s"
                                 % (p.returncode, p.stdout.decode(), p.stderr.decode()))

    def js(self, lemu, function, payload=None, *args):
        cmd = ["node", os.path.join(JS_DIR, "invoke.mjs"), lemu.url, function]
        if payload is not None:
            cmd.append(payload)
        p = subprocess.run(cmd + list(args), capture_output=True, env=CLIENT_ENV, timeout=60,
                           cwd=JS_DIR)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stderr, b"")
        return json.loads(p.stdout)

    def test_invoke(self):
        lemu = start_lemu(self, config=config(harness.fixture("c-bad")))
        payload = '{"client":"js","n":[1,2.5]}'
        r = self.js(lemu, "function", payload)
        self.assertTrue(r["ok"], r)
        self.assertEqual((r["StatusCode"], r["FunctionError"], r["ExecutedVersion"]),
                         (200, None, "$LATEST"), r)
        body = json.loads(r["Payload"])
        self.assertEqual(body["event"], json.loads(payload))
        self.assertEqual(body["count"], 1)
        self.assertEqual(body["request_id"], r["RequestId"])

        r = self.js(lemu, "function", '{"mode":"error"}', "--log-type", "Tail")
        self.assertTrue(r["ok"], r)
        self.assertEqual((r["StatusCode"], r["FunctionError"]), (200, "Unhandled"), r)
        self.assertEqual(json.loads(r["Payload"]),
                         {"errorMessage": "boom", "errorType": "MyError",
                          "stackTrace": ["a", "b"]})
        tail = base64.b64decode(r["LogResult"]).decode()
        self.assertEqual(platform_lines(tail, r["RequestId"]),
                         ["START", "END", "REPORT"], tail)

        r = self.js(lemu, "nope", "{}")
        self.assertEqual(r, {"ok": False, "name": "ResourceNotFoundException",
                             "message": "Function not found: " + ARN_PREFIX + "nope",
                             "httpStatusCode": 404, "Reason": None,
                             "RequestId": r["RequestId"]})
        self.assertEqual(counters(lemu)["invocations"], 2)

    def test_event(self):
        lemu = start_lemu(self, config=config(recorder(), memory_mb=1769))
        payload = '{"client":"js","nonce":"%s"}' % uuid.uuid4()
        r = self.js(lemu, "function", payload, "--type", "Event")
        self.assertTrue(r["ok"], r)
        self.assertEqual((r["StatusCode"], r["Payload"]), (202, None))
        wait_delivered(lemu, payload, r["RequestId"])


# ---------------------------------------------------------------------------------------
# Every echo fixture, cold then warm
# ---------------------------------------------------------------------------------------

class EchoFixturesTest(unittest.TestCase):
    # Raw UTF-8, no spaces: JSON.stringify in node-ric gives back the same text.
    EVENTS = [b'{"k":"v","n":[1,2.5,null,true,false],"o":{"s":"caf\xc3\xa9 \xe2\x98\x83"}}',
              b'["second",{"x":-1}]']

    def cold_then_warm(self, bootstrap, runtime, exact=True, **keys):
        lemu = start_lemu(self, config=config(bootstrap, **keys), start_timeout=15)
        seen = []
        for i, event in enumerate(self.EVENTS):
            status, h, body = lemu.invoke(payload=event)
            self.assertEqual(status, 200, body)
            self.assertNotIn("x-amz-function-error", h, body)
            if exact:
                self.assertTrue(body.startswith(b'{"event":' + event + b',"count":'),
                                body)
            b = json.loads(body)
            self.assertEqual(b["event"], json.loads(event))
            self.assertEqual(b["count"], i + 1)
            self.assertEqual(b["runtime"], runtime)
            self.assertEqual(b["request_id"], h["x-amzn-requestid"])
            self.assertEqual(h["x-lemu-cold-start"], "true" if i == 0 else "false")
            seen.append((h["x-lemu-environment-id"], b["pid"]))
        self.assertEqual(seen[0], seen[1])
        self.assertEqual(seen[0][0], "function-1")
        c = counters(lemu)
        self.assertEqual((c["invocations"], c["cold_starts"], c["errors"]), (2, 1, 0))

    def test_c(self):
        self.cold_then_warm(harness.fixture("c-echo"), "c")

    def test_sh(self):
        if not shutil.which("curl"):
            self.skipTest("sh-echo needs curl")
        self.cold_then_warm(harness.fixture("sh-echo"), "sh")

    def test_go(self):
        self.cold_then_warm(harness.fixture("go-echo"), "go")

    def test_python(self):
        self.cold_then_warm(harness.fixture("python-echo"), "python", memory_mb=1769)

    def test_node_ric(self):
        setup = os.path.join(SRC_FIXTURES, "node-ric", "setup.sh")
        p = subprocess.run([setup], capture_output=True, timeout=900)
        if p.returncode == 77:
            self.skipTest("node-ric needs node and npm: " + p.stderr.decode().strip())
        self.assertEqual(p.returncode, 0, "node-ric/setup.sh failed:\n%s%s"
                         % (p.stdout.decode(), p.stderr.decode()))
        self.cold_then_warm(harness.fixture("node-ric"), "node", exact=False,
                            memory_mb=1769, handler="index.handler")


# ---------------------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------------------

class ConcurrencyTest(unittest.TestCase):
    def test_four_at_once_get_four_cold_environments(self):
        n = 4
        lemu = start_lemu(self, config=config(harness.fixture("c-bad"), timeout_s=10))
        barrier = threading.Barrier(n)
        results = [None] * n

        def call(i):
            try:
                barrier.wait(10)
                # Each holds its environment long enough for the others to arrive.
                event = json.dumps({"mode": "sleep", "sleep_s": 1.5, "i": i})
                results[i] = lemu.invoke(payload=event, timeout=30)
            except Exception as e:
                results[i] = e

        threads = [threading.Thread(target=call, args=(i,), daemon=True)
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
            self.assertFalse(t.is_alive(), "an invocation did not end")
        envs = set()
        for i, r in enumerate(results):
            self.assertIsInstance(r, tuple, r)
            status, h, body = r
            self.assertEqual(status, 200, body)
            b = json.loads(body)
            self.assertEqual((b["event"]["i"], b["count"]), (i, 1))
            self.assertEqual(h["x-lemu-cold-start"], "true")
            envs.add(h["x-lemu-environment-id"])
        self.assertEqual(envs, {"function-%d" % k for k in range(1, n + 1)})
        # The four are live environments of their own (not one reset four times).
        status, body = lemu.control("GET", "/functions/function/environments")
        self.assertEqual(sorted(e["id"] for e in body["environments"]), sorted(envs))
        c = counters(lemu)
        self.assertEqual((c["invocations"], c["cold_starts"], c["throttles"]),
                         (n, n, 0))


if __name__ == "__main__":
    harness.main()
