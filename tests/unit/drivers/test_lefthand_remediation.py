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

"""LeftHand remediation actions: the real client against the simulator."""

import copy

from reconciler import exception
from reconciler import model
from tests.unit.drivers import guards
from tests.unit.drivers import test_lefthand as base

R = model.ResourceType
C = model.ObjectClass

EXPORT = 'volume-%s@%s' % (base.V2_KEY, base.HOST9)


class RemediationTest(guards.GuardTests, base.LeftHandTestCase):

    exported_to = (base.HOST1, base.HOST9)

    def setUp(self):
        super().setUp()
        # V2 is also seen by HOST1: only HOST9's access is the export.
        self.sim.grant('volume-%s' % base.V2_KEY, base.HOST1)
        self.d = self.driver()
        self.d.open()
        self.addCleanup(self.d.close)

    def state(self):
        s = self.sim
        with s._lock:
            return copy.deepcopy((s._volumes, s._snapshots, s._parents,
                                  s._servers))

    def fresh(self, kind, name, **fields):
        obj = self.d.refresh(model.ArrayObject(kind, name, None, C.CINDER,
                                               **fields))
        self.assertIsNotNone(obj)
        return obj

    def guard_setup(self):
        # V1: its snapshots, and no access once HOST1's is revoked.
        self.sim.revoke('volume-%s' % base.V1, base.HOST1)
        return self.d, {
            'exported': self.fresh(R.VOLUME, 'volume-%s' % base.V2_KEY),
            'snapshotted': self.fresh(R.VOLUME, 'volume-%s' % base.V1),
            'free': self.fresh(R.VOLUME, 'volume-%s' % base.AO)}

    def occupy(self, name):
        self.sim.add_volume(name, base.CLUSTER)

    def test_exports_of_a_snapshot_are_its_access_list(self):
        snapshot = self.fresh(R.SNAPSHOT, 'snapshot-%s' % base.AOS)
        self.assertEqual([], self.d.exports_of(snapshot))
        self.assertEqual([], self.d.snapshots_of(snapshot))

    def test_remove_export_takes_one_server_off_one_volume(self):
        export = self.fresh(R.EXPORT, EXPORT)
        volumes, snapshots, parents, servers = self.state()
        self.d.remove_export(export)
        acl = volumes['volume-%s' % base.V2_KEY]['volumeACL']
        volumes['volume-%s' % base.V2_KEY]['volumeACL'] = [
            e for e in acl if e['server']['name'] != base.HOST9]
        # The server stays, as every other volume's access.
        self.assertEqual((volumes, snapshots, parents, servers),
                         self.state())
        self.assertIsNone(self.d.refresh(export))
        self.fresh(R.EXPORT, 'volume-%s@%s' % (base.V2_KEY, base.HOST1))

    def test_quarantine_renames_as_cinder_unmanage(self):
        for kind, name, new, table in (
                (R.VOLUME, 'volume-%s' % base.AO, 'unm-%s' % base.AO,
                 '_volumes'),
                (R.SNAPSHOT, 'snapshot-%s' % base.AOS, 'ums-%s' % base.AOS,
                 '_snapshots')):
            obj = self.fresh(kind, name, parent_uuid=base.V1)
            before = self.state()
            self.assertEqual(new, self.d.quarantine(obj))
            after = self.state()
            index = 0 if table == '_volumes' else 1
            entity = before[index].pop(name)
            self.assertEqual(dict(entity, name=new), after[index].pop(new))
            if kind == R.SNAPSHOT:
                self.assertEqual(before[2].pop(name), after[2].pop(new))
            self.assertEqual(before, after)
            self.assertIsNone(self.d.refresh(obj))
            renamed = self.fresh(kind, new)
            self.assertEqual(C.UNMANAGED, renamed.object_class)

    def test_quarantine_refuses_a_foreign_volume(self):
        obj = self.fresh(R.VOLUME, 'scratch-lun')
        self.assertRaises(exception.ArrayError, self.d.quarantine, obj)

    def test_delete(self):
        for kind, name in ((R.VOLUME, 'volume-%s' % base.AO),
                           (R.SNAPSHOT, 'snapshot-%s' % base.AOS)):
            obj = self.fresh(kind, name)
            before = self.state()
            self.d.delete_object(obj)
            after = self.state()
            if kind == R.VOLUME:
                del before[0][name]
            else:
                del before[1][name], before[2][name]
            self.assertEqual(before, after)
            self.assertIsNone(self.d.refresh(obj))

    def test_delete_refuses_an_exported_volume_or_one_with_snapshots(self):
        before = self.state()
        for name, why in (('volume-%s' % base.V2_KEY, 'exported'),
                          ('volume-%s' % base.V1, 'exported')):
            e = self.assertRaises(exception.ArrayError, self.d.delete_object,
                                  self.fresh(R.VOLUME, name))
            self.assertIn(why, str(e))
        self.sim.revoke('volume-%s' % base.V1, base.HOST1)
        e = self.assertRaises(exception.ArrayError, self.d.delete_object,
                              self.fresh(R.VOLUME, 'volume-%s' % base.V1))
        self.assertIn('snapshots', str(e))
        self.assertFalse([r for r in self.sim.requests
                          if r.startswith('DELETE /lhos/volumes')])
        self.assertEqual(before[1:], self.state()[1:])

    def test_array_failures_are_array_errors_without_secrets(self):
        export = self.fresh(R.EXPORT, EXPORT)
        volume = self.fresh(R.VOLUME, 'volume-%s' % base.AO)
        for pattern, act, obj in (
                ('^POST /lhos/volumes/', self.d.remove_export, export),
                ('^PUT /lhos/volumes/', self.d.quarantine, volume),
                ('^DELETE /lhos/volumes/', self.d.delete_object, volume)):
            self.sim.faults = [base.Fault(
                'error', pattern, message='failed, user %s password %s' % (
                    base.USER, base.PASSWORD))]
            before = self.state()
            e = self.assertRaises(exception.ArrayError, act, obj)
            self.assertIn('HTTP 500', str(e))
            self.assertNotIn(base.PASSWORD, str(e))
            self.assertEqual(before, self.state())
