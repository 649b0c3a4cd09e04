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
        scn.Volume(id=uid('lost'), backend=BACKEND, on_array=False)]
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
        # Classified, never findings: a migration target (_m), the source
        # left by a migration (_d), a snapshot's link volume (_l) and a
        # control volume.
        scn.ArrayObject(BACKEND, 'volume', uuid=uid('v4'),
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
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        self.assertEqual({'temporary volume': 2, 'temporary snapshot': 1,
                          'control volume': 1, 'volume creating': 1},
                         report.skipped)
        # the migrated volume's LD is named after its name_id: consistent
        self.assertEqual(31, report.consistent['volume'])
        self.assertEqual(1, report.consistent['snapshot'])
        leak = [c for c in report.candidates if c.resource_id == uid('leak')]
        self.assertEqual(NAMES.volume(uid('leak')), leak[0].array_name)
        # one listing, then one iSMquery for the re-check round (its six
        # candidates' look-ups)
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
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, before)
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
