"""README's first command keeps working: the demo finds what it planted."""

import subprocess
import sys

import fixtures
from oslotest import base

from reconciler.simulators import scenario as scn

PLANTED = ('restored-leftover', 'crashed-delete-snap', 'lost-on-array',
           'lost-snap', 'lh-restored-leftover', 'lh-lost',
           '3par-restored-leftover', '3par-crashed-delete-snap', '3par-lost',
           'nec-restored-leftover', 'nec-crashed-delete-snap', 'nec-lost')
NEVER = ('being-created', 'being-deleted', 'migrated', 'handed-back',
         'other-1', 'other-2', 'nec-db', '3par-db', 'lh-db')


class DemoTest(base.BaseTestCase):

    def test_demo_reports_the_planted_orphans_and_nothing_else(self):
        self.useFixture(fixtures.Timeout(180, gentle=True))
        workdir = self.useFixture(fixtures.TempDir()).path
        out = subprocess.run(
            [sys.executable, '-m', 'reconciler.cmd.demo', '--workdir',
             workdir], capture_output=True, text=True, timeout=170,
            check=True).stdout
        findings = out.split('=== Confirmed findings')[1].split('=== What')[0]
        for label in PLANTED:
            self.assertIn(scn.uid(label), findings, label)
        for label in NEVER:
            self.assertNotIn(scn.uid(label), findings, label)
        # Every confirmed finding but the foreign ones was announced once.
        announced = [line for line in findings.splitlines()
                     if line.startswith('| ') and '| foreign ' not in line
                     and '| Backend ' not in line]
        notified = out.split('=== Notifications received')[1]
        self.assertEqual(len(announced), notified.split('\n\n')[0].count(
            'reconciler.orphan.detected'))
        self.assertNotIn(' failed', out.split('=== Notifications')[0])
