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

"""The daemon's pass over a LeftHand backend: real cinder-api, simulated array.

cinder-api (noauth, SQLite) and the LeftHand simulator are seeded from one
scenario; the backend group is written as copied from cinder.conf (the driver
follows from ``volume_driver``); history and notifications are the daemon's.
"""

import os

from reconciler import model
from reconciler.simulators import lefthand as sim_lefthand
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
BACKEND = 'lh1'
USER, PASSWORD = 'lhadmin', 'S3cret-LH-Passw0rd'

SCENARIO = {
    'backends': [
        {'name': BACKEND, 'host': 'ctl-1', 'driver': 'hpelefthand',
         'pools': ['cluster-a']},
        {'name': 'lh2', 'host': 'ctl-1', 'driver': 'hpelefthand',
         'pools': ['cluster-b']}],
    'volumes': [
        {'id': 'db', 'backend': BACKEND, 'status': 'in-use',
         'attached_to': ['compute-1.example.org']},
        {'id': 'moved', 'backend': BACKEND, 'name_id': 'moved-new',
         'status': 'in-use', 'attached_to': ['compute-2.example.org']},
        {'id': 'idle', 'backend': BACKEND},
        # Two hosts with one first label: LeftHand servers are named after
        # the full host name, so the export to the other one is an orphan.
        {'id': 'twin', 'backend': BACKEND, 'status': 'in-use',
         'attached_to': ['compute-7.a.example']},
        {'id': 'lost', 'backend': BACKEND, 'on_array': False},
        {'id': 'being-created', 'backend': BACKEND, 'status': 'creating',
         'on_array': False},
        {'id': 'elsewhere', 'backend': 'lh2'}],
    'snapshots': [
        {'id': 'db-snap', 'volume': 'db'},
        {'id': 'gs-db', 'volume': 'db', 'group_snapshot_id': 'gs'},
        {'id': 'gs-moved', 'volume': 'moved', 'group_snapshot_id': 'gs'}],
    'array_objects': [
        {'backend': BACKEND, 'kind': 'volume', 'uuid': 'leak'},
        {'backend': BACKEND, 'kind': 'snapshot', 'uuid': 'leak-snap',
         'parent': 'idle'},
        {'backend': BACKEND, 'kind': 'export', 'uuid': 'idle',
         'host': 'compute-9.example.org'},
        {'backend': BACKEND, 'kind': 'export', 'uuid': 'twin',
         'host': 'compute-7.b.example'},
        {'backend': BACKEND, 'kind': 'volume', 'uuid': 'handed-back',
         'class': 'unmanaged'},
        {'backend': BACKEND, 'kind': 'snapshot', 'parent': 'db',
         'class': 'replica'},
        {'backend': BACKEND, 'kind': 'volume', 'name': 'backup-lun-7',
         'class': 'foreign'}],
}

PLANTED = {
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.ORPHAN_EXPORT, R.EXPORT,
     'volume-%s@compute-9.example.org' % uid('idle')),
    (K.ORPHAN_EXPORT, R.EXPORT,
     'volume-%s@compute-7.b.example' % uid('twin')),
    (K.FOREIGN, R.VOLUME, 'backup-lun-7'),
}


class _LeftHandPassTest(local_fixtures.DriverPassTestCase):
    """A fresh LeftHand simulator of ``BACKEND`` per test."""

    def start_array(self):
        backend = self.scenario.backend(self.BACKEND)
        self.sim = sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, self.BACKEND, username=USER, password=PASSWORD)
        self.sim.start()
        self.addCleanup(self.sim.stop)
        return dict(
            volume_driver='cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                          'HPELeftHandISCSIDriver',
            hpelefthand_api_url=self.sim.url, hpelefthand_username=USER,
            hpelefthand_password=PASSWORD,
            hpelefthand_clustername=backend.pools[0])


class LeftHandPassTest(_LeftHandPassTest):

    BACKEND = BACKEND
    HOST = 'ctl-1'

    @staticmethod
    def make_scenario():
        return scn.Scenario.from_dict(SCENARIO)

    def test_remediation_unexports_and_quarantines(self):
        self.check_array_side_remediation()

    def test_pass_finds_the_planted_orphans_only(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual(PLANTED, set(self.findings()))
        # db, moved, idle, twin; db-snap and the two group snapshot
        # members; the exports to compute-1, compute-2 and compute-7.a.
        self.assertEqual({'volume': 4, 'snapshot': 3, 'export': 3},
                         report.consistent)
        self.assertEqual({'volume creating': 1,
                          'volume renamed on unmanage': 1,
                          'replica snapshot': 1}, report.skipped)
        self.assertEqual(0, self.sim.open_sessions)

    def test_fault_mid_pass_fails_the_run_without_findings(self):
        self.sim.faults.append(sim_lefthand.Fault(
            'error', r'GET /lhos/volumes/\d+\?', after=2))
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('HTTP 500', report.error)
        self.assertEqual([], report.candidates)
        self.assertEqual({}, self.findings())
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)
        self.assertEqual((1, 0), (self.sim.logouts, self.sim.open_sessions))
        # The same array without the fault: the planted orphans, found.
        self.assertEqual(PLANTED, {c.identity for c in
                                   self.run_pass().candidates})


class DemoScenarioTest(_LeftHandPassTest):
    """The demo's LeftHand backend finds what the demo says it plants."""

    BACKEND = 'lh1'
    HOST = 'demo-host'

    @staticmethod
    def make_scenario():
        return scn.Scenario.load(os.path.join(
            os.path.dirname(scn.__file__), 'scenarios', 'demo.yaml'))

    def test_planted_orphans(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual({
            (K.ARRAY_ONLY, R.VOLUME, uid('lh-restored-leftover')),
            (K.ARRAY_ONLY, R.SNAPSHOT, uid('lh-crashed-delete-snap')),
            (K.CINDER_ONLY, R.VOLUME, uid('lh-lost')),
            (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@compute-4.example.org'
             % uid('lh-migrated-new')),
            (K.FOREIGN, R.VOLUME, 'lh-scratch-lun'),
        }, {c.identity for c in report.candidates})
