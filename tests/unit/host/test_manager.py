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

"""Host passes through the real history, scan and lock; Cinder stubbed."""

import shutil
import subprocess
import sys
import threading
import time
from unittest import mock

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.host import manager
from reconciler.host import runner as runner_mod
from reconciler.host import view
from reconciler import model
from tests.unit.history import fixtures as history_fixtures
from tests.unit.host import fixtures as host_fixtures
from tests.unit.host import test_compare as tc

S = model.FindingState
SCOPE = 'host:' + tc.HOST

_HOLD_BRICK_LOCK = """
import sys
from os_brick.initiator.connectors import base
@base.synchronized('connect_volume', external=True, lock_path=sys.argv[1])
def connect_volume():
    print('held', flush=True)
    sys.stdin.read()
connect_volume()
"""


class _Cinder(object):

    def __init__(self, test):
        self.test = test
        self.requests = 0

    def host_view(self, host):
        t = self.test
        return view.CinderHostView(host, tuple(t.attachments),
                                   dict(t.volumes), time.time())


class HostPassTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        self.host = self.useFixture(host_fixtures.HostRoot())
        self.lock_path = self.useFixture(fixtures.TempDir()).path
        self.history = self.useFixture(history_fixtures.History()).history
        self.conf = cfg.ConfigOpts()
        self.values = self.useFixture(config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])
        self.values.load_raw_values(host='ctl')
        self.values.load_raw_values(
            group='host_scan', enabled='true', connector_host=tc.HOST,
            root_prefix=self.host.root, lock_path=self.lock_path,
            lock_timeout='0', sightings='3', grace_period='0')
        self.attachments, self.volumes = [], {}
        self.runner = self.host.runner
        self.reconciler = manager.HostReconciler(
            self.conf, self.history, _NoNotifier(),
            inventory_factory=lambda conf: _Cinder(self),
            runner=lambda *argv: self.runner(*argv))

    def attach(self, i, info, **kw):
        a = tc.attachment(i, info, **kw)
        self.attachments.append(a)
        self.volumes[a.volume_id] = (a.volume_status, None, 'ctl@lvm#lvm')

    def run_pass(self, status=model.RunStatus.OK):
        report = self.reconciler.run_pass()
        self.assertEqual(status, report.status, report.error)
        return report

    def states(self):
        return {(f.kind, f.resource_id): f.state
                for f in self.history.findings(backend=SCOPE)}

    def events(self):
        return [(n.event_type, n.payload.get('kind'), n.payload['backend'])
                for n in self.history.pending_notifications()]

    def faulty_leftover(self):
        """A map of a detached volume, all paths failed, target known."""
        for dev, hctl, portal in (('sdb', '3:0:0:1', tc.P1),
                                  ('sdc', '4:0:0:1', tc.P2)):
            self.host.add_disk(dev, hctl, tc.WWID[0],
                               iscsi=(portal, tc.LVM_IQN % tc.VOL[0], 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[0], ['sdb', 'sdc'],
                          faulty=['sdb', 'sdc'])
        self.values.load_raw_values(group='host_scan',
                                    owned_targets='iqn.2010-10.org.openstack:')
        self.volumes[tc.VOL[0]] = ('available', None, 'ctl@lvm#lvm')

    def test_a_wall_clock_jumped_forward_confirms_nothing(self):
        """Grace counts the monotonic time between the controller's passes,
        as the backends' does: an hour the wall clock jumped is no hour.
        """
        self.faulty_leftover()
        self.values.load_raw_values(group='host_scan', sightings='2',
                                    grace_period='600')
        key = (model.FindingKind.FAULTY_MAP, tc.WWID[0])
        real = time.time
        for offset in (0, 3600):
            with mock.patch('time.time', lambda: real() + offset):
                self.run_pass()
        self.assertEqual({key: S.SUSPECTED}, self.states())

    def test_all_paths_faulty_confirmed_after_n_scans_not_n_minus_1(self):
        self.faulty_leftover()
        key = (model.FindingKind.FAULTY_MAP, tc.WWID[0])
        for _n in range(2):
            self.run_pass()
            self.assertEqual({key: S.SUSPECTED}, self.states())
        self.assertEqual([], self.events())
        report = self.run_pass()
        self.assertEqual({key: S.CONFIRMED}, self.states())
        self.assertEqual([('reconciler.orphan.detected', 'faulty_map',
                           SCOPE)], self.events())
        [f] = self.history.findings(backend=SCOPE)
        self.assertEqual(('/dev/dm-0', tc.VOL[0], 3),
                         (f.array_name, f.cinder_id, f.sightings))
        self.assertEqual('2/2', f.details['paths_faulty'])
        self.assertEqual(2, report.inventory['host_disks'])
        # A path comes back: the map is no longer all-faulty.
        self.host.set_faulty('mpatha', ['sdc'])
        self.run_pass()
        self.assertEqual(S.RESOLVED, self.states()[key])
        self.assertEqual(S.SUSPECTED, self.states()[
            (model.FindingKind.LEFTOVER_DEVICE, tc.WWID[0])])

    def test_confirmed_finding_held_by_an_attach_stays_confirmed(self):
        self.faulty_leftover()
        for _n in range(3):
            self.run_pass()
        key = (model.FindingKind.FAULTY_MAP, tc.WWID[0])
        self.assertEqual({key: S.CONFIRMED}, self.states())
        before = self.events()
        # Another host starts attaching the same LUN: not judged now.
        self.attach(5, tc.iscsi_info(tc.LVM_IQN % tc.VOL[0], 1),
                    status='attaching', volume_status='attaching')
        report = self.run_pass()
        self.assertEqual(1, report.inventory['held'])
        self.assertEqual({key: S.CONFIRMED}, self.states())
        self.assertEqual(before, self.events())  # no false "resolved"
        # A suspected one is not advanced by a held pass.
        self.attachments.clear()
        self.host.set_faulty('mpatha', ['sdb'])  # now a plain leftover
        self.run_pass()
        left = (model.FindingKind.LEFTOVER_DEVICE, tc.WWID[0])
        self.attach(5, tc.iscsi_info(tc.LVM_IQN % tc.VOL[0], 1),
                    status='attaching', volume_status='attaching')
        self.run_pass()
        self.assertEqual(S.RESOLVED, self.states()[left])
        self.assertNotIn(('reconciler.orphan.detected', 'leftover_device',
                          SCOPE), self.events())

    def test_a_path_faulty_in_one_scan_only_is_not_counted(self):
        self.faulty_leftover()
        self.attach(0, tc.iscsi_info(tc.LVM_IQN % tc.VOL[0], 1,
                                     (tc.P1, tc.P2)))
        calls = []

        def runner(*argv):
            # The paths come back between the scan and its re-check.
            if argv == runner_mod.MULTIPATH_MAPS:
                calls.append(argv)
                if len(calls) == 2:
                    self.host.set_faulty('mpatha', [])
            return self.host.runner(*argv)
        self.runner = runner
        report = self.run_pass()
        self.assertEqual((1, 0), (report.inventory['suspects'],
                                  len(report.candidates)))
        self.assertEqual({}, self.states())

    def test_leftover_after_detach_known_from_an_earlier_pass(self):
        self.host.add_disk('sdb', '3:0:0:1', tc.WWID[0],
                           iscsi=(tc.P1, tc.LVM_IQN % tc.VOL[0], 1))
        self.attach(0, tc.iscsi_info(tc.LVM_IQN % tc.VOL[0], 1))
        self.assertEqual([], self.run_pass().candidates)
        # The attachment is deleted; the device stays behind.
        self.attachments.clear()
        [c] = self.run_pass().candidates
        self.assertEqual((model.FindingKind.LEFTOVER_DEVICE, tc.WWID[0],
                          tc.VOL[0]), (c.kind, c.resource_id, c.cinder_id))

    def test_pathless_map_known_from_an_earlier_pass(self):
        # Volume 0 attached here through a map on a shared target (no
        # volume in its name): the pass learns the map's WWID.
        self.values.load_raw_values(group='host_scan', sightings='1')
        for dev, hctl, portal in (('sdb', '3:0:0:1', tc.P1),
                                  ('sdc', '4:0:0:1', tc.P2)):
            self.host.add_disk(dev, hctl, tc.WWID[0],
                               iscsi=(portal, tc.SHARED_IQN, 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[0], ['sdb', 'sdc'],
                          queue_if_no_path=True)
        self.attach(0, tc.iscsi_info(tc.SHARED_IQN, 1, (tc.P1, tc.P2)))
        report = self.run_pass()
        self.assertEqual([], report.candidates)
        self.assertEqual([[tc.WWID[0], tc.VOL[0]]],
                         report.inventory['wwids'])
        # The detach deleted the paths, the flush failed; Cinder deleted
        # the attachment.
        self.host.remove_disk('sdb')
        self.host.remove_disk('sdc')
        self.attachments.clear()
        self.volumes[tc.VOL[0]] = ('available', None, 'ctl@lvm#lvm')
        [c] = [c for c in self.run_pass().candidates
               if c.kind == model.FindingKind.LEFTOVER_DEVICE]
        self.assertEqual((model.ResourceType.MULTIPATH, tc.WWID[0],
                          tc.VOL[0], '0/0'),
                         (c.resource_type, c.resource_id, c.cinder_id,
                          dict(c.details)['paths_faulty']))
        # Its sessions stayed too (no LUN left on them).
        self.assertEqual({(model.FindingKind.LEFTOVER_DEVICE, tc.WWID[0]):
                          S.CONFIRMED,
                          (model.FindingKind.STALE_SESSION,
                           '%s,%s' % (tc.SHARED_IQN, tc.P1)): S.CONFIRMED,
                          (model.FindingKind.STALE_SESSION,
                           '%s,%s' % (tc.SHARED_IQN, tc.P2)): S.CONFIRMED},
                         self.states())
        # Remembered from run to run, not only from the one before.
        self.assertEqual([[tc.WWID[0], tc.VOL[0]]],
                         self.run_pass().inventory['wwids'])

    def test_inconsistent_scan_fails_and_changes_nothing(self):
        # Four volumes attached here, two paths each: 8 disks the
        # sessions and multipathd name.
        self.values.load_raw_values(group='host_scan', sightings='1')
        self.faulty_leftover()
        for i in range(1, 5):
            for j, portal in enumerate((tc.P1, tc.P2)):
                self.host.add_disk('sd' + 'defghijk'[2 * i - 2 + j],
                                   '%d:0:%d:1' % (3 + j, i), tc.WWID[i],
                                   iscsi=(portal, tc.LVM_IQN % tc.VOL[i], 1))
            self.host.add_map('dm-%d' % i, 'mpath%d' % i, tc.WWID[i], [
                'sd' + 'defghijk'[2 * i - 2 + j] for j in (0, 1)])
            self.attach(i, tc.iscsi_info(tc.LVM_IQN % tc.VOL[i], 1,
                                         (tc.P1, tc.P2)))
        self.run_pass()
        before = self.states()
        self.assertEqual({(model.FindingKind.FAULTY_MAP, tc.WWID[0]):
                          S.CONFIRMED}, before)
        events = self.events()
        # /sys/class/scsi_device gone (a container without /sys mounted
        # right): 0 SCSI disks, while iscsiadm and multipathd name 10.
        shutil.rmtree(self.host.p('sys/class/scsi_device'))
        report = self.run_pass(model.RunStatus.FAILED)
        self.assertIn('inconsistent host view', report.error)
        self.assertIn('sysfs has no such SCSI disk', report.error)
        self.assertEqual(before, self.states())  # no missing_device
        self.assertEqual(events + [('reconciler.run.failed', None, SCOPE)],
                         self.events())

    def test_local_operations_are_those_cinder_runs_on_this_host(self):
        # Without backends, the connector host: on a cinder-volume host
        # its [DEFAULT] host. [DEFAULT] host here may be copied from the
        # controller's configuration ("ctl"): it says nothing.
        self.assertEqual({tc.HOST}, self.reconciler.local_hosts)
        # With backends, some not handled by any reconciler driver: every
        # name their volumes carry.
        self.values.load_raw_values(group='lvm', reconciler_driver='fake',
                                    backend_host='lvm-ha')
        self.values.load_raw_values(
            group='pure', backend_host='pure-ha',
            volume_driver='cinder.volume.drivers.pure.PureISCSIDriver')
        self.conf.set_override('enabled_backends', ['lvm', 'pure'])
        self.assertEqual({'ctl', tc.HOST, 'lvm-ha', 'pure-ha'},
                         manager.service_hosts(self.conf))

    def test_scan_waits_for_an_attach_then_runs(self):
        self.values.load_raw_values(group='host_scan', lock_timeout='20')
        holder = self._hold_brick_lock()
        started = time.monotonic()
        time_to_release = 1.0

        def release():
            time.sleep(time_to_release)
            holder.stdin.close()
        threading.Thread(target=release).start()
        self.run_pass()
        self.assertGreaterEqual(time.monotonic() - started,
                                time_to_release * 0.9)

    def test_scan_skipped_while_an_attach_holds_the_lock(self):
        self.faulty_leftover()
        self.run_pass()
        before = self.states()
        holder = self._hold_brick_lock()
        self.addCleanup(holder.stdin.close)
        calls = len(self.host.calls)
        report = self.run_pass(model.RunStatus.FAILED)
        self.assertIn('os-brick', report.error)
        self.assertEqual(calls, len(self.host.calls))  # nothing scanned
        self.assertEqual(before, self.states())
        self.assertEqual([], self.events())  # a busy host is no alarm

    def _hold_brick_lock(self):
        holder = subprocess.Popen(
            [sys.executable, '-c', _HOLD_BRICK_LOCK, self.lock_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.assertEqual('held\n', holder.stdout.readline())
        return holder

    def test_broken_command_output_fails_the_pass_and_changes_nothing(self):
        self.faulty_leftover()
        self.run_pass()
        before = self.states()
        text = self.host.multipathd_json()
        self.host.outputs[runner_mod.MULTIPATH_MAPS] = (0, text[:100])
        report = self.run_pass(model.RunStatus.FAILED)
        self.assertIn('not JSON', report.error)
        self.assertEqual(before, self.states())
        self.assertEqual([('reconciler.run.failed', None, SCOPE)],
                         self.events())

    def test_sharply_shrunk_attachment_listing_fails(self):
        for i in range(10):
            self.attach(i, {'driver_volume_type': 'rbd'})
        self.run_pass()
        del self.attachments[6:]
        self.run_pass()  # 10 -> 6: ordinary churn
        self.attachments += self.attachments[:4]
        self.run_pass()
        del self.attachments[4:]
        report = self.run_pass(model.RunStatus.FAILED)
        self.assertIn('shrank from 10 to 4', report.error)

    def test_missing_lock_path_is_a_config_error(self):
        self.conf.set_override('lock_path', None, group='host_scan')
        report = self.run_pass(model.RunStatus.FAILED)
        self.assertIn('lock_path', report.error)

    def test_backend_named_like_a_host_scope_is_refused(self):
        self.conf.set_override('enabled_backends', ['host:x'])
        self.assertRaises(exception.ConfigError, manager.HostReconciler,
                          self.conf, self.history, _NoNotifier())


class _NoNotifier(object):

    def flush(self, history):
        return 0


class RememberedOwnershipTest(base.BaseTestCase):
    """Passes and remediation's re-checks judge ownership alike."""

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])

    def test_luns_and_wwids_of_the_newest_ok_run(self):
        wwid = '36001405aabbccdd'
        volume = '6b4b6c84-4e2f-4b84-9a7d-0c8ef0c1d2a3'
        run = mock.Mock(inventory={
            'luns': [['iscsi', 'iqn.2010-10.org.x:t1', 3]],
            'wwids': [[wwid, volume], 'junk of another version']})
        owned = manager.remembered_ownership(self.conf.host_scan, run)
        self.assertEqual(
            frozenset({view.TargetKey('iscsi', 'iqn.2010-10.org.x:t1', 3)}),
            owned.seen)
        self.assertEqual(((wwid, volume),), owned.wwids)

    def test_no_run_yet_remembers_nothing(self):
        for run in (None, mock.Mock(inventory=None)):
            owned = manager.remembered_ownership(self.conf.host_scan, run)
            self.assertEqual((frozenset(), ()), (owned.seen, owned.wwids))
