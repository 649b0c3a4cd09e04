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

"""The host scan over a laid-out host root and recorded command outputs."""

import json
import os
import shutil

import fixtures as fixtures_lib
from oslotest import base

from reconciler import exception
from reconciler.host import inventory
from reconciler.host import runner as runner_mod
from reconciler.host import view
from tests.unit.host import fixtures

IQN = 'iqn.2010-10.org.openstack:volume-%s'
VOL_A = '0c1ad3f2-94b8-4c8e-8a53-5e6a7b0a0001'
WWID_A = '36001405aa00000000000000000000001'
WWID_F = '3600601604d40220000a1b2c3d4e5f601'
NGUID = '0024a937-a1b2-c3d4-24a9-3700011a2b3c'
NGUID2 = '0024a937-a1b2-c3d4-24a9-3700011a2b3d'
NS_UUID = '5c0b4f3e-9d2a-4c1b-8e7f-6a5b4c3d2e1f'


class ScanTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.host = self.useFixture(fixtures.HostRoot())

    def scan(self, **kw):
        kw.setdefault('protocols', (view.ISCSI, view.FC, view.NVME))
        return inventory.HostInventory(self.host.root, self.host.runner,
                                       **kw).scan()

    def test_os_brick_search_path(self):
        self.assertEqual(['/dev/disk/by-path'], inventory.search_paths())

    def test_disks_maps_sessions_and_usage(self):
        h = self.host
        h.add_disk('sda', '0:0:0:0', model='SAMSUNG MZ7LH480')
        h.add_partition('sda', 'sda1')
        h.mount('/dev/sda1', '/')
        h.add_disk('sdb', '3:0:0:1', WWID_A,
                   iscsi=('10.0.0.1:3260', IQN % VOL_A, 1))
        h.add_disk('sdc', '4:0:0:1', WWID_A,
                   iscsi=('10.0.0.2:3260', IQN % VOL_A, 1))
        h.add_map('dm-0', 'mpatha', WWID_A, ['sdb', 'sdc'], faulty=['sdc'])
        h.add_dm('dm-1', 'vg-lv', 'LVM-abc', ['dm-0'])
        h.mount('/dev/mapper/vg-lv', '/srv/data dir')
        h.add_disk('sdd', '5:0:1:3', WWID_F, fc=('500601609020318a', 3),
                   vendor='DGC', model='VRAID')
        found = self.scan()
        disks = {d.name: d for d in found.disks}
        self.assertIsNone(disks['sda'].key)
        self.assertEqual(view.TargetKey(view.ISCSI, IQN % VOL_A, 1),
                         disks['sdb'].key)
        self.assertEqual('10.0.0.1:3260', disks['sdb'].portal)
        self.assertEqual(WWID_A, disks['sdb'].wwid)
        self.assertEqual(('dm-0', 'dm-1'), disks['sdb'].holders)
        self.assertEqual(('/srv/data dir',), disks['sdb'].mounts)
        self.assertEqual(view.TargetKey(view.FC, '500601609020318a', 3),
                         disks['sdd'].key)
        self.assertEqual('DGC', disks['sdd'].vendor)
        [m] = found.maps
        self.assertEqual(('mpatha', WWID_A, 'dm-0'), (m.name, m.wwid, m.dm))
        self.assertEqual([False, True], [p.faulty for p in m.paths])
        self.assertFalse(m.all_faulty)
        self.assertEqual(('dm-1',), m.holders)
        self.assertEqual(('/srv/data dir',), m.mounts)
        self.assertEqual({'sda'}, found.boot)
        self.assertEqual(
            [(IQN % VOL_A, '10.0.0.1:3260', ((1, 'sdb'),)),
             (IQN % VOL_A, '10.0.0.2:3260', ((1, 'sdc'),))],
            sorted((s.target, s.portal, s.disks) for s in found.sessions))

    def test_open_count_of_maps(self):
        h = self.host
        h.add_disk('sdb', '3:0:0:1', WWID_A,
                   iscsi=('10.0.0.1:3260', IQN % VOL_A, 1))
        h.add_map('dm-0', 'mpatha', WWID_A, ['sdb'], open_count=2)
        [m] = self.scan().maps
        self.assertEqual(2, m.open_count)
        self.assertIn(runner_mod.DM_OPEN_COUNTS, h.calls)
        self._fails(runner_mod.DM_OPEN_COUNTS, 0, 'mpatha 2\n',
                    'unexpected line')

    def test_no_maps_no_dmsetup(self):
        self.scan()
        self.assertNotIn(runner_mod.DM_OPEN_COUNTS, self.host.calls)

    def test_boot_from_san_map_and_its_paths(self):
        h = self.host
        h.add_disk('sda', '3:0:0:0', WWID_F, fc=('500601609020318a', 0))
        h.add_disk('sdb', '4:0:0:0', WWID_F, fc=('500601689020318a', 0))
        h.add_map('dm-0', 'mpatha', WWID_F, ['sda', 'sdb'])
        h.add_dm('dm-1', 'rhel-root', 'LVM-x', ['dm-0'])
        h.mount('/dev/mapper/rhel-root', '/')
        self.assertEqual({'dm-0', 'sda', 'sdb'}, self.scan().boot)

    def test_nvme_subsystems_both_cli_shapes(self):
        h = self.host
        h.add_nvme('nvme-subsys0', 'nqn.2014-08.org.nvmexpress:local',
                   ['nvme0'], ['nvme0n1'], transport='pcie', address='')
        h.add_nvme('nvme-subsys1', 'nqn.2019-01.io.cinder:vol1', ['nvme1'],
                   ['nvme1n1'])
        h.add_nvme('nvme-subsys2', 'nqn.2019-01.io.cinder:gone', ['nvme2'])
        found = self.scan()
        self.assertEqual(
            [('nqn.2014-08.org.nvmexpress:local', True, ('nvme0n1',)),
             ('nqn.2019-01.io.cinder:vol1', False, ('nvme1n1',)),
             ('nqn.2019-01.io.cinder:gone', False, ())],
            [(s.nqn, s.local, s.namespaces) for s in found.nvme])
        # nvme-cli 1.x: one object; paths may follow in their own entry.
        h.outputs[runner_mod.NVME_SUBSYSTEMS] = (0, json.dumps({
            'Subsystems': [
                {'Name': 'nvme-subsys0',
                 'NQN': 'nqn.2014-08.org.nvmexpress:local',
                 'Paths': [{'Name': 'nvme0', 'Transport': 'pcie',
                            'Address': ''}]},
                {'Name': 'nvme-subsys1',
                 'NQN': 'nqn.2019-01.io.cinder:vol1'},
                {'Paths': [{'Name': 'nvme1', 'Transport': 'tcp',
                            'Address': 'traddr=10.0.0.5 trsvcid=4420'}]},
                {'Name': 'nvme-subsys2',
                 'NQN': 'nqn.2019-01.io.cinder:gone',
                 'Paths': [{'Name': 'nvme2', 'Transport': 'tcp',
                            'Address': 'traddr=10.0.0.5 trsvcid=4420'}]}]}))
        sub = self.scan().nvme[1]
        self.assertEqual((('nvme1', 'tcp', 'traddr=10.0.0.5 trsvcid=4420'),),
                         sub.controllers)
        self.assertEqual(('nvme1n1',), sub.namespaces)

    def test_namespace_identifiers_as_the_kernel_shows_them(self):
        # One subsystem holds every volume of the array (Pure, ONTAP,
        # PowerStore), two controllers (native multipath: hidden path
        # nodes nvme1c1n2, nvme1c2n2 beside the head disk nvme1n2).
        nqn = 'nqn.2010-06.com.purestorage:flasharray.2dc0a3b4'
        self.host.add_nvme('nvme-subsys1', nqn, ['nvme1', 'nvme2'], [
            ('nvme1n1', {'nsid': 1, 'nguid': NGUID}),
            ('nvme1n2', {'nsid': 2, 'uuid': NS_UUID, 'nguid': NGUID2}),
            'nvme1n3'])
        self.assertTrue(os.path.isfile(self.host.p(
            'sys/class/nvme/nvme2/nvme1c2n2/uuid')))
        spaces = {ns.name: ns for ns in self.scan().namespaces}
        self.assertEqual(
            (nqn, 1, NGUID, NGUID, 'eui.' + NGUID.replace('-', '')),
            (spaces['nvme1n1'].nqn, spaces['nvme1n1'].nsid,
             spaces['nvme1n1'].nguid, spaces['nvme1n1'].uuid,
             spaces['nvme1n1'].wwid))
        self.assertEqual((2, NS_UUID, NGUID2, 'uuid.' + NS_UUID),
                         (spaces['nvme1n2'].nsid, spaces['nvme1n2'].uuid,
                          spaces['nvme1n2'].nguid, spaces['nvme1n2'].wwid))
        self.assertEqual((3, None, None), (spaces['nvme1n3'].nsid,
                                           spaces['nvme1n3'].uuid,
                                           spaces['nvme1n3'].nguid))
        with open(self.host.p('sys/block/nvme1n1/nguid'), 'w') as f:
            f.write('not-a-uuid\n')
        e = self.assertRaises(exception.InventoryError, self.scan)
        self.assertIn('nvme1n1/nguid: not a UUID', str(e))

    def test_pathless_map_is_not_all_faulty(self):
        # A disconnect deleted both paths and its flush failed: the map
        # stays, queueing I/O, with no path at all.
        h = self.host
        h.add_disk('sdb', '3:0:0:1', WWID_A,
                   iscsi=('10.0.0.1:3260', IQN % VOL_A, 1))
        h.add_disk('sdc', '4:0:0:1', WWID_A,
                   iscsi=('10.0.0.2:3260', IQN % VOL_A, 1))
        h.add_map('dm-0', 'mpatha', WWID_A, ['sdb', 'sdc'],
                  queue_if_no_path=True)
        h.remove_disk('sdb')
        h.remove_disk('sdc')
        [m] = self.scan().maps
        self.assertEqual(((), True, False, True),
                         (m.paths, m.pathless, m.all_faulty,
                          m.queue_if_no_path))
        self.assertEqual([], json.loads(h.multipathd_json())['maps'][0][
            'path_groups'])

    def test_no_sessions_is_an_empty_listing(self):
        self.assertEqual((), self.scan().sessions)
        self.assertIn(runner_mod.ISCSI_SESSIONS, self.host.calls)

    def test_only_the_configured_parts_are_run(self):
        self.scan(protocols=(view.ISCSI,), multipath=False)
        self.assertEqual([runner_mod.ISCSI_SESSIONS], self.host.calls)

    def _fails(self, argv, code, text, message):
        self.host.outputs[argv] = (code, text)
        e = self.assertRaises(exception.InventoryError, self.scan)
        self.assertIn(message, str(e))

    def test_multipathd_down_fails_the_scan(self):
        self._fails(runner_mod.MULTIPATH_MAPS, 1,
                    'error receiving packet', 'exited with 1')

    def test_truncated_multipathd_json_fails_the_scan(self):
        self.host.add_disk('sdb', '3:0:0:1', WWID_A,
                           iscsi=('10.0.0.1:3260', IQN % VOL_A, 1))
        self.host.add_map('dm-0', 'mpatha', WWID_A, ['sdb'])
        text = self.host.multipathd_json()
        self._fails(runner_mod.MULTIPATH_MAPS, 0, text[:len(text) // 2],
                    'not JSON')

    def test_map_without_its_dm_device_fails_the_scan(self):
        self._fails(runner_mod.MULTIPATH_MAPS, 0,
                    '{"maps": [{"name": "mpatha", "uuid": "3600"}]}',
                    'malformed map')

    def test_partial_iscsiadm_output_fails_the_scan(self):
        self._fails(runner_mod.ISCSI_SESSIONS, 0,
                    'Target: %s (non-flash)\n\tCurrent Portal: '
                    '10.0.0.1:3260,1\n' % (IQN % VOL_A),
                    'incomplete session')

    def test_iscsiadm_error_fails_the_scan(self):
        self._fails(runner_mod.ISCSI_SESSIONS, 4, '', 'exited with 4')

    def test_malformed_nvme_json_fails_the_scan(self):
        self._fails(runner_mod.NVME_SUBSYSTEMS, 0,
                    '[{"Subsystems": [{"Name": "nvme-subsys1"}]}]',
                    'malformed subsystem')

    def test_missing_proc_mounts_fails_the_scan(self):
        os.unlink(self.host.p('proc/mounts'))
        e = self.assertRaises(exception.InventoryError, self.scan)
        self.assertIn('/proc/mounts', str(e))

    def test_the_runner_refuses_other_commands(self):
        r = runner_mod.RootHelperRunner('sudo', 5)
        self.assertRaises(exception.ConfigError, r, 'multipath', '-F')


class ConsistencyTest(base.BaseTestCase):
    """A view whose parts disagree fails the scan, as a partial listing."""

    def setUp(self):
        super().setUp()
        self.host = h = self.useFixture(fixtures.HostRoot())
        # Four volumes, two paths each: 8 SCSI disks in 4 maps, named by
        # two iSCSI sessions and multipathd.
        for i in range(4):
            vol = '0c1ad3f2-94b8-4c8e-8a53-5e6a7b0a000%d' % i
            wwid = WWID_A[:-1] + str(i)
            for j, portal in enumerate(('10.0.0.1:3260', '10.0.0.2:3260')):
                h.add_disk('sd' + 'bcdefghi'[2 * i + j],
                           '%d:0:0:%d' % (3 + j, i + 1), wwid,
                           iscsi=(portal, IQN % vol, 1))
            h.add_map('dm-%d' % i, 'mpath' + 'abcd'[i], wwid,
                      ['sd' + 'bcdefghi'[2 * i + j] for j in (0, 1)])

    def scan(self):
        return inventory.HostInventory(
            self.host.root, self.host.runner,
            protocols=(view.ISCSI, view.FC, view.NVME)).scan()

    def fails(self, *messages):
        e = self.assertRaises(exception.InventoryError, self.scan)
        for message in messages:
            self.assertIn(message, str(e))
        return str(e)

    def test_consistent_host(self):
        found = self.scan()
        self.assertEqual((8, 4, 8), (len(found.disks), len(found.maps),
                                     len(found.sessions)))

    def test_scsi_device_class_missing_while_sessions_name_8_disks(self):
        shutil.rmtree(self.host.p('sys/class/scsi_device'))
        error = self.fails('inconsistent host view (16 problems)',
                           'iscsiadm names disk sdb',
                           'sysfs has no such SCSI disk')
        self.assertIn('; ...', error)  # bounded: five named, then "..."

    def test_scsi_device_class_empty(self):
        for hctl in os.listdir(self.host.p('sys/class/scsi_device')):
            os.unlink(self.host.p('sys/class/scsi_device/%s/device' % hctl))
        self.fails('inconsistent host view (16 problems)',
                   'iscsiadm names disk sdb')

    def test_scsi_device_class_unreadable(self):
        real = os.listdir

        def listdir(path):
            if path.endswith('sys/class/scsi_device'):
                raise PermissionError(13, 'Permission denied')
            return real(path)
        self.useFixture(fixtures_lib.MockPatch('os.listdir', listdir))
        self.fails('cannot list /sys/class/scsi_device: PermissionError')

    def test_by_path_links_missing(self):
        for name in os.listdir(self.host.p('dev/disk/by-path')):
            os.unlink(self.host.p('dev/disk/by-path/' + name))
        self.fails('iscsiadm names disk sdb', 'by-path link is missing')

    def test_iscsiadm_lists_no_session_while_sysfs_shows_its_disks(self):
        self.host.outputs[runner_mod.ISCSI_SESSIONS] = (21, '')
        self.fails('sysfs shows iSCSI disk sdb', 'no iscsiadm session')

    def test_multipathd_lists_no_map_while_device_mapper_has_them(self):
        self.host.outputs[runner_mod.MULTIPATH_MAPS] = (0, json.dumps(
            {'major_version': 0, 'minor_version': 1, 'maps': []}))
        self.fails('dm-0 (mpatha) is a multipath map in device-mapper that '
                   'multipathd does not list')

    def test_multipathd_names_a_map_sysfs_lacks(self):
        shutil.rmtree(os.path.realpath(self.host.p('sys/block/dm-3')))
        os.unlink(self.host.p('sys/block/dm-3'))
        self.fails('multipathd names map mpathd on dm-3, sysfs has no such')

    def test_map_over_a_namespace_not_scanned(self):
        # dm-multipath over NVMe (native multipath off), NVMe not scanned:
        # the path is a block device, not a SCSI disk; nothing is amiss.
        self.host.add_nvme('nvme-subsys1', 'nqn.2019-01.io.cinder:x',
                           ['nvme1'], ['nvme1n1'])
        self.host.add_map('dm-9', 'mpathz', 'eui.1234', ['nvme1n1'])
        scan = inventory.HostInventory(self.host.root, self.host.runner,
                                       protocols=(view.ISCSI, view.FC)).scan
        self.assertIn('mpathz', {m.name for m in scan().maps})
        os.unlink(self.host.p('sys/block/nvme1n1'))
        e = self.assertRaises(exception.InventoryError, scan)
        self.assertIn('multipathd names path nvme1n1 of map mpathz', str(e))

    def test_nvme_cli_silent_while_sysfs_has_subsystems(self):
        self.host.add_nvme('nvme-subsys1', 'nqn.2019-01.io.cinder:x',
                           ['nvme1'], ['nvme1n1'])
        self.host.outputs[runner_mod.NVME_SUBSYSTEMS] = (0, '')
        self.fails('sysfs shows nvme-subsys1, nvme list-subsys does not '
                   'list it')
        self.host.outputs.clear()
        os.unlink(self.host.p('sys/class/nvme/nvme1'))
        self.fails('nvme list-subsys names controller nvme1 of '
                   'nvme-subsys1, sysfs has no such controller')
