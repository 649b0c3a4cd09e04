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

"""``remediate --host``: os-brick's real iSCSI disconnect on the host root.

The Cinder side is a real cinder-api (test_host_pass's cloud); the host is
the host root simulator, whose ``execute`` answers the commands os-brick's
own ``ISCSIConnector.disconnect_volume`` runs, and whose sysfs and /dev
os-brick reads through the root prefix (reconciler.remediation.brick_root).
The host really loses the device, the session and the map, and the next
host pass resolves the finding through the normal lifecycle.
"""

import os
import subprocess
import sys

from oslo_rootwrap import wrapper

from reconciler import history
from reconciler.host import manager
from reconciler import model
from reconciler.remediation import host_remediator
from reconciler.remediation import remediator
import tests
from tests.functional import test_host_pass as thp
from tests.unit.host import test_compare as tc

HOST = thp.HOST
V = thp.V
IQN = thp.IQN
FC_A, FC_B = '50060e801049cfd1', '50060e801049cfd2'
FILTERS = os.path.join(tests.ROOT, 'etc', 'cinder-reconciler',
                       'rootwrap.d-remediation')


class _Outbox(object):
    """A notifier that leaves the events in the outbox, to be read."""

    def flush(self, store, timeout=None):
        return 0


class HostRemediationTest(thp._HostCloud):

    def setUp(self):
        super().setUp()
        self.values.load_raw_values(group='host_scan', lock_timeout='2',
                                    remediation_min_age='0')
        self.store = history.History.from_conf(self.conf)
        self.store.sync()
        h = self.host
        h.add_disk('sda', '0:0:0:0', model='SAMSUNG MZ7LH480')
        h.mount('/dev/sda', '/')
        h.add_disk('sdb', '3:0:0:1', tc.WWID[0],
                   iscsi=(tc.P1, IQN % V['here'], 1))
        # The detached volume's LUN, left behind (the leftover).
        h.add_disk('sde', '3:0:3:1', tc.WWID[3],
                   iscsi=(tc.P1, IQN % V['detached'], 1))

    def unit(self):
        return manager.HostReconciler(self.conf, self.store, _Outbox(),
                                      runner=self.host.runner)

    def detect(self):
        report = self.unit().run_pass()   # sightings = 1: confirmed
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        return {f.resource_id: f for f in self.store.findings(
            backend='host:' + HOST, state=model.FindingState.CONFIRMED)
            if f.kind == model.FindingKind.LEFTOVER_DEVICE}

    def remediate(self, **kwargs):
        return host_remediator.HostRemediator(
            self.conf, self.store, _Outbox(), 'test', unit=self.unit(),
            execute=self.host.execute).run(**kwargs)

    def state(self):
        """Everything of the host root: files, links, sessions, maps."""
        tree = []
        for top, dirs, files in os.walk(self.host.root):
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                tree.append((os.path.relpath(path, self.host.root),
                             os.readlink(path) if os.path.islink(path)
                             else None))
        return (sorted(tree), repr(self.host.sessions),
                sorted(self.host.nodes), repr(self.host.maps))

    def changing(self):
        """The commands os-brick ran that change the host."""
        return [c for c in self.host.executed
                if c[0] in ('tee', 'blockdev', 'multipath')
                or '--logout' in c or 'delete' in c or 'del' in c]

    def events(self):
        return [(e.event_type, e.payload['result'], e.payload['finding_id'])
                for e in self.store.pending_notifications()
                if e.event_type.startswith('reconciler.remediation.')]

    def test_dry_run_plans_and_changes_nothing(self):
        found = self.detect()
        before = self.state()
        outcome = self.remediate()
        self.assertIsNone(outcome.error)
        [(step, result)] = outcome.results
        self.assertEqual(('disconnect', remediator.PLANNED),
                         (step.action, result[0]))
        self.assertEqual(found[tc.WWID[3]].id, step.finding.id)
        refused = {r.finding.kind: r.reason for r in outcome.plan.refused}
        self.assertIn('nothing on this host to disconnect',
                      refused[model.FindingKind.MISSING_DEVICE])
        self.assertEqual(before, self.state())
        self.assertEqual([], self.host.executed)
        [action] = self.store.actions()
        self.assertEqual((False, 'planned', 'host:' + HOST),
                         (action.applied, action.result, action.backend))
        self.assertEqual([], self.events())

    def test_apply_disconnects_and_the_next_pass_resolves(self):
        found = self.detect()
        finding = found[tc.WWID[3]]
        outcome = self.remediate(apply=True)
        self.assertIsNone(outcome.error)
        [(_step, (result, reason))] = outcome.results
        self.assertEqual(remediator.DONE, result, reason)
        self.assertIn('disconnected sde', reason)
        # The host lost the device, its links and its session.
        self.assertFalse(os.path.lexists(self.host.p('/sys/block/sde')))
        self.assertFalse(os.path.lexists(self.host.p('/dev/sde')))
        self.assertEqual([], [n for n in os.listdir(
            self.host.p('/dev/disk/by-path')) if V['detached'] in n])
        self.assertNotIn((IQN % V['detached'], tc.P1), self.host.sessions)
        self.assertNotIn((IQN % V['detached'], tc.P1), self.host.nodes)
        # ... and nothing else: the attached LUN and its session are there.
        self.assertTrue(os.path.lexists(self.host.p('/sys/block/sdb')))
        self.assertIn((IQN % V['here'], tc.P1), self.host.sessions)
        self.assertIn(('blockdev', '--flushbufs', '/dev/sde'),
                      self.host.executed)
        self.assertIn(('tee', '-a', '/sys/block/sde/device/delete'),
                      self.host.executed)
        # The action resolved nothing: the next pass does.
        self.assertEqual(model.FindingState.CONFIRMED,
                         self.store.finding(finding.id).state)
        report = self.unit().run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(model.FindingState.RESOLVED,
                         self.store.finding(finding.id).state)
        [action] = self.store.actions()
        self.assertEqual((True, 'done', 'disconnect', '/dev/sde'),
                         (action.applied, action.result, action.action,
                          action.target))
        self.assertIn(('reconciler.remediation.done', 'done', finding.id),
                      self.events())

    def test_every_command_passes_the_shipped_filters(self):
        # An iSCSI map, an FC map and a single FC disk: every form.
        self.host.add_disk('sdf', '5:0:0:1', tc.WWID[5],
                           iscsi=(tc.P2, IQN % V['detached'], 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[3], ['sde', 'sdf'])
        self.fc_disks()
        self.host.add_map('dm-1', 'mpathb', tc.WWID[6], ['sdg', 'sdh'])
        self.host.add_disk('sdi', '6:0:0:7', tc.WWID[8], fc=(FC_A, 7))
        self.detect()
        outcome = self.remediate(apply=True)
        self.assertEqual([remediator.DONE] * 3,
                         [r[0] for _s, r in outcome.results],
                         outcome.results)
        filters = wrapper.load_filters([FILTERS])
        bindir = self.useFixture(thp.fixtures.TempDir()).path
        for name in {c[0] for c in self.host.executed}:
            if not os.path.isabs(name):
                with open(os.path.join(bindir, name), 'w') as f:
                    f.write('#!/bin/sh\n')
                os.chmod(os.path.join(bindir, name), 0o755)
        for cmd in self.host.executed:
            try:
                wrapper.match_filter(filters, list(cmd),
                                     exec_dirs=[bindir])
            except wrapper.FilterMatchNotExecutable:
                pass   # /lib/udev/scsi_id: matched, not installed here
            except wrapper.NoFilterMatched:
                self.fail('refused by the filters: %s' % ' '.join(cmd))
        self.assertIn('dd', {c[0] for c in self.host.executed})

    def fc_disks(self):
        """Two paths (two array ports) of an FC LUN, through one HBA."""
        self.values.load_raw_values(
            group='host_scan', protocols='iscsi,fc',
            owned_targets='iqn.2010-10.org.openstack:,%s,%s' % (FC_A, FC_B))
        self.host.add_fc_hba('6', '10000090fa000001')
        self.host.add_disk('sdg', '6:0:0:5', tc.WWID[6], fc=(FC_A, 5))
        self.host.add_disk('sdh', '6:0:1:5', tc.WWID[6], fc=(FC_B, 5))

    def test_fc_map_is_flushed_through_os_bricks_fc_connector(self):
        self.fc_disks()
        self.host.add_map('dm-1', 'mpathb', tc.WWID[6], ['sdg', 'sdh'])
        found = self.detect()
        outcome = self.remediate(apply=True, finding_ids={
            found[tc.WWID[6]].id})
        self.assertEqual(remediator.DONE, outcome.results[0][1][0],
                         outcome.results[0][1])
        self.assertIn(('multipath', '-f',
                       '/dev/disk/by-id/dm-uuid-mpath-' + tc.WWID[6]),
                      self.host.executed)
        self.assertEqual([], self.host.maps)
        for dev in ('sdg', 'sdh', 'dm-1'):
            self.assertFalse(os.path.lexists(self.host.p('/sys/block/'
                                                         + dev)), dev)
        self.assertFalse(any(c[0] == 'iscsiadm' and '--logout' in c
                             for c in self.host.executed))
        self.assertTrue(os.path.lexists(self.host.p('/sys/block/sde')))
        self.unit().run_pass()
        self.assertEqual(model.FindingState.RESOLVED,
                         self.store.finding(found[tc.WWID[6]].id).state)

    def test_faulty_fc_map_goes_with_its_paths(self):
        self.fc_disks()
        self.host.add_map('dm-1', 'mpathb', tc.WWID[6], ['sdg', 'sdh'],
                          faulty=['sdg', 'sdh'])
        self.detect()
        [finding] = [f for f in self.store.findings(backend='host:' + HOST)
                     if f.kind == model.FindingKind.FAULTY_MAP]
        outcome = self.remediate(apply=True, finding_ids={finding.id})
        self.assertEqual(remediator.DONE, outcome.results[0][1][0],
                         outcome.results[0][1])
        # No path answers a read: os-brick flushes no map and deletes the
        # paths; the map, left without any, is removed after it.
        self.assertIn(('multipathd', 'del', 'map', 'mpathb'),
                      self.host.executed)
        self.assertEqual([], self.host.maps)

    def test_multipath_map_is_flushed_and_both_paths_go(self):
        self.host.add_disk('sdf', '5:0:0:1', tc.WWID[3],
                           iscsi=(tc.P2, IQN % V['detached'], 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[3], ['sde', 'sdf'])
        found = self.detect()
        self.assertEqual('multipath', found[tc.WWID[3]].resource_type)
        outcome = self.remediate(apply=True)
        self.assertEqual(remediator.DONE, outcome.results[0][1][0],
                         outcome.results[0][1])
        self.assertIn(('multipath', '-f', 'mpatha'), self.host.executed)
        self.assertEqual([], self.host.maps)
        for dev in ('sde', 'sdf', 'dm-0'):
            self.assertFalse(os.path.lexists(self.host.p('/sys/block/'
                                                         + dev)), dev)
        self.assertEqual({(IQN % V['here'], tc.P1)}, set(self.host.sessions))

    def test_faulty_map_is_removed_when_its_flush_fails(self):
        self.host.add_disk('sdf', '5:0:0:1', tc.WWID[3],
                           iscsi=(tc.P2, IQN % V['detached'], 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[3], ['sde', 'sdf'],
                          faulty=['sde', 'sdf'])
        found = self.detect()
        finding = found.get(tc.WWID[3]) or [
            f for f in self.store.findings(backend='host:' + HOST)
            if f.kind == model.FindingKind.FAULTY_MAP][0]
        self.assertEqual(model.FindingKind.FAULTY_MAP, finding.kind)
        outcome = self.remediate(apply=True)
        self.assertEqual(remediator.DONE, outcome.results[0][1][0],
                         outcome.results[0][1])
        # multipath -f fails on a map with no path left: os-brick, forced,
        # deletes the paths and then the map itself.
        self.assertIn(('multipathd', 'del', 'map', 'mpatha'),
                      self.host.executed)
        self.assertEqual([], self.host.maps)
        self.unit().run_pass()
        self.assertEqual(model.FindingState.RESOLVED,
                         self.store.finding(finding.id).state)

    def _assert_skipped(self, reason_part):
        before = self.state()
        outcome = self.remediate(apply=True)
        [(_step, (result, reason))] = outcome.results
        self.assertEqual(remediator.SKIPPED, result, reason)
        self.assertIn(reason_part, reason)
        self.assertEqual([], self.changing())
        self.assertEqual(before, self.state())
        [action] = self.store.actions()
        self.assertEqual((True, 'skipped'), (action.applied, action.result))
        self.assertEqual('skipped', self.events()[0][1])
        return reason

    def test_device_with_a_holder_is_skipped(self):
        self.detect()
        # After detection: an LVM volume on it (a holder).
        self.host.add_dm('dm-5', 'vg-lv', 'LVM-x', ['sde'])
        self._assert_skipped('held by dm-5')

    def test_mounted_device_is_skipped(self):
        self.detect()
        self.host.mount('/dev/sde', '/mnt/data')
        self._assert_skipped('/mnt/data')

    def test_device_a_process_has_open_is_skipped(self):
        self.detect()
        self.host.open_device(4242, 'sde')
        self._assert_skipped('open by process 4242 (/dev/sde)')

    def test_map_with_an_open_count_is_skipped(self):
        self.host.add_disk('sdf', '5:0:0:1', tc.WWID[3],
                           iscsi=(tc.P2, IQN % V['detached'], 1))
        self.host.add_map('dm-0', 'mpatha', tc.WWID[3], ['sde', 'sdf'])
        self.detect()
        self.host.maps[0]['open'] = 1
        self._assert_skipped('open count 1')

    def test_lun_attached_again_is_skipped(self):
        self.detect()
        self.cloud.add_attachment(V['detached'], HOST,
                                  thp.lvm_info('detached'))
        self.addCleanup(self.cloud.remove_attachment, V['detached'], HOST)
        reason = self._assert_skipped('attached again')
        self.assertNotIn('s3cr3t', reason)

    def test_lun_reused_for_another_volume_is_skipped(self):
        self.detect()
        # The by-path of the finding's LUN now maps another WWID.
        self.host.remove_disk('sde')
        self.host.add_disk('sde', '3:0:3:1', tc.WWID[7],
                           iscsi=(tc.P1, IQN % V['detached'], 1))
        self._assert_skipped('now maps WWID %s, not %s'
                             % (tc.WWID[7], tc.WWID[3]))

    def _two_leftovers(self):
        # A second LUN of the detached volume's target: a second leftover
        # sharing sde's session.
        self.host.add_disk('sdf', '3:0:3:2', tc.WWID[4],
                           iscsi=(tc.P1, IQN % V['detached'], 2))
        found = self.detect()
        self.assertEqual({tc.WWID[3], tc.WWID[4]}, set(found))
        return found

    def test_limit_over_the_plan_does_nothing(self):
        self._two_leftovers()
        before = self.state()
        # 0 is no limit of its own: nothing is done (it once meant the
        # configured maximum).
        for limit in (1, 0):
            outcome = self.remediate(apply=True, limit=limit)
            self.assertIn('2 steps planned, more than the limit of %d: '
                          'nothing done' % limit, outcome.error)
        self.assertEqual([], self.host.executed)
        self.assertEqual(before, self.state())
        self.assertEqual([], self.store.actions())

    def test_a_device_already_gone_is_recorded_as_disconnected(self):
        """What a step would leave is there already (its process died
        after os-brick removed the device, or someone else did).
        """
        found = self.detect()
        self.host.remove_disk('sde')
        outcome = self.remediate(apply=True)
        [(step, (result, reason))] = outcome.results
        self.assertEqual(found[tc.WWID[3]].id, step.finding.id)
        self.assertEqual((remediator.SKIPPED, 'already disconnected: '
                          '/dev/sde is gone from the host'), (result, reason))

    def test_session_stays_while_another_lun_uses_it(self):
        found = self._two_leftovers()
        outcome = self.remediate(apply=True, finding_ids={
            found[tc.WWID[3]].id})
        self.assertEqual(remediator.DONE, outcome.results[0][1][0])
        self.assertFalse(os.path.lexists(self.host.p('/sys/block/sde')))
        self.assertTrue(os.path.lexists(self.host.p('/sys/block/sdf')))
        self.assertIn((IQN % V['detached'], tc.P1), self.host.sessions)

    def test_fault_in_the_middle_stops_the_run(self):
        found = self._two_leftovers()
        self.host.fail('tee', '-a', '/sys/block/sde/device/delete')
        outcome = self.remediate(apply=True)
        [(step, (result, reason)), (after, (not_attempted, why))] = (
            outcome.results)
        self.assertEqual(remediator.FAILED, result)
        self.assertEqual(found[tc.WWID[3]].id, step.finding.id)
        self.assertIn('os-brick could not disconnect sde', reason)
        self.assertEqual((found[tc.WWID[4]].id, remediator.NOT_ATTEMPTED,
                          'the step of finding %d failed before it'
                          % step.finding.id),
                         (after.finding.id, not_attempted, why))
        # Nothing else touched: the second leftover and the session stay.
        self.assertTrue(os.path.lexists(self.host.p('/sys/block/sdf')))
        self.assertIn((IQN % V['detached'], tc.P1), self.host.sessions)
        self.assertFalse(any('sdf' in ' '.join(c) for c in self.changing()))
        [action] = self.store.actions()
        self.assertEqual(('failed', found[tc.WWID[3]].id),
                         (action.result, action.finding_id))
        self.assertEqual([('reconciler.remediation.failed', 'failed',
                           found[tc.WWID[3]].id)], self.events())
        # Only a new command retries: the fault gone, both are done.
        self.host.faults.clear()
        outcome = self.remediate(apply=True)
        self.assertEqual([remediator.DONE] * 2,
                         [r[0] for _s, r in outcome.results], outcome.results)
        self.assertEqual({(IQN % V['here'], tc.P1)}, set(self.host.sessions))

    def test_cinder_unreachable_at_the_recheck_means_no_action(self):
        self.detect()
        self.values.load_raw_values(group='cinder',
                                    endpoint='http://127.0.0.1:9/v3')
        before = self.state()
        outcome = self.remediate(apply=True)
        [(_step, (result, reason))] = outcome.results
        self.assertEqual(remediator.FAILED, result)
        self.assertIn('Cinder', reason)
        self.assertEqual([], self.host.executed)
        self.assertEqual(before, self.state())

    def test_no_action_after_a_failed_pass(self):
        self.detect()
        self.host.outputs[('iscsiadm', '-m', 'session', '-P', '3')] = (
            5, '')
        self.assertEqual(model.RunStatus.FAILED,
                         self.unit().run_pass().status)
        outcome = self.remediate(apply=True)
        self.assertIn("host's newest pass did not succeed", outcome.error)
        self.assertEqual([], self.host.executed)

    def hold(self, name):
        """Another process holding the lock file ``name`` in lock_path."""
        lock = os.path.join(self.conf.host_scan.lock_path, name)
        holder = subprocess.Popen(
            [sys.executable, '-c', 'import fcntl, sys, time\n'
             'f = open(sys.argv[1], "a")\n'
             'fcntl.lockf(f, fcntl.LOCK_EX)\n'
             'print("held", flush=True)\ntime.sleep(60)', lock],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual('held\n', holder.stdout.readline())

    def test_a_host_pass_holding_its_lock_blocks_the_remediation(self):
        self.detect()
        self.hold('cinder-reconciler-host-pass')
        before = self.state()
        self.assertRaisesRegex(manager.HostBusy, 'another|a host pass',
                               self.remediate, apply=True)
        self.assertEqual([], self.host.executed)
        self.assertEqual(before, self.state())
        self.assertEqual([], self.store.actions())

    def test_an_attach_holding_os_bricks_lock_blocks_the_step(self):
        self.detect()
        self.hold('os-brick-connect_volume')
        before = self.state()
        outcome = self.remediate(apply=True)
        [(_step, (result, reason))] = outcome.results
        self.assertEqual(remediator.FAILED, result)
        self.assertIn("an attach or detach held os-brick's lock", reason)
        self.assertEqual([], self.host.executed)
        self.assertEqual(before, self.state())


class HostRemediateCommandTest(thp._HostCloud):
    """``cinder-reconciler-manage remediate --host``, the real process."""

    def manage(self, *args):
        return self.run_manage(args, extra='remediation_min_age = 0\n')

    def test_plan_then_apply_refused_under_a_root_prefix(self):
        self.host_with_devices()
        self.assertEqual(0, self.manage('db', 'sync').returncode)
        done = self.manage('check', '--host')
        self.assertEqual(0, done.returncode, done.stderr)
        plan = self.manage('remediate', '--host', '--format', 'json')
        self.assertEqual(0, plan.returncode, plan.stderr)
        [outcome] = thp.json.loads(plan.stdout)
        self.assertEqual(('host:' + HOST, False, None),
                         (outcome['backend'], outcome['applied'],
                          outcome['error']))
        self.assertEqual([('disconnect', 'leftover_device', 'planned')],
                         [(s['action'], s['kind'], s['result'])
                          for s in outcome['steps']])
        text = self.manage('remediate', '--host').stdout
        self.assertIn('Backend host:%s: plan only (dry run' % HOST, text)
        self.assertIn('disconnect /dev/sde', text)
        # The CLI's execute is the real one: under a root prefix it would
        # act on this machine's devices, so it refuses.
        applied = self.manage('remediate', '--host', '--apply')
        self.assertEqual(1, applied.returncode)
        self.assertIn('--apply needs root_prefix = /', applied.stdout)
        self.assertTrue(os.path.lexists(self.host.p('/sys/block/sde')))
        listed = self.manage('actions', 'list', '--backend', 'host:' + HOST,
                             '--format', 'json')
        self.assertEqual({(False, 'planned', 'disconnect')}, {
            (a['applied'], a['result'], a['action'])
            for a in thp.json.loads(listed.stdout)})
        wrong = self.manage('remediate', '--host', '--backend', 'lvm')
        self.assertEqual(1, wrong.returncode)
        self.assertIn('--host takes neither --backend', wrong.stderr)
