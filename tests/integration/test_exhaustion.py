# SPDX-License-Identifier: Apache-2.0
"""Exhaustion (issue 8; DESIGN "Lifecycle": 429 CallerRateLimitExceeded at lemu's own
limits): 10,000 connections at once against a small limits.max_connections; a lemu started
with a low descriptor limit; a full async queue. lemu answers each excess connection or
event with the 429 of DESIGN, never crashes, and serves normally once the load is gone.
"""
import json
import os
import resource
import selectors
import socket
import time
import unittest

import harness

OVERLOAD = {"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded"}


def parse_one(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split(" ")[1]), headers, body


def raise_own_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise unittest.SkipTest("the descriptor limit (%d) is below %d" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def flood(host, port, n, limit, timeout=120):
    """Opens @n connections at once (non-blocking), sends nothing, and collects what lemu
    says on each until it closes it. Returns (answers, still_open_sockets)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
    answers = []
    closed = 0
    deadline = time.monotonic() + timeout
    # Everything past the limit is answered and closed; the rest stays silent.
    while time.monotonic() < deadline:
        events = sel.select(timeout=1.0)
        # Done when no more than the limit is open and all is quiet (late SYNs come again
        # after a second or more: keep waiting while too many are open).
        if not events and n - closed <= limit:
            break
        for key, _ in events:
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, BlockingIOError, OSError):
                chunk = b""
            if chunk:
                key.data.extend(chunk)
                continue
            answers.append(bytes(key.data))
            sel.unregister(s)
            s.close()
            closed += 1
    still = [k.fileobj for k in list(sel.get_map().values())]
    sel.close()
    return answers, still


class Base(unittest.TestCase):
    lemu = None

    def start(self, cfg, **kw):
        l = harness.Lemu(config=cfg, **kw)
        self.addCleanup(l.cleanup)
        l.start()
        self.addCleanup(self.stop, l)
        return l

    def stop(self, l):
        if l.proc.poll() is None:
            self.assertEqual(l.stop(), 0, l.logs()[-3000:])

    def assert_serves(self, l):
        def ok():
            try:
                status, _, body = l.invoke(payload=b'{"after":1}', timeout=30)
                return status == 200 and json.loads(body)["event"] == {"after": 1}
            except OSError:
                return False
        harness.wait_for(ok, 30, interval=0.2, what="a normal invocation")
        self.assertIsNone(l.proc.poll(), l.logs()[-3000:])

    def fn(self):
        return {"bootstrap": harness.fixture("c-echo"), "sandbox": {"cpu": "off"}}


class ConnectionFlood(Base):
    def test_10000_connections_at_once(self):
        raise_own_nofile(10500)
        limit = 300
        l = self.start({"limits": {"max_connections": limit, "header_timeout_s": 60},
                        "functions": {"function": self.fn()}})
        answers, held = flood(l.host, l.port, 10000, limit)
        try:
            self.assertIsNone(l.proc.poll(), "lemu died\n" + l.logs()[-3000:])
            # Those within the limit are held open, waiting for a request.
            self.assertLessEqual(len(held), limit)
            self.assertGreater(len(held), 0)
            refused = [a for a in answers if a]
            silent = [a for a in answers if not a]
            self.assertEqual(len(held) + len(answers), 10000)
            # Each one past the limit got the 429 of DESIGN, then a close; none silently.
            self.assertEqual(silent, [], "%d connections closed without an answer" % len(silent))
            for a in refused:
                status, headers, body = parse_one(a)
                self.assertEqual(status, 429)
                self.assertEqual(headers["x-amzn-errortype"], "TooManyRequestsException")
                self.assertEqual(json.loads(body), OVERLOAD)
            # Held connections still work.
            s = held[0]
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(b"GET /_lemu/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(parse_one(data)[2], b'{"status":"ok"}')
        finally:
            for s in held:
                s.close()
        self.assert_serves(l)


class LowDescriptorLimit(Base):
    def test_low_nofile_limit_answers_429_and_recovers(self):
        # lemu cannot raise its soft limit past a hard limit of 256: it takes fewer
        # connections than limits.max_connections and answers 429 past them.
        def low():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        raise_own_nofile(3000)
        l = harness.Lemu(config={"functions": {"function": self.fn()}})
        self.addCleanup(l.cleanup)
        real_popen = harness.subprocess.Popen

        def popen(*a, **kw):
            kw["preexec_fn"] = low
            return real_popen(*a, **kw)
        harness.subprocess.Popen = popen
        try:
            l.start()
        finally:
            harness.subprocess.Popen = real_popen
        self.addCleanup(self.stop, l)
        l.wait_log("lemu: the descriptor limit (256) leaves room for 128 client connections, "
                   "not limits.max_connections (10000); past 128, 429")
        l.wait_log("lemu: function 'function' asks for 1024 descriptors (sandbox.nofile), over "
                   "lemu's own hard limit; it gets 256")
        status, fns = l.control("GET", "/functions/function")
        self.assertEqual(status, 200)
        self.assertEqual(fns["enforced"]["nofile"], True)
        self.assert_serves(l)
        answers, held = flood(l.host, l.port, 2000, 128)
        try:
            self.assertIsNone(l.proc.poll(), "lemu died\n" + l.logs()[-3000:])
            self.assertLessEqual(len(held), 128)
            self.assertEqual([a for a in answers if not a], [])
            for a in answers:
                self.assertEqual(parse_one(a)[0], 429)
        finally:
            for s in held:
                s.close()
        self.assert_serves(l)
        # Environments still start: a cold one needs descriptors of its own.
        status, _ = l.control("POST", "/functions/function/recycle")
        self.assertEqual(status, 200)
        self.assert_serves(l)


class QueueLimit(Base):
    def test_full_async_queue_is_429_then_recovers(self):
        fn = {"bootstrap": harness.fixture("c-bad"), "sandbox": {"cpu": "off"},
              "reserved_concurrency": 1, "timeout_s": 30}
        l = self.start({"limits": {"max_queued_events": 5}, "functions": {"function": fn}})
        accepted, refused = [], []
        for i in range(20):
            status, headers, body = l.invoke(
                payload=json.dumps({"mode": "sleep", "sleep_s": 0.3, "n": i}).encode(),
                headers={"X-Amz-Invocation-Type": "Event"})
            if status == 202:
                accepted.append(headers["x-amzn-requestid"])
            else:
                self.assertEqual(status, 429, body)
                self.assertEqual(headers["x-amzn-errortype"], "TooManyRequestsException")
                self.assertTrue(headers.get("x-amzn-requestid"))
                self.assertEqual(json.loads(body), OVERLOAD)
                refused.append(i)
        self.assertGreaterEqual(len(accepted), 5)
        self.assertGreater(len(refused), 0)
        status, body = l.control("POST", "/wait-idle?timeout_s=60")
        self.assertEqual(status, 200, body)
        # Every accepted event ran; the queue takes events again.
        logs = l.logs()
        for rid in accepted:
            self.assertIn("REPORT RequestId: " + rid, logs)
        status, _, body = l.invoke(payload=b'{"mode":"echo"}',
                                   headers={"X-Amz-Invocation-Type": "Event"})
        self.assertEqual(status, 202, body)


if __name__ == "__main__":
    harness.main()
