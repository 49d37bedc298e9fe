# SPDX-License-Identifier: Apache-2.0
"""The function's files: a private /tmp capped by storage, a read-only tree, a non-root user.

As root (lemu's sandbox user, uid 993, and filesystem images): writing 600 MB into /tmp
under ephemeral_storage_mb 512 and memory 128 ends in ENOSPC at about 512 MiB, not in an
out-of-memory kill; /tmp survives a reset and is gone after a recycle; writes outside /tmp
fail with EROFS; the runtime is not root; /proc shows the environment's own pids; with
`--sandbox-fs host --sandbox-tmp dir --sandbox-user keep` the opposite. A sandbox user that
cannot read the code is told clearly.

Unprivileged (as nobody through setpriv when the test runs as root, else as the caller):
/tmp is a tmpfs in a user namespace, capped, surviving resets, and the `enforced` report
says that it counts against memory.

The probe runtime is /usr/bin/python3 (Lambda's PATH has no pyenv), written to a
world-readable temporary folder so that another user can run it.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

import harness

MIB = 1 << 20
SANDBOX_UID = 993

PROBE = r'''#!/usr/bin/python3
import errno, http.client, json, os

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, _, port = API.rpartition(":")
conn = http.client.HTTPConnection(host, int(port))


def call(method, path, body=None):
    conn.request(method, path, body=body)
    r = conn.getresponse()
    return r, r.read()


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def write(ev):
    path, mb, written, err = ev.get("path", "/tmp/fill"), ev.get("mb", 1), 0, None
    chunk = b"x" * (1 << 20)
    try:
        with open(path, "wb") as f:
            for _ in range(mb):
                n = os.write(f.fileno(), chunk)
                written += n
                if n < len(chunk):
                    break
            os.fsync(f.fileno())
    except OSError as e:
        err = err_name(e)
    if not ev.get("keep"):
        try:
            os.unlink(path)
        except OSError:
            pass
    return {"written": written, "errno": err}


def handle(ev):
    mode = ev.get("mode")
    if mode == "write":
        return write(ev)
    if mode == "put":
        try:
            with open(ev["path"], "w") as f:
                f.write(ev.get("text", "x"))
            return {"errno": None}
        except OSError as e:
            return {"errno": err_name(e)}
    if mode == "get":
        try:
            with open(ev["path"]) as f:
                return {"text": f.read()}
        except OSError as e:
            return {"errno": err_name(e)}
    if mode == "crash":
        os._exit(3)
    pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
    return {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "pids": pids,
            "tmpdir": os.environ.get("TMPDIR"), "cwd": os.getcwd()}


while True:
    r, body = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    out = handle(json.loads(body or b"{}"))
    call("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(out).encode())
'''


def is_root():
    return os.geteuid() == 0


def loop_devices_of(pid):
    """Loop devices whose backing file lies in lemu @pid's instance folder."""
    try:
        out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [l for l in out.splitlines() if "/lemu-%d-" % pid in l]


class Base(harness.LemuTestCase):
    """Starts lemus running the probe, and cleans up after them."""

    stop_signal = signal.SIGKILL

    def probe_dir(self, mode=0o755):
        d = tempfile.mkdtemp(prefix="lemu-sbx-")
        self.dirs.append(d)
        code = os.path.join(d, "probe")
        os.mkdir(code)
        with open(os.path.join(code, "bootstrap"), "w") as f:
            f.write(PROBE)
        os.chmod(os.path.join(code, "bootstrap"), 0o755)
        os.chmod(code, 0o755)
        os.chmod(d, mode)
        return code

    def start(self, *args, code=None, env=None, **fn):
        code = code or self.probe_dir()
        # CPU share off: Python's start at 128 MB's 7 % of a core would take a second.
        f = {"bootstrap": os.path.join(code, "bootstrap"), "timeout_s": 60,
             "memory_mb": 1769, "sandbox": {"cpu": "off"}}
        f.update(fn)
        if "--sandbox-user" not in args:
            # The probe's code is world-readable: the sandbox user applies even where the
            # harness chose `keep` for a checkout out of that user's reach.
            args = ("--sandbox-user", "auto") + args
        l = harness.Lemu(*args, config={"functions": {"function": f}}, env=env)
        self.lemus.append(l)
        self.prepare(l)
        l.start()
        l.code_dir = code
        return l

    def prepare(self, l):
        pass

    def call(self, l, event, ok=True):
        status, headers, body = l.invoke(payload=json.dumps(event), timeout=90)
        self.assertEqual(status, 200, body)
        if ok:
            self.assertNotIn("x-amz-function-error", headers, body)
        return headers, json.loads(body)

    def envs(self, l):
        status, j = l.control("GET", "/functions/function/environments")
        self.assertEqual(status, 200)
        return j["environments"]

    def function(self, l):
        status, j = l.control("GET", "/functions/function")
        self.assertEqual(status, 200)
        return j

    def recycle(self, l):
        status, _ = l.control("POST", "/functions/function/recycle")
        self.assertEqual(status, 200)
        harness.wait_for(lambda: not self.envs(l), 10, what="the environment to end")

    def check_survives_reset_gone_after_recycle(self, l):
        _, r = self.call(l, {"mode": "put", "path": "/tmp/keep", "text": "kept"})
        self.assertIsNone(r["errno"])
        env = self.envs(l)[0]["id"]
        headers, _ = self.call(l, {"mode": "crash"}, ok=False)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        _, r = self.call(l, {"mode": "get", "path": "/tmp/keep"})
        self.assertEqual(r, {"text": "kept"})
        self.assertEqual(self.envs(l)[0]["id"], env, "a reset keeps the environment")
        self.recycle(l)
        _, r = self.call(l, {"mode": "get", "path": "/tmp/keep"})
        self.assertEqual(r, {"errno": "ENOENT"})
        self.assertNotEqual(self.envs(l)[0]["id"], env)


@unittest.skipUnless(is_root(), "needs root: loop devices, mounts and a sandbox user")
class RootTest(Base):

    def test_enospc_at_the_cap_not_an_oom_kill(self):
        l = self.start(memory_mb=128, ephemeral_storage_mb=512)
        _, r = self.call(l, {"mode": "write", "mb": 600})
        self.assertEqual(r["errno"], "ENOSPC", r)
        self.assertGreaterEqual(r["written"], 512 * MIB, r)
        self.assertLessEqual(r["written"], 512 * MIB + 4 * MIB, r)
        self.assertEqual(self.envs(l)[0]["resets"], 0)
        _, r = self.call(l, {"mode": "write", "mb": 16})
        self.assertEqual(r, {"written": 16 * MIB, "errno": None}, "room again once deleted")
        f = self.function(l)
        self.assertIs(f["enforced"]["tmp"], True)
        self.assertEqual(f["sandbox"]["tmp"]["mode"], "image")
        self.assertEqual(f["sandbox"]["tmp"]["charged_to"], "storage")
        self.assertNotIn("OutOfMemory", l.logs())

    def test_tmp_survives_a_reset_and_goes_with_the_environment(self):
        self.check_survives_reset_gone_after_recycle(self.start())

    def test_read_only_outside_tmp(self):
        l = self.start()
        for path in (os.path.join(l.code_dir, "written"), "/var/tmp/lemu-sbx-written",
                     "/written"):
            _, r = self.call(l, {"mode": "put", "path": path})
            self.assertEqual(r, {"errno": "EROFS"}, path)
        _, r = self.call(l, {"mode": "put", "path": "/dev/null"})
        self.assertEqual(r, {"errno": None}, "device nodes stay writable")
        self.assertFalse(os.path.exists(os.path.join(l.code_dir, "written")))
        self.assertIs(self.function(l)["enforced"]["fs"], True)

    def test_runs_as_the_sandbox_user_with_its_own_proc(self):
        l = self.start()
        _, r = self.call(l, {})
        self.assertEqual(r["uid"], SANDBOX_UID)
        self.assertNotEqual(r["gid"], 0)
        self.assertLessEqual(r["pid"], 3, "the runtime's pid in its own namespace")
        self.assertTrue(all(p < 100 for p in r["pids"]), r["pids"])
        self.assertIn(r["pid"], r["pids"])
        self.assertIsNone(r["tmpdir"], "Lambda sets no TMPDIR")
        f = self.function(l)
        self.assertIs(f["enforced"]["user"], True)
        self.assertEqual(f["sandbox"]["user"]["uid"], SANDBOX_UID)

    def test_host_fs_dir_tmp_keep_user(self):
        l = self.start("--sandbox-fs", "host", "--sandbox-tmp", "dir", "--sandbox-user", "keep",
                       memory_mb=128)
        _, r = self.call(l, {})
        self.assertEqual(r["uid"], 0)
        _, r = self.call(l, {"mode": "put", "path": os.path.join(l.code_dir, "written")})
        self.assertEqual(r, {"errno": None})
        self.assertTrue(os.path.exists(os.path.join(l.code_dir, "written")))
        # The cap is reported, not enforced: past it, nothing stops the writer.
        _, r = self.call(l, {"mode": "write", "mb": 520})
        self.assertEqual(r, {"written": 520 * MIB, "errno": None})
        f = self.function(l)
        self.assertEqual(f["enforced"]["tmp"], False)
        self.assertEqual(f["enforced"]["fs"], False)
        self.assertEqual(f["enforced"]["user"], False)
        self.assertEqual(f["sandbox"]["tmp"]["mode"], "dir")
        self.assertEqual(f["sandbox"]["fs"], "host")
        self.check_survives_reset_gone_after_recycle(l)

    def test_sandbox_user_cannot_read_the_code(self):
        code = self.probe_dir(mode=0o700)
        l = self.start(code=code)
        msg = "the sandbox user (uid %d) cannot read code_dir '%s'" % (SANDBOX_UID, code)
        l.wait_log(msg)  # said at start
        headers, r = self.call(l, {}, ok=False)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(r["errorType"], "Runtime.InvalidEntrypoint")
        self.assertIn(msg, r["errorMessage"])
        self.assertIn("--sandbox-user keep", r["errorMessage"])

    def test_images_are_released(self):
        l = self.start()
        self.call(l, {"mode": "put", "path": "/tmp/x"})
        pid = l.proc.pid
        self.assertNotEqual(loop_devices_of(pid), [])
        self.assertEqual(l.stop(), 0)
        harness.wait_for(lambda: not loop_devices_of(pid), 5, what="loop devices to detach")
        self.assertEqual([d for d in os.listdir("/var/tmp") if d.startswith("lemu-%d-" % pid)],
                         [])


class UnprivilegedTest(Base):
    """Runs lemu as nobody (from root), or as the caller when that is not root."""

    def setUp(self):
        super().setUp()
        self.wrapper = None
        if is_root():
            self.wrapper = self.nobody_wrapper()

    def nobody_wrapper(self):
        if not shutil.which("setpriv"):
            raise unittest.SkipTest("setpriv is not installed")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if subprocess.run(drop + ["test", "-x", harness.LEMU]).returncode != 0:
            raise unittest.SkipTest("nobody cannot run %s (a private home folder?)" %
                                    harness.LEMU)
        d = tempfile.mkdtemp(prefix="lemu-sbx-")
        self.dirs.append(d)
        os.chmod(d, 0o755)
        path = os.path.join(d, "lemu-as-nobody")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(drop), harness.LEMU))
        os.chmod(path, 0o755)
        return path

    def start(self, *args, **kw):
        saved = harness.LEMU
        if self.wrapper:
            harness.LEMU = self.wrapper
        try:
            return super().start(*args, **kw)
        finally:
            harness.LEMU = saved

    def prepare(self, l):
        # lemu's working folder must be writable by the user it runs as.
        os.chmod(l.tmp, 0o777 | stat.S_ISVTX)
        os.chmod(os.path.join(l.tmp, "lemu.json"), 0o644)

    def test_tmpfs_capped_read_only_and_reported(self):
        l = self.start(ephemeral_storage_mb=512)
        _, r = self.call(l, {})
        self.assertNotEqual(r["uid"], 0)
        self.assertLessEqual(r["pid"], 3)
        f = self.function(l)
        if f["sandbox"]["tmp"]["mode"] != "tmpfs":
            self.skipTest("no user namespaces here: %s" % f["sandbox"])
        self.assertEqual(f["enforced"]["tmp"], True)
        self.assertEqual(f["enforced"]["fs"], True)
        self.assertEqual(f["enforced"]["user"], True)
        self.assertEqual(f["sandbox"]["tmp"]["charged_to"], "memory")
        self.assertEqual(f["sandbox"]["fs"], "read_only")
        self.assertEqual(f["sandbox"]["user"]["sandbox_user"], False)
        self.assertEqual(len(re.findall(r"/tmp is a size-capped tmpfs", l.logs())), 1,
                         l.logs())
        _, r = self.call(l, {"mode": "write", "mb": 600})
        self.assertEqual(r["errno"], "ENOSPC", r)
        self.assertGreater(r["written"], 511 * MIB, r)
        self.assertLessEqual(r["written"], 512 * MIB, r)
        _, r = self.call(l, {"mode": "put", "path": os.path.join(l.code_dir, "written")})
        self.assertEqual(r, {"errno": "EROFS"})

    def test_tmpfs_survives_a_reset(self):
        l = self.start()
        if self.function(l)["sandbox"]["tmp"]["mode"] != "tmpfs":
            self.skipTest("no user namespaces here")
        self.check_survives_reset_gone_after_recycle(l)


if __name__ == "__main__":
    harness.main()
