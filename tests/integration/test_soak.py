# SPDX-License-Identifier: Apache-2.0
"""One minute of tests/soak/soak.py (mixed load, seeded misbehaviour, no crash, no lost
event, no growth, nothing left behind). The debug build only: under the sanitizers the
daemon runs several times slower and its allocator holds freed memory, so the growth checks
mean nothing there (the 10-minute soak is run by hand: tests/soak/soak.py --minutes 10).
"""
import json
import os
import sys
import unittest

import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import soak  # noqa: E402


class SoakTest(unittest.TestCase):
    def test_one_minute_soak(self):
        if os.environ.get("LEMU_SANITIZED"):
            raise unittest.SkipTest("the soak runs in the debug build")
        report = soak.Soak(minutes=1, seed=int(os.environ.get("LEMU_SOAK_SEED", "1")),
                           workers=3, log=lambda s: print(s, flush=True)).run()
        for line in json.dumps(report, indent=1).splitlines():
            print("# " + line)
        self.assertEqual(report["problems"], [])
        self.assertGreater(report["async"], 0)


if __name__ == "__main__":
    harness.main()
