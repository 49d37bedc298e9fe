# SPDX-License-Identifier: Apache-2.0
"""The Invoke API and the control API over raw HTTP (DESIGN "Invoke API", "Control API";
spec §3): function references, routes, payload validation, invocation types, payload
limits, malformed HTTP, lemu's connection limits, the headers of a synchronous answer and
the control endpoints. Every bad input is followed by a normal invocation, to show that the
daemon is alive and still serving.
"""
import base64
import contextlib
import http.client
import json
import socket
import time

import harness
from rawhttp import read_response, recv_some, request, wait_eof

ACCOUNT = "000000000000"
REGION = "us-east-1"
INVOKE = "/2015-03-31/functions/%s/invocations"
SYNC_MAX = 6291456


def fn_arn(name, region=REGION, account=ACCOUNT):
    return "arn:aws:lambda:%s:%s:function:%s" % (region, account, name)


class InvokeApiBase(harness.SharedLemuTestCase):
    @classmethod
    def config(cls):
        echo = harness.fixture("c-echo")
        bad = harness.fixture("c-bad")
        sandbox = {"cpu": "off"}
        return {
            "limits": {"header_timeout_s": 0.3},
            "functions": {
                "function": {"bootstrap": echo, "aliases": {"live": "$LATEST"},
                             "async": {"max_payload_bytes": 1000}, "sandbox": sandbox},
                "counted": {"bootstrap": echo, "sandbox": sandbox},
                "headers": {"bootstrap": echo, "sandbox": sandbox},
                "bad": {"bootstrap": bad, "timeout_s": 0.5, "sandbox": sandbox},
                # 6 MB payloads take a while on a loaded machine.
                "big": {"bootstrap": bad, "timeout_s": 30, "sandbox": sandbox},
            },
        }

    # helpers

    def setUp(self):
        # harness.TapResult prints no line for a failed subTest, so cases are collected here
        # and reported as one failure of the test.
        self._case_failures = []
        self.addCleanup(self._report_cases)

    @contextlib.contextmanager
    def case(self, **what):
        try:
            yield
        except AssertionError as e:
            self._case_failures.append("%r: %s" % (what, e))

    def _report_cases(self):
        if self._case_failures:
            self.fail("%d case(s) failed:\n" % len(self._case_failures) +
                      "\n".join(self._case_failures))

    def sock(self, timeout=10):
        s = socket.create_connection((self.lemu.host, self.lemu.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    def assert_alive(self):
        """The daemon still runs and a normal invocation succeeds."""
        self.assertIsNone(self.lemu.proc.poll(), "lemu exited\n" + self.lemu.logs())
        status, headers, body = self.lemu.invoke(payload=b'{"alive":true}')
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["event"], {"alive": True})

    def assert_service_error(self, resp, status, error_type, message=None, prefix=None):
        st, headers, body = resp
        self.assertEqual(st, status, body)
        self.assertEqual(headers.get("x-amzn-errortype"), error_type)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertTrue(headers.get("x-amzn-requestid"))
        j = json.loads(body)
        self.assertEqual(j["Type"], "User" if status < 500 else "Service")
        if message is not None:
            self.assertEqual(j, {"Type": j["Type"], "Message": message})
        if prefix is not None:
            self.assertTrue(j["Message"].startswith(prefix), j["Message"])
        return j


class FunctionRefTest(InvokeApiBase):
    def test_unknown_function(self):
        self.assert_service_error(self.lemu.invoke("nope"), 404, "ResourceNotFoundException",
                                  "Function not found: " + fn_arn("nope"))
        self.assert_alive()

    def test_by_arn_and_partial_arn(self):
        for ref in (fn_arn("function"), ACCOUNT + ":function:function", "function:$LATEST",
                    fn_arn("function") + ":$LATEST", ACCOUNT + ":function:function:live",
                    "function:live"):
            with self.case(ref=ref):
                status, headers, body = self.lemu.invoke(ref, b'{"ref":1}')
                self.assertEqual(status, 200, body)
                self.assertEqual(headers["x-amz-executed-version"], "$LATEST")
                self.assertEqual(json.loads(body)["event"], {"ref": 1})

    def test_url_encoded_arn(self):
        ref = fn_arn("function").replace(":", "%3A")
        status, _, body = self.lemu.invoke(ref, b"{}")
        self.assertEqual(status, 200, body)

    def test_arn_of_other_region_or_account(self):
        for ref, arn in ((fn_arn("function", region="eu-west-1"),
                          fn_arn("function", region="eu-west-1")),
                         (fn_arn("function", account="111111111111"),
                          fn_arn("function", account="111111111111")),
                         ("111111111111:function:function", fn_arn("function",
                                                                  account="111111111111"))):
            with self.case(ref=ref):
                self.assert_service_error(self.lemu.invoke(ref), 404,
                                          "ResourceNotFoundException",
                                          "Function not found: " + arn)
        self.assert_alive()

    def test_unknown_alias(self):
        self.assert_service_error(self.lemu.invoke("function:nosuchalias"), 404,
                                  "ResourceNotFoundException",
                                  "Function not found: " + fn_arn("function") + ":nosuchalias")
        self.assert_service_error(self.lemu.invoke("function", qualifier="nosuchalias"), 404,
                                  "ResourceNotFoundException",
                                  "Function not found: " + fn_arn("function") + ":nosuchalias")
        self.assert_alive()

    def test_qualifier_param(self):
        for ref, q in (("function", "live"), ("function", "$LATEST"), ("function:live", "live")):
            with self.case(ref=ref, q=q):
                status, _, body = self.lemu.invoke(ref, b"{}", qualifier=q)
                self.assertEqual(status, 200, body)

    def test_qualifier_conflict(self):
        self.assert_service_error(self.lemu.invoke("function:live", qualifier="$LATEST"), 400,
                                  "InvalidParameterValueException")
        self.assert_service_error(self.lemu.invoke(fn_arn("function") + ":$LATEST",
                                                   qualifier="live"),
                                  400, "InvalidParameterValueException")
        self.assert_alive()

    def test_bad_name(self):
        for ref in ("func%21tion", "func%20tion", "a" * 65, "function:bad%2Fqual",
                    "function:a:b", "arn:aws:s3:us-east-1:000000000000:function:function",
                    "%ZZ"):
            with self.case(ref=ref):
                self.assert_service_error(self.lemu.invoke(ref), 400,
                                          "InvalidParameterValueException")
        self.assert_alive()


class RouteTest(InvokeApiBase):
    def test_unknown_routes(self):
        for method, path in (("GET", "/foo"), ("POST", "/foo"),
                             ("POST", "/2015-03-31/functions/function/nope"),
                             ("POST", "/2015-03-31/functions/function"),
                             ("GET", INVOKE % "function"), ("PUT", INVOKE % "function"),
                             ("DELETE", INVOKE % "function")):
            with self.case(method=method, path=path):
                self.assert_service_error(self.lemu.request(method, path, b"{}"), 404,
                                          "UnknownOperationException")
        self.assert_alive()


class PayloadTest(InvokeApiBase):
    def test_invalid_payloads(self):
        cases = {
            "invalid json": b'{"a":',
            "not json": b"hello",
            "invalid utf-8": b'{"a":"\xff\xfe"}',
            "overlong utf-8": b'"\xc0\xaf"',
            "trailing garbage": b'{"a":1} x',
            "two values": b'{}{}',
            "deep nesting": b"[" * 10000 + b"]" * 10000,
            "deep objects": b'{"a":' * 10000 + b"1" + b"}" * 10000,
        }
        for what, payload in cases.items():
            with self.case(what=what):
                self.assert_service_error(self.lemu.invoke(payload=payload), 400,
                                          "InvalidRequestContentException",
                                          prefix="Could not parse request body into json")
        self.assert_alive()

    def test_valid_payload_forms(self):
        for payload in (b'  {"a": [1, 2.5e3, "\xc3\xa9"]}  \n', b'"str"', b"123", b"null",
                        b"[]", b"12345678901234567890123"):
            with self.case(payload=payload):
                status, _, body = self.lemu.invoke(payload=payload)
                self.assertEqual(status, 200, body)
                # The event reaches the function byte for byte.
                self.assertIn(b'"event":' + payload, body)

    def test_empty_body_is_empty_object(self):
        status, _, body = self.lemu.invoke(payload=b"")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["event"], {})

    def test_client_context(self):
        self.assert_service_error(
            self.lemu.invoke(payload=b"{}", headers={"X-Amz-Client-Context": "!!!notbase64"}),
            400, "InvalidRequestContentException")
        self.assert_alive()
        ctx = {"custom": {"k": "v"}, "env": {"locale": "en"}}
        b64 = base64.b64encode(json.dumps(ctx).encode()).decode()
        status, _, body = self.lemu.invoke(payload=b'{"client_context":true}',
                                           headers={"X-Amz-Client-Context": b64})
        self.assertEqual(status, 200, body)
        got = json.loads(body)
        self.assertEqual(json.loads(got["client_context"]), ctx)
        # Without the header the runtime sees none.
        status, _, body = self.lemu.invoke(payload=b'{"client_context":true}')
        self.assertEqual(status, 200, body)
        self.assertIsNone(json.loads(body)["client_context"])


class InvocationTypeTest(InvokeApiBase):
    def test_dry_run(self):
        status, headers, body = self.lemu.invoke(payload=b'{"a":1}',
                                                 headers={"X-Amz-Invocation-Type": "DryRun"})
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        # A DryRun still validates the payload.
        self.assert_service_error(
            self.lemu.invoke(payload=b"{", headers={"X-Amz-Invocation-Type": "DryRun"}), 400,
            "InvalidRequestContentException")

    def test_event(self):
        status, headers, body = self.lemu.invoke(payload=b'{"a":1}',
                                                 headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        self.assertEqual(body, b"")
        self.assertRegex(headers["x-amzn-requestid"], r"^[0-9a-f-]{36}$")

    def test_bogus_type(self):
        self.assert_service_error(
            self.lemu.invoke(payload=b"{}", headers={"X-Amz-Invocation-Type": "Sometimes"}), 400,
            "InvalidParameterValueException")
        self.assert_alive()

    def test_request_response_explicit(self):
        status, _, body = self.lemu.invoke(
            payload=b"{}", headers={"X-Amz-Invocation-Type": "RequestResponse"})
        self.assertEqual(status, 200, body)


class PayloadLimitTest(InvokeApiBase):
    def test_sync_too_large(self):
        body = b"x" * (SYNC_MAX + 1)
        c = self.lemu.conn(timeout=60)
        self.addCleanup(c.close)
        # http.client sends the whole body before it reads: a broken pipe would raise here.
        c.request("POST", INVOKE % "function", body=body)
        r = c.getresponse()
        resp = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        self.assert_service_error(
            resp, 413, "RequestEntityTooLargeException",
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
        self.assert_alive()

    def test_sync_exactly_max(self):
        payload = b'"' + b"a" * (SYNC_MAX - 2) + b'"'
        self.assertEqual(len(payload), SYNC_MAX)
        status, headers, body = self.lemu.invoke("big", payload, timeout=60)
        self.assertEqual(status, 200, body[:300])
        if "x-amz-function-error" in headers:
            # The echo (event + ~95 bytes) may pass the 6 MB response limit.
            self.assertEqual(json.loads(body)["errorType"], "Function.ResponseSizeTooLarge")
        else:
            self.assertEqual(len(json.loads(body)["event"]), SYNC_MAX - 2)
        # An object of exactly 6 MB reaches the function (its answer is small).
        pad = SYNC_MAX - len(b'{"mode":"error","pad":""}')
        payload = b'{"mode":"error","pad":"' + b"p" * pad + b'"}'
        self.assertEqual(len(payload), SYNC_MAX)
        status, headers, body = self.lemu.invoke("big", payload, timeout=60)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(json.loads(body)["errorType"], "MyError")

    def test_expect_continue(self):
        s = self.sock()
        body = b'{"expect":"continue"}'
        s.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: lemu\r\n"
                  b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n")
        status, headers, _, rest = read_response(s)
        self.assertEqual(status, 100)
        s.sendall(body)
        status, headers, data, rest = read_response(s, rest)
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["event"], {"expect": "continue"})

    def test_expect_continue_raw_line(self):
        s = self.sock()
        s.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: lemu\r\n"
                  b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        deadline = time.monotonic() + 10
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = recv_some(s, deadline)
            self.assertTrue(chunk, "closed before 100 Continue")
            got += chunk
        self.assertTrue(got.startswith(b"HTTP/1.1 100 Continue\r\n"), got)

    def test_event_too_large(self):
        payload = b'"' + b"a" * 999 + b'"'
        self.assertEqual(len(payload), 1001)
        self.assert_service_error(
            self.lemu.invoke(payload=payload, headers={"X-Amz-Invocation-Type": "Event"}), 413,
            "RequestEntityTooLargeException",
            "1001 byte payload is too large for the Event invocation type (limit 1000 bytes)")
        self.assert_alive()
        # At the limit it is accepted; a sync invocation of the same size too.
        payload = b'"' + b"a" * 998 + b'"'
        status, _, _ = self.lemu.invoke(payload=payload,
                                        headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        status, _, body = self.lemu.invoke(payload=b'"' + b"a" * 5000 + b'"')
        self.assertEqual(status, 200, body[:200])


class MalformedHttpTest(InvokeApiBase):
    def bad_http(self, data, status=400):
        s = self.sock()
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        st, headers, body, _ = read_response(s)
        self.assertEqual(st, status, body)
        self.assertTrue(wait_eof(s), "lemu kept the connection open after a %d" % st)
        return headers, body

    def test_malformed_requests(self):
        # Not here: "Host : x" (space before the colon) and chunk data not followed by CRLF,
        # which Debian's llhttp 8.1 accepts (llhttp 9 refuses both).
        path = (INVOKE % "function").encode()
        cases = {
            "garbage request line": b"GARBAGE\r\n\r\n",
            "binary junk": b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n",
            "bad version": b"POST " + path + b" HTTP/9.9\r\n\r\n",
            "header without colon": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nBad Header\r\n"
                                    b"Content-Length: 2\r\n\r\n{}",
            "negative content-length": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Length: -1\r\n\r\n{}",
            "two content-lengths": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            "content-length and chunked": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Length: 2\r\nTransfer-Encoding: chunked"
                                          b"\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "broken chunk size": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "chunk size overflow": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n"
                                   b"fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
            "chunked not last": b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked, identity\r\n\r\n2\r\n{}"
                                b"\r\n0\r\n\r\n",
        }
        for what, data in cases.items():
            with self.case(what=what):
                self.bad_http(data, 400)
        self.assert_alive()

    def test_valid_chunked_body(self):
        s = self.sock()
        s.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n")
        status, _, body, _ = read_response(s)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["event"], {"a": 1})

    def test_header_bytes_limit(self):
        data = (b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"X-Big: " + b"a" * 100 * 1024 + b"\r\nContent-Length: 2\r\n\r\n{}")
        self.bad_http(data, 431)
        self.assert_alive()
        # Just under the default limit (65536 bytes of headers) is fine.
        status, _, body = self.lemu.invoke(payload=b"{}", headers={"X-Big": "a" * 60000})
        self.assertEqual(status, 200, body)

    def test_header_count_limit(self):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        data = (b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: x\r\n" + many +
                b"Content-Length: 2\r\n\r\n{}")
        self.bad_http(data, 431)
        self.assert_alive()
        status, _, body = self.lemu.invoke(payload=b"{}",
                                           headers={"X-H%d" % i: "v" for i in range(90)})
        self.assertEqual(status, 200, body)

    def test_keep_alive(self):
        c = self.lemu.conn()
        self.addCleanup(c.close)
        socks = []
        for n in (1, 2, 3):
            c.request("POST", INVOKE % "function", body=json.dumps({"n": n}))
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
            self.assertEqual(json.loads(body)["event"], {"n": n})
            self.assertIsNone(r.getheader("Connection"))
            socks.append(c.sock)
        self.assertIs(socks[0], socks[1])
        self.assertIs(socks[1], socks[2])

    def test_pipelined(self):
        s = self.sock()
        path = INVOKE % "function"
        s.sendall(request(path, b'{"n":1}', close=False) + request(path, b'{"n":2}', close=False) +
                  b"GET /_lemu/health HTTP/1.1\r\nHost: x\r\n\r\n" + request(path, b'{"n":3}'))
        rest = b""
        for n in (1, 2, "health", 3):
            status, headers, body, rest = read_response(s, rest)
            self.assertEqual(status, 200, body)
            if n == "health":
                self.assertEqual(json.loads(body), {"status": "ok"})
            else:
                self.assertEqual(json.loads(body)["event"], {"n": n})
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(rest, b"")
        self.assertTrue(wait_eof(s))

    def test_slowloris(self):
        s = self.sock()
        start = time.monotonic()
        s.sendall(b"POST /2015-03-31/func")
        self.assertTrue(wait_eof(s, timeout=5), "a stalled request line was never closed")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.25)
        self.assertLess(elapsed, 3)
        # Stalled inside the headers: the same.
        s = self.sock()
        start = time.monotonic()
        s.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: x\r\nX-")
        self.assertTrue(wait_eof(s, timeout=5), "stalled headers were never closed")
        self.assertLess(time.monotonic() - start, 3)
        self.assert_alive()

    def test_idle_keepalive_connection_not_cut_by_header_timeout(self):
        # header_timeout_s runs from a request's first byte, not while a connection is idle.
        c = self.lemu.conn()
        self.addCleanup(c.close)
        c.request("GET", "/_lemu/health")
        self.assertEqual(c.getresponse().read(), b'{"status":"ok"}')
        sock = c.sock
        time.sleep(0.6)  # longer than header_timeout_s (0.3), on purpose
        c.request("GET", "/_lemu/health")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        self.assertIs(c.sock, sock)


class MaxConnectionsTest(InvokeApiBase):
    @classmethod
    def config(cls):
        cfg = super().config()
        cfg["limits"]["max_connections"] = 5
        return cfg

    def test_max_connections(self):
        held = []
        for _ in range(5):
            s = socket.create_connection((self.lemu.host, self.lemu.port), timeout=10)
            held.append(s)
            # An answer proves lemu accepted (and counts) this connection.
            s.sendall(b"GET /_lemu/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _, _ = read_response(s)
            self.assertEqual(status, 200)
        try:
            s6 = self.sock()
            status, headers, body, _ = read_response(s6)
            self.assertEqual(status, 429, body)
            self.assertEqual(headers["x-amzn-errortype"], "TooManyRequestsException")
            j = json.loads(body)
            self.assertEqual(j["Reason"], "CallerRateLimitExceeded")
            self.assertEqual(j["Type"], "User")
            self.assertTrue(wait_eof(s6))
        finally:
            for s in held:
                s.close()

        def ok():
            try:
                status, _, _ = self.lemu.invoke(payload=b'{"after":1}')
                return status == 200
            except (OSError, http.client.HTTPException):
                return False
        harness.wait_for(ok, timeout=10, what="lemu to accept connections again")
        self.assert_alive()


class ResponseHeadersTest(InvokeApiBase):
    def test_sync_headers(self):
        two_decimals = r"^\d+\.\d\d$"
        for n, cold in ((1, True), (2, False)):
            status, h, body = self.lemu.invoke("headers", b'{"h":1}')
            self.assertEqual(status, 200, body)
            j = json.loads(body)
            self.assertEqual(j["count"], n)
            self.assertEqual(h["x-amzn-requestid"], j["request_id"])
            self.assertEqual(h["x-amz-executed-version"], "$LATEST")
            self.assertEqual(h["content-type"], "application/json")
            self.assertEqual(h["x-lemu-environment-id"], "headers-1")
            self.assertEqual(h["x-lemu-cold-start"], "true" if cold else "false")
            if cold:
                self.assertRegex(h["x-lemu-init-duration-ms"], two_decimals)
            else:
                self.assertNotIn("x-lemu-init-duration-ms", h)
            self.assertRegex(h["x-lemu-duration-ms"], two_decimals)
            self.assertRegex(h["x-lemu-max-memory-used-mb"], r"^[0-9]+$")
            self.assertGreater(int(h["x-lemu-max-memory-used-mb"]), 0)
            self.assertNotIn("x-amz-function-error", h)
            self.assertNotIn("x-amz-log-result", h)
            self.assertEqual(int(h["content-length"]), len(body))

    def test_function_error_headers(self):
        status, h, body = self.lemu.invoke("bad", b'{"mode":"error"}')
        self.assertEqual(status, 200)
        self.assertEqual(h["x-amz-function-error"], "Unhandled")
        self.assertEqual(json.loads(body), {"errorMessage": "boom", "errorType": "MyError",
                                            "stackTrace": ["a", "b"]})
        self.assertIn("x-lemu-environment-id", h)
        self.assertIn("x-lemu-duration-ms", h)

    def test_log_tail(self):
        status, h, body = self.lemu.invoke(payload=b'{"tail":1}',
                                           headers={"X-Amz-Log-Type": "Tail"})
        self.assertEqual(status, 200, body)
        rid = h["x-amzn-requestid"]
        log = base64.b64decode(h["x-amz-log-result"], validate=True)
        self.assertLessEqual(len(log), 4096)
        text = log.decode()
        self.assertIn("REPORT RequestId: " + rid, text)
        self.assertIn("START RequestId: " + rid, text)

    def test_log_tail_is_bounded(self):
        # c-bad's flood mode writes 1 MB of log lines: the tail keeps the last 4 KB.
        status, h, body = self.lemu.invoke("big", b'{"mode":"flood"}',
                                           headers={"X-Amz-Log-Type": "Tail"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"ok": True})
        log = base64.b64decode(h["x-amz-log-result"], validate=True)
        self.assertLessEqual(len(log), 4096)
        self.assertIn(("REPORT RequestId: " + h["x-amzn-requestid"]).encode(), log)

    def test_log_tail_with_event_is_ignored(self):
        status, h, body = self.lemu.invoke(
            payload=b"{}", headers={"X-Amz-Log-Type": "Tail", "X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202)
        self.assertNotIn("x-amz-log-result", h)
        self.assertEqual(body, b"")


class ControlApiTest(InvokeApiBase):
    COUNTERS = {"invocations", "cold_starts", "resets", "throttles", "errors", "timeouts",
                "findings"}

    def function(self, name):
        status, j = self.lemu.control("GET", "/functions/" + name)
        self.assertEqual(status, 200, j)
        return j

    def test_health(self):
        self.assertEqual(self.lemu.control("GET", "/health"), (200, {"status": "ok"}))
        status, j = self.lemu.control("POST", "/health", b"{}")
        self.assertEqual(status, 405)
        self.assertEqual(set(j), {"errorType", "errorMessage"})

    def test_functions_list_shape(self):
        status, j = self.lemu.control("GET", "/functions")
        self.assertEqual(status, 200)
        self.assertEqual(list(j), ["functions"])
        by_name = {f["name"]: f for f in j["functions"]}
        self.assertEqual(set(by_name), {"function", "counted", "headers", "bad", "big"})
        for name, f in by_name.items():
            self.assertTrue({"name", "arn", "config", "enforced", "counters"} <= set(f))
            self.assertEqual(f["arn"], fn_arn(name))
            self.assertEqual(set(f["counters"]), self.COUNTERS)
            self.assertIsInstance(f["enforced"], dict)
            for k, v in f["enforced"].items():
                self.assertIsInstance(v, bool, k)
            self.assertEqual(f["config"]["memory_mb"], 128)
        self.assertEqual(by_name["bad"]["config"]["timeout_s"], 0.5)
        self.assertEqual(by_name["function"]["config"]["timeout_s"], 3)

    def test_unknown_function(self):
        status, j = self.lemu.control("GET", "/functions/nope")
        self.assertEqual(status, 404)
        self.assertEqual(set(j), {"errorType", "errorMessage"})
        self.assertIn("nope", j["errorMessage"])
        for path in ("/functions/nope/environments", "/nothing-here"):
            status, j = self.lemu.control("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(set(j), {"errorType", "errorMessage"})

    def test_counters_environments_recycle(self):
        f = self.function("counted")
        self.assertEqual(f["counters"], dict.fromkeys(self.COUNTERS, 0))
        status, j = self.lemu.control("GET", "/functions/counted/environments")
        self.assertEqual((status, j), (200, {"environments": []}))

        for n in range(1, 4):
            status, h, body = self.lemu.invoke("counted", b"{}")
            self.assertEqual(status, 200, body)
            self.assertEqual(h["x-lemu-environment-id"], "counted-1")
        self.assertEqual(self.function("counted")["counters"],
                         {"invocations": 3, "cold_starts": 1, "resets": 0, "throttles": 0,
                          "errors": 0, "timeouts": 0, "findings": 0})
        # The caller has its answer before the runtime asks for its next event: busy until
        # then.
        def settled():
            status, j = self.lemu.control("GET", "/functions/counted/environments")
            self.assertEqual(status, 200)
            self.assertEqual(len(j["environments"]), 1)
            return j if j["environments"][0]["state"] in ("idle", "frozen") else None
        j = harness.wait_for(settled, 10, what="counted-1 to be idle")
        env = j["environments"][0]
        self.assertEqual(env["id"], "counted-1")
        self.assertEqual(env["invocations"], 3)
        self.assertEqual(env["resets"], 0)
        self.assertIsInstance(env["pid"], int)
        self.assertGreater(env["init_ms"], 0)
        self.assertGreater(env["max_memory_mb"], 0)

        status, j = self.lemu.control("POST", "/functions/counted/recycle")
        self.assertEqual(status, 200, j)
        status, j = self.lemu.control("GET", "/functions/counted/recycle")
        self.assertEqual(status, 405, j)

        def gone():
            _, j = self.lemu.control("GET", "/functions/counted/environments")
            return all(e["state"] == "shutting_down" for e in j["environments"])
        harness.wait_for(gone, what="counted-1 to shut down")
        status, h, body = self.lemu.invoke("counted", b"{}")
        self.assertEqual(status, 200, body)
        self.assertEqual(h["x-lemu-environment-id"], "counted-2")
        self.assertEqual(h["x-lemu-cold-start"], "true")
        self.assertEqual(json.loads(body)["count"], 1)
        c = self.function("counted")["counters"]
        self.assertEqual((c["invocations"], c["cold_starts"]), (4, 2))

    def test_error_and_timeout_counters(self):
        self.assertEqual(self.lemu.invoke("bad", b'{"mode":"echo"}')[0], 200)  # warm up
        before = self.function("bad")["counters"]
        self.assertEqual(self.lemu.invoke("bad", b'{"mode":"echo"}')[0], 200)
        status, h, body = self.lemu.invoke("bad", b'{"mode":"error"}')
        self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
        status, h, body = self.lemu.invoke("bad", b'{"mode":"sleep","sleep_s":5}')
        self.assertEqual(status, 200)
        self.assertEqual(h.get("x-amz-function-error"), "Unhandled")
        j = json.loads(body)
        self.assertEqual(j["errorType"], "Sandbox.Timedout")
        self.assertRegex(j["errorMessage"],
                         r"^RequestId: %s Error: Task timed out after 0\.\d\d seconds$"
                         % h["x-amzn-requestid"])
        status, h, body = self.lemu.invoke("bad", b'{"mode":"echo"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(h["x-lemu-cold-start"], "true")
        after = self.function("bad")["counters"]
        delta = {k: after[k] - before[k] for k in self.COUNTERS}
        self.assertEqual(delta, {"invocations": 4, "cold_starts": 1, "resets": 1,
                                 "throttles": 0, "errors": 2, "timeouts": 1, "findings": 0})


if __name__ == "__main__":
    harness.main()
