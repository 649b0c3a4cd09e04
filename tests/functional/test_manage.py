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

"""``cinder-reconciler-manage`` as an operator runs it, against real Cinder."""

import json

import fixtures
from oslotest import base

from reconciler.simulators import lefthand
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
        listed = self.demo.manage('findings', 'list')
        self.assertIn('backup-lun-7', listed.stdout)
        # Alembic's INFO chatter on reading the schema's revision stays
        # out of an operator's command (alembic defaults to WARN).
        self.assertNotIn('alembic', listed.stderr)

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


LEFTHAND_CONF = """
[DEFAULT]
host = demo-host
enabled_backends = lh1

[lh1]
volume_driver = cinder.volume.drivers.hpe.hpe_lefthand_iscsi.\
HPELeftHandISCSIDriver
hpelefthand_api_url = {lh_url}
hpelefthand_username = lh-user
hpelefthand_password = lh-password
hpelefthand_clustername = {lh_cluster}

[oslo_messaging_notifications]
driver = noop
"""


class LibraryOutputTest(base.BaseTestCase):
    """What client libraries print never reaches a command's output."""

    def test_json_parses_after_the_lefthand_client_logs_in_again(self):
        self.useFixture(fixtures.Timeout(120, gentle=True))
        demo = self.useFixture(local_fixtures.DemoCloud(
            LEFTHAND_CONF, lh_url='http://127.0.0.1:9', lh_cluster='x'))
        sim = lefthand.LeftHandSimulator.from_scenario(
            demo.scenario, 'lh1', username='lh-user',
            password='lh-password').start()
        self.addCleanup(sim.stop)
        demo.write_conf(lh_url=sim.url,
                        lh_cluster=demo.scenario.backend('lh1').pools[0])
        demo.manage('db', 'sync')
        # The session expires mid-listing: the client prints
        # "_do_reauth called" and logs in again.
        sim.faults.append(lefthand.Fault('expire', r'GET /lhos/volumes/',
                                         after=1))
        result = demo.manage('check', '--format', 'json', check=False)
        self.assertEqual(2, sim.logins, result.stderr)
        [report] = json.loads(result.stdout)
        self.assertEqual(('lh1', 'ok'), (report['backend'],
                                         report['status']))
        self.assertIn('_do_reauth called', result.stderr)
