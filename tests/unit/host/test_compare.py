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

"""Host comparison rules, on scans of laid-out host roots."""

import collections

from oslotest import base

from reconciler.host import cinder as host_cinder
from reconciler.host import compare
from reconciler.host import inventory
from reconciler.host import view
from reconciler import model
from tests.unit.host import fixtures

K = model.FindingKind
HOST = 'compute-1'
LVM_IQN = 'iqn.2010-10.org.openstack:volume-%s'
SHARED_IQN = 'iqn.2000-05.com.3pardata:20210002ac01db31'
VOL = ['5d1f0f5c-0000-4000-8000-%012d' % i for i in range(10)]
WWID = ['36001405000000000000000000000%04d' % i for i in range(10)]
P1, P2 = '10.0.0.1:3260', '10.0.0.2:3260'
PURE_NQN = 'nqn.2010-06.com.purestorage:flasharray.2dc0a3b4e5f60718'
NGUID = ['0024a937-a1b2-c3d4-24a9-37000000%04d' % i for i in range(6)]
NS_UUID = '5c0b4f3e-9d2a-4c1b-8e7f-6a5b4c3d2e1f'


def pure_info(nguid):
    """connection_info as Pure's NVMe driver makes it: NGUID unhyphenated.
    """
    return {'driver_volume_type': 'nvmeof', 'target_nqn': PURE_NQN,
            'volume_nguid': nguid.replace('-', ''), 'discard': True,
            'portals': [['10.0.0.5', 4420, 'tcp'],
                        ['10.0.0.6', 4420, 'tcp']]}


def iscsi_info(iqn, lun, portals=(P1,)):
    """connection_info as Cinder stores it (data merged to the top)."""
    info = {'driver_volume_type': 'iscsi', 'target_discovered': False,
            'target_iqn': iqn, 'target_portal': portals[0],
            'target_lun': lun, 'auth_method': 'CHAP',
            'auth_username': 'u', 'auth_password': 'secret',
            'access_mode': 'rw', 'encrypted': False}
    if len(portals) > 1:
        info.update(target_iqns=[iqn] * len(portals),
                    target_portals=list(portals),
                    target_luns=[lun] * len(portals))
    return info


def attachment(i, info, host=HOST, status='attached',
               volume_status='in-use', migration=None):
    protocol, keys, portals = host_cinder.connection_targets(info)
    return view.Attachment(
        attachment_id='att-%d' % i, volume_id=VOL[i],
        instance_id='inst-%d' % i, attach_status=status,
        host=host if status == 'attached' else None,
        volume_status=volume_status, migration_status=migration,
        protocol=protocol, targets=keys, portals=portals,
        namespaces=host_cinder.connection_namespaces(info),
        wwids=host_cinder.connection_wwids(info))


class CompareTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.host = self.useFixture(fixtures.HostRoot())
        # Every host has a local boot disk.
        self.host.add_disk('sda', '0:0:0:0', model='SAMSUNG MZ7LH480')
        self.host.add_partition('sda', 'sda1')
        self.host.mount('/dev/sda1', '/')
        self.volumes = {v: ('available', None, 'ctl@lvm#lvm') for v in VOL}
        self.attachments = []

    def attach(self, i, info, **kw):
        a = attachment(i, info, **kw)
        self.attachments.append(a)
        self.volumes[a.volume_id] = (a.volume_status, a.migration_status,
                                     'ctl@lvm#lvm')
        return a

    def compare(self, **kw):
        kw.setdefault('protocols', (view.ISCSI, view.FC, view.NVME))
        scan = inventory.HostInventory(self.host.root, self.host.runner,
                                       protocols=kw['protocols']).scan()
        cinder = view.CinderHostView(HOST, tuple(self.attachments),
                                     dict(self.volumes), 0.0)
        self.result = compare.compare(scan, cinder, **kw)
        return self.result

    def found(self, **kw):
        return sorted((str(c.kind), str(c.resource_type), c.resource_id)
                      for c in self.compare(**kw).candidates)

    def details(self, kind):
        [c] = [c for c in self.result.candidates if c.kind == kind]
        return c, dict(c.details)

    def lvm_disk(self, i, dev, hctl, portal=P1):
        return self.host.add_disk(dev, hctl, WWID[i],
                                  iscsi=(portal, LVM_IQN % VOL[i], 1))

    def test_clean_host(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        self.attach(0, iscsi_info(LVM_IQN % VOL[0], 1))
        self.assertEqual([], self.found())
        self.assertEqual({'device': 1, 'session': 1, 'attachment': 1},
                         dict(self.result.consistent))
        self.assertEqual({'boot device': 1}, dict(self.result.skipped))
        self.assertEqual({view.TargetKey('iscsi', LVM_IQN % VOL[0], 1)},
                         self.result.targets)

    def test_leftover_after_detach_known_from_history(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        owned = compare.Ownership(targets=frozenset([LVM_IQN % VOL[0]]))
        self.assertEqual([('leftover_device', 'device', WWID[0])],
                         self.found(ownership=owned))
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual(VOL[0], c.cinder_id)  # the UUID in the IQN
        self.assertEqual('/dev/sdb', c.array_name)
        self.assertEqual({'devices': 'sdb', 'hctl': '3:0:0:1', 'lun': '1',
                          'portal': P1, 'state': 'running',
                          'target': LVM_IQN % VOL[0], 'wwid': WWID[0]}, d)

    def test_leftover_of_an_unknown_target_is_not_judged(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        self.assertEqual([], self.found())
        self.assertEqual({'foreign target': 2, 'boot device': 1},
                         dict(self.result.skipped))

    def test_owned_prefix_and_portal_whitelist(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        self.host.add_disk('sdc', '4:0:0:2', WWID[1],
                           iscsi=('192.168.9.9:3260', 'iqn.other:x', 2))
        owned = compare.Ownership(prefixes=('iqn.2010-10.org.openstack:',))
        self.assertEqual([WWID[0]], [c.resource_id for c in self.compare(
            ownership=owned).candidates if c.kind == K.LEFTOVER_DEVICE])
        owned = compare.Ownership(portals=frozenset(['192.168.9.9']))
        self.assertEqual([WWID[1]], [c.resource_id for c in self.compare(
            ownership=owned).candidates if c.kind == K.LEFTOVER_DEVICE])

    def test_per_igroup_lun_numbers_on_two_hosts(self):
        # 3PAR numbers LUNs per host: volume 0 was LUN 3 of this host and
        # its device stayed after the detach; LUN 3 of compute-2 is volume
        # 1. Nothing says this device is volume 1.
        self.host.add_disk('sdb', '3:0:0:3', WWID[0],
                           iscsi=(P1, SHARED_IQN, 3))
        self.host.add_disk('sdc', '3:0:0:4', WWID[2],
                           iscsi=(P1, SHARED_IQN, 4))
        self.attach(1, iscsi_info(SHARED_IQN, 3), host='compute-2')
        self.attach(2, iscsi_info(SHARED_IQN, 4))
        # compute-2's LUN 3 does not make this host's LUN 3 Cinder's.
        self.assertEqual([], self.found())
        self.assertEqual(1, self.result.skipped['foreign target'])
        # This host had LUN 3 attached before: a leftover of no known
        # volume, and no leak alarm.
        seen = compare.Ownership(seen=frozenset(
            [view.TargetKey('iscsi', SHARED_IQN, 3)]))
        self.assertEqual([('leftover_device', 'device', WWID[0])],
                         self.found(ownership=seen))
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertIsNone(c.cinder_id)
        self.assertEqual({'devices': 'sdb', 'hctl': '3:0:0:3', 'lun': '3',
                          'portal': P1, 'state': 'running',
                          'target': SHARED_IQN, 'wwid': WWID[0]}, d)
        # An earlier pass saw WWID 0 as volume 0's device: it is volume 0.
        known = compare.Ownership(seen=seen.seen,
                                  wwids=((WWID[0], VOL[0]),))
        self.found(ownership=known)
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual(VOL[0], c.cinder_id)
        self.assertNotIn('data_leak_risk', d)
        # Evidence: the device is volume 3 (its WWID), which compute-2
        # uses now. Its LUN there is 9: the LUN number plays no part.
        self.attach(3, iscsi_info(SHARED_IQN, 9), host='compute-2')
        known = compare.Ownership(seen=seen.seen,
                                  wwids=((WWID[0], VOL[3]),))
        self.found(ownership=known)
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual((VOL[3], 'yes', 'compute-2', 'att-3'),
                         (c.cinder_id, d['data_leak_risk'],
                          d['reused_by_host'], d['attachment_id']))
        # The learned WWIDs: the devices of this host's attachments.
        self.assertEqual({WWID[2]: VOL[2]}, self.result.wwids)

    def test_wwid_named_by_connection_info_identifies_the_device(self):
        # A connection_info that names the LUN's WWID (os-brick's
        # scsi_wwn): the device is that volume, on any target and LUN.
        self.host.add_disk('sdb', '3:0:0:7', WWID[0],
                           iscsi=(P1, SHARED_IQN, 7))
        self.attach(1, iscsi_info(SHARED_IQN, 2) | {
            'scsi_wwn': WWID[0]}, host='compute-2')
        self.assertEqual([('leftover_device', 'device', WWID[0])],
                         self.found())
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual((VOL[1], 'yes'), (c.cinder_id, d['data_leak_risk']))

    def test_unnamed_lun_of_a_shared_target_may_be_another_apps(self):
        # Cinder uses LUN 4 of the shared target here; LUN 9 of the same
        # target was never in any connection_info.
        self.host.add_disk('sdb', '3:0:0:4', WWID[2],
                           iscsi=(P1, SHARED_IQN, 4))
        self.host.add_disk('sdc', '3:0:0:9', WWID[3],
                           iscsi=(P1, SHARED_IQN, 9))
        self.attach(2, iscsi_info(SHARED_IQN, 4))
        self.assertEqual([], self.found())
        self.assertEqual(1, self.result.skipped['foreign target'])
        # Remembered from an earlier attachment to this host: Cinder's.
        seen = compare.Ownership(seen=frozenset(
            [view.TargetKey('iscsi', SHARED_IQN, 9)]))
        self.assertEqual([('leftover_device', 'device', WWID[3])],
                         self.found(ownership=seen))
        # Configured as Cinder's alone: every LUN on it is judged.
        owned = compare.Ownership(targets=frozenset([SHARED_IQN]))
        self.assertEqual([('leftover_device', 'device', WWID[3])],
                         self.found(ownership=owned))

    def multipath(self, i, faulty=(), attach=True):
        self.lvm_disk(i, 'sdb', '3:0:0:1', P1)
        self.lvm_disk(i, 'sdc', '4:0:0:1', P2)
        self.host.add_map('dm-0', 'mpatha', WWID[i], ['sdb', 'sdc'],
                          faulty=faulty)
        if attach:
            self.attach(i, iscsi_info(LVM_IQN % VOL[i], 1, (P1, P2)))

    def test_one_faulty_path_of_an_attached_map_is_consistent(self):
        self.multipath(0, faulty=['sdc'])
        self.assertEqual([], self.found())
        self.assertEqual(1, self.result.consistent['multipath'])

    def test_all_paths_faulty_on_an_attached_map_is_an_alert(self):
        self.multipath(0, faulty=['sdb', 'sdc'])
        self.assertEqual([('faulty_attached', 'multipath', WWID[0])],
                         self.found())
        c, d = self.details(K.FAULTY_ATTACHED)
        self.assertEqual((VOL[0], '/dev/dm-0'), (c.cinder_id, c.array_name))
        self.assertEqual(('att-0', 'inst-0', '2/2',
                          'dm-0,sdb,sdc', 'mpatha'),
                         (d['attachment_id'], d['instance_id'],
                          d['paths_faulty'], d['devices'], d['map']))

    def test_all_paths_faulty_unreferenced_map_is_a_faulty_map(self):
        self.multipath(0, faulty=['sdb', 'sdc'], attach=False)
        owned = compare.Ownership(targets=frozenset([LVM_IQN % VOL[0]]))
        self.assertEqual([('faulty_map', 'multipath', WWID[0])],
                         self.found(ownership=owned))

    def test_unreferenced_map_with_holders_is_reported_with_them(self):
        self.multipath(0, attach=False)
        self.host.add_dm('dm-1', 'vg0-lv0', 'LVM-x', ['dm-0'])
        self.host.mount('/dev/mapper/vg0-lv0', '/mnt/x')
        owned = compare.Ownership(targets=frozenset([LVM_IQN % VOL[0]]))
        self.assertEqual([('leftover_device', 'multipath', WWID[0])],
                         self.found(ownership=owned))
        _c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual(('dm-1', '/mnt/x', 'yes'),
                         (d['holders'], d['mounts'], d['in_use']))

    def test_unreferenced_map_held_open_is_reported_in_use(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1', P1)
        self.host.add_map('dm-0', 'mpatha', WWID[0], ['sdb'], open_count=1)
        owned = compare.Ownership(targets=frozenset([LVM_IQN % VOL[0]]))
        self.assertEqual([('leftover_device', 'multipath', WWID[0])],
                         self.found(ownership=owned))
        _c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual(('1', 'yes'), (d['open_count'], d['in_use']))

    def pathless(self, i=0):
        """A detach that deleted both paths of volume i's map, its flush
        failed: the map stays, queueing I/O, with no path.
        """
        self.multipath(i, attach=False)
        self.host.maps[-1]['features'] = '1 queue_if_no_path'
        self.host.remove_disk('sdb')
        self.host.remove_disk('sdc')

    def test_pathless_map_is_judged_by_its_wwid(self):
        self.pathless()
        # No path, no target: only a WWID Cinder or the history knows.
        self.assertEqual([], self.found())
        self.assertEqual(1, self.result.skipped[
            'pathless map of a WWID Cinder does not know'])
        known = compare.Ownership(wwids=((WWID[0], VOL[0]),))
        self.assertEqual([('leftover_device', 'multipath', WWID[0])],
                         self.found(ownership=known))
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual((VOL[0], '/dev/dm-0'), (c.cinder_id, c.array_name))
        self.assertEqual({'devices': 'dm-0', 'map': 'mpatha',
                          'paths_faulty': '0/0', 'queue_if_no_path': 'yes',
                          'open_count': '0', 'wwid': WWID[0]}, d)
        # Held like any other while its volume is in transition.
        self.volumes[VOL[0]] = ('downloading', None, 'ctl@lvm#lvm')
        self.assertEqual([], self.found(ownership=known))
        self.assertEqual(1, self.result.skipped['volume downloading'])

    def test_pathless_map_named_by_another_hosts_connection_info(self):
        self.pathless()
        self.attach(0, iscsi_info(SHARED_IQN, 5) | {'scsi_wwn': WWID[0]},
                    host='compute-2')
        self.assertEqual([('leftover_device', 'multipath', WWID[0])],
                         self.found())
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual((VOL[0], 'compute-2', 'yes'),
                         (c.cinder_id, d['reused_by_host'],
                          d['data_leak_risk']))

    def test_pathless_map_of_a_volume_attached_here_is_an_alert(self):
        # The instance's disk lost every path: its I/O hangs. One finding
        # says so, not a missing_device beside it.
        self.pathless()
        self.attach(0, iscsi_info(LVM_IQN % VOL[0], 1, (P1, P2)))
        known = compare.Ownership(wwids=((WWID[0], VOL[0]),))
        self.assertEqual([('faulty_attached', 'multipath', WWID[0])],
                         self.found(ownership=known))
        c, d = self.details(K.FAULTY_ATTACHED)
        self.assertEqual((VOL[0], 'att-0', 'inst-0', '0/0'),
                         (c.cinder_id, d['attachment_id'], d['instance_id'],
                          d['paths_faulty']))
        self.assertEqual(1, self.result.skipped[
            'attachment whose map has no path (faulty_attached)'])
        # Without the WWID known the map is not judged; the attachment
        # has no device.
        self.assertEqual([('missing_device', 'attachment', 'att-0')],
                         self.found())

    def test_local_disks_and_boot_from_san_are_never_findings(self):
        fc = '50060160902031aa'
        self.host.add_disk('sdb', '5:0:0:1', WWID[5], fc=(fc, 1))
        self.host.add_disk('sdc', '6:0:0:1', WWID[5], fc=(fc, 1),
                           pci='0000:00:18.0')
        self.host.add_map('dm-0', 'mpathb', WWID[5], ['sdb', 'sdc'],
                          faulty=['sdb', 'sdc'])
        self.host.add_dm('dm-1', 'rhel-root', 'LVM-r', ['dm-0'])
        self.host.mount('/dev/mapper/rhel-root', '/')
        # Even with the boot LUN's target Cinder's, and LUN 0 beside it.
        self.host.add_disk('sdd', '5:0:0:0', WWID[6], fc=(fc, 0))
        owned = compare.Ownership(targets=frozenset([fc]))
        self.assertEqual([], self.found(ownership=owned))
        self.assertEqual({'boot device': 2, 'LUN 0': 1},
                         dict(self.result.skipped))

    def test_lunz_is_never_a_finding(self):
        self.host.add_disk('sdb', '5:0:0:5', None,
                           fc=('500601609020318a', 5), vendor='DGC',
                           model='LUNZ')
        owned = compare.Ownership(targets=frozenset(['500601609020318a']))
        self.assertEqual([], self.found(ownership=owned))
        self.assertEqual(1, self.result.skipped['LUNZ'])

    def test_attachment_in_progress_protects_its_target(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        # Attaching: connection_info is there, the host is not shown yet.
        self.attach(0, iscsi_info(LVM_IQN % VOL[0], 1), status='attaching',
                    volume_status='attaching')
        self.assertEqual([], self.found())
        self.assertEqual(1, self.result.skipped['attachment in progress'])

    def test_detaching_attached_volume_is_not_judged(self):
        self.multipath(0, faulty=['sdb', 'sdc'])
        a = self.attachments.pop()
        self.attach(0, iscsi_info(LVM_IQN % VOL[0], 1, (P1, P2)),
                    volume_status='detaching')
        self.assertNotEqual(a, self.attachments[-1])
        self.assertEqual([], self.found())

    def test_downloading_volume_on_the_cinder_volume_host(self):
        # cinder-volume attached volume 3 locally to copy an image into it:
        # no attachment record, the volume is downloading.
        self.lvm_disk(3, 'sdb', '3:0:0:1')
        self.volumes[VOL[3]] = ('downloading', None, 'ctl@lvm#lvm')
        owned = compare.Ownership(prefixes=('iqn.2010-10.org.openstack:',))
        self.assertEqual([], self.found(ownership=owned,
                                        local_hosts=['ctl']))
        self.assertEqual(1, self.result.skipped['volume downloading'])
        # Without a UUID in the target, any local operation holds the pass.
        self.host.add_disk('sdc', '3:0:0:2', WWID[4],
                           iscsi=(P1, SHARED_IQN, 2))
        owned = compare.Ownership(targets=frozenset([SHARED_IQN]))
        self.assertEqual([], self.found(ownership=owned,
                                        local_hosts=['ctl']))
        self.assertEqual(1, self.result.skipped[
            'local volume operation (downloading)'])
        # Unless its WWID says which volume it is, and that one is idle.
        known = compare.Ownership(targets=owned.targets,
                                  wwids=((WWID[4], VOL[4]),))
        self.assertEqual([('leftover_device', 'device', WWID[4])],
                         [f for f in self.found(ownership=known,
                                                local_hosts=['ctl'])
                          if f[0] == 'leftover_device'])
        # On a compute node (Cinder's volume runs on ctl) it is judged.
        self.assertEqual([('leftover_device', 'device', WWID[4])],
                         [f for f in self.found(ownership=owned,
                                                local_hosts=['compute-1'])
                          if f[0] == 'leftover_device'])

    def test_leftover_of_a_volume_whose_delete_failed_is_judged(self):
        # error_deleting is settled: a LUN left here is what keeps the
        # array from deleting the volume (the cloud scope's stuck_deleting).
        self.lvm_disk(3, 'sdb', '3:0:0:1')
        owned = compare.Ownership(prefixes=('iqn.2010-10.org.openstack:',))
        self.volumes[VOL[3]] = ('error_deleting', None, 'ctl@lvm#lvm')
        self.assertEqual([('leftover_device', 'device', WWID[3])],
                         self.found(ownership=owned))
        self.volumes[VOL[3]] = ('deleting', None, 'ctl@lvm#lvm')
        self.assertEqual([], self.found(ownership=owned))

    def test_session_without_device_is_stale(self):
        self.host.add_session(LVM_IQN % VOL[0], P1)
        self.lvm_disk(1, 'sdb', '3:0:0:1', P2)
        self.attach(1, iscsi_info(LVM_IQN % VOL[1], 1, (P2,)))
        owned = compare.Ownership(prefixes=('iqn.2010-10.org.openstack:',))
        self.assertEqual(
            [('stale_session', 'session', '%s,%s' % (LVM_IQN % VOL[0], P1))],
            self.found(ownership=owned))

    def test_attached_without_device_is_missing(self):
        self.attach(0, iscsi_info(LVM_IQN % VOL[0], 1))
        self.attach(1, {'driver_volume_type': 'rbd', 'name': 'volumes/x'})
        self.assertEqual([('missing_device', 'attachment', 'att-0')],
                         self.found())
        c, d = self.details(K.MISSING_DEVICE)
        self.assertEqual((VOL[0], 'inst-0', LVM_IQN % VOL[0], '1'),
                         (c.cinder_id, d['instance_id'], d['target'],
                          d['lun']))
        self.assertEqual(1, self.result.skipped[
            'attachment of another protocol (rbd)'])
        # Scanning no iSCSI, nothing is known to be missing.
        self.assertEqual([], self.found(protocols=(view.FC,)))

    def test_attachment_without_connection_info_holds_device_findings(self):
        self.lvm_disk(0, 'sdb', '3:0:0:1')
        a = attachment(1, None)
        self.attachments.append(view.Attachment(**dict(
            (f, getattr(a, f)) for f in a.__slots__) | {'protocol': 'iscsi'}))
        owned = compare.Ownership(prefixes=('iqn.2010-10.org.openstack:',))
        self.assertEqual([], [f for f in self.found(ownership=owned)
                              if f[0] == 'leftover_device'])
        # A legacy attachment: no connection_info stored at all.
        self.attachments[-1] = attachment(1, None)
        self.assertEqual([], [f for f in self.found(ownership=owned)
                              if f[0] == 'leftover_device'])
        self.assertEqual(1, self.result.skipped[
            'attachment here without readable connection_info'])
        # An RBD attachment has no host device: it holds nothing.
        self.attachments[-1] = attachment(1, {'driver_volume_type': 'rbd'})
        self.assertEqual([('leftover_device', 'device', WWID[0])],
                         self.found(ownership=owned))

    def test_nvme_leftover_namespace_and_stale_controller(self):
        local = 'nqn.2014-08.org.nvmexpress:uuid:local'
        self.host.add_nvme('nvme-subsys0', local, ['nvme0'], ['nvme0n1'],
                           transport='pcie', address='')
        nqn1 = 'nqn.nvme-subsystem-1-%s' % VOL[1]
        nqn2 = 'nqn.nvme-subsystem-1-%s' % VOL[2]
        self.host.add_nvme('nvme-subsys1', nqn1, ['nvme1'], ['nvme1n1'])
        self.host.add_nvme('nvme-subsys2', nqn2, ['nvme2'])
        owned = compare.Ownership(prefixes=('nqn.nvme-subsystem-1-',))
        wwid = self.result_namespace_wwid = inventory.HostInventory(
            self.host.root, self.host.runner,
            protocols=[view.NVME]).scan().namespaces[1].wwid
        self.assertEqual([('leftover_device', 'device', wwid),
                          ('stale_session', 'session', nqn2)],
                         self.found(ownership=owned))
        self.attach(1, {'driver_volume_type': 'nvmeof', 'target_nqn': nqn1,
                        'portals': [['10.0.0.5', 4420, 'tcp']]})
        self.assertEqual([('stale_session', 'session', nqn2)],
                         self.found(ownership=owned))

    def shared_subsystem(self):
        """One subsystem for every volume of the array (Pure, ONTAP,
        PowerStore): namespaces told apart by NGUID, UUID or nsid.
        """
        self.host.add_nvme('nvme-subsys1', PURE_NQN, ['nvme1', 'nvme2'], [
            ('nvme1n1', {'nsid': 1, 'nguid': NGUID[0]}),
            ('nvme1n2', {'nsid': 2, 'nguid': NGUID[1]}),
            ('nvme1n3', {'nsid': 3, 'nguid': NGUID[2]}),
            ('nvme1n4', {'nsid': 4, 'uuid': NS_UUID, 'nguid': NGUID[3]})],
            address='traddr=10.0.0.5,trsvcid=4420')
        spaces = inventory.HostInventory(
            self.host.root, self.host.runner,
            protocols=[view.NVME]).scan().namespaces
        return {ns.name: ns.wwid for ns in spaces}

    def test_shared_nvme_subsystem_judged_namespace_by_namespace(self):
        wwid = self.shared_subsystem()
        # Pure: volume_nguid as 32 hex digits. Volume 0's namespace is
        # here; volume 1's (NGUID 4) is not: missing, though the subsystem
        # shows four others.
        self.attach(0, pure_info(NGUID[0]))
        self.attach(1, pure_info(NGUID[4]))
        # ONTAP: vol_uuid, the namespace's UUID.
        self.attach(2, {'driver_volume_type': 'nvmeof',
                        'target_nqn': PURE_NQN, 'vol_uuid': NS_UUID,
                        'portals': [['10.0.0.5', 4420, 'tcp']]})
        # Volume 3 is attached to compute-2 now: its namespace here is
        # a leftover that reads that host's volume.
        self.attach(3, pure_info(NGUID[1]), host='compute-2')
        self.assertEqual([('leftover_device', 'device', wwid['nvme1n2']),
                          ('missing_device', 'attachment', 'att-1')],
                         self.found())
        c, d = self.details(K.LEFTOVER_DEVICE)
        self.assertEqual((VOL[3], 'yes', 'compute-2', '2', NGUID[1]),
                         (c.cinder_id, d['data_leak_risk'],
                          d['reused_by_host'], d['nsid'], d['nguid']))
        self.assertEqual({'device': 2, 'attachment': 2},
                         dict(self.result.consistent))
        # nvme1n3: no attachment ever named it; it may be another
        # application's, unless the subsystem is Cinder's alone.
        self.assertEqual(1, self.result.skipped['foreign target'])
        owned = compare.Ownership(targets=frozenset([PURE_NQN]))
        self.assertIn(('leftover_device', 'device', wwid['nvme1n3']),
                      self.found(ownership=owned))
        [c] = [c for c in self.result.candidates
               if c.resource_id == wwid['nvme1n3']]
        self.assertIsNone(c.cinder_id)
        # What this host's attachments use is remembered.
        self.assertEqual({wwid['nvme1n1']: VOL[0], wwid['nvme1n4']: VOL[2]},
                         self.result.wwids)

    def test_nvme_namespace_by_nsid_and_legacy_nqn_only(self):
        self.shared_subsystem()
        # Only ns_id given: the nsid identifies the namespace.
        self.attach(0, {'driver_volume_type': 'nvmeof',
                        'target_nqn': PURE_NQN, 'ns_id': '3',
                        'portals': [['10.0.0.5', 4420, 'tcp']]})
        self.attach(1, {'driver_volume_type': 'nvmeof',
                        'target_nqn': PURE_NQN, 'ns_id': 9,
                        'portals': [['10.0.0.5', 4420, 'tcp']]})
        owned = compare.Ownership(targets=frozenset([PURE_NQN]))
        found = self.found(ownership=owned)
        self.assertEqual(3, len([f for f in found
                                 if f[0] == 'leftover_device']))
        self.assertIn(('missing_device', 'attachment', 'att-1'), found)
        # The old format names the NQN alone: any namespace may be its
        # device. None is judged, and it is not known to be missing.
        self.attach(2, {'driver_volume_type': 'nvmeof', 'nqn': PURE_NQN,
                        'transport_type': 'tcp', 'target_portal': '10.0.0.5',
                        'target_port': 4420})
        self.assertEqual([('missing_device', 'attachment', 'att-1')],
                         self.found(ownership=owned))
        self.assertEqual(4, self.result.skipped[compare.NO_NAMESPACE_ID])

    def test_counts_are_counters(self):
        self.assertIsInstance(self.compare().skipped, collections.Counter)


class ConnectionInfoTest(base.BaseTestCase):

    def test_shapes(self):
        ct = host_cinder.connection_targets
        self.assertEqual(
            ('iscsi', {view.TargetKey('iscsi', 'iqn.a', 1),
                       view.TargetKey('iscsi', 'iqn.b', 2)},
             {P1, P2}),
            ct({'driver_volume_type': 'iscsi', 'data': {
                'target_iqns': ['iqn.a', 'iqn.b'],
                'target_portals': [P1, P2], 'target_luns': [1, 2]}}))
        protocol, keys, _p = ct({
            'driver_volume_type': 'fibre_channel', 'target_lun': 2,
            'target_wwn': ['50:06:01:60:90:20:31:8A'],
            'initiator_target_map': {'1000': ['0x500601689020318a']}})
        self.assertEqual({view.TargetKey('fc', '500601609020318a', 2),
                          view.TargetKey('fc', '500601689020318a', 2)}, keys)
        self.assertEqual((None, frozenset(), frozenset()), ct(None))
        self.assertRaises(ValueError, ct, {
            'driver_volume_type': 'iscsi', 'target_iqns': ['a', 'b'],
            'target_luns': [1]})

    def test_nvme_namespace_identifiers(self):
        cn = host_cinder.connection_namespaces
        self.assertEqual({view.NamespaceId(PURE_NQN, nguid=NGUID[0])},
                         cn(pure_info(NGUID[0].upper())))
        # PowerStore: the NGUID of its "nguid.<hex>" name, nested form.
        self.assertEqual({view.NamespaceId(PURE_NQN, nguid=NGUID[1],
                                           nsid=7)},
                         cn({'driver_volume_type': 'nvmeof', 'data': {
                             'target_nqn': PURE_NQN, 'ns_id': '7',
                             'volume_nguid': NGUID[1].replace('-', '')}}))
        # A replicated (RAID) volume: the top-level vol_uuid is Cinder's.
        replicated = {
            'driver_volume_type': 'nvmeof', 'vol_uuid': VOL[0],
            'alias': 'raid0', 'replica_count': 2, 'volume_replicas': [
                {'target_nqn': 'nqn.a', 'vol_uuid': NS_UUID,
                 'portals': [['10.0.0.7', 4420, 'tcp']]},
                {'target_nqn': 'nqn.b', 'volume_uuid': NGUID[2],
                 'portals': [['10.0.0.8', 4420, 'tcp']]}]}
        self.assertEqual({view.NamespaceId('nqn.a', uuid=NS_UUID),
                          view.NamespaceId('nqn.b', uuid=NGUID[2])},
                         cn(replicated))
        protocol, keys, portals = host_cinder.connection_targets(replicated)
        self.assertEqual(({view.TargetKey('nvmeof', 'nqn.a'),
                           view.TargetKey('nvmeof', 'nqn.b')},
                          {'10.0.0.7', '10.0.0.8'}), (keys, portals))
        # The NQN alone (old format): nothing names the namespace.
        self.assertEqual(frozenset(), cn({
            'driver_volume_type': 'nvmeof', 'nqn': PURE_NQN,
            'target_portal': '10.0.0.5', 'target_port': 4420,
            'transport_type': 'tcp'}))
        self.assertRaises(ValueError, cn, pure_info('zz' * 16))

    def test_wwids(self):
        cw = host_cinder.connection_wwids
        self.assertEqual({WWID[0]}, cw({'scsi_wwn': WWID[0]}))
        self.assertEqual({WWID[1]}, cw({'data': {
            'wwid': 'naa.' + WWID[1][1:]}}))
        # 3PAR prints a volume's WWN without multipath's type digit.
        self.assertEqual({'360002ac0000000000000026b00021f6b'},
                         cw({'scsi_wwn': '60002AC0000000000000026B00021F6B'}))
        self.assertEqual(frozenset(), cw({'serial': 'X', 'wwid': 'n/a'}))
