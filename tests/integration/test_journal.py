# SPDX-License-Identifier: Apache-2.0
"""No lost events (issue 8; DESIGN "Config", "Lifecycle"): an async event is accepted only
once its journal record is written under state_dir; lemu killed with SIGKILL (or stopped
with SIGTERM) with events queued and running delivers every accepted one after a restart
with the same config; a second lemu on the same state_dir refuses to start (exit 2); `run`
and `test` keep a private journal and leave nothing behind.

Delivery is read from lemu's own log: each finished invocation prints
`REPORT RequestId: <id>`, in whichever of the two lemu processes ran it.
"""
import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness


def segments(state_dir):
    return sorted(glob.glob(os.path.join(state_dir, "journal-*.lj")))


def journal_text(state_dir):
    out = b""
    for p in segments(state_dir):
        with open(p, "rb") as f:
            out += f.read()
    return out


# A runtime whose init takes 0.4 s (it prints when, in epoch seconds) and whose invocations
# take 0.2 s: a burst of events finds no warm environment for a while.


def reported(logs):
    return set(re.findall(r"REPORT RequestId: ([0-9a-f-]{36})", logs))


class JournalTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lemu-journal-it-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.lemus = []

    def tearDown(self):
        for l in self.lemus:
            try:
                if l.proc and l.proc.poll() is None:
                    l.stop()
            finally:
                l.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def config(self, **fn_extra):
        fn = {"bootstrap": harness.fixture("c-bad"), "timeout_s": 30,
              "sandbox": {"cpu": "off"}, "reserved_concurrency": 1,
              "async": {"max_retries": 0}}
        fn.update(fn_extra)
        return {"state_dir": self.state, "shutdown_grace_s": 1, "functions": {"function": fn}}

    def start(self, cfg):
        l = harness.Lemu(config=cfg)
        self.lemus.append(l)
        return l.start()

    def event(self, l, payload):
        status, headers, body = l.invoke(payload=json.dumps(payload).encode(),
                                         headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202, body)
        return headers["x-amzn-requestid"]

    def wait_idle(self, l, timeout=60):
        status, body = l.control("POST", "/wait-idle?timeout_s=%d" % timeout)
        self.assertEqual(status, 200, body)

    def test_accepted_event_is_in_the_journal_then_done(self):
        l = self.start(self.config())
        rid = self.event(l, {"mode": "echo"})
        # The 202 came after the record was written.
        self.assertIn(rid.encode(), journal_text(self.state))
        self.wait_idle(l)
        harness.wait_for(lambda: b"LJD" in journal_text(self.state) and
                         rid.encode() in journal_text(self.state).split(b"LJD", 1)[1],
                         10, what="the done record")
        self.assertEqual(l.stop(), 0, l.logs())
        # A clean restart has nothing to deliver.
        l2 = self.start(self.config())
        self.wait_idle(l2)
        self.assertEqual(reported(l2.logs()), set())

    def test_second_lemu_on_the_same_state_dir_refuses_to_start(self):
        l = self.start(self.config())
        path = os.path.join(self.tmp, "second.json")
        with open(path, "w") as f:
            json.dump(self.config(), f)
        p = subprocess.run([harness.LEMU, "serve", "--listen", "127.0.0.1:0", "--config", path],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, b"")
        self.assertIn(("lemu: state_dir '%s' is in use by another lemu (pid %d)" %
                       (self.state, l.proc.pid)).encode(), p.stderr)
        # The first one still serves.
        status, _, body = l.invoke(payload=b'{"mode":"echo"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(l.stop(), 0)
        # Once it is gone, the folder is free again.
        l2 = self.start(self.config())
        self.assertEqual(l2.stop(), 0)

    def test_sigkill_mid_run_then_restart_delivers_every_accepted_event(self):
        cfg = self.config()
        l = self.start(cfg)
        ids = [self.event(l, {"mode": "sleep", "sleep_s": 0.2, "n": i}) for i in range(12)]
        # Some ran, some run now, the rest wait in the queue: then lemu dies at once.
        harness.wait_for(lambda: len(reported(l.logs())) >= 2, 30, what="two deliveries")
        l.proc.kill()
        l.proc.wait(10)
        first = reported(l.logs())
        self.assertLess(len(first), len(ids), "every event ran before the kill; retry slower")
        # Its environments die with it (no orphan).
        harness.wait_for(lambda: not l.leftover_pids(), 10, what="the functions to be gone")
        l2 = self.start(cfg)
        self.wait_idle(l2)
        second = reported(l2.logs())
        self.assertEqual(set(ids) - first - second, set(), l2.logs()[-2000:])
        self.assertEqual(l2.stop(), 0)
        # Everything is done: the journal holds nothing for a third start.
        l3 = self.start(cfg)
        self.wait_idle(l3)
        self.assertEqual(reported(l3.logs()), set())

    def test_sigterm_keeps_queued_events_for_the_next_start(self):
        cfg = self.config()
        l = self.start(cfg)
        ids = [self.event(l, {"mode": "sleep", "sleep_s": 0.3, "n": i}) for i in range(6)]
        harness.wait_for(lambda: len(reported(l.logs())) >= 1, 30, what="a delivery")
        self.assertEqual(l.stop(), 0, l.logs())
        first = reported(l.logs())
        l2 = self.start(cfg)
        self.wait_idle(l2)
        self.assertEqual(set(ids) - first - reported(l2.logs()), set())

    def test_events_of_a_function_no_longer_configured_are_dropped_with_a_word(self):
        l = self.start(self.config())
        ids = [self.event(l, {"mode": "sleep", "sleep_s": 5})
               for _ in range(3)]
        l.proc.kill()
        l.proc.wait(10)
        cfg = self.config()
        cfg["functions"] = {"other": cfg["functions"]["function"]}
        l2 = self.start(cfg)
        self.wait_idle(l2)
        l2.wait_log("the journal holds an event for function 'function', which the config "
                    "no longer has; dropping it")
        self.assertEqual(l2.stop(), 0)
        # Dropped for good: the function back, the events stay gone.
        l3 = self.start(self.config())
        self.wait_idle(l3)
        self.assertEqual(reported(l3.logs()) & set(ids), set())

    def test_run_and_test_keep_a_private_journal(self):
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        tmpdir = os.path.join(self.tmp, "tmpdir")
        os.mkdir(tmpdir)
        env = dict(os.environ, TMPDIR=tmpdir)
        cmd = [harness.LEMU, "run", "--sandbox-cpu", "off", harness.fixture("c-echo")]
        # Two at once, in one folder: no lock between them.
        ps = [subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE) for _ in range(2)]
        for p in ps:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(os.listdir(work), [])
        self.assertEqual(os.listdir(tmpdir), [])

    def test_a_torn_last_record_and_garbage_are_skipped_at_replay(self):
        """A write cut short by a crash leaves a torn record at a segment's end: the restart
        delivers every event before it, and serves on."""
        cfg = self.config()
        l = self.start(cfg)
        ids = [self.event(l, {"mode": "sleep", "sleep_s": 2, "n": i}) for i in range(3)]
        l.proc.kill()
        l.proc.wait(10)
        harness.wait_for(lambda: not l.leftover_pids(), 10, what="the functions to be gone")
        last = segments(self.state)[-1]
        with open(last, "ab") as f:
            f.write(b'LJA 00000400 0badc0de\n{"id":"00000000-0000-0000-0000-0000')
        l2 = self.start(cfg)
        extra = self.event(l2, {"mode": "echo"})
        self.wait_idle(l2, 120)
        self.assertEqual(set(ids + [extra]) - reported(l2.logs()), set(), l2.logs()[-2000:])
        self.assertEqual(l2.stop(), 0, l2.logs())
        # Garbage after the last good record of a segment is ignored the same way.
        with open(segments(self.state)[-1], "ab") as f:
            f.write(b"\x00\xff not a record at all\n" * 10)
        l3 = self.start(cfg)
        self.wait_idle(l3)
        self.assertEqual(reported(l3.logs()), set())
        status, _, body = l3.invoke(payload=b'{"mode":"echo"}')
        self.assertEqual(status, 200, body)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to mount a small tmpfs for state_dir")
    def test_a_full_disk_refuses_the_event_with_500_and_recovers(self):
        """When the journal cannot be written, the caller gets 500 ServiceException and
        nothing is queued; once there is room again, events are accepted and delivered."""
        os.mkdir(self.state)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", self.state],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.decode().strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.state])
        l = self.start(self.config())
        ok = self.event(l, {"mode": "echo", "n": 0})
        # Fill what is left of the filesystem.
        filler = os.path.join(self.state, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        # Larger than a page: tmpfs has no room for it even in the journal's last page.
        big = json.dumps({"mode": "echo", "n": 1, "pad": "x" * 65536}).encode()
        status, headers, body = l.invoke(payload=big, headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 500, body)
        self.assertEqual(headers.get("x-amzn-errortype"), "ServiceException", headers)
        self.assertIn("lemu could not journal the event: No space left on device",
                      json.loads(body)["Message"])
        refused = headers["x-amzn-requestid"]
        # Room again: the next events are accepted and run; the refused one never runs.
        os.unlink(filler)
        later = [self.event(l, {"mode": "echo", "n": i}) for i in range(2, 4)]
        self.wait_idle(l)
        done = reported(l.logs())
        self.assertEqual(set([ok] + later) - done, set(), l.logs()[-2000:])
        self.assertNotIn(refused, done)
        # And the journal left by all this replays cleanly.
        self.assertEqual(l.stop(), 0, l.logs())
        l2 = self.start(self.config())
        self.wait_idle(l2)
        self.assertEqual(reported(l2.logs()), set())

    def test_a_burst_grows_environments_a_few_at_a_time(self):
        """limits.async_cold_starts: a burst of events never has more than that many
        environments initialising at once; every event is still delivered."""
        boot = harness.slow_init_runtime(self.tmp, 0.2)
        cfg = self.config(bootstrap=boot, reserved_concurrency=None)
        cfg["limits"] = {"async_cold_starts": 2}
        l = self.start(cfg)
        ids = [self.event(l, {"n": i}) for i in range(10)]
        self.wait_idle(l)
        self.assertEqual(set(ids) - reported(l.logs()), set(), l.logs()[-2000:])
        # Each environment's init, as its runtime timed it.
        inits, most = harness.inits_at_once(l.logs())
        self.assertGreaterEqual(len(inits), 2, l.logs()[-2000:])
        self.assertLessEqual(most, 2, inits)


if __name__ == "__main__":
    harness.main()
