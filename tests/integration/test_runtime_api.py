# SPDX-License-Identifier: Apache-2.0
"""The Runtime API as a runtime sees it (spec §1) and what the caller gets back.

Two kinds of runtime drive it: the c-bad fixture, whose modes misuse the API and log each
answer lemu gave them ("<what> status: NNN" / "<what> body: ..."), and a small Python
"probe" runtime written by these tests, which talks to $AWS_LAMBDA_RUNTIME_API with
http.client, records every answer and header it got, and reports them in its /response
body, so that the assertions are on the invoke result. What lemu recorded (the sanitised
error type) is read from the control API: GET /_lemu/invocations/{request_id}.
"""
import base64
import json
import os
import re
import time

import harness

ARN = "arn:aws:lambda:us-east-1:000000000000:function:function"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# The probe runtime. Before its first /next it tries the calls a runtime must not make yet
# (or that do not exist) and keeps the answers; each invocation then runs the event's
# "action" and answers with everything it saw. Answers are JSON with the bodies as text.
PROBE = r'''#!/usr/bin/python3
import http.client, json, os, sys

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
RT = "/2018-06-01/runtime"


def call(method, path, body=None, headers=None):
    host, _, port = API.rpartition(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return {"status": r.status, "body": data.decode("utf-8", "replace"),
                "headers": {k: v for k, v in r.getheaders()}}
    finally:
        c.close()


def short(a):
    return {"status": a["status"], "body": a["body"]}


init = {
    "response_before_next": short(call("POST", RT + "/invocation/some-id/response", b"{}")),
    "error_before_next": short(call("POST", RT + "/invocation/some-id/error", b"{}")),
    "unknown_path": short(call("GET", RT + "/invocation/nope")),
    "unknown_version": short(call("GET", "/2099-01-01/runtime/invocation/next")),
    "get_on_response": short(call("GET", RT + "/invocation/some-id/response")),
    "get_on_init_error": short(call("GET", RT + "/init/error")),
    "post_on_next": short(call("POST", RT + "/invocation/next", b"")),
    "ping": short(call("GET", "/2018-06-01/ping")),
}
env_names = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
             "AWS_LAMBDA_FUNCTION_VERSION", "AWS_REGION", "AWS_DEFAULT_REGION",
             "LAMBDA_TASK_ROOT", "TZ", "_HANDLER", "AWS_LAMBDA_INITIALIZATION_TYPE",
             "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_GROUP_NAME", "PROBE_VAR",
             "FOO_HOST_ONLY", "LANG"]
last_post = None
previous_id = None
count = 0
while True:
    nxt = call("GET", RT + "/invocation/next")
    count += 1
    rid = nxt["headers"].get("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(nxt["body"]) if nxt["body"] else {}
    action = event.get("action", "report") if isinstance(event, dict) else "report"
    seen = {}
    if action == "report":
        seen = {
            "next_status": nxt["status"],
            "next_headers": nxt["headers"],
            "init_error_after_next": short(call("POST", RT + "/init/error", b"{}",
                                                {"Lambda-Runtime-Function-Error-Type":
                                                 "Runtime.X"})),
            "last_post": last_post,
            "env": {k: os.environ.get(k) for k in env_names},
            "cwd": os.getcwd(),
        }
        if count == 1:
            seen["init"] = init
    elif action == "stale":
        seen["stale"] = short(call("POST", RT + "/invocation/%s/response" % previous_id,
                                   b'{"stale":true}'))
        seen["stale_error"] = short(call("POST", RT + "/invocation/%s/error" % previous_id,
                                         b'{"stale":true}'))
    elif action == "error_type":
        # An /error with the given type header and body, as a runtime may send them.
        headers = {}
        if event.get("type") is not None:
            headers["Lambda-Runtime-Function-Error-Type"] = event["type"]
        if event.get("content_type"):
            headers["Content-Type"] = event["content_type"]
        last_post = short(call("POST", RT + "/invocation/%s/error" % rid,
                               event.get("body", "").encode(), headers))
        previous_id = rid
        continue
    elif action == "print":
        print("probe says %s" % event.get("text"), flush=True)
    elif action == "exit_after_response":
        # Answers, then dies before asking for the next event.
        call("POST", RT + "/invocation/%s/response" % rid, b'{"bye":true}')
        os._exit(4)
    out = json.dumps({"request_id": rid, "count": count, "seen": seen}).encode()
    last_post = short(call("POST", RT + "/invocation/%s/response" % rid, out,
                           {"Content-Type": "application/json"}))
    previous_id = rid
'''


def error_body(status, body):
    return {"status": status, "body": body}


def rapi_error(type_, message):
    """A Runtime API error body as lemu sends it (RAPID's order, errorMessage first)."""
    return json.dumps({"errorMessage": message, "errorType": type_},
                      separators=(",", ":")) + "\n"


class RuntimeApiTest(harness.LemuTestCase):
    """Common set-up: a started lemu, cleaned up whatever happens."""

    def bad(self, *args, **kw):
        # CPU share off: at 128 MB's 7 % of a core, the 7 MB answer alone takes 0.5 s.
        return self.lemu("--timeout", "3", "--sandbox-cpu", "off", *args,
                         harness.fixture("c-bad"), **kw)

    def record(self, l, request_id):
        """lemu's record of one invocation (control API)."""
        status, rec = l.control("GET", "/invocations/" + request_id)
        self.assertEqual(status, 200, rec)
        return rec

    def invoke_json(self, l, event, **kw):
        status, headers, body = l.invoke(payload=json.dumps(event), **kw)
        self.assertEqual(status, 200, body)
        return headers, body

    def probe_dir(self):
        return os.path.dirname(self.write_bootstrap(PROBE, "lemu-probe-"))

    def probe(self, config_extra=None, env=None, args=()):
        """A lemu serving the probe runtime as 'function' (with alias 'live')."""
        d = self.probe_dir()
        # CPU share off: Python's start at 128 MB's 7 % of a core would take a second.
        fn = {"bootstrap": os.path.join(d, "bootstrap"), "timeout_s": 3,
              "aliases": {"live": "$LATEST"}, "sandbox": {"cpu": "off"}}
        fn.update(config_extra or {})
        l = self.lemu(*args, config={"functions": {"function": fn}}, env=env)
        return l, d

    def logged(self, l, text, timeout=5.0):
        """Waits for a function-output line (after the [function/function-N] prefix)."""
        return harness.wait_for(
            lambda: [m for m in re.findall(r"^\[function/function-\d+\] (.*)$", l.logs(), re.M)
                     if m == text],
            timeout, what="log line %r" % text)


class MisuseByCBad(RuntimeApiTest):
    """c-bad's misbehaving modes: the answer it got, and what the caller got."""

    def test_unknown_request_id_is_400_invalid_request_id(self):
        l = self.bad()
        headers, body = self.invoke_json(l, {"mode": "wrong_id"})
        self.assertNotIn("x-amz-function-error", headers)
        answer = json.loads(body)
        self.assertEqual(answer["wrong_id_status"], 400)
        self.assertEqual(answer["request_id"], headers["x-amzn-requestid"])
        self.logged(l, "wrong id status: 400")
        self.logged(l, "wrong id body: " +
                    rapi_error("InvalidRequestID", "Invalid request ID").rstrip("\n"))

    def test_second_response_is_403_invalid_state_transition(self):
        l = self.bad()
        headers, body = self.invoke_json(l, {"mode": "post_twice"})
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(json.loads(body)["count"], 1)
        self.logged(l, "first post status: 202")
        self.logged(l, "second post status: 403")
        line = harness.wait_for(
            lambda: re.findall(r"^\[function/function-1\] second post body: (.*)$", l.logs(),
                               re.M), what="second post body")[0]
        err = json.loads(line)
        self.assertEqual(list(err), ["errorMessage", "errorType"])
        self.assertEqual(err["errorType"], "InvalidStateTransition")
        self.assertRegex(err["errorMessage"],
                         r"^State transition from \w+ to \w+ failed for runtime\. "
                         r"Error: State transition is not allowed$")
        # The first answer counted and the runtime goes on in the same environment.
        headers, body = self.invoke_json(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(json.loads(body)["count"], 2)

    def test_bad_response_mode_is_400_and_a_function_error(self):
        l = self.bad()
        status, headers, body = l.invoke(payload=b'{"mode":"bad_mode"}')
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        # Runtime.InvalidResponseModeHeader, with an empty body as RAPID gives it (§3.3).
        self.assertEqual(body, b"")
        self.logged(l, "bad mode status: 400")
        self.logged(l, "bad mode body: " + rapi_error(
            "InvalidFunctionResponseMode", "Invalid function response mode").rstrip("\n"))
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual((rec["status"], rec["error_type"]),
                         ("error", "Runtime.InvalidResponseModeHeader"))
        # The rejected post ended the invocation: c-bad's follow-up answer is refused.
        self.logged(l, "response status: 403")
        _, fn = l.control("GET", "/functions/function")
        self.assertEqual(fn["counters"]["errors"], 1)
        headers, body = self.invoke_json(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(json.loads(body)["count"], 2)

    def test_too_large_response_is_413_and_response_size_too_large(self):
        l = self.bad()
        status, headers, body = l.invoke(payload=b'{"mode":"big"}')
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        sent = 7 * 1024 * 1024  # c-bad's BIG_RESPONSE_SIZE, sent whole with Content-Length
        self.assertEqual(body.decode(), (
            '{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload '
            'size (%d bytes) exceeded maximum allowed payload size (6291556 bytes)."}' % sent))
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual((rec["status"], rec["error_type"]),
                         ("error", "Function.ResponseSizeTooLarge"))
        # The runtime read the whole 413 (lemu drained the body instead of resetting).
        self.logged(l, "big post status: 413")
        self.logged(l, "big post body: " + rapi_error(
            "RequestEntityTooLarge",
            "Exceeded maximum allowed payload size (6291556 bytes).").rstrip("\n"))
        headers, body = self.invoke_json(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(json.loads(body)["count"], 2)

    def test_next_during_invocation_redelivers_the_same_request(self):
        l = self.bad()
        headers, body = self.invoke_json(l, {"mode": "next_twice"})
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(json.loads(body), {"redelivered": True})
        rid = headers["x-amzn-requestid"]
        self.logged(l, "first id: " + rid)
        self.logged(l, "second id: " + rid)

    def test_error_body_is_returned_verbatim(self):
        l = self.bad()
        status, headers, body = l.invoke(payload=b'{"mode":"error"}')
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(body, b'{"errorMessage":"boom","errorType":"MyError",'
                               b'"stackTrace":["a","b"]}')
        self.assertEqual(headers.get("content-type"), "application/json")
        # The type header "MyError" is no (Runtime|Function).Name: recorded as Runtime.Unknown.
        rec = self.record(l, headers["x-amzn-requestid"])
        self.assertEqual((rec["status"], rec["error_type"]), ("error", "Runtime.Unknown"))
        # An /error is not a reset: the same process serves the next invocation.
        headers, body = self.invoke_json(l, {"mode": "echo"})
        self.assertEqual(headers["x-lemu-cold-start"], "false")
        self.assertEqual(json.loads(body)["count"], 2)

    def test_init_error_during_invocation_is_403(self):
        l = self.bad()
        headers, body = self.invoke_json(l, {"mode": "init_error"})
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(json.loads(body)["init_error_status"], 403)
        self.logged(l, "init error status: 403")


class RawRuntime(RuntimeApiTest):
    """The probe runtime: every answer of the Runtime API, byte for byte where it matters."""

    def report(self, l, event=None, **kw):
        headers, body = self.invoke_json(l, event if event is not None else {}, **kw)
        self.assertNotIn("x-amz-function-error", headers, body)
        return headers, json.loads(body)

    def test_calls_before_the_first_next(self):
        l, _ = self.probe()
        headers, answer = self.report(l)
        init = answer["seen"]["init"]
        bad_id = error_body(400, rapi_error("InvalidRequestID", "Invalid request ID"))
        self.assertEqual(init["response_before_next"], bad_id)
        self.assertEqual(init["error_before_next"], bad_id)
        self.assertEqual(init["unknown_path"]["status"], 404)
        self.assertEqual(init["unknown_version"]["status"], 404)
        self.assertEqual(init["get_on_response"]["status"], 405)
        self.assertEqual(init["get_on_init_error"]["status"], 405)
        self.assertEqual(init["post_on_next"]["status"], 405)
        self.assertEqual(init["ping"], {"status": 200, "body": "pong"})
        # None of these ended init: the invocation was served by the same process.
        self.assertEqual(headers["x-lemu-cold-start"], "true")
        self.assertEqual(answer["count"], 1)

    def test_init_error_after_next_is_403(self):
        l, _ = self.probe()
        _, answer = self.report(l)
        got = answer["seen"]["init_error_after_next"]
        self.assertEqual(got["status"], 403)
        err = json.loads(got["body"])
        self.assertEqual(err["errorType"], "InvalidStateTransition")
        self.assertRegex(err["errorMessage"], r"^State transition from \w+ to InitError failed")

    def test_accepted_body_is_status_ok(self):
        l, _ = self.probe()
        self.report(l)
        _, answer = self.report(l)
        self.assertEqual(answer["seen"]["last_post"],
                         {"status": 202, "body": '{"status":"OK"}\n'})

    def test_stale_request_id_is_400(self):
        l, _ = self.probe()
        self.report(l)
        headers, answer = self.report(l, {"action": "stale"})
        bad_id = error_body(400, rapi_error("InvalidRequestID", "Invalid request ID"))
        self.assertEqual(answer["seen"]["stale"], bad_id)
        self.assertEqual(answer["seen"]["stale_error"], bad_id)

    def test_next_headers(self):
        l, _ = self.probe()
        before = time.time() * 1000
        headers, answer = self.report(l)
        after = time.time() * 1000
        h = answer["seen"]["next_headers"]
        self.assertEqual(answer["seen"]["next_status"], 200)
        self.assertEqual(h["Lambda-Runtime-Aws-Request-Id"], headers["x-amzn-requestid"])
        self.assertRegex(h["Lambda-Runtime-Aws-Request-Id"], "^" + UUID_RE + "$")
        deadline = int(h["Lambda-Runtime-Deadline-Ms"])
        self.assertGreaterEqual(deadline, before + 3000 - 5)
        self.assertLessEqual(deadline, after + 3000 + 5)
        self.assertEqual(h["Lambda-Runtime-Invoked-Function-Arn"], ARN)
        self.assertRegex(h["Lambda-Runtime-Trace-Id"],
                         r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;Parent=[0-9a-f]{16})?"
                         r"(;Sampled=[01])?$")
        self.assertNotIn("Lambda-Runtime-Client-Context", h)
        self.assertNotIn("Lambda-Runtime-Cognito-Identity", h)
        self.assertEqual(h["Content-Type"], "application/json")

    def test_next_headers_from_the_caller(self):
        l, _ = self.probe()
        trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
        ctx = '{"custom":{"k":"v"},"env":{"model":"x"}}'
        headers, answer = self.report(l, headers={
            "X-Amzn-Trace-Id": trace,
            "X-Amz-Client-Context": base64.b64encode(ctx.encode()).decode()})
        h = answer["seen"]["next_headers"]
        self.assertEqual(h["Lambda-Runtime-Trace-Id"], trace)
        self.assertEqual(h["Lambda-Runtime-Client-Context"], ctx)
        self.assertNotIn("Lambda-Runtime-Cognito-Identity", h)

    def test_invoked_function_arn_names_the_alias(self):
        l, _ = self.probe()
        _, answer = self.report(l, qualifier="live")
        self.assertEqual(answer["seen"]["next_headers"]["Lambda-Runtime-Invoked-Function-Arn"],
                         ARN + ":live")
        status, _, body = l.invoke(function="function:live", payload=b"{}")
        self.assertEqual(status, 200)
        self.assertEqual(
            json.loads(body)["seen"]["next_headers"]["Lambda-Runtime-Invoked-Function-Arn"],
            ARN + ":live")
        _, answer = self.report(l)
        self.assertEqual(answer["seen"]["next_headers"]["Lambda-Runtime-Invoked-Function-Arn"],
                         ARN)

    def test_error_types_and_bodies(self):
        """The /error body goes to the caller as posted; an empty one is built from the
        sanitised type header (spec §1.5)."""
        l, _ = self.probe()
        cases = [
            # (type header, body posted, body the caller gets, type lemu records)
            ("MyError", '{"errorMessage":"m","errorType":"MyError"}',
             '{"errorMessage":"m","errorType":"MyError"}', "Runtime.Unknown"),
            ("MyError", "", '{"errorType":"Runtime.Unknown","errorMessage":""}',
             "Runtime.Unknown"),
            ("Unhandled", "", '{"errorType":"Runtime.Unknown","errorMessage":""}',
             "Runtime.Unknown"),
            ("Function.not-valid", "", '{"errorType":"Function.Unknown","errorMessage":""}',
             "Function.Unknown"),
            ("Function.Oops", '{"a":1}', '{"a":1}', "Function.Oops"),
            ("Runtime.HandlerNotFound", "",
             '{"errorType":"Runtime.HandlerNotFound","errorMessage":""}',
             "Runtime.HandlerNotFound"),
            ("Runtime.x", "", '{"errorType":"Runtime.Unknown","errorMessage":""}',
             "Runtime.Unknown"),
            (None, "", '{"errorType":"Runtime.Unknown","errorMessage":""}', "Runtime.Unknown"),
            ("Runtime.Weird", "not json at all", "not json at all", "Runtime.Weird"),
        ]
        for i, (type_, posted, expected, recorded) in enumerate(cases):
            # No subTest: harness.TapResult reports whole test cases only.
            what = "type %r, body %r" % (type_, posted)
            status, headers, body = l.invoke(payload=json.dumps(
                {"action": "error_type", "type": type_, "body": posted}))
            self.assertEqual(status, 200, what)
            self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", what)
            self.assertEqual(body.decode(), expected, what)
            self.assertEqual(self.record(l, headers["x-amzn-requestid"])["error_type"],
                             recorded, what)
            # /error is no reset: one process serves them all.
            self.assertEqual(headers.get("x-lemu-cold-start"), "true" if i == 0 else "false",
                             what)
        _, answer = self.report(l)
        self.assertEqual(answer["seen"]["last_post"],
                         {"status": 202, "body": '{"status":"OK"}\n'})

    def test_exit_after_response(self):
        """A runtime that answers and then exits: the caller has its answer, and the
        exit belongs to no later invocation, which is served by a fresh init."""
        l, _ = self.probe()
        for _ in range(3):
            status, headers, body = l.invoke(payload=b'{"action":"exit_after_response"}')
            self.assertEqual(status, 200)
            self.assertNotIn("x-amz-function-error", headers, body)
            self.assertEqual(body, b'{"bye":true}')
            # Sent at once, while the runtime may still be exiting.
            headers, answer = self.report(l)
            self.assertEqual(headers["x-lemu-cold-start"], "true")
            self.assertEqual(headers["x-lemu-environment-id"], "function-1")
            self.assertEqual(answer["count"], 1)
            self.assertLess(float(headers["x-lemu-duration-ms"]), 3000)

    def test_function_environment(self):
        l, code_dir = self.probe(
            config_extra={"memory_mb": 256, "handler": "probe.handler",
                          "environment": {"PROBE_VAR": "probe value"}},
            env={"FOO_HOST_ONLY": "leak"})
        _, answer = self.report(l)
        env = answer["seen"]["env"]
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "function")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST")
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertEqual(env["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertEqual(env["LAMBDA_TASK_ROOT"], code_dir)
        self.assertEqual(env["TZ"], ":UTC")
        self.assertEqual(env["_HANDLER"], "probe.handler")
        self.assertEqual(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand")
        self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/function")
        self.assertRegex(env["AWS_LAMBDA_RUNTIME_API"], r"^127\.\d+\.\d+\.\d+:9001$")
        self.assertEqual(env["PROBE_VAR"], "probe value")
        self.assertEqual(env["LANG"], "en_US.UTF-8")
        self.assertIsNone(env["FOO_HOST_ONLY"])
        self.assertEqual(answer["seen"]["cwd"], code_dir)

    def test_environment_variable_replaces_an_unreserved_default(self):
        l, _ = self.probe(config_extra={"environment": {"LANG": "C.UTF-8"}})
        _, answer = self.report(l)
        self.assertEqual(answer["seen"]["env"]["LANG"], "C.UTF-8")


if __name__ == "__main__":
    harness.main()
