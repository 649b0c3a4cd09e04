"""The host scan over a laid-out host root and recorded command outputs."""

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
        h.outputs[runner_mod.NVME_SUBSYSTEMS] = (0, (
            '{"Subsystems": [{"Name": "nvme-subsys1", "NQN": '
            '"nqn.2019-01.io.cinder:vol1"}, {"Paths": [{"Name": "nvme1", '
            '"Transport": "tcp", "Address": "traddr=10.0.0.5 '
            'trsvcid=4420"}]}]}'))
        [sub] = self.scan().nvme
        self.assertEqual((('nvme1', 'tcp', 'traddr=10.0.0.5 trsvcid=4420'),),
                         sub.controllers)
        self.assertEqual(('nvme1n1',), sub.namespaces)

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
        import os
        os.unlink(self.host.p('proc/mounts'))
        e = self.assertRaises(exception.InventoryError, self.scan)
        self.assertIn('/proc/mounts', str(e))

    def test_the_runner_refuses_other_commands(self):
        r = runner_mod.RootHelperRunner('sudo', 5)
        self.assertRaises(exception.ConfigError, r, 'multipath', '-F')
