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

"""The daemon's pass over an NEC backend: real cinder-api, simulated array.

The array is the SSH simulator answering iSMCLI; the driver, the engine,
history (SQLite) and the notifier are the daemon's own code, run through
``BackendReconciler.run_pass``.
"""

from reconciler.drivers import nec_names
from reconciler import model
from reconciler.simulators import nec
from reconciler.simulators import scenario as scn
from tests.functional import fixtures
from tests import nec_fixtures
from tests.unit.drivers import test_nec_faults

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
C = model.ObjectClass
BACKEND = 'nec1'
NAMES = nec_names.LDNames()


def nec_scenario():
    s = scn.Scenario(backends=[
        scn.Backend(BACKEND, host='host-a', driver='nec', pools=['0', '1'])])
    for i in range(30):
        s.volumes.append(scn.Volume(id=uid('v%d' % i), backend=BACKEND))
    s.volumes += [
        scn.Volume(id=uid('migrated'), backend=BACKEND,
                   name_id=uid('migrated-new')),
        scn.Volume(id=uid('creating'), backend=BACKEND, status='creating',
                   on_array=False),
        scn.Volume(id=uid('lost'), backend=BACKEND, on_array=False),
        # Migrating within the array: its _m copy is expected.
        scn.Volume(id=uid('moving'), backend=BACKEND,
                   migration_status='migrating')]
    s.snapshots += [scn.Snapshot(id=uid('s0'), volume=uid('v0')),
                    scn.Snapshot(id=uid('lost-snap'), volume=uid('v1'),
                                 on_array=False)]
    temporary = C.TEMPORARY.value
    s.array_objects += [
        scn.ArrayObject(BACKEND, 'volume', uuid=uid('leak')),
        scn.ArrayObject(BACKEND, 'snapshot', uuid=uid('leak-snap'),
                        parent=uid('v2')),
        scn.ArrayObject(BACKEND, 'export', uuid=uid('v3'), host='compute-9'),
        scn.ArrayObject(BACKEND, 'volume', name='WN:dbdisk',
                        object_class=C.FOREIGN.value),
        # Classified, never findings: the migration target (_m) of a
        # migrating volume and a control volume. Stale: the source left by
        # a migration over (_d), the link volume (_l) of a snapshot no
        # backup exports.
        scn.ArrayObject(BACKEND, 'volume', uuid=uid('moving'),
                        object_class=temporary),
        scn.ArrayObject(BACKEND, 'volume', object_class=temporary,
                        name=NAMES.volume(uid('migrated')) + '_d'),
        scn.ArrayObject(BACKEND, 'snapshot', uuid=uid('s0'),
                        object_class=temporary),
        scn.ArrayObject(BACKEND, 'volume', object_class=C.CONTROL.value),
    ]
    return s


def export_name(volume_key, host):
    ldset = nec.Array().ldset_for(host, 'iSCSI')
    return '%s@%s' % (NAMES.volume(volume_key), ldset.name)


PLANTED = {
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.ORPHAN_EXPORT, R.EXPORT, export_name(uid('v3'), 'compute-9')),
    (K.FOREIGN, R.VOLUME, 'WN:dbdisk'),
}
STALE = {
    (K.STALE_TEMPORARY, R.VOLUME, NAMES.volume(uid('migrated')) + '_d'),
    (K.STALE_TEMPORARY, R.SNAPSHOT, NAMES.volume(uid('s0')) + '_l'),
}
FOUND = {k: S.SUSPECTED if k in STALE else S.CONFIRMED
         for k in PLANTED | STALE}
FC_DRIVER = 'cinder.volume.drivers.nec.volume.MStorageFCDriver'


class NecPassTest(fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'host-a'
    make_scenario = staticmethod(nec_scenario)

    def start_array(self):
        self.array = nec.Array.from_scenario(self.scenario, BACKEND)
        self.nec = self.useFixture(nec_fixtures.NecArray(self.array))
        return self.nec.options()

    def test_remediation_unexports_and_quarantines(self):
        self.check_array_side_remediation()

    def test_pass_finds_each_planted_orphan_class(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(set(FOUND), {c.identity for c in report.candidates})
        self.assertEqual(FOUND, self.findings())
        self.assertEqual({'temporary volume': 1, 'control volume': 1,
                          'volume creating': 1, 'volume migrating': 1},
                         report.skipped)
        # Only a name that could decode by chance says the leaks are
        # Cinder's; the temporaries' volume and snapshot have rows.
        self.assertEqual(
            {(K.ARRAY_ONLY, R.VOLUME, uid('leak')),
             (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap'))},
            {c.identity for c in report.candidates
             if ('ownership_evidence', 'name') in c.details})
        # the migrated volume's LD is named after its name_id: consistent
        self.assertEqual(32, report.consistent['volume'])
        self.assertEqual(1, report.consistent['snapshot'])
        leak = [c for c in report.candidates if c.resource_id == uid('leak')]
        self.assertEqual(NAMES.volume(uid('leak')), leak[0].array_name)
        # one listing, then one iSMquery for the whole re-check round
        self.assertEqual(['iSMquery -cinder -xml -all'] * 2,
                         self.nec.simulator.commands)

    def test_fault_mid_pass_fails_the_run_and_changes_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        # A completed pass would resolve one finding and add three, all
        # re-checked with one iSMquery after the listing's.
        self.array.remove_ld(NAMES.volume(uid('leak')))
        for i in range(3):
            self.array.add_ld(NAMES.volume(uid('new-leak-%d' % i)), 0)
        commands = self.nec.simulator.commands
        for fault, after, text in (
                (nec.Fault.EXIT, 1, 'exited with status 1'),
                (nec.Fault.DROP, 0, 'closed before the command finished'),
                (nec.Fault.TRUNCATE, 1, 'not complete, well-formed XML')):
            self.nec.simulator.inject(fault, after=after)
            sent = len(commands)
            report = self.run_pass()
            # the fault hit the listing (0) or the re-check round (1)
            self.assertGreater(len(commands) - sent, after)
            self.assertEqual(model.RunStatus.FAILED, report.status)
            self.assertIn(text, report.error)
            self.assertNotIn(nec_fixtures.PASSWORD, report.error)
            self.assertEqual([], report.candidates)
            self.assertEqual(before, self.findings())
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)
        self.nec.simulator.inject(None)
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before[(K.ARRAY_ONLY, R.VOLUME, uid('leak'))] = S.RESOLVED
        before.update(((K.ARRAY_ONLY, R.VOLUME, uid('new-leak-%d' % i)),
                       S.CONFIRMED) for i in range(3))
        self.assertEqual(before, self.findings())

    def test_fault_before_any_pass_records_no_finding(self):
        self.nec.simulator.inject(nec.Fault.EXIT, after=1)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertEqual({}, self.findings())

    def test_export_of_an_attached_volume_is_not_an_orphan(self):
        self.cloud.add_attachment(uid('v5'), 'compute-1')
        self.addCleanup(self.cloud.remove_attachment, uid('v5'), 'compute-1')
        self.array.map(NAMES.volume(uid('v5')), 'compute-1')
        found = {c.identity for c in self.run_pass().candidates}
        # An LD set is named after initiators, and Cinder exposes no iSCSI
        # initiator for the attachment: the export cannot be told from an
        # orphan, so it is unknown, never a finding.
        self.assertNotIn(
            (K.ORPHAN_EXPORT, R.EXPORT, export_name(uid('v5'), 'compute-1')),
            found)

    def attach(self, label, host, connection_info=None):
        self.cloud.add_attachment(uid(label), host,
                                  connection_info=connection_info)
        self.addCleanup(self.cloud.remove_attachment, uid(label), host)

    def test_iscsi_attachment_in_an_fc_ld_set_is_an_orphan(self):
        """Cinder's iSCSI driver looks for the connector's IQN in iSCSI LD
        sets only: a volume it attached is in an FC LD set by no attachment.
        """
        self.attach('v6', 'compute-1')
        self.array.map(NAMES.volume(uid('v6')), 'compute-1')
        ldset = self.array.map(NAMES.volume(uid('v6')), 'compute-2', 'FC')
        export = (K.ORPHAN_EXPORT, R.EXPORT,
                  '%s@%s' % (NAMES.volume(uid('v6')), ldset.name))
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertIn(export, {c.identity for c in report.candidates})
        self.assertEqual(S.CONFIRMED, self.findings()[export])
        self.assertEqual(1, report.skipped[
            'export of attached volume to iSCSI initiators'])

    def test_fc_attachment_in_an_iscsi_ld_set_is_an_orphan(self):
        """Through Cinder's FC driver: an iSCSI LD set is no attachment's;
        its own FC LD set is told by the WWPNs connection_info shows; one
        whose attachment shows none cannot be told, and is counted.
        """
        self.values.load_raw_values(group=BACKEND, volume_driver=FC_DRIVER)
        wwpns = nec.host_initiators('compute-1', 'FC')
        self.attach('v7', 'compute-1', {
            'driver_volume_type': 'fibre_channel', 'target_lun': 0,
            'target_wwn': ['2000000991000001'],
            'initiator_target_map': {w: ['2000000991000001']
                                     for w in wwpns}})
        self.attach('v8', 'compute-3')      # no connection_info
        v7, v8 = NAMES.volume(uid('v7')), NAMES.volume(uid('v8'))
        own = self.array.map(v7, 'compute-1', 'FC')
        iscsi = self.array.map(v7, 'compute-1', 'iSCSI')
        self.array.map(v8, 'compute-4', 'FC')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = {c.identity for c in report.candidates}
        self.assertIn((K.ORPHAN_EXPORT, R.EXPORT,
                       '%s@%s' % (v7, iscsi.name)), found)
        self.assertNotIn((K.ORPHAN_EXPORT, R.EXPORT,
                          '%s@%s' % (v7, own.name)), found)
        # v8's, whose attachment shows no WWPN; v7's own set was told.
        self.assertEqual(1, report.skipped[
            'export of attached volume undecidable at re-check'])

    def test_empty_logical_disk_chapter_on_a_fresh_database_fails(self):
        """A well-formed document whose Logical Disk chapter is empty.

        Pools present, no history to compare with: once an ok pass of
        suspects, look-ups reading "absent" and confirmed Cinder-only
        findings for every volume.
        """
        self.nec.simulator.inject(nec.Fault.PAYLOAD, payload=test_nec_faults.
                                  edited(self.array, 'Logical Disk',
                                         empty=True))
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('the array listing lacks 32 of the 32 settled volumes',
                      report.error)
        self.assertEqual({}, self.findings())
        # Refused before any look-up.
        self.assertEqual(1, len(self.nec.simulator.commands))

    def test_lookup_answered_with_an_empty_document_resolves_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        self.assertEqual(FOUND, before)
        # The leak goes from the listing: only a look-up can resolve it,
        # and the look-up is answered with an empty document.
        self.array.remove_ld(NAMES.volume(uid('leak')))
        for payload in (test_nec_faults.EMPTY_REQUEST,
                        test_nec_faults.edited(self.array, 'Logical Disk',
                                               empty=True)):
            self.nec.simulator.inject(nec.Fault.PAYLOAD, after=1,
                                      payload=payload)
            report = self.run_pass()
            self.assertEqual(model.RunStatus.FAILED, report.status)
            self.assertEqual(before, self.findings())
        self.nec.simulator.inject(None)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        before[(K.ARRAY_ONLY, R.VOLUME, uid('leak'))] = S.RESOLVED
        self.assertEqual(before, self.findings())
