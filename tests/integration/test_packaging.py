# SPDX-License-Identifier: Apache-2.0
"""`meson install`: lemu, the aws-lambda-rie name, the launcher and the man page land where
they belong, and the installed tree works on its own (it finds its launcher, serves as RIE,
and its man page renders without troff warnings).

The build tree is the one LEMU lives in; the install goes to a temporary DESTDIR.
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.request

import harness

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(harness.LEMU)))
ROOT = None


def setUpModule():
    global ROOT
    meson = shutil.which("meson")
    if not meson or not os.path.exists(os.path.join(BUILD, "build.ninja")):
        raise unittest.SkipTest("no meson build tree")
    ROOT = tempfile.mkdtemp(prefix="lemu-install-")
    os.chmod(ROOT, 0o755)
    p = subprocess.run([meson, "install", "-C", BUILD, "--no-rebuild", "--destdir", ROOT],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("meson install failed:\n%s%s" % (p.stdout.decode(),
                                                              p.stderr.decode()))


def tearDownModule():
    if ROOT:
        shutil.rmtree(ROOT, True)


def find(rel):
    """The installed file whose path ends with rel (the prefix is the build's)."""
    for d, dirs, files in os.walk(ROOT):
        for name in files + dirs:
            p = os.path.join(d, name)
            if p.endswith(rel):
                return p
    raise AssertionError("%s is not installed under %s" % (rel, ROOT))


class Install(unittest.TestCase):
    def test_layout(self):
        lemu = find("/bin/lemu")
        self.assertTrue(os.access(lemu, os.X_OK))
        rie = find("/bin/aws-lambda-rie")
        self.assertEqual(os.readlink(rie), "lemu")
        self.assertTrue(os.access(find("/libexec/lemu/lemu-launcher"), os.X_OK))
        man = find("/man1/lemu.1")
        self.assertEqual(os.readlink(find("/man1/aws-lambda-rie.1")), "lemu.1")
        with open(man) as f:
            text = f.read()
        self.assertTrue(text.startswith(".TH LEMU 1"))
        for section in ("SERVE", "FUNCTION URLS AND API GATEWAY", "CONFIG", "AWS-LAMBDA-RIE"):
            self.assertIn(".SH " + section, text)

    def test_man_page_renders(self):
        groff = shutil.which("groff")
        if not groff:
            raise unittest.SkipTest("groff is not installed")
        p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", find("/man1/lemu.1")],
                           capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        p = subprocess.run([groff, "-man", "-Tascii", find("/man1/lemu.1")],
                           capture_output=True, timeout=60)
        plain = re.sub(rb".\x08", b"", p.stdout)  # bold and underline overstrikes
        self.assertIn(b"lemu serve [--config FILE]", plain)
        self.assertIn(b"--template FILE", plain)

    def test_installed_lemu_runs_a_function(self):
        env = dict(os.environ)
        env.pop("LEMU_LAUNCHER", None)  # it must find the installed launcher itself
        p = subprocess.run([find("/bin/lemu"), "--version"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b"lemu "))
        p = subprocess.run([find("/bin/lemu"), "run", "--event", '{"a":1}',
                            harness.fixture("c-echo")], capture_output=True, timeout=60,
                           env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b'"event":{"a":1}', p.stdout)

    def test_installed_rie_name(self):
        env = dict(os.environ)
        env.pop("LEMU_LAUNCHER", None)
        env["AWS_LAMBDA_FUNCTION_NAME"] = "orders"
        # RIE's flags only: as root its function runs as the sandbox user, so the code goes
        # where that user can read it, as in a container image.
        code = tempfile.mkdtemp(prefix="lemu-rie-")
        self.addCleanup(shutil.rmtree, code, True)
        os.chmod(code, 0o755)
        bootstrap = os.path.join(code, "bootstrap")
        shutil.copy2(harness.fixture("c-echo"), bootstrap)
        proc = subprocess.Popen([find("/bin/aws-lambda-rie"),
                                 "--runtime-interface-emulator-address", "127.0.0.1:0",
                                 bootstrap], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)
        self.addCleanup(proc.wait, 15)
        self.addCleanup(proc.terminate)
        line = [None]
        t = threading.Thread(target=lambda: line.__setitem__(0, proc.stdout.readline()))
        t.start()
        t.join(30)
        self.assertTrue(line[0] and line[0].startswith(b"listening on http://"), line[0])
        url = line[0].decode().split()[2] + "/2015-03-31/functions/function/invocations"
        with urllib.request.urlopen(urllib.request.Request(url, data=b'{"x":2}'),
                                    timeout=60) as r:
            self.assertIn(b'"event":{"x":2}', r.read())


if __name__ == "__main__":
    harness.main()
