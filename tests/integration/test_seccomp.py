# SPDX-License-Identifier: Apache-2.0
"""The default seccomp profile inside a real lemu environment.

A Python runtime (ctypes, standard library only) answers each invocation with what its
probes got: ptrace, mount, unshare and clone3 return the errno name, or "OK"; threads,
fork and a raw getppid must work. Each refusable probe runs in a forked child, so one that
succeeds (with the filter off) changes nothing in the runtime itself: PTRACE_TRACEME there
makes only that child a tracee. GET /_lemu/functions says whether the filter is in use.
"""
import json
import os
import shutil
import tempfile

import harness

PROBE = r'''#!/usr/bin/python3
import ctypes, errno, http.client, json, os, platform, threading

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR_GETPPID = {"x86_64": 110, "aarch64": 173}.get(platform.machine())
NR_CLONE3 = 435          # the same on every architecture
CLONE_NEWUSER = 0x10000000
NOWHERE = b"/nonexistent-lemu-seccomp-probe"


def result(r):
    if r >= 0:
        return "OK"
    e = ctypes.get_errno()
    return errno.errorcode.get(e, str(e))


def in_child(fn):
    """Runs fn() in a forked child and returns what it returned (a string)."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rd)
            os.write(wr, fn().encode())
        finally:
            os._exit(0)
    os.close(wr)
    out = b""
    while True:
        chunk = os.read(rd, 4096)
        if not chunk:
            break
        out += chunk
    os.close(rd)
    _, st = os.waitpid(pid, 0)
    return out.decode() if os.WIFEXITED(st) else "child died: %d" % st


def threads():
    ran = []
    ts = [threading.Thread(target=ran.append, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return "OK" if sorted(ran) == [0, 1, 2, 3] else "only %r ran" % ran


def getppid():
    if NR_GETPPID is None:
        return "OK"
    r = libc.syscall(NR_GETPPID)
    if r < 0:
        return result(r)
    return "OK" if r == os.getppid() else "got %d, want %d" % (r, os.getppid())


def seccomp_mode():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return line.split()[1]
    return "?"


def filter_fds():
    """Descriptors of the filter's memfd the function can see: the launcher closes it."""
    seen = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if "lemu-seccomp" in os.readlink("/proc/self/fd/" + fd):
                seen.append(int(fd))
        except OSError:
            pass
    return seen


def probes():
    return {
        "ptrace": in_child(lambda: result(libc.ptrace(0, 0, None, None))),  # PTRACE_TRACEME
        "mount": in_child(lambda: result(libc.mount(b"none", NOWHERE, b"tmpfs", 0, None))),
        "umount2": in_child(lambda: result(libc.umount2(NOWHERE, 0))),
        "unshare_user": in_child(lambda: result(libc.unshare(CLONE_NEWUSER))),
        "clone3": in_child(lambda: result(libc.syscall(NR_CLONE3, None, 0))),
        "threads": threads(),
        "getppid": getppid(),
        "fork": in_child(lambda: "OK"),
        "seccomp_mode": seccomp_mode(),
        "filter_fds": filter_fds(),
    }


def call(method, path, body=None):
    host, _, port = API.rpartition(":")
    c = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=60)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


while True:
    r, body = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    call("POST", "/2018-06-01/runtime/invocation/%s/response" % rid,
         json.dumps(probes()).encode())
'''


class SeccompTest(harness.LemuTestCase):

    @classmethod
    def setUpClass(cls):
        # World-readable: the function may run as another user.
        cls.dir = tempfile.mkdtemp(prefix="lemu-seccomp-")
        os.chmod(cls.dir, 0o755)
        cls.bootstrap = os.path.join(cls.dir, "bootstrap")
        with open(cls.bootstrap, "w") as f:
            f.write(PROBE)
        os.chmod(cls.bootstrap, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def lemu(self, *args, functions=None):
        if functions is None:
            functions = {"function": {}}
        cfg = {"functions": {}}
        for name, extra in functions.items():
            f = {"bootstrap": self.bootstrap, "timeout_s": 20, "memory_mb": 1769}
            f.update(extra)
            cfg["functions"][name] = f
        return super().lemu(*args, config=cfg)

    def probe(self, l, function="function"):
        status, headers, body = l.invoke(function)
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        return json.loads(body)

    def enforced(self, l):
        status, j = l.control("GET", "/functions")
        self.assertEqual(status, 200, j)
        return {f["name"]: f["enforced"]["seccomp"] for f in j["functions"]}

    def assert_works(self, got):
        self.assertEqual(got["threads"], "OK", got)
        self.assertEqual(got["getppid"], "OK", got)
        self.assertEqual(got["fork"], "OK", got)
        self.assertEqual(got["filter_fds"], [], got)

    def test_default_refuses(self):
        l = self.lemu()
        got = self.probe(l)
        self.assertEqual(got["ptrace"], "EPERM", got)
        self.assertEqual(got["mount"], "EPERM", got)
        self.assertEqual(got["umount2"], "EPERM", got)
        self.assertEqual(got["unshare_user"], "EPERM", got)
        # ENOSYS, not EPERM: glibc then falls back to clone, whose flags the filter checks.
        self.assertEqual(got["clone3"], "ENOSYS", got)
        self.assert_works(got)
        self.assertEqual(got["seccomp_mode"], "2", got)  # SECCOMP_MODE_FILTER
        self.assertEqual(self.enforced(l), {"function": True})
        # Warm: the same environment, still filtered.
        self.assertEqual(self.probe(l), got)
        self.assertNotIn("seccomp", l.logs().lower())

    def test_off_flag(self):
        l = self.lemu("--sandbox-seccomp", "off")
        got = self.probe(l)
        self.assertEqual(got["ptrace"], "OK", got)  # PTRACE_TRACEME succeeds again
        self.assertNotEqual(got["mount"], "EPERM", got)  # ENOENT: the path was looked up
        self.assertNotEqual(got["clone3"], "ENOSYS", got)  # EINVAL: a NULL argument block
        self.assert_works(got)
        self.assertEqual(got["seccomp_mode"], "0", got)
        self.assertEqual(self.enforced(l), {"function": False})

    def test_per_function(self):
        l = self.lemu(functions={"filtered": {}, "open": {"sandbox": {"seccomp": "off"}}})
        self.assertEqual(self.enforced(l), {"filtered": True, "open": False})
        self.assertEqual(self.probe(l, "filtered")["ptrace"], "EPERM")
        self.assertEqual(self.probe(l, "open")["ptrace"], "OK")


if __name__ == "__main__":
    harness.main()
