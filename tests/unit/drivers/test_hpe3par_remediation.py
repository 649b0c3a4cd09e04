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

"""3PAR remediation actions against the loopback WSAPI, real client."""

import copy

import fixtures

from reconciler.drivers import hpe3par_names as names
from reconciler import exception
from reconciler import model
from reconciler.simulators import hpe3par as simulator
from reconciler.simulators.scenario import uid
from tests.unit.drivers import guards
from tests.unit.drivers import test_hpe3par as base

R = model.ResourceType
C = model.ObjectClass

PLAIN_VV = names.volume_name(base.PLAIN)
ARRAY_ONLY_VV = names.volume_name(uid('array-only'))
SNAP_ONLY_VV = names.snapshot_name(uid('snap-only'))


class RemediationTest(guards.GuardTests, base.HPE3PARTestCase):

    def setUp(self):
        super().setUp()
        self.start()
        # plain is also mapped to compute-1 (host sees) and through a
        # matched set (template with a port) to compute-9: only
        # compute-9's VLUNs are the export.
        self.other_host = self.sim.add_host('compute-1')
        self.sim.add_vlun(PLAIN_VV, self.other_host)
        port = {'node': 1, 'slot': 3, 'cardPort': 2}
        for active in (False, True):
            self.sim.vluns.append({
                'volumeName': PLAIN_VV, 'hostname': 'compute-9', 'lun': 7,
                'active': active, 'type': 4, 'portPos': port,
                'volumeWWN': self.sim.volumes[PLAIN_VV]['wwn']})
        self.d = self.driver()
        self.d.open()
        self.addCleanup(self.d.close)

    def guard_setup(self):
        self.exported_to = sorted({v['hostname'] for v in self.sim.vluns
                                   if v['volumeName'] == PLAIN_VV})
        self.assertIn('compute-9', self.exported_to)
        return self.d, {
            'exported': self.fresh(R.VOLUME, PLAIN_VV),
            # Its virtual copies, which the array would refuse to orphan.
            'snapshotted': self.fresh(R.VOLUME,
                                      names.volume_name(base.NEW_ID)),
            'free': self.fresh(R.VOLUME, ARRAY_ONLY_VV)}

    def occupy(self, name):
        self.sim.add_volume(name, 'OpenStack')

    def state(self):
        return copy.deepcopy((self.sim.volumes, self.sim.vluns,
                              self.sim.hosts))

    def fresh(self, kind, name, host=None):
        obj = self.d.refresh(model.ArrayObject(kind, name, None, C.CINDER,
                                               host=host))
        self.assertIsNotNone(obj)
        return obj

    def test_remove_export_removes_that_hosts_vluns_only(self):
        export = self.fresh(R.EXPORT, PLAIN_VV + '@compute-9', 'compute-9')
        volumes, vluns, hosts = self.state()
        self.d.remove_export(export)
        self.assertEqual(
            [v for v in vluns if not (v['volumeName'] == PLAIN_VV and
                                      v['hostname'] == 'compute-9')],
            self.sim.vluns)
        self.assertEqual((volumes, hosts), (self.sim.volumes, self.sim.hosts))
        # Templates only, the matched set with its port (as Cinder does).
        self.assertEqual(
            ['DELETE /vluns/%s,1,compute-9' % PLAIN_VV,
             'DELETE /vluns/%s,7,compute-9,1:3:2' % PLAIN_VV],
            [r for r in self.sim.requests if r.startswith('DELETE /vluns')])
        self.assertIsNone(self.d.refresh(export))
        self.assertIsNotNone(self.fresh(
            R.EXPORT, PLAIN_VV + '@' + self.other_host, self.other_host))

    def test_refresh_never_takes_another_vvs_vlun_on_a_reused_lun(self):
        """plain's VLUNs to compute-9 now map another VV at the same LUN;
        even an answer that lists them for plain's query is not plain's
        export.
        """
        export = self.fresh(R.EXPORT, PLAIN_VV + '@compute-9', 'compute-9')
        for v in self.sim.vluns:
            if v['volumeName'] == PLAIN_VV and v['hostname'] == 'compute-9':
                v['volumeName'] = ARRAY_ONLY_VV
        client = self.d._client
        # A WSAPI that ignores the query: every VLUN, whatever the VV.
        self.useFixture(fixtures.MockPatchObject(
            client, 'getVLUN',
            lambda name, all_vluns=False: client.getVLUNs()['members']))
        self.assertIsNone(self.d.refresh(export))

    def test_remove_export_without_a_template_fails(self):
        export = self.fresh(R.EXPORT, PLAIN_VV + '@compute-9', 'compute-9')
        self.sim.vluns = [v for v in self.sim.vluns
                          if v['active'] or v['hostname'] != 'compute-9']
        before = self.state()
        e = self.assertRaises(exception.ArrayError, self.d.remove_export,
                              export)
        self.assertIn('no template VLUN', str(e))
        self.assertEqual(before, self.state())

    def test_quarantine_renames_as_cinder_unmanage(self):
        for kind, name, prefix, key in (
                (R.VOLUME, ARRAY_ONLY_VV, 'unm-', uid('array-only')),
                (R.SNAPSHOT, SNAP_ONLY_VV, 'ums-', uid('snap-only'))):
            obj = self.fresh(kind, name)
            volumes, vluns, hosts = self.state()
            new = self.d.quarantine(obj)
            self.assertEqual(names.name(prefix, key), new)
            self.assertNotIn(name, self.sim.volumes)
            vv = volumes.pop(name)
            self.assertEqual(dict(vv, name=new), self.sim.volumes.pop(new))
            self.assertEqual((volumes, vluns, hosts), (
                self.sim.volumes, self.sim.vluns, self.sim.hosts))
            self.sim.volumes[new] = dict(vv, name=new)
            self.assertIsNone(self.d.refresh(obj))
            renamed = self.fresh(kind, new)
            self.assertEqual((C.UNMANAGED, key), (renamed.object_class,
                                                  renamed.uuid))

    def test_quarantine_refuses_what_is_not_cinder_named(self):
        obj = self.fresh(R.VOLUME, 'lun7')
        self.assertRaises(exception.ArrayError, self.d.quarantine, obj)
        self.assertIn('lun7', self.sim.volumes)

    def test_delete_only_an_unexported_vv(self):
        obj = self.fresh(R.VOLUME, ARRAY_ONLY_VV)
        volumes, vluns, hosts = self.state()
        self.d.delete_object(obj)
        del volumes[ARRAY_ONLY_VV]
        self.assertEqual((volumes, vluns, hosts), self.state())
        self.assertIsNone(self.d.refresh(obj))

        before = self.state()
        e = self.assertRaises(exception.ArrayError, self.d.delete_object,
                              self.fresh(R.VOLUME, PLAIN_VV))
        self.assertIn('is exported', str(e))
        # The array refuses a VV with virtual copies.
        migrated = names.volume_name(base.NEW_ID)
        e = self.assertRaises(exception.ArrayError, self.d.delete_object,
                              self.fresh(R.VOLUME, migrated))
        self.assertIn('HTTP 409', str(e))
        self.assertEqual(before, self.state())
        self.assertNotIn('DELETE /volumes/%s' % PLAIN_VV, self.sim.requests)

    def test_array_failures_are_array_errors_without_secrets(self):
        export = self.fresh(R.EXPORT, PLAIN_VV + '@compute-9', 'compute-9')
        volume = self.fresh(R.VOLUME, ARRAY_ONLY_VV)
        for match, act, obj in (
                ('DELETE /vluns', self.d.remove_export, export),
                ('PUT /volumes', self.d.quarantine, volume),
                ('DELETE /volumes', self.d.delete_object, volume)):
            self.sim.faults = [simulator.Fault(match, times=1)]
            before = self.state()
            e = self.assertRaises(exception.ArrayError, act, obj)
            self.assertIn('HTTP 500', str(e))
            for secret in [base.PASSWORD] + self.sim.issued:
                self.assertNotIn(secret, str(e))
            self.assertEqual(before, self.state())

    def test_a_spent_client_sends_no_write_and_says_so(self):
        volume = self.fresh(R.VOLUME, ARRAY_ONLY_VV)
        self.d._client.http.tries = 0
        e = self.assertRaises(exception.ArrayError, self.d.quarantine,
                              volume)
        self.assertIn('not sent', str(e))
        self.assertIn(ARRAY_ONLY_VV, self.sim.volumes)
