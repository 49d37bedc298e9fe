# SPDX-License-Identifier: Apache-2.0
"""Response streaming (spec §2) through real clients.

The function is fixtures/node-ric/stream.js, run by the real aws-lambda-ric, which streams
with `Lambda-Runtime-Function-Response-Mode: streaming`, a chunked body and error trailers.
The caller is @aws-sdk/client-lambda's InvokeWithResponseStreamCommand
(tests/integration/js/stream.mjs), which decodes the event stream and checks its CRCs;
plain Invoke goes through boto3. The slow-caller case uses a raw socket so that the test
decides when bytes are read.
"""
import importlib.util
import json
import os
import re
import socket
import struct
import subprocess
import time
import unittest
import zlib

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")
SRC_FIXTURES = harness.FIXTURES_SRC or os.path.join(HERE, "..", "..", "fixtures")
CLIENT_ENV = dict(os.environ)
CLIENT_ENV.update({
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/lemu-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/lemu-test-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
})
for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
    CLIENT_ENV.pop(k, None)

CAP = 100000
BURST = 65536
RATE = 262144
MB = 1024 * 1024


def setup(script):
    p = subprocess.run([script], capture_output=True, timeout=900)
    if p.returncode == 77:
        raise unittest.SkipTest("%s: node or npm is missing" % script)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (script, p.returncode,
                                                       p.stdout.decode(), p.stderr.decode()))


def stream_fn(timeout_s=20, **streaming):
    fn = {"bootstrap": harness.fixture("node-ric"), "handler": "stream.handler",
          "memory_mb": 1769, "timeout_s": timeout_s}
    if streaming:
        fn["streaming"] = streaming
    return fn


class StreamingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        setup(os.path.join(JS_DIR, "setup.sh"))
        setup(os.path.join(SRC_FIXTURES, "node-ric", "setup.sh"))
        cfg = {"functions": {
            "s": stream_fn(),
            "capped": stream_fn(max_bytes=CAP),
            "paced": stream_fn(burst_bytes=BURST, rate_bytes_per_s=RATE),
            # 128 MB through node, lemu and a Python reader: slow on a loaded machine.
            "fast": stream_fn(timeout_s=150, rate_bytes_per_s=1 << 30, burst_bytes=200 * MB),
            "echo": {"bootstrap": harness.fixture("c-bad"), "memory_mb": 1769},
        }}
        cls.lemu = harness.Lemu(config=cfg)
        cls.lemu.start()

    @classmethod
    def tearDownClass(cls):
        cls.lemu.stop()
        cls.lemu.cleanup()

    def js(self, function, payload=None, *args):
        cmd = ["node", os.path.join(JS_DIR, "stream.mjs"), self.lemu.url, function]
        if payload is not None:
            cmd.append(payload if isinstance(payload, str) else json.dumps(payload))
        p = subprocess.run(cmd + list(args), capture_output=True, env=CLIENT_ENV, timeout=90,
                           cwd=JS_DIR)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stderr, b"")
        return json.loads(p.stdout)

    def record(self, rid):
        status, rec = self.lemu.control("GET", "/invocations/" + rid)
        self.assertEqual(status, 200, rec)
        return rec

    def report(self, rid):
        prefix = "REPORT RequestId: " + rid
        line = harness.wait_for(
            lambda: next((l for l in self.lemu.logs().splitlines() if prefix in l), None),
            15, what="REPORT of " + rid)
        return line

    def chunks(self, r):
        return [e for e in r["events"] if e["type"] == "PayloadChunk"]

    def complete(self, r):
        ends = [e for e in r["events"] if e["type"] == "InvokeComplete"]
        self.assertEqual(len(ends), 1, r)
        self.assertEqual(r["events"][-1]["type"], "InvokeComplete", r)
        return ends[0]

    def test_first_chunk_reaches_the_caller_while_the_function_runs(self):
        # The fixture waits for "go" after its first chunk; stream.mjs sends it only once it
        # holds that chunk. Buffering the response would leave both waiting until the
        # function's timeout.
        r = self.js("s", None, "--handshake")
        self.assertTrue(r["ok"], r)
        rid = r["RequestId"]
        self.assertEqual(r["handshake"], {"go_after_chunks": 1}, r)
        text = "".join(c["text"] for c in self.chunks(r))
        self.assertEqual(text, "first:%s;second;" % rid)
        self.assertEqual(self.complete(r),
                         dict(self.complete(r), ErrorCode=None, ErrorDetails=None, LogResult=None))
        self.assertEqual((r["StatusCode"], r["ExecutedVersion"], r["ResponseStreamContentType"]),
                         (200, "$LATEST", "application/vnd.amazon.eventstream"))
        h = r["headers"]
        self.assertRegex(h["x-lemu-environment-id"], r"^s-\d+$")
        self.assertIn(h["x-lemu-cold-start"], ("true", "false"))
        if h["x-lemu-cold-start"] == "true":
            self.assertRegex(h["x-lemu-init-duration-ms"], r"^\d+\.\d\d$")
        rec = self.record(rid)
        self.assertEqual((rec["status"], rec["function"], rec["environment"]),
                         ("success", "s", h["x-lemu-environment-id"]))
        self.assertGreater(rec["duration_ms"], 0)
        self.assertNotIn("Status:", self.report(rid))

    def test_error_mid_stream_arrives_in_invoke_complete(self):
        r = self.js("s", {"mode": "fail"}, "--log-type", "Tail")
        self.assertTrue(r["ok"], r)
        self.assertEqual([c["text"] for c in self.chunks(r)], ["partial;"])
        done = self.complete(r)
        # The Node RIC sends the error class as the type trailer, the error JSON base64'd.
        self.assertEqual(done["ErrorCode"], "Error", r)
        details = json.loads(done["ErrorDetails"])
        self.assertEqual((details["errorType"], details["errorMessage"]),
                         ("Error", "mid-stream failure"))
        log = __import__("base64").b64decode(done["LogResult"]).decode()
        self.assertIn("START RequestId: " + r["RequestId"], log)
        self.assertIn("REPORT RequestId: " + r["RequestId"], log)
        rec = self.record(r["RequestId"])
        # Records and REPORT carry the type sanitised as RAPID does ("Error" is not
        # Runtime.* or Function.*).
        self.assertEqual((rec["status"], rec["error_type"]), ("error", "Runtime.Unknown"))
        # A function error: REPORT has no Status (only platform failures do).
        self.assertNotIn("Status:", self.report(r["RequestId"]))

    def test_cap_ends_the_stream_with_lambdas_error(self):
        r = self.js("capped", {"mode": "size", "size": 3 * CAP, "piece": 30000})
        self.assertTrue(r["ok"], r)
        self.assertEqual(sum(c["bytes"] for c in self.chunks(r)), CAP)
        done = self.complete(r)
        self.assertEqual(done["ErrorCode"], "Function.ResponseSizeTooLarge", r)
        self.assertEqual(json.loads(done["ErrorDetails"]), {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
                            "(%d bytes)." % CAP})
        rec = self.record(r["RequestId"])
        self.assertEqual((rec["status"], rec["error_type"]),
                         ("error", "Function.ResponseSizeTooLarge"))
        # The runtime got its 413 and asked for the next event: the environment serves on.
        env = r["headers"]["x-lemu-environment-id"]
        r = self.js("capped", {"mode": "chunks", "chunks": ["ok"]})
        self.assertEqual("".join(c["text"] for c in self.chunks(r)), "ok")
        self.assertEqual((r["headers"]["x-lemu-environment-id"],
                          r["headers"]["x-lemu-cold-start"]), (env, "false"))
        self.assertIsNone(self.complete(r)["ErrorCode"])

    def test_bandwidth_rule_after_the_burst(self):
        after = 8 * 65536
        r = self.js("paced", {"mode": "size", "size": BURST + after, "piece": 65536})
        self.assertTrue(r["ok"], r)
        chunks = self.chunks(r)
        self.assertEqual(sum(c["bytes"] for c in chunks), BURST + after)
        self.assertIsNone(self.complete(r)["ErrorCode"])
        # The bytes past the burst take at least (after - one read) / rate seconds: lemu
        # forwards what it has read, then waits before reading more.
        spent = (self.complete(r)["ms"] - chunks[0]["ms"]) / 1000
        floor = (after - 65536) / RATE
        self.assertGreaterEqual(spent, floor * 0.95, r)
        self.assertLess(spent, 30)

    def test_buffered_function_through_the_stream_api(self):
        r = self.js("echo", {"mode": "echo", "n": 1})
        self.assertTrue(r["ok"], r)
        body = json.loads("".join(c["text"] for c in self.chunks(r)))
        self.assertEqual((body["event"], body["request_id"]), ({"mode": "echo", "n": 1},
                                                               r["RequestId"]))
        self.assertIsNone(self.complete(r)["ErrorCode"])
        r = self.js("echo", {"mode": "error"})
        self.assertEqual(self.chunks(r), [])
        done = self.complete(r)
        self.assertEqual(done["ErrorCode"], "MyError")
        self.assertEqual(json.loads(done["ErrorDetails"])["errorMessage"], "boom")

    def test_service_errors_before_the_stream(self):
        r = self.js("nope", {})
        self.assertEqual((r["ok"], r["name"], r["httpStatusCode"]),
                         (False, "ResourceNotFoundException", 404), r)
        status, headers, body = self.lemu.request(
            "POST", "/2021-11-15/functions/s/response-streaming-invocations", b"{}",
            {"X-Amz-Invocation-Type": "Event"})
        self.assertEqual((status, headers["x-amzn-errortype"]),
                         (400, "InvalidParameterValueException"), body)

    def test_plain_invoke_of_a_streaming_function_gets_the_whole_body(self):
        if importlib.util.find_spec("boto3") is None:
            self.skipTest("boto3 is not installed for this interpreter")
        import boto3
        from botocore.config import Config
        client = boto3.session.Session().client(
            "lambda", endpoint_url=self.lemu.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60))
        r = client.invoke(FunctionName="s",
                          Payload=json.dumps({"mode": "chunks", "chunks": ["ab", "c", "de"]}))
        self.assertEqual((r["StatusCode"], r.get("FunctionError")), (200, None))
        self.assertEqual(r["Payload"].read(), b"abcde")
        r = client.invoke(FunctionName="s", Payload=json.dumps({"mode": "fail"}))
        self.assertEqual(r.get("FunctionError"), "Unhandled")
        self.assertEqual(json.loads(r["Payload"].read())["errorMessage"], "mid-stream failure")
        # Collected, a stream has the buffered cap (spec §2.1).
        r = client.invoke(FunctionName="s", Payload=json.dumps(
            {"mode": "size", "size": 6291556 + 1, "piece": 1 << 20}))
        self.assertEqual(r.get("FunctionError"), "Unhandled")
        self.assertEqual(json.loads(r["Payload"].read()), {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
                            "(6291556 bytes)."})
        r = client.invoke(FunctionName="s", Payload=json.dumps(
            {"mode": "size", "size": 6291556, "piece": 1 << 20}))
        self.assertEqual((r.get("FunctionError"), len(r["Payload"].read())), (None, 6291556))

    def test_slow_caller_pauses_the_runtime(self):
        total, piece, held = 128 * MB, MB, 64 * MB
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(60)
        sock.connect((self.lemu.host, self.lemu.port))
        body = json.dumps({"mode": "size", "size": total, "piece": piece, "log": True})
        sock.sendall(("POST /2021-11-15/functions/fast/response-streaming-invocations "
                      "HTTP/1.1\r\nHost: lemu\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body)).encode())
        data = bytearray()
        while len(data) < MB:
            b = sock.recv(65536)
            self.assertTrue(b, "lemu closed the stream")
            data += b
        # The caller reads no more: the function must stall well short of the end (kernel
        # buffers on both sides, lemu's high mark and one read are all that may pile up).
        # This waits out a deadline for something that must not happen.
        wrote = re.compile(r"\twrote (\d+)$", re.M)

        def written():
            return max([int(n) for n in wrote.findall(self.lemu.logs())] or [0])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertLess(written(), held, "lemu kept reading the runtime for a stalled "
                                             "caller")
            time.sleep(0.05)
        self.assertGreater(written(), 0)
        # Now read it all: every byte arrives, framed, and the stream ends well.
        while not data.endswith(b"0\r\n\r\n"):
            b = sock.recv(1 << 20)
            self.assertTrue(b, "lemu closed the stream early")
            data += b
        sock.close()
        head, _, chunked = bytes(data).partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        stream = bytearray()
        pos = 0
        while True:
            eol = chunked.index(b"\r\n", pos)
            n = int(chunked[pos:eol], 16)
            if n == 0:
                break
            stream += chunked[eol + 2:eol + 2 + n]
            pos = eol + 2 + n + 2
        got, types = 0, []
        off = 0
        while off < len(stream):
            tlen, hlen, pcrc = struct.unpack(">III", stream[off:off + 12])
            self.assertEqual(pcrc, zlib.crc32(stream[off:off + 8]))
            self.assertEqual(struct.unpack(">I", stream[off + tlen - 4:off + tlen])[0],
                             zlib.crc32(stream[off:off + tlen - 4]))
            etype = bytes(stream[off + 12 + 1 + 11 + 3:off + 12 + 1 + 11 + 3 +
                                 stream[off + 12 + 1 + 11 + 2]])
            types.append(etype)
            if etype == b"PayloadChunk":
                got += tlen - hlen - 16
            off += tlen
        self.assertEqual(got, total, bytes(stream[off - 300:off]))
        self.assertEqual(types[-1], b"InvokeComplete")
        self.assertEqual(types.count(b"InvokeComplete"), 1)


if __name__ == "__main__":
    harness.main()
