#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""tools/bench.py --quick: the benchmark runs and its figures are sane.

Only that it ran: time and memory are printed, never asserted.
"""

import os
import subprocess
import sys

from oslotest import base

import tests
from tests import servers

TOOL = os.path.join(tests.ROOT, 'tools',
                    'bench.py')


class BenchSmokeTest(base.BaseTestCase):

    def test_quick_run(self):
        proc = subprocess.run([sys.executable, TOOL, '--quick'],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --quick: ok', proc.stdout)
        self.assertIn('pass/floor', proc.stdout)
        # RBD on a real Ceph cluster, or the one line saying why not (never
        # in CI, which installs Ceph).
        if servers.in_ci():
            self.assertIn('rbd binding', proc.stdout)
        else:
            self.assertTrue('rbd binding' in proc.stdout
                            or 'bench: rbd skipped: ' in proc.stdout,
                            proc.stdout)

    def test_arrays_quick_run(self):
        """--arrays: each array alone; RBD's line ends the output."""
        proc = subprocess.run([sys.executable, TOOL, '--arrays', '--quick'],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --arrays --quick: ok', proc.stdout)
        for driver in ('nec', 'hpe3par', 'hpelefthand'):
            self.assertRegex(proc.stdout, r'(?m)^%s, 300 volumes' % driver)
        last = proc.stdout.strip().splitlines()[-1]
        if servers.in_ci() or 'bench: rbd skipped: ' not in proc.stdout:
            self.assertRegex(last, r'^rbd: images=306 full=[0-9.]+ s '
                             r'before=[0-9.]+ s speedup=[0-9.]+ '
                             r'steady_opens=[0-9]+$')

    def test_listing_quick_run(self):
        """--listing: cursor and windows timed, their views equal."""
        proc = subprocess.run([sys.executable, TOOL, '--listing', '--quick'],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --listing --quick: ok', proc.stdout)
        self.assertIn('union equal', proc.stdout)

    def test_fleet_quick_run(self):
        """--fleet: agents against a controller over a real RabbitMQ."""
        servers.RabbitMQ().check_installed()
        proc = subprocess.run([sys.executable, TOOL, '--fleet', '--quick'],
                              capture_output=True, text=True, timeout=600)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        self.assertIn('bench --fleet --quick: ok', proc.stdout)
        self.assertIn('bytes per attachment', proc.stdout)
        self.assertIn('projection for 1000 agents', proc.stdout)
        self.assertRegex(proc.stdout.splitlines()[-1],
                         r'^fleet: N=4 cinder MB per cycle old=[0-9.]+ '
                         r'new=[0-9.]+ ratio=[0-9.]+$')
