# SPDX-License-Identifier: Apache-2.0
"""`lemu serve --template`: SAM templates through curl, boto3 and the control API.

fixtures/sam/template.yaml has three functions (provided.al2023 behind an HTTP API route,
nodejs20.x under aws-lambda-ric behind a Function URL, provided.al2 behind a REST API proxy
route), Globals, Parameters, !Ref / !Sub / !GetAtt and properties lemu does not use. Broken
templates are written to a temporary folder; python3.* is tested on its error path (PyPI,
where awslambdaric comes from, is out of reach here).
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

TEMPLATE = os.path.join(harness.FIXTURES_SRC, "sam", "template.yaml")
LEMU = None
NODE_READY = False
TMP = None


def node_template():
    """The fixture without NodeFunction, for machines where node-ric cannot be set up."""
    global TMP
    with open(TEMPLATE) as f:
        text = f.read()
    start = text.index("  # nodejs20.x")
    end = text.index("  # provided.al2,")
    text = text[:start] + text[end:]
    text = text.replace("CodeUri: ../", "CodeUri: %s/" % os.path.abspath(harness.FIXTURES_SRC))
    TMP = tempfile.mkdtemp(prefix="lemu-sam-")
    path = os.path.join(TMP, "template.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def setUpModule():
    global LEMU, NODE_READY
    # node-ric's node_modules (npm ci, locked and idempotent): the template's Node function
    # needs aws-lambda-ric when the template loads.
    setup = os.path.join(harness.FIXTURES_SRC, "node-ric", "setup.sh")
    NODE_READY = subprocess.run([setup], capture_output=True, timeout=900).returncode == 0
    template = TEMPLATE if NODE_READY else node_template()
    LEMU = harness.Lemu("--template", template, "--sandbox-cpu", "off", start_timeout=30)
    LEMU.start()


def tearDownModule():
    if LEMU:
        LEMU.stop()
        LEMU.cleanup()
    if TMP:
        shutil.rmtree(TMP, True)


def functions():
    status, body = LEMU.control("GET", "/functions")
    assert status == 200, body
    return {f["name"]: f for f in body["functions"]}


def get(path, method="GET"):
    c = LEMU.conn(60)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Serve(unittest.TestCase):
    def test_functions_and_globals(self):
        fns = functions()
        want = ["NodeFunction", "OrdersFunction", "legacy"] if NODE_READY else [
            "OrdersFunction", "legacy"]
        self.assertEqual(sorted(fns), want)
        orders = fns["OrdersFunction"]["config"]
        self.assertEqual((orders["memory_mb"], orders["timeout_s"]), (512, 10))  # Globals
        self.assertEqual(orders["ephemeral_storage_mb"], 1024)
        self.assertEqual(orders["reserved_concurrency"], 4)
        self.assertEqual(orders["code_dir"],
                         os.path.realpath(os.path.join(harness.FIXTURES_SRC, "python-http")))
        legacy = fns["legacy"]["config"]
        self.assertEqual((legacy["memory_mb"], legacy["timeout_s"]), (256, 5))
        # Streams are relayed for a Function URL with InvokeMode RESPONSE_STREAM and REST
        # APIs, never for HTTP APIs.
        self.assertEqual((orders["http"]["stream"], legacy["http"]["stream"]), (False, True))
        if NODE_READY:
            self.assertTrue(fns["NodeFunction"]["config"]["http"]["stream"])

    def test_environment_runtime_and_alias_via_management_api(self):
        status, _, body = LEMU.request("GET", "/2015-03-31/functions/OrdersFunction:live")
        self.assertEqual(status, 200, body)
        conf = json.loads(body)["Configuration"]
        self.assertEqual(conf["Runtime"], "provided.al2023")
        self.assertEqual(conf["Handler"], "orders.handler")
        # !Ref of a parameter and !Sub of a pseudo parameter resolve; !GetAtt and !Ref of
        # a resource cannot, and are left out.
        env = conf["Environment"]["Variables"]
        env.pop("LEMU_TEST_MARKER")  # the harness's
        self.assertEqual(env, {"STAGE": "dev", "REGION_NAME": "us-east-1-dev"})
        status, _, body = LEMU.request("GET", "/2015-03-31/functions/legacy/configuration")
        conf = json.loads(body)
        self.assertEqual(conf["Environment"]["Variables"]["STAGE"], "legacy-override")
        self.assertEqual(conf["Runtime"], "provided.al2")

    def test_unknown_properties_listed_once(self):
        logs = LEMU.logs()
        for prop in ("Tracing", "Architectures", "Policies"):
            lines = [l for l in logs.splitlines() if "'%s' is not used" % prop in l]
            self.assertEqual(len(lines), 1, (prop, logs))
        self.assertIn("event 'PutOrder' (put /orders/{id}) is not served", logs)
        self.assertIn("event 'Jobs' of type SQS is not served over HTTP", logs)
        self.assertIn("TABLE_ARN comes from !GetAtt", logs)

    def test_http_api_route(self):
        status, body = get("/orders/42?x=1")
        self.assertEqual(status, 200, body)
        ev = json.loads(body)["event"]
        self.assertEqual(ev["routeKey"], "GET /orders/{id}")
        self.assertEqual(ev["pathParameters"], {"id": "42"})
        status, _ = get("/orders/42", "PUT")  # the second route is not served
        self.assertEqual(status, 405)

    def test_rest_api_route(self):
        status, body = get("/legacy/a/b", "POST")
        self.assertEqual(status, 200, body)
        ev = json.loads(body)["event"]
        self.assertEqual((ev["resource"], ev["httpMethod"]), ("/legacy/{proxy+}", "POST"))
        self.assertEqual(ev["pathParameters"], {"proxy": "a/b"})

    def test_node_function_url(self):
        if not NODE_READY:
            raise unittest.SkipTest("fixtures/node-ric/setup.sh failed (node, npm?)")
        status, body = get("/NodeFunction/hello?a=1")
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["runtime"], "node")
        self.assertEqual(answer["event"]["rawPath"], "/NodeFunction/hello")
        self.assertEqual(answer["event"]["routeKey"], "$default")


def write_template(test, text, files=()):
    d = tempfile.mkdtemp(prefix="lemu-sam-")
    test.addCleanup(shutil.rmtree, d, True)
    for name, content, mode in files:
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
        os.chmod(p, mode)
    path = os.path.join(d, "template.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def serve_error(path, *extra):
    """Runs lemu serve on a template that must not load; returns (exit code, stderr)."""
    p = subprocess.run([harness.LEMU, "serve", "--listen", "127.0.0.1:0", "--template", path]
                       + list(extra), capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode()


FUNCTION = """Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
%s
"""


class Errors(unittest.TestCase):
    def test_python_without_awslambdaric(self):
        python = shutil.which("python3.11") or shutil.which("python3")
        has = subprocess.run([python, "-c", "import awslambdaric"],
                             capture_output=True).returncode == 0
        if has:
            raise unittest.SkipTest("awslambdaric is installed here")
        path = write_template(self, FUNCTION % "      Runtime: python3.11\n"
                              "      Handler: app.handler\n      CodeUri: src",
                              [("src/app.py", "def handler(e, c):\n    return e\n", 0o644)])
        rc, err = serve_error(path)
        self.assertEqual(rc, 2, err)
        self.assertIn("function 'Fn' (python3.11) needs the Python runtime interface client",
                      err)
        self.assertIn("pip install -t", err)
        self.assertIn("awslambdaric", err)

    def test_broken_templates(self):
        boot = ("bootstrap", "#!/bin/sh\nexit 0\n", 0o755)
        cases = [
            ("Resources:\n  Fn: [unclosed\n", [], "not valid YAML"),
            ("Resources: {}\n", [], "no AWS::Serverless::Function resource"),
            (FUNCTION % "      Runtime: provided.al2023", [],
             "needs an executable 'bootstrap' in its CodeUri"),
            (FUNCTION % "      Runtime: java21\n      Handler: a.B", [boot],
             "runtime 'java21' is not supported"),
            (FUNCTION % "      Runtime: provided.al2\n      CodeUri: app.zip", [boot],
             "is an archive"),
            (FUNCTION % "      Runtime: provided.al2\n      MemorySize: 64", [boot],
             "functions.Fn.memory_mb"),
            (FUNCTION % "      Handler: x", [boot], "has no Runtime"),
        ]
        for text, files, want in cases:
            with self.subTest(want=want):
                rc, err = serve_error(write_template(self, text, files))
                self.assertEqual(rc, 2, err)
                self.assertIn(want, err)
        rc, err = serve_error("/nonexistent/template.yaml")
        self.assertEqual(rc, 2)
        self.assertIn("cannot open template", err)

    def test_config_refines_template_functions(self):
        path = write_template(self, FUNCTION % "      Runtime: provided.al2\n      Timeout: 7",
                              [("bootstrap", open(os.path.join(
                                  harness.FIXTURES_SRC, "python-http", "bootstrap")).read(),
                                0o755)])
        cfg = {"functions": {"Fn": {"memory_mb": 1024}}}
        lemu = harness.Lemu("--template", path, config=cfg)
        lemu.start()
        self.addCleanup(lemu.cleanup)
        self.addCleanup(lemu.stop)
        status, body = lemu.control("GET", "/functions/Fn")
        self.assertEqual(status, 200)
        self.assertEqual((body["config"]["memory_mb"], body["config"]["timeout_s"]), (1024, 7))

    def test_run_refuses_template(self):
        p = subprocess.run([harness.LEMU, "run", "--template", TEMPLATE, "x"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--template is for 'lemu serve'", p.stderr)


if __name__ == "__main__":
    harness.main()
