"""``cinder-reconciler-manage`` as an operator runs it, against real Cinder."""

import json

import fixtures
from oslotest import base

from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures

CONF = """
[DEFAULT]
host = demo-host
enabled_backends = fake1

[fake1]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
fake_array_file = {tmp}/array.yaml
reconciler_sightings = 2
reconciler_grace_period = 0

[oslo_messaging_notifications]
driver = noop
"""

PLANTED = sorted([
    ('array_only', 'volume', scn.uid('restored-leftover')),
    ('array_only', 'snapshot', scn.uid('crashed-delete-snap')),
    ('cinder_only', 'volume', scn.uid('lost-on-array')),
    ('cinder_only', 'snapshot', scn.uid('lost-snap')),
    ('orphan_export', 'export',
     'volume-%s@compute-3' % scn.uid('scratch')),
    ('foreign', 'volume', 'backup-lun-7'),
])


class ManageTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(CONF))

    def test_check_before_db_sync_says_what_to_do(self):
        result = self.demo.manage('check', check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn('db sync', result.stderr)

    def test_check_and_findings(self):
        self.assertIn('latest revision', self.demo.manage('db', 'sync').stdout)
        text = self.demo.manage('check').stdout
        self.assertIn('Backend fake1 (demo-host@fake1): run 1 ok', text)
        self.assertIn('Cinder-only: 2', text)
        self.assertIn(scn.uid('lost-on-array'), text)

        [report] = json.loads(self.demo.manage('check', '--format',
                                               'json').stdout)
        self.assertEqual('ok', report['status'])
        self.assertEqual(PLANTED, sorted(
            (f['kind'], f['resource_type'], f['resource_id'])
            for f in report['findings']))
        self.assertEqual({'confirmed'},
                         {t['new_state'] for t in report['transitions']})

        rows = json.loads(self.demo.manage(
            'findings', 'list', '--state', 'confirmed', '--format',
            'json').stdout)
        self.assertEqual(PLANTED, sorted(
            (f['kind'], f['resource_type'], f['resource_id']) for f in rows))
        self.assertEqual([], json.loads(self.demo.manage(
            'findings', 'list', '--state', 'resolved', '--format',
            'json').stdout))
        table = self.demo.manage('findings', 'list').stdout
        self.assertIn('backup-lun-7', table)

    def test_failed_check_exits_non_zero_and_hides_the_token(self):
        self.demo.manage('db', 'sync')
        self.demo.proxy.fail(r'/volumes/detail', status=500)
        result = self.demo.manage('check', check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn('run 1 failed', result.stdout)
        self.assertIn('no finding was created or resolved', result.stdout)
        self.assertNotIn('admin:admin', result.stdout + result.stderr)
        self.assertEqual([], json.loads(self.demo.manage(
            'findings', 'list', '--format', 'json').stdout))

    def test_unknown_backend(self):
        self.demo.manage('db', 'sync')
        result = self.demo.manage('check', '--backend', 'nope', check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn('nope', result.stderr)
