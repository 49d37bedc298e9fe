# SPDX-License-Identifier: Apache-2.0
"""`lemu serve --watch`: a change to a function's code recycles its environments, so the
next invocation runs the new code (cold); without --watch the warm environment stays.

The function is a small Python runtime written to a temporary folder: at init it reads
version.txt (and lib/data.txt) from its code folder and answers every invocation with them.
Edits are made the ways tools make them: in place, by rename, in a subfolder, and to a
bootstrap that lives outside code_dir.
"""
import json
import os
import re
import shutil
import tempfile
import unittest

import harness

RUNTIME = r'''#!/usr/bin/python3
import http.client, json, os
root = os.environ["LAMBDA_TASK_ROOT"]
def read(name):
    try:
        with open(os.path.join(root, name)) as f:
            return f.read().strip()
    except OSError:
        return None
VERSION, DATA, CODE = read("version.txt"), read("lib/data.txt"), "%s"
host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
conn = http.client.HTTPConnection(host, int(port))
base = "/2018-06-01/runtime/invocation/"
while True:
    conn.request("GET", base + "next")
    resp = conn.getresponse()
    resp.read()
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    body = json.dumps({"version": VERSION, "data": DATA, "code": CODE})
    conn.request("POST", base + rid + "/response", body=body)
    conn.getresponse().read()
'''


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Watch(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lemu-watch-")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.code = os.path.join(self.dir, "code")
        write(os.path.join(self.code, "bootstrap"), RUNTIME % "one", 0o755)
        write(os.path.join(self.code, "version.txt"), "1\n")
        write(os.path.join(self.code, "lib", "data.txt"), "a\n")
        os.chmod(os.path.join(self.code, "lib"), 0o755)
        os.chmod(self.code, 0o755)

    def start(self, *args, config=None):
        cfg = config or {"functions": {"fn": {"bootstrap": os.path.join(self.code, "bootstrap"),
                                              "sandbox": {"cpu": "off"}}}}
        lemu = harness.Lemu(*args, config=cfg)
        lemu.start()
        self.addCleanup(lemu.cleanup)
        self.addCleanup(lemu.stop)
        return lemu

    def call(self, lemu):
        status, headers, body = lemu.invoke("fn")
        self.assertEqual(status, 200, body)
        return json.loads(body), headers["x-lemu-cold-start"] == "true"

    def recycles(self, lemu):
        return len(re.findall(r"--watch: '[^']*' changed; \d+ environments? of function 'fn'",
                              lemu.logs()))

    def change_and_wait(self, lemu, change):
        before = self.recycles(lemu)
        change()
        harness.wait_for(lambda: self.recycles(lemu) > before, 15, what="the watch's recycle")

    def test_edits_recycle(self):
        lemu = self.start("--watch")
        self.assertIn("--watch: watching 2 folders", lemu.logs())
        self.assertEqual(self.call(lemu), ({"version": "1", "data": "a", "code": "one"}, True))
        self.assertEqual(self.call(lemu)[1], False)  # warm

        # In place.
        self.change_and_wait(lemu, lambda: write(os.path.join(self.code, "version.txt"), "2"))
        self.assertEqual(self.call(lemu), ({"version": "2", "data": "a", "code": "one"}, True))

        # By rename, as editors and compilers replace a file (the bootstrap itself).
        def replace():
            tmp = os.path.join(self.code, ".bootstrap.new")
            write(tmp, RUNTIME % "two", 0o755)
            os.rename(tmp, os.path.join(self.code, "bootstrap"))
        self.change_and_wait(lemu, replace)
        self.assertEqual(self.call(lemu), ({"version": "2", "data": "a", "code": "two"}, True))

        # In a subfolder.
        self.change_and_wait(lemu, lambda: write(os.path.join(self.code, "lib", "data.txt"),
                                                 "b"))
        answer, cold = self.call(lemu)
        self.assertEqual((answer["data"], cold), ("b", True))
        self.assertEqual(self.call(lemu)[1], False)

    def test_bootstrap_outside_code_dir(self):
        other = os.path.join(self.dir, "bin")
        write(os.path.join(other, "bootstrap"), RUNTIME % "outside", 0o755)
        os.chmod(other, 0o755)
        lemu = self.start("--watch", config={"functions": {"fn": {
            "bootstrap": os.path.join(other, "bootstrap"), "code_dir": self.code,
            "sandbox": {"cpu": "off"}}}})
        self.assertEqual(self.call(lemu)[0]["code"], "outside")
        # Another file in the bootstrap's folder is not the function's code.
        write(os.path.join(other, "unrelated.txt"), "x")
        self.change_and_wait(lemu, lambda: write(os.path.join(other, "bootstrap"),
                                                 RUNTIME % "outside2", 0o755))
        self.assertEqual(self.recycles(lemu), 1)
        self.assertNotIn("unrelated.txt", lemu.logs())
        answer, cold = self.call(lemu)
        self.assertEqual((answer["code"], cold), ("outside2", True))

    def test_without_watch_nothing_changes(self):
        lemu = self.start()
        first, _ = self.call(lemu)
        write(os.path.join(self.code, "version.txt"), "2")
        # A recycle would come within the watch's 100 ms quiet period; the environment must
        # still be the warm one with the old code well after it.
        status, body = lemu.control("POST", "/wait-idle?timeout_s=5")
        self.assertEqual(status, 200)
        for _ in range(3):
            answer, cold = self.call(lemu)
            self.assertEqual((answer["version"], cold), ("1", False))
        self.assertNotIn("--watch", lemu.logs())


if __name__ == "__main__":
    harness.main()
