# SPDX-License-Identifier: Apache-2.0
"""The bad-input catalogue (issue 8): malformed and hostile inputs to the Invoke API, the
control API, the Runtime API and the config file, each with the exact answer lemu must give
(spec §1.8, §3.4; DESIGN "Invoke API", "Control API", "Config"), and a normal invocation
served right after each one.

Invoke and control API cases are raw bytes on a fresh connection. Runtime API cases go
through a small Python runtime written here (RAW_RUNTIME): the event carries the raw request
in base64, the runtime sends it from inside its environment on a connection of its own
(lemu serves the Runtime API only to the environment's processes) and answers with what came
back. Config cases run `lemu validate` on a file.

Each case is one test (one TAP line). An answer is (status, X-Amzn-ErrorType, body) where
body is the exact JSON; CLOSED means lemu closes the connection without an answer.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from rawhttp import parse_responses, recv_all, request

INVOKE = "/2015-03-31/functions/%s/invocations"
SYNC_MAX = 6291456
ASYNC_MAX = 4096
CLOSED = "closed"

# ---- raw HTTP (rawhttp.py) -----------------------------------------------------------------


def invoke_raw(body=b"{}", headers=b"", name="function", close=True):
    return request(INVOKE % name, body, headers=headers, close=close)


def b64(text):
    if isinstance(text, str):
        text = text.encode()
    return base64.b64encode(text)


def user_error(status, type_, message):
    return (status, type_, {"Type": "User", "Message": message})


def malformed(reason, status=400):
    return (status, "InvalidRequestContentException",
            {"Type": "User", "Message": "Malformed HTTP request: " + reason})


def not_json(detail):
    return user_error(400, "InvalidRequestContentException",
                      "Could not parse request body into json: " + detail)


NOT_JSON_AT = ("Could not parse payload into json: Unexpected character at line %d, "
               "column %d")
TRAILING = ("Could not parse payload into json: Unexpected content after the JSON value at "
            "line %d, column %d")
END_AT = "Could not parse payload into json: Unexpected end of input at line %d, column %d"
BAD_UTF8 = "Invalid UTF-8 middle byte in the request body"
BAD_CONTEXT = "Client context must be a valid Base64-encoded JSON object."
NAME_PATTERN = ("1 validation error detected: Value at 'functionName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
THROTTLED = (429, "TooManyRequestsException",
             {"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded"})


def not_found(name):
    return user_error(404, "ResourceNotFoundException",
                      "Function not found: arn:aws:lambda:us-east-1:000000000000:function:" +
                      name)


def control_error(status, type_, message):
    return (status, None, {"errorType": type_, "errorMessage": message})


OK_ECHO = (200, None, {"event": {"ok": 1}})

# (name, bytes to send or a callable(sock), expected answer, extra checks)
# An expected 200 with {"event": …} checks only the echoed event.
API_CASES = [
    # methods and request lines
    ("unknown method", b"BREW " + (INVOKE % "function").encode() + b" HTTP/1.1\r\n\r\n",
     malformed("Invalid method encountered")),
    ("lowercase method", b"post " + (INVOKE % "function").encode() + b" HTTP/1.1\r\n\r\n",
     malformed("Invalid method encountered")),
    ("GET on invocations", request(INVOKE % "function", method=b"GET"),
     user_error(404, "UnknownOperationException", "Unknown operation")),
    ("DELETE on invocations", request(INVOKE % "function", method=b"DELETE"),
     user_error(404, "UnknownOperationException", "Unknown operation")),
    ("garbage request line", b"GARBAGE\r\n\r\n", malformed("Invalid method encountered")),
    ("binary junk", b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n",
     malformed("Invalid method encountered")),
    ("HTTP/9.9", request(INVOKE % "function", version=b"HTTP/9.9"),
     malformed("Invalid HTTP version")),
    ("unknown path", request("/2015-03-31/nothing/here", method=b"GET"),
     user_error(404, "UnknownOperationException", "Unknown operation")),
    ("path traversal", request("/2015-03-31/functions/../../etc/passwd/invocations"),
     user_error(404, "UnknownOperationException", "Unknown operation")),
    ("HTTP/1.0 request", request(INVOKE % "function", b'{"ok":1}', version=b"HTTP/1.0",
                                 close=False), OK_ECHO),
    # headers
    ("100 KB header", invoke_raw(headers=b"X-Big: " + b"a" * 100 * 1024 + b"\r\n"),
     malformed("request headers too large", 431)),
    ("100 KB URL", request("/" + "a" * 100 * 1024), malformed("request headers too large", 431)),
    ("10,000 headers", invoke_raw(headers=b"".join(b"X-H%d: v\r\n" % i for i in range(10000))),
     malformed("too many request headers", 431)),
    ("header without colon", invoke_raw(headers=b"Bad Header\r\n"),
     malformed("Invalid header token")),
    ("control character in a header value", invoke_raw(headers=b"X-A: a\x01b\r\n"),
     malformed("Invalid header value char")),
    ("NUL in a header name", invoke_raw(headers=b"X-\x00A: b\r\n"),
     malformed("Invalid header token")),
    # bodies and their framing
    ("negative Content-Length",
     b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}",
     malformed("Invalid character in Content-Length")),
    ("overflowing Content-Length",
     b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
     malformed("Content-Length overflow")),
    ("Content-Length 2^64-1",
     b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n{}",
     user_error(413, "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation")),
    ("two Content-Lengths",
     b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
     malformed("Duplicate Content-Length")),
    ("Content-Length and chunked",
     b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nContent-Length: 2\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     malformed("Content-Length can't be present with Transfer-Encoding")),
    ("broken chunk size",
     b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", malformed("Invalid character in chunk size")),
    ("overflowing chunk size",
     b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nfffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", malformed("Chunk size overflow")),
    ("chunked not last",
     b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked, "
     b"identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     malformed("Invalid `Transfer-Encoding` header value")),
    ("huge chunk", b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nfffffffffff\r\n{}",
     user_error(413, "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation")),
    ("truncated chunked body then EOF", b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"a\"", CLOSED),
    ("truncated body then EOF", b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"", CLOSED),
    ("oversized sync body", invoke_raw(b'"' + b"a" * SYNC_MAX + b'"'),
     user_error(413, "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation")),
    ("oversized async body",
     invoke_raw(b'"' + b"a" * ASYNC_MAX + b'"', headers=b"X-Amz-Invocation-Type: Event\r\n"),
     user_error(413, "RequestEntityTooLargeException",
                "%d byte payload is too large for the Event invocation type (limit %d bytes)" %
                (ASYNC_MAX + 2, ASYNC_MAX))),
    ("announced 100 MB body", b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n{}",
     user_error(413, "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation")),
    ("100-continue with an oversized body", b"POST " + (INVOKE % "function").encode() +
     b" HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 7000000\r\n\r\n",
     user_error(413, "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation")),
    # payloads
    ("invalid UTF-8", invoke_raw(b'{"a":"\xff"}'), not_json(BAD_UTF8)),
    ("overlong UTF-8", invoke_raw(b'{"a":"\xc0\xaf"}'), not_json(BAD_UTF8)),
    ("UTF-8 surrogate", invoke_raw(b'{"a":"\xed\xa0\x80"}'), not_json(BAD_UTF8)),
    ("truncated UTF-8 at the end", invoke_raw(b'"\xe2\x82'), not_json(BAD_UTF8)),
    ("deeply nested JSON", invoke_raw(b"[" * 100000 + b"]" * 100000),
     not_json("Could not parse payload into json: Nesting depth exceeds the maximum allowed "
              "(1000) at line 1, column 1001")),
    ("trailing garbage after JSON", invoke_raw(b'{"a":1} xyz'), not_json(TRAILING % (1, 9))),
    ("two JSON values", invoke_raw(b"{}{}"), not_json(TRAILING % (1, 3))),
    ("NUL after JSON", invoke_raw(b"{}\x00"), not_json(TRAILING % (1, 3))),
    ("not JSON at all", invoke_raw(b"hello"), not_json(NOT_JSON_AT % (1, 1))),
    ("unterminated object", invoke_raw(b'{"a":\n  [1, 2'), not_json(END_AT % (2, 8))),
    ("leading zero", invoke_raw(b'{"a":01}'), not_json(NOT_JSON_AT % (1, 7))),
    ("number ending in a dot", invoke_raw(b"1."), not_json(END_AT % (1, 3))),
    ("plus sign", invoke_raw(b"+1"), not_json(NOT_JSON_AT % (1, 1))),
    ("raw tab in a string", invoke_raw(b'"a\tb"'), not_json(NOT_JSON_AT % (1, 3))),
    ("white space only", invoke_raw(b"   "), not_json(END_AT % (1, 4))),
    ("single quotes", invoke_raw(b"{'a':1}"), not_json(NOT_JSON_AT % (1, 2))),
    ("lone surrogate escape", invoke_raw(b'"\\ud800"'), OK_ECHO[:2] + ({"event": "\ud800"},)),
    ("big integer kept exact", invoke_raw(b'{"ok":1,"n":123456789012345678901234567890}'),
     (200, None, {"event": {"ok": 1, "n": 123456789012345678901234567890}})),
    # X-Amz-Client-Context and the other Invoke headers
    ("invalid base64 client context",
     invoke_raw(headers=b"X-Amz-Client-Context: !!!notbase64\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("client context not JSON", invoke_raw(headers=b"X-Amz-Client-Context: " + b64("nope") +
                                           b"\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("client context a JSON array", invoke_raw(headers=b"X-Amz-Client-Context: " + b64("[]") +
                                               b"\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("client context with invalid UTF-8",
     invoke_raw(headers=b"X-Amz-Client-Context: " + b64(b'{"a":"\xff"}') + b"\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("client context over 3,583 bytes",
     invoke_raw(headers=b"X-Amz-Client-Context: " + b64('{"a":"%s"}' % ("x" * 2700)) +
                b"\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("client context with trailing garbage",
     invoke_raw(headers=b"X-Amz-Client-Context: " + b64("{} x") + b"\r\n"),
     user_error(400, "InvalidRequestContentException", BAD_CONTEXT)),
    ("unknown invocation type", invoke_raw(headers=b"X-Amz-Invocation-Type: Sometimes\r\n"),
     user_error(400, "InvalidParameterValueException",
                "Invalid invocation type: must be one of Event, RequestResponse or DryRun")),
    # function references
    ("unknown function", invoke_raw(name="nobody"), not_found("nobody")),
    ("name of 65 characters", invoke_raw(name="a" * 65),
     user_error(400, "InvalidParameterValueException", NAME_PATTERN)),
    ("bad percent escape", invoke_raw(name="fun%zzction"),
     user_error(400, "InvalidParameterValueException", NAME_PATTERN)),
    ("percent-encoded NUL", invoke_raw(name="function%00"),
     user_error(400, "InvalidParameterValueException", NAME_PATTERN)),
    ("ARN with too many parts", invoke_raw(name="arn:aws:lambda:us-east-1:000000000000:"
                                                "function:function:live:extra"),
     user_error(400, "InvalidParameterValueException", NAME_PATTERN)),
    ("unknown alias", invoke_raw(name="function:nolive"), not_found("function:nolive")),
    ("qualifier conflict",
     request(INVOKE % "function:live" + "?Qualifier=other", b"{}"),
     user_error(400, "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.")),
    # control API
    ("control: unknown function", request("/_lemu/functions/nobody", method=b"GET"),
     control_error(404, "ResourceNotFoundException", "no function named 'nobody'")),
    ("control: lifecycle not JSON", request("/_lemu/functions/function/lifecycle", b"{x",
                                            method=b"PUT"),
     control_error(400, "InvalidParameterValueException",
                   "1:3: syntax error: unexpected end of input")),
    ("control: lifecycle trailing garbage",
     request("/_lemu/functions/function/lifecycle", b'{"reuse":"warm"} x', method=b"PUT"),
     control_error(400, "InvalidParameterValueException",
                   "1:18: unexpected text after the end of the JSON value")),
    ("control: lifecycle unknown key",
     request("/_lemu/functions/function/lifecycle", b'{"nope":1}', method=b"PUT"),
     control_error(400, "InvalidParameterValueException", "1:2: nope: unknown key")),
    ("control: lifecycle deeply nested",
     request("/_lemu/functions/function/lifecycle", b'{"reuse":' + b"[" * 5000 + b"]" * 5000 +
             b"}", method=b"PUT"),
     control_error(400, "InvalidParameterValueException",
                   "1:1009: syntax error near '[[[[[[[[[[[[[[[[[[[[[[[['")),
    ("control: lifecycle invalid UTF-8",
     request("/_lemu/functions/function/lifecycle", b'{"reuse":"\xff"}', method=b"PUT"),
     control_error(400, "InvalidParameterValueException", "1:11: invalid UTF-8")),
    ("control: wrong method", request("/_lemu/health", method=b"DELETE"),
     control_error(405, "MethodNotAllowed", "method not allowed on this endpoint")),
    ("control: unknown request id", request("/_lemu/invocations/0000-nope", method=b"GET"),
     control_error(404, "ResourceNotFoundException",
                   "no invocation record for request id '0000-nope'")),
    ("control: negative since", request("/_lemu/invocations?since=-5", method=b"GET"),
     control_error(400, "InvalidParameterValueException", "since: not a sequence number")),
    ("control: overflowing since",
     request("/_lemu/invocations?since=99999999999999999999999", method=b"GET"),
     control_error(400, "InvalidParameterValueException", "since: not a sequence number")),
    ("control: bad wait-idle timeout", request("/_lemu/wait-idle?timeout_s=abc"),
     control_error(400, "InvalidParameterValueException",
                   "timeout_s: a number of seconds from 0 to 86400")),
]


def pipelined(sock):
    data = (invoke_raw(b'{"n":1}', close=False) + request("/_lemu/health", method=b"GET",
                                                          close=False) +
            invoke_raw(b'{"n":2}', close=False) + invoke_raw(b'{"n":3}'))
    sock.sendall(data)


def pipelined_after_bad(sock):
    sock.sendall(b"BREW / HTTP/1.1\r\n\r\n" + invoke_raw(b'{"n":1}'))


def slowloris_line(sock):
    sock.sendall(b"POST /2015-03-31/func")


def slowloris_headers(sock):
    sock.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\nHost: x\r\nX-")


def slowloris_drip(sock):
    # One header byte every 0.1 s: each byte is on time, the whole is not.
    sock.sendall(b"POST " + (INVOKE % "function").encode() + b" HTTP/1.1\r\n")
    for _ in range(30):
        try:
            sock.sendall(b"X")
        except OSError:
            return
        time.sleep(0.1)


def slow_body(sock):
    sock.sendall(b"POST " + (INVOKE % "function").encode() +
                 b" HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")


def many_pipelined(sock):
    sock.sendall(request("/_lemu/health", method=b"GET", close=False) * 200 +
                 request("/_lemu/health", method=b"GET"))


HEALTH = (200, None, {"status": "ok"})

# (name, sender, expected answers in order, must close, deadline)
SEQUENCE_CASES = [
    ("pipelined requests", pipelined,
     [(200, None, {"event": {"n": 1}}), HEALTH, (200, None, {"event": {"n": 2}}),
      (200, None, {"event": {"n": 3}})], True, 20),
    ("pipelined after a bad request", pipelined_after_bad,
     [malformed("Invalid method encountered")], True, 10),
    ("201 pipelined requests", many_pipelined, [HEALTH] * 201, True, 20),
    ("slowloris request line", slowloris_line, [], True, 10),
    ("slowloris headers", slowloris_headers, [], True, 10),
    ("slowloris dripping header bytes", slowloris_drip, [], True, 10),
    ("stalled body", slow_body, [], True, 10),
]


class Base(harness.SharedLemuTestCase):

    @classmethod
    def config(cls):
        echo = harness.fixture("c-echo")
        return {
            "limits": {"header_timeout_s": 1, "body_timeout_s": 1},
            "functions": {
                "function": {"bootstrap": echo, "aliases": {"live": "$LATEST"},
                             "async": {"max_payload_bytes": ASYNC_MAX},
                             "sandbox": {"cpu": "off"}},
            },
        }

    def sock(self):
        s = socket.create_connection((self.lemu.host, self.lemu.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def assert_answer(self, got, want):
        status, headers, body = got
        wstatus, wtype, wbody = want
        self.assertEqual(status, wstatus, body[:300])
        if wtype is not None:
            self.assertEqual(headers.get("x-amzn-errortype"), wtype)
            self.assertTrue(headers.get("x-amzn-requestid"))
        self.assertEqual(headers.get("content-type"), "application/json")
        j = json.loads(body)
        if wstatus == 200 and "event" in wbody:
            self.assertEqual(j["event"], wbody["event"])
        else:
            self.assertEqual(j, wbody)

    def assert_alive(self):
        self.assertIsNone(self.lemu.proc.poll(), "lemu exited\n" + self.lemu.logs()[-3000:])
        status, _, body = self.lemu.invoke(payload=b'{"alive":true}')
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["event"], {"alive": True})


class InvokeAndControlApi(Base):
    def run_api_case(self, data, want):
        s = self.sock()
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # lemu may answer and close before the last bytes are sent
        if want == CLOSED:
            s.shutdown(socket.SHUT_WR)
            got, eof = recv_all(s, 10)
            self.assertTrue(eof, "lemu kept the connection open")
            self.assertEqual(got, b"")
        else:
            got, eof = recv_all(s, 20)
            self.assertTrue(eof, "lemu kept the connection open: %r" % got[:300])
            answers, rest = parse_responses(got)
            self.assertEqual(len(answers), 1, got[:500])
            self.assertEqual(rest, b"")
            self.assert_answer(answers[0], want)
        self.assert_alive()

    def run_sequence_case(self, sender, wants, closes, deadline):
        s = self.sock()
        start = time.monotonic()
        sender(s)
        got, eof = recv_all(s, deadline)
        self.assertTrue(eof or not closes, "lemu kept the connection open: %r" % got[:300])
        answers, rest = parse_responses(got)
        self.assertEqual(rest, b"")
        self.assertEqual(len(answers), len(wants), got[:500])
        for a, w in zip(answers, wants):
            self.assert_answer(a, w)
        if not wants:
            # Stalled requests are cut at header_timeout_s (1 s), not before, not much later.
            self.assertGreaterEqual(time.monotonic() - start, 0.9)
            self.assertLess(time.monotonic() - start, 6)
        self.assert_alive()


def _add(cls, i, name, fn):
    slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    fn.__name__ = "test_%02d_%s" % (i, slug)
    setattr(cls, fn.__name__, fn)


n = 0
for name, data, want in API_CASES:
    n += 1
    _add(InvokeAndControlApi, n, name,
         lambda self, d=data, w=want: self.run_api_case(d, w))
for name, sender, wants, closes, deadline in SEQUENCE_CASES:
    n += 1
    _add(InvokeAndControlApi, n, name,
         lambda self, s=sender, w=wants, c=closes, d=deadline: self.run_sequence_case(s, w, c, d))


# ---- the Runtime API, from inside an environment -----------------------------------------

# Each event {"raw": base64, "send_id": bool} is sent raw to the Runtime API ("{RID}" in it
# replaced by the current request id); the answer is {"answer": text, "eof": bool}. Any other
# event is echoed as {"event": …} with a normal /response.
RAW_RUNTIME = r'''#!/usr/bin/python3
import base64, http.client, json, os, socket, time
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, _, port = API.rpartition(":")
RT = "/2018-06-01/runtime"

def call(method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()

def raw(data, drip):
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        if drip:
            for i in range(0, len(data), drip):
                s.sendall(data[i:i + drip])
        else:
            s.sendall(data)
    except OSError:
        pass
    if not drip:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # lemu answered and closed before the last bytes were sent
    out = b""
    deadline = time.monotonic() + 10
    eof = False
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        out += chunk
    s.close()
    return out, eof

while True:
    st, h, body = call("GET", RT + "/invocation/next")
    rid = h["Lambda-Runtime-Aws-Request-Id"]
    ev = json.loads(body)
    if isinstance(ev, dict) and "raw" in ev:
        data = base64.b64decode(ev["raw"]).replace(b"{RID}", rid.encode())
        if b"{BIG}" in data:
            # A 7 MB body, made here: the event itself could not carry it.
            big = b'"' + b"a" * 7340032 + b'"'
            data = data.replace(b"Content-Length: 5", b"Content-Length: %d" % len(big))
            data = data.replace(b"{BIG}", big)
        out, eof = raw(data, ev.get("drip", 0))
        if ev.get("answered"):
            # The raw request answered the invocation itself: ask for the next event.
            continue
        answer = {"answer": out.decode("latin-1"), "eof": eof}
    else:
        answer = {"event": ev}
    call("POST", RT + "/invocation/%s/response" % rid, json.dumps(answer).encode(),
         {"Content-Type": "application/json"})
'''

R = "/2018-06-01/runtime"


def rapi_request(path, body=b"", method=b"POST", headers=b""):
    if isinstance(body, str):
        body = body.encode()
    return (method + b" " + path.encode() + b" HTTP/1.1\r\nHost: rt\r\n" + headers +
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
            body)


def rapi_error(status, type_, message):
    return (status, {"errorMessage": message, "errorType": type_})


def rapi_malformed(reason, status=400):
    return rapi_error(status, "InvalidRequest", "Malformed HTTP request: " + reason)


BIG = 6291556
# (name, raw request, expected Runtime API answer, what the caller then gets)
RAPI_CASES = [
    ("unknown request id", rapi_request(R + "/invocation/not-a-real-id/response", b"{}"),
     rapi_error(400, "InvalidRequestID", "Invalid request ID"), None),
    ("unknown request id on /error", rapi_request(R + "/invocation/nope/error", b"{}"),
     rapi_error(400, "InvalidRequestID", "Invalid request ID"), None),
    ("unknown method", b"BREW " + (R + "/invocation/next").encode() + b" HTTP/1.1\r\n\r\n",
     rapi_malformed("Invalid method encountered"), None),
    ("DELETE on /next", rapi_request(R + "/invocation/next", method=b"DELETE"),
     rapi_error(405, "MethodNotAllowed", "Method not allowed"), None),
    ("unknown path", rapi_request("/2018-06-01/nowhere", method=b"GET"),
     rapi_error(404, "InvalidRequest", "Unknown endpoint"), None),
    ("100 KB header", rapi_request(R + "/invocation/{RID}/response", b"{}",
                                   headers=b"X-Big: " + b"a" * 100 * 1024 + b"\r\n"),
     rapi_malformed("request headers too large", 431), None),
    ("10,000 headers", rapi_request(R + "/invocation/{RID}/response", b"{}",
                                    headers=b"".join(b"X-H%d: v\r\n" % i
                                                     for i in range(10000))),
     rapi_malformed("too many request headers", 431), None),
    ("negative Content-Length", b"POST " + (R + "/invocation/{RID}/response").encode() +
     b" HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}",
     rapi_malformed("Invalid character in Content-Length"), None),
    ("broken chunked response", b"POST " + (R + "/invocation/{RID}/response").encode() +
     b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n{}\r\n0\r\n\r\n",
     rapi_malformed("Invalid character in chunk size"), None),
    ("response over 6 MB", rapi_request(R + "/invocation/{RID}/response", b"{BIG}"),
     rapi_error(413, "RequestEntityTooLarge",
                "Exceeded maximum allowed payload size (6291556 bytes)."),
     (200, "Function.ResponseSizeTooLarge")),
    ("invalid UTF-8 response is passed on",
     rapi_request(R + "/invocation/{RID}/response", b"\xff\xfe not json"),
     (202, {"status": "OK"}), (200, None, b"\xff\xfe not json")),
    ("error with a garbage type header",
     rapi_request(R + "/invocation/{RID}/error", b"{\"errorMessage\":\"x\"}",
                  headers=b"Lambda-Runtime-Function-Error-Type: \x7fjunk\r\n"),
     rapi_malformed("Invalid header value char"), None),
    ("bad response mode", rapi_request(R + "/invocation/{RID}/response", b"{}",
                                       headers=b"Lambda-Runtime-Function-Response-Mode: x\r\n"),
     rapi_error(400, "InvalidFunctionResponseMode", "Invalid function response mode"),
     (200, "Runtime.InvalidResponseModeHeader")),
    ("init error after init", rapi_request(R + "/init/error", b"{}"),
     rapi_error(403, "InvalidStateTransition",
                "State transition from Running to InitError failed for runtime. Error: State "
                "transition is not allowed"), None),
]


def _rapi_parse(text):
    answers, rest = parse_responses(text.encode("latin-1"))
    return answers


class RuntimeApi(harness.SharedLemuTestCase):
    tmp = None

    @classmethod
    def config(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lemu-raw-")
        os.chmod(cls.tmp, 0o755)
        boot = os.path.join(cls.tmp, "bootstrap")
        with open(boot, "w") as f:
            f.write(RAW_RUNTIME)
        os.chmod(boot, 0o755)
        return {"functions": {"function": {"bootstrap": boot, "timeout_s": 30,
                                           "memory_mb": 512, "sandbox": {"cpu": "off"}}}}

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_alive(self):
        self.assertIsNone(self.lemu.proc.poll(), "lemu exited\n" + self.lemu.logs()[-3000:])
        status, _, body = self.lemu.invoke(payload=b'{"alive":true}', timeout=60)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"event": {"alive": True}})

    def run_rapi_case(self, data, want, caller):
        answered = caller is not None
        event = {"raw": base64.b64encode(data).decode(), "answered": answered}
        status, headers, body = self.lemu.invoke(payload=json.dumps(event).encode(), timeout=60)
        self.assertEqual(status, 200, body)
        wstatus, wbody = want
        if answered:
            cstatus, ctype = caller[0], caller[1]
            self.assertEqual(status, cstatus)
            self.assertEqual(headers.get("x-amz-function-error") is not None, ctype is not None)
            if ctype:
                status_, rec = self.lemu.control(
                    "GET", "/invocations/" + headers["x-amzn-requestid"])
                self.assertEqual(rec["error_type"], ctype)
            else:
                self.assertEqual(body, caller[2])
            # What the runtime got is in lemu's record only through the caller's answer;
            # the raw answer itself was checked by the status the caller saw.
        else:
            j = json.loads(body)
            answers = _rapi_parse(j["answer"])
            self.assertEqual(len(answers), 1, j["answer"][:300])
            self.assertTrue(j["eof"], "lemu kept the connection open")
            st, h, b = answers[0]
            self.assertEqual(st, wstatus, b[:300])
            self.assertEqual(h.get("content-type"), "application/json")
            self.assertEqual(json.loads(b), wbody)
        self.assert_alive()


for name, data, want, caller in RAPI_CASES:
    n += 1
    _add(RuntimeApi, n, "runtime api " + name,
         lambda self, d=data, w=want, c=caller: self.run_rapi_case(d, w, c))


# ---- the config file ---------------------------------------------------------------------

GOOD_FN = '"functions": {"f": {"bootstrap": "/bin/true"}}'
# (name, file bytes, exact stderr line) — `lemu validate` exits 2 and names line:col.
CONFIG_CASES = [
    ("empty file", b"", "lemu: %s:1:1: syntax error: unexpected end of input"),
    ("not JSON", b"hello", "lemu: %s:1:1: syntax error near 'hello'"),
    ("trailing garbage", b'{' + GOOD_FN.encode() + b'} x',
     "lemu: %s:1:50: unexpected text after the end of the JSON value"),
    ("invalid UTF-8", b'{"region": "\xff", ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:13: invalid UTF-8"),
    ("deeply nested", b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
     "lemu: %s:1:1005: syntax error near '[[[[[[[[[[[[[[[[[[[[[[[['"),
    ("unterminated comment", b'{' + GOOD_FN.encode() + b' /* no end',
     "lemu: %s:1:49: unterminated /* comment"),
    ("unknown key", b'{"nope": 1, ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:2: nope: unknown key"),
    ("wrong type", b'{"seed": "one", ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:2: seed: expected an integer, got the string 'one'"),
    ("memory out of range", b'{"functions": {"f": {"bootstrap": "/bin/true", "memory_mb": 99}}}',
     "lemu: %s:1:48: functions.f.memory_mb: must be an integer from 128 to 10240 (got 99)"),
    ("huge number", b'{"seed": 1e999999, ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:2: seed: must be an integer from 0 to 9007199254740992 (got inf)"),
    ("NUL byte", b'{"region": "us\x00east", ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:15: the text contains a NUL byte"),
    ("limits zero", b'{"limits": {"max_connections": 0}, ' + GOOD_FN.encode() + b'}',
     "lemu: %s:1:13: limits.max_connections: must be an integer from 1 to 1000000 (got 0)"),
    ("environment over 4 KB",
     b'{"functions": {"f": {"bootstrap": "/bin/true", "environment": {"A": "' + b"x" * 5000 +
     b'"}}}}', None),
]


class ConfigFile(unittest.TestCase):
    def validate(self, data):
        d = tempfile.mkdtemp(prefix="lemu-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "lemu.json")
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run([harness.LEMU, "validate", path], capture_output=True, timeout=30)
        return p.returncode, p.stderr.decode("utf-8", "replace"), path

    def run_config_case(self, data, want):
        rc, err, path = self.validate(data)
        self.assertEqual(rc, 2, err)
        if want is not None:
            self.assertEqual(err.splitlines()[0] if err else "", want % path)
        # A good config right after is still fine.
        rc, err, _ = self.validate(b"{" + GOOD_FN.encode() + b"}")
        self.assertEqual(rc, 0, err)


for name, data, want in CONFIG_CASES:
    n += 1
    _add(ConfigFile, n, "config " + name, lambda self, d=data, w=want: self.run_config_case(d, w))


if __name__ == "__main__":
    harness.main()
