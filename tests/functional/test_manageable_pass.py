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

"""The daemon's pass over any backend through Cinder's manageable API.

Real Cinder code end to end: cinder-api and a cinder-volume service in one
process (tests/incinder/allinone.py), whose driver is Cinder's
FakeLoggingVolumeDriver listing a JSON "array" the way Cinder's LVM and RBD
drivers judge theirs.
"""

from reconciler import model
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn
from tests.functional import fixtures
from tests.unit.drivers import hostile

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
BACKEND = 'man1'


def manageable_scenario():
    # The migrated volume is attached: its array object is volume-<name_id>,
    # which Cinder's drivers report as "in use", not "managed".
    s = scn.planted(BACKEND, 'manageable', [BACKEND], host='host-m',
                    healthy=6, migrated_attached=True)
    s.snapshots = [x for x in s.snapshots if x.id != uid('s-migrated')]
    return s


def array_of(scenario):
    """The scenario's array as the fixture driver's JSON lists it."""
    volumes, snapshots = [], []
    attached = {v.key for v in scenario.volumes if v.attached_to}
    for obj in scenario.array_contents(BACKEND):
        if obj.kind == 'volume':
            volumes.append({'name': obj.name or 'volume-%s' % obj.uuid,
                            'size': obj.size, 'in_use': obj.uuid in attached})
        elif obj.kind == 'snapshot':
            snapshots.append({'name': 'snapshot-%s' % obj.uuid,
                              'size': obj.size,
                              'source': 'volume-%s' % obj.parent})
    return volumes, snapshots


PLANTED = {
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.FOREIGN, R.VOLUME, 'lun-7'),
}
MISSING = {
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
}


class ManageablePassTest(fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'host-m'
    VOLUME_SERVICES = (BACKEND,)
    make_scenario = staticmethod(manageable_scenario)

    def start_array(self):
        self.cloud.write_array(BACKEND, *array_of(self.scenario))
        return {'reconciler_driver': 'manageable'}

    def manageable(self, resource):
        with self.backend.create_driver() as driver:
            return driver.inventory.manageable(self.backend.cinder_host,
                                               resource)

    def test_cinder_judges_by_id_only(self):
        """What Cinder itself answers, which the driver must not trust."""
        entries = {e['reference']['source-name']: e
                   for e in self.manageable('volumes')}
        migrated = entries['volume-%s' % uid('migrated-new')]
        self.assertEqual((False, 'volume in use', None),
                         (migrated['safe_to_manage'],
                          migrated['reason_not_safe'], migrated['cinder_id']))
        self.assertEqual(uid('v0'), entries['volume-%s' % uid('v0')][
            'cinder_id'])
        self.assertTrue(entries['volume-%s' % uid('leak')]['safe_to_manage'])

    def test_pass_finds_array_only_and_foreign_but_never_cinder_only(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        # v0-v5 and the migrated volume, matched through its name_id
        self.assertEqual(7, report.consistent['volume'])
        self.assertEqual(1, report.consistent['snapshot'])
        self.assertEqual({'volume creating': 1,
                          'volume outside listed pools': 8,
                          'snapshot outside listed pools': 1},
                         report.skipped)

    def test_complete_listing_also_finds_cinder_only(self):
        self.conf.set_override('reconciler_manageable_complete', True,
                               group=BACKEND)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED | MISSING,
                         {c.identity for c in report.candidates})

    def test_leak_adopted_before_the_recheck_is_no_finding(self):
        volumes, snapshots = array_of(self.scenario)
        self.cloud.write_array(
            BACKEND, [v for v in volumes if uid('leak') not in v['name']],
            snapshots)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED - {(K.ARRAY_ONLY, R.VOLUME, uid('leak'))},
                         {c.identity for c in report.candidates})

    def test_backend_without_volume_service_fails_the_pass(self):
        self.conf.set_override('backend_host', 'elsewhere', group=BACKEND)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('could not be found', report.error)
        self.assertEqual({}, self.findings())

    def test_deep_answer_from_cinder_fails_the_pass(self):
        proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(proxy.stop)
        proxy.payload('manageable_volumes', b'{"manageable-volumes": '
                      + hostile.nested_json() + b'}')
        self.values.load_raw_values(group='cinder', endpoint=proxy.url)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('nested too deeply to parse', report.error)
        self.assertIn(self.backend.cinder_host, report.error)
        self.assertEqual({}, self.findings())
