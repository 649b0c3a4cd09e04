"""tools/bench.py --quick: the benchmark runs and its figures are sane.

Only that it ran: time and memory are printed, never asserted.
"""

import os
import subprocess
import sys

from oslotest import base

import tests

TOOL = os.path.join(tests.ROOT, 'tools',
                    'bench.py')


class BenchSmokeTest(base.BaseTestCase):

    def test_quick_run(self):
        proc = subprocess.run([sys.executable, TOOL, '--quick'],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --quick: ok', proc.stdout)
        self.assertIn('pass/floor', proc.stdout)

    def test_listing_quick_run(self):
        """--listing: cursor and windows timed, their views equal."""
        proc = subprocess.run([sys.executable, TOOL, '--listing', '--quick'],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --listing --quick: ok', proc.stdout)
        self.assertIn('union equal', proc.stdout)
