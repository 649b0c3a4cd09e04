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

"""NEC remediation: iSMcfg writes over SSH against the simulated array."""

import copy

from reconciler import exception
from reconciler import model
from reconciler.simulators import nec
from reconciler.simulators.scenario import uid
from tests import nec_fixtures
from tests.unit.drivers import guards
from tests.unit.drivers import test_nec as base

R = model.ResourceType
C = model.ObjectClass
NAMES = base.NAMES
VOL, OTHER, SNAP = uid('vol'), uid('other'), uid('snap')


class RemediationTest(guards.GuardTests, base.NecTestCase):

    def setUp(self):
        super().setUp()
        add = self.array.add_ld
        add(NAMES.volume(VOL), 0, rpl='BV')
        add(NAMES.volume(OTHER), 0)
        add(NAMES.snapshot(SNAP), 1, rpl='SV')
        self.array.map(NAMES.volume(VOL), 'compute-1')
        self.ldset = self.array.map(NAMES.volume(VOL), 'compute-2')
        self.array.map(NAMES.volume(OTHER), 'compute-2')
        self.d = self.driver()
        self.d.open()

    def guard_setup(self):
        self.exported_to = sorted(
            s.name for s in self.array.ldsets
            if self.array.ld(NAMES.volume(VOL)).ldn in s.luns.values())
        self.assertEqual(2, len(self.exported_to))
        self.array.add_ld(NAMES.volume(uid('base')), 0, rpl='BV')
        self.array.add_ld(NAMES.volume(uid('free')), 0)
        return self.d, {
            'exported': self.fresh(R.VOLUME, NAMES.volume(VOL)),
            'snapshotted': self.fresh(R.VOLUME, NAMES.volume(uid('base'))),
            'free': self.fresh(R.VOLUME, NAMES.volume(uid('free')))}

    def occupy(self, name):
        self.array.add_ld(name, 0)

    def state(self):
        with self.array.lock:
            return copy.deepcopy((self.array._lds, self.array.ldsets))

    def fresh(self, kind, name):
        obj = self.d.refresh(model.ArrayObject(kind, name, None, C.CINDER))
        self.assertIsNotNone(obj)
        return obj

    def writes(self):
        return [c for c in self.simulator.commands
                if c.startswith('iSMcfg')]

    def test_remove_export_takes_the_ld_out_of_one_ld_set(self):
        export = self.fresh(R.EXPORT, '%s@%s' % (NAMES.volume(VOL),
                                                 self.ldset.name))
        lds, ldsets = self.state()
        self.d.remove_export(export)
        ldn = lds[NAMES.volume(VOL)].ldn
        changed = [s for s in ldsets if s.name == self.ldset.name][0]
        changed.luns = {k: v for k, v in changed.luns.items() if v != ldn}
        self.assertEqual((lds, ldsets), self.state())
        self.assertEqual(['iSMcfg delldsetld -ldset %s -ldname %s'
                          % (self.ldset.name, NAMES.volume(VOL))],
                         self.writes())
        self.assertIsNone(self.d.refresh(export))
        self.assertEqual(2, sum(1 for o in self.d.list_objects().objects
                                if o.kind == R.EXPORT))

    def test_quarantine_renames_to_an_unmanaged_name(self):
        for kind, name, key in ((R.VOLUME, NAMES.volume(OTHER), OTHER),
                                (R.SNAPSHOT, NAMES.snapshot(SNAP), SNAP)):
            obj = self.fresh(kind, name)
            lds, ldsets = self.state()
            new = self.d.quarantine(obj)
            self.assertEqual(name + '_q', new)
            ld = lds.pop(name)
            ld.name = new
            lds[new] = ld
            self.assertEqual((lds, ldsets), self.state())
            self.assertIsNone(self.d.refresh(obj))
            renamed = self.fresh(kind, new)
            self.assertEqual((kind, C.UNMANAGED, key), (
                renamed.kind, renamed.object_class, renamed.uuid))
        # Still mapped through its LD set, under the new name.
        self.fresh(R.EXPORT, '%s_q@%s' % (NAMES.volume(OTHER),
                                          self.ldset.name))

    def test_quarantine_refuses_a_foreign_ld(self):
        self.array.add_ld('LX:scratch', 0)
        self.assertRaises(exception.ArrayError, self.d.quarantine,
                          self.fresh(R.VOLUME, 'LX:scratch'))
        self.assertEqual([], self.writes())

    def test_delete_only_an_unmapped_unpaired_ld(self):
        before = self.state()
        for name, kind, why in (
                (NAMES.volume(OTHER), R.VOLUME, 'is in LD set'),
                (NAMES.snapshot(SNAP), R.SNAPSHOT, 'RPL attribute SV')):
            e = self.assertRaises(exception.ArrayError, self.d.delete_object,
                                  self.fresh(kind, name))
            self.assertIn(why, str(e))
        self.assertEqual([], self.writes())
        self.assertEqual(before, self.state())
        self.array.unmap(NAMES.volume(OTHER), 'compute-2')
        obj = self.fresh(R.VOLUME, NAMES.volume(OTHER))
        lds, ldsets = self.state()
        self.d.delete_object(obj)
        del lds[NAMES.volume(OTHER)]
        self.assertEqual((lds, ldsets), self.state())
        self.assertEqual(['iSMcfg ldunbind -ldname %s' % NAMES.volume(OTHER)],
                         self.writes())
        self.assertIsNone(self.d.refresh(obj))

    def test_the_array_refusing_is_an_array_error(self):
        export = self.fresh(R.EXPORT, '%s@%s' % (NAMES.volume(VOL),
                                                 self.ldset.name))
        volume = self.fresh(R.VOLUME, NAMES.volume(OTHER))
        for act, obj in ((self.d.remove_export, export),
                         (self.d.quarantine, volume)):
            before = self.state()
            self.simulator.inject(nec.Fault.EXIT)
            e = self.assertRaises(exception.ArrayError, act, obj)
            self.simulator.inject(None)
            self.assertIn('exited with status 1: iSM11100', str(e))
            self.assertNotIn(nec_fixtures.PASSWORD, str(e))
            self.assertEqual(before, self.state())
        # An error of the array's own, e.g. an LD no longer in the set.
        self.d.remove_export(export)
        e = self.assertRaises(exception.ArrayError, self.d.remove_export,
                              export)
        self.assertIn('iSM31065', str(e))
