# SPDX-License-Identifier: Apache-2.0
"""Function URLs and API Gateway through plain HTTP clients: curl and a browser-style
client (one kept-alive connection, chunked request bodies).

Three functions run fixtures/python-http, one per event shape ("function-url", "apigw-v2",
"apigw-v1"); the fixture echoes its event or answers in the shape the path's last segment
asks for, so each test checks one mapping rule from the outside. One lemu serves the
whole file (the functions' cold starts are paid once). Streamed answers come from
fixtures/node-ric/stream.js run by the real aws-lambda-ric (awslambda.HttpResponseStream).
"""
import base64
import http.client
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import unittest

import harness
import rawhttp

CURL = shutil.which("curl")
LEMU = None
NODE = None  # why the streaming fixture cannot run, or None
CAP = 100000
MB = 1024 * 1024


def node_setup():
    script = os.path.join(harness.FIXTURES_SRC, "node-ric", "setup.sh")
    p = subprocess.run([script], capture_output=True, timeout=900)
    if p.returncode == 77:
        return "node or npm is missing"
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (script, p.returncode,
                                                        p.stdout.decode(), p.stderr.decode()))
    return None


def setUpModule():
    global LEMU, NODE
    NODE = node_setup()
    boot = os.path.join(harness.FIXTURES_SRC, "python-http", "bootstrap")
    common = {"bootstrap": boot, "sandbox": {"cpu": "off"}, "timeout_s": 30}
    node = {"bootstrap": harness.fixture("node-ric"), "handler": "stream.handler",
            "memory_mb": 1769, "timeout_s": 30}
    cfg = {"functions": {
        "surl": dict(node, http={"path": "/surl/*"}),
        "sv1": dict(node, http={"path": "/sv1/*", "event": "apigw-v1"}),
        "sv2": dict(node, http={"path": "/sv2/*", "event": "apigw-v2"}),
        "sbuf": dict(node, http={"path": "/sbuf/*", "stream": False}),
        "scap": dict(node, http={"path": "/scap/*"}, streaming={"max_bytes": CAP}),
        "sshort": dict(node, http={"path": "/sshort/*"}, timeout_s=3),
        "sfast": dict(node, http={"path": "/sfast/*"}, timeout_s=150,
                      streaming={"rate_bytes_per_s": 1 << 30, "burst_bytes": 200 * MB}),
        "url": dict(common, http={"path": "/url/*"}),
        "v2": dict(common, http={"path": "/v2/{id}/{rest+}", "event": "apigw-v2"}),
        "v1": dict(common, http={"path": "/v1/*", "event": "apigw-v1", "method": "GET"}),
        "v1post": dict(common, http={"path": "/v1/{id}/post", "event": "apigw-v1",
                                     "method": "POST"}),
        "all": dict(common, http={"path": "/*"}),
    }}
    LEMU = harness.Lemu(config=cfg)
    LEMU.start()


def tearDownModule():
    if LEMU:
        LEMU.stop()
        LEMU.cleanup()


def fetch(method, path, body=None, headers=None, conn=None, chunked=False):
    """One request; returns (status, [(name, value)...], body bytes)."""
    own = conn is None
    c = conn or LEMU.conn(60)
    try:
        c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        if own:
            c.close()


def header(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    return vals[-1] if vals else None


def event_of(body):
    return json.loads(body)["event"]


def curl(*args):
    if not CURL:
        raise unittest.SkipTest("curl is not installed")
    p = subprocess.run([CURL, "-sS", "-i", "--max-time", "60"] + list(args),
                       capture_output=True, timeout=90)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
    return status, headers, body


class FunctionUrl(unittest.TestCase):
    def test_event_shape_through_curl(self):
        status, headers, body = curl(LEMU.url + "/url/a/b?x=1&x=2&y=%20z",
                                     "-H", "Cookie: s=1; t=2", "-H", "X-Custom: One")
        self.assertEqual(status, 200, body)
        self.assertEqual(header(headers, "Content-Type"), "application/json")
        self.assertEqual(header(headers, "X-Fixture"), "python-http")
        ev = event_of(body)
        self.assertEqual(ev["version"], "2.0")
        self.assertEqual(ev["routeKey"], "$default")
        self.assertEqual(ev["rawPath"], "/url/a/b")
        self.assertEqual(ev["rawQueryString"], "x=1&x=2&y=%20z")
        self.assertEqual(ev["queryStringParameters"], {"x": "1,2", "y": " z"})
        self.assertEqual(ev["cookies"], ["s=1", "t=2"])
        self.assertEqual(ev["headers"]["x-custom"], "One")
        self.assertNotIn("cookie", ev["headers"])
        self.assertNotIn("pathParameters", ev)
        self.assertFalse(ev["isBase64Encoded"])
        self.assertNotIn("body", ev)
        rc = ev["requestContext"]
        self.assertEqual(rc["http"]["method"], "GET")
        self.assertEqual(rc["http"]["path"], "/url/a/b")
        self.assertEqual(rc["http"]["sourceIp"], "127.0.0.1")
        self.assertTrue(rc["http"]["userAgent"].startswith("curl/"))
        self.assertEqual(rc["requestId"], header(headers, "x-amzn-RequestId"))
        self.assertIsInstance(rc["timeEpoch"], int)
        self.assertEqual(header(headers, "X-Lemu-Environment-Id")[:4], "url-")

    def test_text_body_and_binary_body(self):
        status, _, body = fetch("POST", "/url/echo", b'{"id": 1}',
                                {"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        ev = event_of(body)
        self.assertEqual(ev["body"], '{"id": 1}')
        self.assertFalse(ev["isBase64Encoded"])
        raw = bytes(range(256))
        status, _, body = fetch("PUT", "/url/echo", raw,
                                {"Content-Type": "application/octet-stream"})
        ev = event_of(body)
        self.assertTrue(ev["isBase64Encoded"])
        self.assertEqual(base64.b64decode(ev["body"]), raw)
        self.assertEqual(ev["requestContext"]["http"]["method"], "PUT")

    def test_answer_shortcuts(self):
        # No statusCode: a 200 application/json whose body is the answer, a JSON string's
        # text unquoted.
        status, headers, body = fetch("GET", "/url/plain")
        self.assertEqual((status, body), (200, b"hello from lambda"))
        self.assertEqual(header(headers, "Content-Type"), "application/json")
        status, headers, body = fetch("GET", "/url/object")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"ok": True})

    def test_status_cookies_binary(self):
        status, headers, body = curl(LEMU.url + "/url/status/418")
        self.assertEqual((status, body), (418, b"status 418"))
        self.assertEqual(header(headers, "Content-Type"), "text/plain")
        status, headers, body = fetch("GET", "/url/cookies")
        self.assertEqual(status, 201)
        self.assertEqual([v for k, v in headers if k.lower() == "set-cookie"],
                         ["a=1; Path=/", "b=2"])
        status, headers, body = fetch("GET", "/url/binary")
        self.assertEqual((status, body), (200, bytes(range(256))))
        self.assertEqual(header(headers, "Content-Type"), "application/octet-stream")

    def test_http_integration_prelude(self):
        status, headers, body = fetch("GET", "/url/prelude")
        self.assertEqual((status, body), (203, b"prelude body\0end"))
        self.assertEqual(header(headers, "Content-Type"), "text/plain")
        self.assertEqual(header(headers, "X-Prelude"), "yes")
        self.assertEqual(header(headers, "Set-Cookie"), "p=1")

    def test_errors(self):
        status, _, body = fetch("GET", "/url/error")
        self.assertEqual((status, body), (502, b"Internal Server Error"))
        status, _, body = fetch("GET", "/url/malformed")
        self.assertEqual(status, 502)


class ApiGatewayV2(unittest.TestCase):
    def test_path_parameters_and_route_key(self):
        status, headers, body = fetch("GET", "/v2/42/x/y?a=b")
        self.assertEqual(status, 200, body)
        ev = event_of(body)
        self.assertEqual(ev["routeKey"], "ANY /v2/{id}/{rest+}")
        self.assertEqual(ev["pathParameters"], {"id": "42", "rest": "x/y"})
        self.assertEqual(ev["requestContext"]["stage"], "$default")
        self.assertEqual(ev["requestContext"]["accountId"], "000000000000")
        self.assertEqual(header(headers, "Apigw-Requestid"), ev["requestContext"]["requestId"])

    def test_errors_are_500(self):
        status, _, body = fetch("GET", "/v2/1/error")
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(body), {"message": "Internal Server Error"})
        status, _, _ = fetch("GET", "/v2/1/malformed")
        self.assertEqual(status, 500)


class ApiGatewayV1(unittest.TestCase):
    def test_event_shape(self):
        status, _, body = fetch("GET", "/v1/p/q?m=1&m=2", headers={"X-Dup": "a"})
        self.assertEqual(status, 200, body)
        ev = event_of(body)
        self.assertEqual(ev["resource"], "/v1/*")
        self.assertEqual(ev["path"], "/v1/p/q")
        self.assertEqual(ev["httpMethod"], "GET")
        self.assertEqual(ev["queryStringParameters"], {"m": "2"})
        self.assertEqual(ev["multiValueQueryStringParameters"], {"m": ["1", "2"]})
        self.assertEqual(ev["headers"]["X-Dup"], "a")
        self.assertEqual(ev["multiValueHeaders"]["X-Dup"], ["a"])
        self.assertEqual(ev["pathParameters"], {"proxy": "p/q"})
        self.assertIsNone(ev["body"])
        self.assertIsNone(ev["stageVariables"])
        self.assertEqual(ev["requestContext"]["stage"], "prod")
        self.assertEqual(ev["requestContext"]["path"], "/prod/v1/p/q")
        self.assertEqual(ev["requestContext"]["identity"]["sourceIp"], "127.0.0.1")

    def test_multi_value_headers_answer(self):
        status, headers, body = fetch("GET", "/v1/multi")
        self.assertEqual((status, body), (200, b"multi"))
        self.assertEqual([v for k, v in headers if k.lower() == "x-multi"], ["1", "2"])
        self.assertEqual(header(headers, "X-Single"), "s")

    def test_proxy_shape_required(self):
        # REST APIs refuse an answer without statusCode: 502 Internal server error.
        status, _, body = fetch("GET", "/v1/plain")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body), {"message": "Internal server error"})

    def test_method_and_routes(self):
        status, _, body = fetch("POST", "/v1/7/post", b"hi", {"Content-Type": "text/plain"})
        self.assertEqual(status, 200, body)
        ev = event_of(body)
        self.assertEqual((ev["httpMethod"], ev["body"]), ("POST", "hi"))
        self.assertEqual(ev["pathParameters"], {"id": "7"})
        # /v1/* takes GET only; v1post takes only /v1/{id}/post: a DELETE matches neither,
        # but the catch-all /* takes every method.
        status, _, body = fetch("DELETE", "/v1/x")
        self.assertEqual(status, 200)
        self.assertEqual(event_of(body)["rawPath"], "/v1/x")


class Routing(unittest.TestCase):
    def test_apis_are_not_captured_by_a_catch_all(self):
        status, body = LEMU.control("GET", "/health")
        self.assertEqual((status, body), (200, {"status": "ok"}))
        status, _, body = LEMU.invoke("url", b'{"rawPath": "/plain"}')
        self.assertEqual((status, body), (200, b'"hello from lambda"'))
        status, _, _ = LEMU.request("GET", "/2015-03-31/functions/nope/invocations")
        self.assertEqual(status, 404)

    def test_most_specific_route_wins(self):
        status, headers, body = fetch("GET", "/elsewhere")
        self.assertEqual(status, 200)
        self.assertEqual(header(headers, "X-Lemu-Environment-Id")[:4], "all-")
        status, headers, body = fetch("GET", "/url")
        self.assertEqual(header(headers, "X-Lemu-Environment-Id")[:4], "url-")

    def test_no_route(self):
        boot = os.path.join(harness.FIXTURES_SRC, "python-http", "bootstrap")
        lemu = harness.Lemu(config={"functions": {
            "x": {"bootstrap": boot, "http": {"path": "/x/*"}}}})
        lemu.start()
        self.addCleanup(lemu.cleanup)
        self.addCleanup(lemu.stop)
        status, _, body = lemu.request("GET", "/anything")
        self.assertEqual((status, json.loads(body)), (404, {"message": "Not Found"}))

    def test_without_routes_the_lambda_api_answers(self):
        lemu = harness.Lemu("--function", "x=" + harness.fixture("c-echo"))
        lemu.start()
        self.addCleanup(lemu.cleanup)
        self.addCleanup(lemu.stop)
        status, headers, _ = lemu.request("GET", "/anything")
        self.assertEqual((status, headers["x-amzn-errortype"]),
                         (404, "UnknownOperationException"))


class BrowserStyle(unittest.TestCase):
    def test_keep_alive_and_chunked(self):
        """One connection for many requests, some with chunked bodies, as a browser's
        fetch() with a ReadableStream body sends them."""
        c = LEMU.conn(60)
        self.addCleanup(c.close)
        socks = set()
        for i in range(5):
            chunks = (s.encode() for s in ['{"part": ', str(i), ', "done": true}'])
            status, headers, body = fetch("POST", "/url/echo/%d" % i, chunks,
                                          {"Content-Type": "application/json"}, conn=c,
                                          chunked=True)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(event_of(body)["body"]), {"part": i, "done": True})
            self.assertNotEqual(header(headers, "Connection"), "close")
            socks.add(id(c.sock))
            status, _, body = fetch("GET", "/url/plain", conn=c)
            self.assertEqual(body, b"hello from lambda")
            socks.add(id(c.sock))
        self.assertEqual(len(socks), 1, "the connection was not kept alive")

    def test_bodiless_answers_keep_the_connection(self):
        # HEAD, and a 204 whose function sent a body anyway: no body may follow the head,
        # else it would be read as the next answer on the kept-alive connection.
        cases = [(rawhttp.request("/url/plain", method=b"HEAD", close=False), 200)]
        if not NODE:
            cases.append((rawhttp.request("/surl/nocontent", stream_body(
                chunks=["x"], prelude={"statusCode": 204}), close=False), 204))
        for req, want in cases:
            with socket.create_connection((LEMU.host, LEMU.port), timeout=60) as sock:
                sock.sendall(req)
                buf = b""
                deadline = time.monotonic() + 60
                while b"\r\n\r\n" not in buf:
                    b = rawhttp.recv_some(sock, deadline)
                    self.assertTrue(b, buf)
                    buf += b
                head, rest = buf.split(b"\r\n\r\n", 1)
                self.assertEqual(rawhttp.parse_head(head)[0], want)
                sock.sendall(rawhttp.request("/url/plain", method=b"GET"))
                more, eof = rawhttp.recv_all(sock, 60)
                self.assertTrue(eof)
                answers, left = rawhttp.parse_responses(rest + more)
                self.assertEqual([(a[0], a[2]) for a in answers],
                                 [(200, b"hello from lambda")])
                self.assertEqual(left, b"")

    def test_curl_chunked_upload(self):
        status, _, body = curl("-H", "Transfer-Encoding: chunked", "-H",
                               "Content-Type: text/plain", "--data-binary", "chunked body",
                               LEMU.url + "/url/echo")
        self.assertEqual(status, 200, body)
        self.assertEqual(event_of(body)["body"], "chunked body")


def read_until(f, pred, timeout):
    """Reads the pipe @f until pred(bytes so far); fails at the deadline."""
    data = b""
    deadline = time.monotonic() + timeout
    while not pred(data):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("deadline passed; got %r" % data)
        r, _, _ = select.select([f], [], [], left)
        if r:
            b = os.read(f.fileno(), 65536)
            if not b:
                raise AssertionError("end of output; got %r" % data)
            data += b
    return data


def split_head(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return (int(lines[0].split()[1]),
            [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]], body)


def stream_body(**params):
    return json.dumps(params).encode()


PRELUDE = {"statusCode": 201,
           "headers": {"Content-Type": "text/plain; charset=utf-8", "X-Stream": "yes"},
           "cookies": ["a=1; Path=/", "b=2"]}


class Streaming(unittest.TestCase):
    """Function URLs (InvokeMode RESPONSE_STREAM) and REST APIs (responseTransferMode
    STREAM) relay an HTTP-integration stream as it arrives; HTTP APIs collect it."""

    def setUp(self):
        if NODE:
            self.skipTest(NODE)

    def record(self, rid):
        status, rec = LEMU.control("GET", "/invocations/" + rid)
        self.assertEqual(status, 200, rec)
        return rec

    def test_first_chunk_reaches_curl_while_the_function_runs(self):
        # The function writes its prelude and "first:<id>;", then waits for "go" on our
        # listener; we send it only once curl has printed the first chunk. A buffered answer
        # would leave both waiting until the deadline.
        if not CURL:
            self.skipTest("curl is not installed")
        lst = socket.socket()
        self.addCleanup(lst.close)
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        lst.settimeout(60)
        body = stream_body(mode="handshake", port=lst.getsockname()[1], prelude=PRELUDE)
        p = subprocess.Popen([CURL, "-sS", "-i", "-N", "--max-time", "60", "-H",
                              "Content-Type: application/json", "--data-binary", body,
                              LEMU.url + "/surl/handshake"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        first = read_until(p.stdout, lambda d: re.search(rb"first:[^;]+;", d), 60)
        self.assertIsNone(p.poll(), "the answer ended before the function did")
        conn, _ = lst.accept()
        with conn:
            conn.sendall(b"go")
            out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        status, headers, body = split_head(first + out)
        rid = header(headers, "x-amzn-RequestId")
        self.assertEqual(status, 201)
        self.assertEqual(body, ("first:%s;second;" % rid).encode())
        self.assertEqual(header(headers, "Transfer-Encoding"), "chunked")
        self.assertIsNone(header(headers, "Content-Length"))
        self.assertEqual(header(headers, "Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(header(headers, "X-Stream"), "yes")
        self.assertEqual([v for k, v in headers if k.lower() == "set-cookie"],
                         ["a=1; Path=/", "b=2"])
        self.assertEqual(header(headers, "X-Lemu-Environment-Id")[:5], "surl-")
        self.assertEqual(self.record(rid)["status"], "success")

    def test_keep_alive_after_a_streamed_answer(self):
        c = LEMU.conn(60)
        self.addCleanup(c.close)
        socks = set()
        for i in range(3):
            status, headers, body = fetch(
                "POST", "/surl/chunks", stream_body(chunks=["x%d" % i, "-y"],
                                                   prelude={"statusCode": 200 + i}),
                conn=c)
            self.assertEqual((status, body), (200 + i, ("x%d-y" % i).encode()))
            self.assertEqual(header(headers, "Transfer-Encoding"), "chunked")
            self.assertEqual(header(headers, "Content-Type"), "application/octet-stream")
            socks.add(id(c.sock))
            # A plain answer on the same connection after the stream.
            status, _, body = fetch("GET", "/url/plain", conn=c)
            self.assertEqual(body, b"hello from lambda")
            socks.add(id(c.sock))
        self.assertEqual(len(socks), 1, "the connection was not kept alive")

    def test_error_mid_stream_truncates_the_body(self):
        # Status and headers are gone already: Lambda can only end the body short, which
        # an HTTP client sees as a chunked body without its last chunk (curl's error 18).
        if not CURL:
            self.skipTest("curl is not installed")
        p = subprocess.run([CURL, "-sS", "-i", "-N", "--max-time", "60", "--data-binary",
                            stream_body(mode="fail", prelude=PRELUDE),
                            LEMU.url + "/surl/fail"], capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 18, p.stderr)
        status, headers, body = split_head(p.stdout)
        self.assertEqual((status, body), (201, b"partial;"))
        self.assertEqual(header(headers, "Transfer-Encoding"), "chunked")
        rec = self.record(header(headers, "x-amzn-RequestId"))
        self.assertEqual((rec["status"], rec["error_type"]), ("error", "Runtime.Unknown"))
        # The next request is served as usual.
        status, _, body = fetch("POST", "/surl/ok", stream_body(chunks=["ok"], prelude={}))
        self.assertEqual((status, body), (200, b"ok"))

    def test_timeout_mid_stream_truncates_the_body(self):
        # The function waits for a "go" that never comes, past its 3 s timeout.
        if not CURL:
            self.skipTest("curl is not installed")
        lst = socket.socket()
        self.addCleanup(lst.close)
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        p = subprocess.run([CURL, "-sS", "-i", "-N", "--max-time", "60", "--data-binary",
                            stream_body(mode="handshake", port=lst.getsockname()[1],
                                        prelude=PRELUDE),
                            LEMU.url + "/sshort/hang"], capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 18, p.stderr)
        status, headers, body = split_head(p.stdout)
        rid = header(headers, "x-amzn-RequestId")
        self.assertEqual((status, body), (201, ("first:%s;" % rid).encode()))
        rec = self.record(rid)
        self.assertEqual((rec["status"], rec["error_type"]), ("timeout", "Sandbox.Timedout"))

    def test_cap_truncates_the_body(self):
        prelude = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}}
        c = LEMU.conn(60)
        self.addCleanup(c.close)
        c.request("POST", "/scap/big", body=stream_body(mode="size", size=3 * CAP,
                                                        piece=30000, prelude=prelude))
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        # The cap counts the whole stream, prelude and its 8 NULs included.
        self.assertEqual(len(cm.exception.partial),
                         CAP - len(json.dumps(prelude, separators=(",", ":"))) - 8)
        self.assertEqual(set(cm.exception.partial), {ord("x")})
        rec = self.record(r.getheader("x-amzn-RequestId"))
        self.assertEqual((rec["status"], rec["error_type"]),
                         ("error", "Function.ResponseSizeTooLarge"))

    def test_rest_api_streams_with_multi_value_headers(self):
        prelude = {"statusCode": 202, "headers": {"X-One": "1"},
                   "multiValueHeaders": {"X-Many": ["a", "b"]}}
        status, headers, body = fetch("POST", "/sv1/chunks",
                                      stream_body(chunks=["p", "q"], prelude=prelude))
        self.assertEqual((status, body), (202, b"pq"))
        self.assertEqual(header(headers, "Transfer-Encoding"), "chunked")
        self.assertEqual(header(headers, "X-One"), "1")
        self.assertEqual([v for k, v in headers if k == "X-Many"], ["a", "b"])

    def test_http_api_collects_the_stream(self):
        status, headers, body = fetch("POST", "/sv2/chunks",
                                      stream_body(chunks=["p", "q"], prelude=PRELUDE))
        self.assertEqual((status, body), (201, b"pq"))
        self.assertEqual(header(headers, "Content-Length"), "2")
        self.assertIsNone(header(headers, "Transfer-Encoding"))
        self.assertEqual(len([v for k, v in headers if k.lower() == "set-cookie"]), 2)

    def test_buffered_mapping_collects_the_stream(self):
        # "stream": false is a Function URL with InvokeMode BUFFERED.
        status, headers, body = fetch("POST", "/sbuf/chunks",
                                      stream_body(chunks=["p", "q"], prelude=PRELUDE))
        self.assertEqual((status, body), (201, b"pq"))
        self.assertEqual(header(headers, "Content-Length"), "2")
        self.assertEqual(header(headers, "X-Stream"), "yes")

    def test_stream_without_prelude_is_collected(self):
        status, headers, body = fetch("POST", "/surl/plain", stream_body(chunks=["[1,", "2]"]))
        self.assertEqual((status, body), (200, b"[1,2]"))
        self.assertEqual(header(headers, "Content-Length"), "5")
        self.assertEqual(header(headers, "Content-Type"), "application/json")

    def test_slow_caller_pauses_the_runtime(self):
        # Kernel buffers alone may hold tens of MB on loopback (the runtime's socket to lemu
        # grows up to tcp_rmem's 32 MB): "held" leaves room for them, as test_streaming does.
        total, piece, held = 128 * MB, MB, 64 * MB
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(60)
        sock.connect((LEMU.host, LEMU.port))
        body = stream_body(mode="size", size=total, piece=piece, log=True, prelude={})
        sock.sendall(b"POST /sfast/slow HTTP/1.1\r\nHost: lemu\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        data = bytearray()
        while len(data) < MB:
            b = sock.recv(65536)
            self.assertTrue(b, "lemu closed the answer")
            data += b
        # We read no more: the function must stall well short of the end. This waits out a
        # deadline for something that must not happen.
        wrote = re.compile(r"\twrote (\d+)$", re.M)

        def written():
            return max([int(n) for n in wrote.findall(LEMU.logs())] or [0])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertLess(written(), held, "lemu kept reading the runtime for a stalled "
                                             "caller")
            time.sleep(0.05)
        self.assertGreater(written(), 0)
        while not data.endswith(b"\r\n0\r\n\r\n"):
            b = sock.recv(1 << 20)
            self.assertTrue(b, "lemu closed the answer early")
            data += b
        head, _, chunked = bytes(data).partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        got, pos = 0, 0
        while True:
            eol = chunked.index(b"\r\n", pos)
            n = int(chunked[pos:eol], 16)
            if n == 0:
                break
            got += n
            pos = eol + 2 + n + 2
        self.assertEqual(got, total)


if __name__ == "__main__":
    harness.main()
