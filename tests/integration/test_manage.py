# SPDX-License-Identifier: Apache-2.0
"""The management read API through the real clients (the AWS CLI's list-functions, boto3's
get_function and friends), --env-file in SAM's --env-vars format, and `lemu event`.

Clients run with retries off and dummy credentials, as in test_cli_clients.py.
"""
import json
import os
import subprocess
import tempfile
import unittest

import harness

AWS = "/usr/bin/aws"
REGION = "us-east-1"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
EVENT_TYPES = ["apigw-v1", "apigw-v2", "function-url", "sqs", "sns", "s3", "eventbridge",
               "dynamodb"]

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
for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
    CLIENT_ENV.pop(k, None)

LEMU = None
ENV_FILE = None


def setUpModule():
    global LEMU, ENV_FILE
    echo = harness.fixture("c-echo")
    fd, ENV_FILE = tempfile.mkstemp(prefix="lemu-env-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"Parameters": {"SHARED": "all", "TABLE": "default"},
                   "orders": {"TABLE": "orders-table"}}, f)
    cfg = {"functions": {
        "orders": {"bootstrap": echo, "memory_mb": 256, "timeout_s": 2.5,
                   "runtime": "provided.al2", "handler": "orders.handler",
                   "ephemeral_storage_mb": 1024, "reserved_concurrency": 5,
                   "aliases": {"live": "$LATEST", "beta": "$LATEST"}},
        "users": {"bootstrap": echo},
        "carts": {"bootstrap": echo},
    }}
    LEMU = harness.Lemu("--env-file", ENV_FILE, config=cfg)
    LEMU.start()


def tearDownModule():
    if LEMU:
        LEMU.stop()
        LEMU.cleanup()
    if ENV_FILE:
        os.unlink(ENV_FILE)


def aws(*args):
    p = subprocess.run([AWS, "--endpoint-url", LEMU.url, "--region", REGION, "--output",
                        "json", "lambda"] + list(args), capture_output=True, env=CLIENT_ENV,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def boto3_client():
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise unittest.SkipTest("boto3 is not installed")
    return boto3.client("lambda", endpoint_url=LEMU.url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}))


class ListFunctions(unittest.TestCase):
    def test_cli_list_functions(self):
        rc, out, err = aws("list-functions")
        self.assertEqual(rc, 0, err)
        fns = json.loads(out)["Functions"]
        self.assertEqual([f["FunctionName"] for f in fns], ["orders", "users", "carts"])
        orders = fns[0]
        self.assertEqual(orders["FunctionArn"], ARN + "orders")
        self.assertEqual(orders["Runtime"], "provided.al2")
        self.assertEqual(orders["Handler"], "orders.handler")
        self.assertEqual(orders["MemorySize"], 256)
        self.assertEqual(orders["Timeout"], 3)  # whole seconds, rounded up
        self.assertEqual(orders["EphemeralStorage"], {"Size": 1024})
        self.assertEqual(orders["Version"], "$LATEST")
        self.assertEqual(orders["State"], "Active")
        self.assertEqual(orders["PackageType"], "Zip")
        self.assertGreater(orders["CodeSize"], 0)
        # --env-file: Parameters for every function, the function's own block wins.
        self.assertEqual(orders["Environment"]["Variables"]["TABLE"], "orders-table")
        self.assertEqual(orders["Environment"]["Variables"]["SHARED"], "all")
        self.assertEqual(fns[1]["Environment"]["Variables"]["TABLE"], "default")

    def test_pagination(self):
        client = boto3_client()
        page = client.list_functions(MaxItems=2)
        self.assertEqual([f["FunctionName"] for f in page["Functions"]], ["orders", "users"])
        page2 = client.list_functions(MaxItems=2, Marker=page["NextMarker"])
        self.assertEqual([f["FunctionName"] for f in page2["Functions"]], ["carts"])
        self.assertNotIn("NextMarker", page2)
        names = [f["FunctionName"]
                 for p in client.get_paginator("list_functions").paginate(
                     PaginationConfig={"PageSize": 1})
                 for f in p["Functions"]]
        self.assertEqual(names, ["orders", "users", "carts"])


class GetFunction(unittest.TestCase):
    def test_boto3_get_function(self):
        r = boto3_client().get_function(FunctionName="orders")
        conf = r["Configuration"]
        self.assertEqual(conf["FunctionName"], "orders")
        self.assertEqual(conf["FunctionArn"], ARN + "orders")
        self.assertEqual(r["Concurrency"], {"ReservedConcurrentExecutions": 5})
        self.assertEqual(r["Code"]["RepositoryType"], "S3")
        self.assertTrue(r["Code"]["Location"].startswith("file:///"))

    def test_qualified_names_and_arns(self):
        client = boto3_client()
        for name, qual, arn in [
                (ARN + "orders:live", None, ARN + "orders:live"),
                ("orders", "beta", ARN + "orders:beta"),
                ("000000000000:function:orders", "$LATEST", ARN + "orders:$LATEST"),
                (ARN + "users", None, ARN + "users")]:
            kw = {"FunctionName": name}
            if qual:
                kw["Qualifier"] = qual
            with self.subTest(name=name, qualifier=qual):
                conf = client.get_function_configuration(**kw)
                self.assertEqual(conf["FunctionArn"], arn)
                self.assertEqual(conf["Version"], "$LATEST")

    def test_not_found(self):
        client = boto3_client()
        for kw in [{"FunctionName": "nope"}, {"FunctionName": "orders", "Qualifier": "gone"},
                   {"FunctionName": "arn:aws:lambda:eu-west-1:000000000000:function:orders"}]:
            with self.subTest(**kw):
                with self.assertRaises(client.exceptions.ResourceNotFoundException) as cm:
                    client.get_function(**kw)
                self.assertIn("Function not found", str(cm.exception))
        rc, out, err = aws("get-function-configuration", "--function-name", "nope")
        self.assertEqual(rc, 254, (out, err))
        self.assertIn("ResourceNotFoundException", err)

    def test_aliases(self):
        client = boto3_client()
        aliases = client.list_aliases(FunctionName="orders")["Aliases"]
        self.assertEqual([(a["Name"], a["FunctionVersion"], a["AliasArn"]) for a in aliases],
                         [("live", "$LATEST", ARN + "orders:live"),
                          ("beta", "$LATEST", ARN + "orders:beta")])
        a = client.get_alias(FunctionName="orders", Name="live")
        self.assertEqual(a["AliasArn"], ARN + "orders:live")
        with self.assertRaises(client.exceptions.ResourceNotFoundException):
            client.get_alias(FunctionName="orders", Name="gone")
        self.assertEqual(client.list_aliases(FunctionName="users")["Aliases"], [])

    def test_invoke_still_works_and_unknown_operations(self):
        status, _, body = LEMU.invoke("orders", b'{"env": "TABLE"}', qualifier="live")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["env_value"], "orders-table")
        status, headers, _ = LEMU.request("DELETE", "/2015-03-31/functions/orders")
        self.assertEqual(status, 404)
        self.assertEqual(headers["x-amzn-errortype"], "UnknownOperationException")


class Events(unittest.TestCase):
    def test_every_sample_is_json_and_runs(self):
        echo = harness.fixture("c-echo")
        for t in EVENT_TYPES:
            with self.subTest(type=t):
                p = subprocess.run([harness.LEMU, "event", t], capture_output=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
                sample = json.loads(p.stdout)
                self.assertIsInstance(sample, dict)
                run = subprocess.run([harness.LEMU, "run", "--event", "-", echo],
                                     input=p.stdout, capture_output=True, timeout=60)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual(json.loads(run.stdout)["event"], sample)

    def test_unknown_type(self):
        p = subprocess.run([harness.LEMU, "event", "kinesis"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"no sample event 'kinesis'", p.stderr)
        self.assertIn(b"apigw-v1", p.stderr)
        p = subprocess.run([harness.LEMU, "event"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    harness.main()
