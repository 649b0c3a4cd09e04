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

"""Host passes that must not raise a false alarm nor miss a leftover.

Against a real cinder-api (test_host_pass's cloud, with volumes of a 3PAR
style shared target and of an NVMe-oF array with one subsystem) and host
roots laid out as the kernel and udev do. Each test is one host of its own
(its connector host name), so the attachments the tests make in the shared
cloud are other hosts' attachments to the others.
"""

import shutil
import types

from reconciler import history
from reconciler.host import manager
from reconciler import model
from reconciler.simulators import scenario as scn
from tests.functional import test_host_pass as thp
from tests.unit.host import test_compare as tc

K = model.FindingKind
T3PAR = 'iqn.2000-05.com.3pardata:20210002ac01db31'
V = {n: scn.uid('host-trust-' + n) for n in (
    'moved', 'b-lun1', 'nvme-here', 'nvme-gone', 'nvme-elsewhere',
    'downloading', 'uploading') + tuple('sysfs-%d' % i for i in range(4))}
WWID_MOVED = '360002ac000000000000002ab00021f6b'


def tpar_info(lun):
    """A 3PAR iSCSI connection_info: one shared target, LUNs per host."""
    return tc.iscsi_info(T3PAR, lun) | {'auth_password': 's3cr3t-chap'}


class HostTrustTest(thp._HostCloud):

    @classmethod
    def scenario(cls):
        status = {'downloading': 'downloading', 'uploading': 'uploading'}
        return scn.Scenario(
            backends=[scn.Backend('3par', 'ctl', pools=['fc_r6'])],
            volumes=[scn.Volume(vid, '3par', status=status.get(n,
                                                               'available'))
                     for n, vid in V.items()])

    @classmethod
    def attach(cls):
        pass  # each test attaches what it needs, to hosts of its own

    def unit(self, host, **scan):
        self.values.load_raw_values(group='host_scan', connector_host=host,
                                    **scan)
        store = history.History.from_conf(self.conf)
        store.sync()
        return store, manager.HostReconciler(
            self.conf, store, types.SimpleNamespace(flush=lambda h: 0),
            runner=self.host.runner)

    def run_pass(self, unit, status=model.RunStatus.OK):
        report = unit.run_pass()
        self.assertEqual(status, report.status, report.error)
        return report

    def test_per_igroup_lun_numbers_on_two_hosts(self):
        # 3PAR numbers LUNs per host: "moved" was LUN 1 of igroup-a, and
        # LUN 1 of igroup-b is another volume.
        store, unit = self.unit('igroup-a')
        self.host.add_disk('sdb', '3:0:0:1', WWID_MOVED,
                           iscsi=(tc.P1, T3PAR, 1))
        self.cloud.add_attachment(V['moved'], 'igroup-a', tpar_info(1))
        self.assertEqual([], self.run_pass(unit).candidates)
        # Detached in Cinder, the device stayed; igroup-b attaches b-lun1
        # as its own LUN 1.
        self.cloud.remove_attachment(V['moved'], 'igroup-a')
        self.cloud.add_attachment(V['b-lun1'], 'igroup-b', tpar_info(1))
        [c] = self.run_pass(unit).candidates
        self.assertEqual((K.LEFTOVER_DEVICE, WWID_MOVED, V['moved']),
                         (c.kind, c.resource_id, c.cinder_id))
        self.assertNotIn('data_leak_risk', c.details)
        self.assertNotIn('reused_by_host', c.details)
        # Evidence of a leak: the volume the device is (its WWID) is
        # attached to igroup-b now, at another LUN.
        self.cloud.add_attachment(V['moved'], 'igroup-b', tpar_info(6))
        [c] = self.run_pass(unit).candidates
        self.assertEqual((V['moved'], 'yes', 'igroup-b'),
                         (c.cinder_id, dict(c.details)['data_leak_risk'],
                          dict(c.details)['reused_by_host']))
        [f] = store.findings(backend='host:igroup-a')
        self.assertEqual((V['moved'], 'yes'),
                         (f.cinder_id, f.details['data_leak_risk']))

    def test_shared_nvme_subsystem(self):
        # One subsystem for the whole array, as Pure's: here nvme-here's
        # namespace, the namespace of nvme-elsewhere (attached to another
        # host now) and one no attachment names; nvme-gone's is missing.
        store, unit = self.unit('nvme-a', protocols='iscsi,fc,nvmeof')
        self.host.add_nvme('nvme-subsys1', tc.PURE_NQN, ['nvme1', 'nvme2'], [
            ('nvme1n1', {'nsid': 1, 'nguid': tc.NGUID[0]}),
            ('nvme1n2', {'nsid': 2, 'nguid': tc.NGUID[1]}),
            ('nvme1n3', {'nsid': 3, 'nguid': tc.NGUID[2]})])
        att = {n: self.cloud.add_attachment(V[n], host, tc.pure_info(g))
               for n, host, g in (('nvme-here', 'nvme-a', tc.NGUID[0]),
                                  ('nvme-gone', 'nvme-a', tc.NGUID[4]),
                                  ('nvme-elsewhere', 'nvme-b',
                                   tc.NGUID[1]))}
        report = self.run_pass(unit)
        found = {c.kind: c for c in report.candidates}
        self.assertEqual({K.LEFTOVER_DEVICE, K.MISSING_DEVICE}, set(found))
        self.assertEqual((att['nvme-gone'], V['nvme-gone']),
                         (found[K.MISSING_DEVICE].resource_id,
                          found[K.MISSING_DEVICE].cinder_id))
        left = found[K.LEFTOVER_DEVICE]
        self.assertEqual(('/dev/nvme1n2', V['nvme-elsewhere'], 'yes',
                          'nvme-b', 'eui.' + tc.NGUID[1].replace('-', '')),
                         (left.array_name, left.cinder_id,
                          dict(left.details)['data_leak_risk'],
                          dict(left.details)['reused_by_host'],
                          left.resource_id))
        self.assertEqual((1, 1), (report.consistent['device'],
                                  report.skipped['foreign target']))

    def test_scsi_device_class_missing_fails_the_pass(self):
        # Four volumes attached here, two paths each: 8 disks in 4 maps.
        store, unit = self.unit('sysfs-a', owned_targets=T3PAR)
        for i in range(4):
            name = 'sysfs-%d' % i
            wwid = tc.WWID[i]
            for j, portal in enumerate((tc.P1, tc.P2)):
                self.host.add_disk('sd' + 'bcdefghi'[2 * i + j],
                                   '%d:0:0:%d' % (3 + j, 10 + i), wwid,
                                   iscsi=(portal, T3PAR, 10 + i))
            self.host.add_map('dm-%d' % i, 'mpath' + 'abcd'[i], wwid,
                              ['sd' + 'bcdefghi'[2 * i + j] for j in (0, 1)])
            self.cloud.add_attachment(V[name], 'sysfs-a', tc.iscsi_info(
                T3PAR, 10 + i, (tc.P1, tc.P2)))
        report = self.run_pass(unit)
        self.assertEqual(([], 4, 4), (report.candidates,
                                      report.consistent['multipath'],
                                      report.consistent['attachment']))
        # sysfs without its scsi_device class: 0 disks, while iscsiadm and
        # multipathd name 8.
        shutil.rmtree(self.host.p('sys/class/scsi_device'))
        report = self.run_pass(unit, model.RunStatus.FAILED)
        self.assertIn('inconsistent host view', report.error)
        self.assertEqual([], store.findings(backend='host:sysfs-a'))

    def test_cinder_volume_host_without_backends(self):
        # The host unit alone on the cinder-volume host (no
        # enabled_backends): cinder-volume attached a downloading and an
        # uploading volume of its 3PAR backend here, without attachment
        # records, on the shared target.
        self.host.add_disk('sdb', '3:0:0:11', tc.WWID[5],
                           iscsi=(tc.P1, T3PAR, 11))
        self.host.add_disk('sdc', '3:0:0:12', tc.WWID[6],
                           iscsi=(tc.P1, T3PAR, 12))
        _store, unit = self.unit('ctl', owned_targets=T3PAR)
        report = self.run_pass(unit)
        self.assertEqual([], report.candidates)
        self.assertEqual(2, report.skipped[
            'local volume operation (downloading, uploading)'])
        # The same devices on a compute node are judged: Cinder runs
        # those operations on ctl.
        self.values.load_raw_values(host='compute-x')
        _store, unit = self.unit('compute-x', owned_targets=T3PAR)
        self.assertEqual(
            [(K.LEFTOVER_DEVICE, tc.WWID[5]), (K.LEFTOVER_DEVICE, tc.WWID[6])],
            sorted((c.kind, c.resource_id)
                   for c in self.run_pass(unit).candidates))
