# SPDX-License-Identifier: Apache-2.0
"""Shared harness for lemu's integration tests.

Starts the real daemon (`lemu serve --listen 127.0.0.1:0`), waits for its
"listening on" line with a deadline, talks to it over HTTP, and stops it. Every
wait has a deadline; nothing sleeps and hopes. Tests print TAP (one line per
test case) so that meson and CI count each case.

Paths come from the environment that meson sets:
  LEMU            the lemu binary
  FIXTURES_BUILD  build/fixtures (compiled fixtures)
  FIXTURES_SRC    the source fixtures folder (scripts)
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

LEMU = os.environ.get("LEMU", "lemu")
FIXTURES_BUILD = os.environ.get("FIXTURES_BUILD", "")
FIXTURES_SRC = os.environ.get("FIXTURES_SRC", "")


def _others_can_reach(path):
    """True when a user with no special rights can traverse to @path and read it."""
    path = os.path.abspath(path)
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        p = "/".join(parts[:i]) or "/"
        try:
            st = os.stat(p)
        except OSError:
            return False
        need = 0o001 if (i < len(parts) or os.path.isdir(p)) else 0o004
        if not st.st_mode & need:
            return False
    return True


# As root, lemu runs functions as its sandbox user (uid 993), who must be able to read the
# code. A checkout under a 0700 home folder (as CI may use) is out of its reach: then the
# suite runs functions as root (--sandbox-user keep); the sandbox tests that check the user
# copy their code to a world-readable folder and ask for the user themselves.
if os.geteuid() == 0 and FIXTURES_BUILD and not _others_can_reach(FIXTURES_BUILD):
    os.environ.setdefault("LEMU_SANDBOX_USER", "keep")


def clean_env(extra=None):
    """The test's environment without LEMU_* settings (they would change a config under
    test), but with the sandbox user chosen above for a checkout out of that user's reach."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LEMU_") or k == "LEMU_SANDBOX_USER"}
    env.update(extra or {})
    return env


def fixture(name):
    """Path of a fixture bootstrap: compiled ones in the build tree, scripts in the source."""
    for base in (FIXTURES_BUILD, FIXTURES_SRC):
        p = os.path.join(base, name, "bootstrap")
        if base and os.access(p, os.X_OK):
            return p
    raise unittest.SkipTest("fixture %s is not built" % name)


SLOW_INIT_RUNTIME = r'''#!/usr/bin/python3
import http.client, os, time
t0 = time.time()
time.sleep(0.4)
print("INIT_WINDOW %%.6f %%.6f" %% (t0, time.time()), flush=True)
host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
c = http.client.HTTPConnection(host, int(port), timeout=600)
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    body = r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    time.sleep(%(answer_s)s)
    c.request("POST", "/2018-06-01/runtime/invocation/%%s/response" %% rid, body)
    c.getresponse().read()
'''


def slow_init_runtime(directory, answer_s):
    """Writes in directory a custom runtime whose init takes 0.4 s and logs its window on its
    own clock ("INIT_WINDOW start end"), and which answers each event with its payload after
    answer_s seconds. Returns its path."""
    path = os.path.join(directory, "bootstrap")
    with open(path, "w") as f:
        f.write(SLOW_INIT_RUNTIME % {"answer_s": answer_s})
    os.chmod(path, 0o755)
    return path


def inits_at_once(logs):
    """The windows slow_init_runtime() logged, and the most that overlapped."""
    inits = [(float(a), float(b))
             for a, b in re.findall(r"INIT_WINDOW ([0-9.]+) ([0-9.]+)", logs)]
    most = max((sum(1 for s, e in inits if s <= t < e) for t, _ in inits), default=0)
    return inits, most


def wait_for(pred, timeout=10.0, interval=0.01, what="condition"):
    """Polls pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pids_of_session(marker):
    """Pids whose environment or command line contains marker (a unique token)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
            if marker.encode() in env:
                found.append(int(d))
        except OSError:
            pass
    return found


class Lemu:
    """A running `lemu serve`. Use as a context manager."""

    def __init__(self, *args, config=None, env=None, start_timeout=10.0, lemu=None,
                 prefix=None):
        # lemu: another lemu binary (a copy other users can read); prefix: a command that
        # execs it, e.g. ["setpriv", "--reuid=65534", …] to run it as another user.
        self.args = list(args)
        self.lemu = lemu or LEMU
        self.prefix = list(prefix or [])
        self.tmp = tempfile.mkdtemp(prefix="lemu-it-")
        os.chmod(self.tmp, 0o755)
        if config is not None:
            path = os.path.join(self.tmp, "lemu.json")
            with open(path, "w") as f:
                json.dump(config, f)
            self.args = ["--config", path] + self.args
        self.env = dict(os.environ)
        # A token in every function's environment, to find leftover processes.
        self.marker = "LEMU_TEST_MARKER_%d_%d" % (os.getpid(), int(time.time() * 1e6))
        self.env["LEMU_TEST_MARKER"] = self.marker
        if env:
            self.env.update(env)
        self.start_timeout = start_timeout
        self.proc = None
        self.url = None
        self.host = None
        self.port = None
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self._stderr = None

    def start(self):
        self._stderr = open(self.stderr_path, "wb")
        cmd = self.prefix + [self.lemu, "serve", "--listen", "127.0.0.1:0",
                             "--env", "LEMU_TEST_MARKER=" + self.marker] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=self.env, cwd=self.tmp)
        line = [None]

        def reader():
            line[0] = self.proc.stdout.readline().decode()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(self.start_timeout)
        if not line[0] or not line[0].startswith("listening on http://"):
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("lemu did not start: %r\n%s" % (line[0], self.logs()))
        self.url = line[0].strip().split(" ", 2)[2]
        hostport = self.url[len("http://"):]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        # lemu listens before its sandbox set-up (probes, cgroups) is done; what the set-up
        # says on stderr is there once it answers a first request.
        c = self.conn(self.start_timeout)
        try:
            c.request("GET", "/2015-03-31/functions/")
            c.getresponse().read()
        finally:
            c.close()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("lemu did not stop within %.0fs" % timeout)
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10.0):
        return wait_for(lambda: text in self.logs(), timeout, what="log line %r" % text)

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = self.conn(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def invoke(self, function="function", payload=b"{}", headers=None, qualifier=None,
               timeout=30):
        path = "/2015-03-31/functions/%s/invocations" % function
        if qualifier:
            path += "?Qualifier=" + qualifier
        return self.request("POST", path, payload, headers, timeout)

    def control(self, method, path, body=None):
        status, _, data = self.request(method, "/_lemu" + path, body)
        return status, json.loads(data) if data else None

    def leftover_pids(self):
        return pids_of_session(self.marker)


def copy_fixture_tree(src_dir):
    """Copies a fixture folder to a world-readable temp folder (for tests as another user)."""
    d = tempfile.mkdtemp(prefix="lemu-fx-")
    os.chmod(d, 0o755)
    dst = os.path.join(d, os.path.basename(src_dir.rstrip("/")))
    shutil.copytree(src_dir, dst, symlinks=True)
    return dst


class LemuTestCase(unittest.TestCase):
    """A test case that starts lemus (self.lemu()) and, whatever happens, stops them and
    removes them and the folders it was given (self.dirs)."""

    # How the lemus are stopped: SIGTERM lets lemu remove its cgroups and images itself;
    # SIGKILL leaves that to cleanup() and the sandbox's own guards.
    stop_signal = signal.SIGTERM

    def setUp(self):
        self.lemus = []
        self.dirs = []

    def tearDown(self):
        for l in self.lemus:
            try:
                l.stop(self.stop_signal)
            finally:
                l.cleanup()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def lemu(self, *args, **kw):
        """Starts a lemu (harness.Lemu's arguments) to be stopped at the end of the test."""
        l = Lemu(*args, **kw)
        self.lemus.append(l)
        return l.start()

    def tmpdir(self, prefix="lemu-it-"):
        """A new folder others can read (a sandbox user runs code from it), removed at the
        end of the test."""
        d = tempfile.mkdtemp(prefix=prefix)
        os.chmod(d, 0o755)
        self.dirs.append(d)
        return d

    def write_bootstrap(self, text, prefix="lemu-it-"):
        """The path of an executable `bootstrap` holding @text, alone in a new tmpdir()."""
        path = os.path.join(self.tmpdir(prefix), "bootstrap")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path


class SharedLemuTestCase(unittest.TestCase):
    """One lemu, from the class's config(), for all the tests of the class; at the end it
    must exit 0 (a clean shutdown after everything the tests sent it)."""

    lemu = None

    @classmethod
    def config(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.lemu = Lemu(config=cls.config())
        try:
            cls.lemu.start()
        except Exception:
            cls.lemu.cleanup()
            cls.lemu = None
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.lemu:
            try:
                rc = cls.lemu.stop()
                assert rc == 0, "lemu serve exited %r\n%s" % (rc, cls.lemu.logs())
            finally:
                cls.lemu.cleanup()


class TapResult(unittest.TestResult):
    """Prints one TAP line per test case as it ends."""

    def __init__(self, total):
        super().__init__()
        self.n = 0
        print("TAP version 13", flush=True)

    def _line(self, ok, test, extra=""):
        self.n += 1
        name = test.id().split(".", 1)[-1]
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, name, extra), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(err)

    def addSubTest(self, test, subtest, err):
        # A failing subTest fails its test: report it on its own TAP line.
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._line(False, subtest)
            self._diag(err)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success: the expected failure is fixed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP %s" % reason)

    def _diag(self, err):
        for l in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + l)
        sys.stdout.flush()


def main():
    """Runs the calling module's tests and prints TAP."""
    loader = unittest.defaultTestLoader
    module = sys.modules["__main__"]
    suite = loader.loadTestsFromModule(module)
    if len(sys.argv) > 1:
        suite = unittest.TestSuite(
            t for t in _flatten(suite) if any(a in t.id() for a in sys.argv[1:]))
    total = suite.countTestCases()
    result = TapResult(total)
    suite.run(result)
    # The plan goes last: failing subtests add lines of their own.
    print("1..%d" % result.n, flush=True)
    ok = result.wasSuccessful() and not result.unexpectedSuccesses
    sys.exit(0 if ok else 1)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
