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

"""Host remediation's pure parts: which findings get a disconnect, the
plan's gates for host findings, and os-brick under a root prefix.
"""

import os

from os_brick import exception as brick_exc
from os_brick.initiator.connectors import iscsi
from os_brick.initiator import linuxscsi
from oslo_concurrency import processutils
from oslotest import base

from reconciler import exception
from reconciler.history import api
from reconciler import model
from reconciler.remediation import brick_root
from reconciler.remediation import host_actions
from reconciler.remediation import host_remediator
from reconciler.remediation import plan as plan_mod
from tests.unit.host import fixtures as host_fixtures

K = model.FindingKind
IQN = 'iqn.2010-10.org.openstack:volume-6b4b6c84-4e2f-4b84-9a7d-0c8ef0c1d2a3'


def finding(kind, fid=1, target=IQN, rtype='device', confirmed=0.0,
            state='confirmed'):
    return api.FindingRecord(
        id=fid, backend='host:compute-1', kind=K(kind),
        resource_type=model.ResourceType(rtype), resource_id='3600140500',
        array_name='/dev/sdc', cinder_id=None, project_id=None,
        state=model.FindingState(state), first_seen=0.0, last_seen=0.0,
        sightings=3, confirmed_at=confirmed, resolved_at=None,
        details={'target': target, 'lun': '1'})


class HostActionTest(base.BaseTestCase):

    def test_leftovers_and_faulty_maps_of_iscsi_luns_are_disconnected(self):
        for kind, rtype, what in (
                ('leftover_device', 'device', 'leftover device'),
                ('leftover_device', 'multipath', 'leftover multipath'),
                ('faulty_map', 'multipath', 'faulty multipath map')):
            action, why = host_actions.action(finding(kind, rtype=rtype))
            self.assertEqual(host_actions.DISCONNECT, action, kind)
            self.assertEqual('%s of %s, used by no attachment here'
                             % (what, IQN), why)

    def test_kinds_never_acted_on_say_why(self):
        for kind, part in (('faulty_attached', "Nova's detach"),
                           ('missing_device', 'nothing on this host'),
                           ('stale_session', 'never on their own'),
                           ('foreign', 'not a host finding')):
            action, why = host_actions.action(finding(kind))
            self.assertIsNone(action, kind)
            self.assertIn(part, why)

    def test_fc_luns_are_disconnected_nvme_namespaces_never(self):
        action, _why = host_actions.action(finding(
            'leftover_device', target='50060e801049cfd1,50060e801049cfd2'))
        self.assertEqual(host_actions.DISCONNECT, action)
        action, why = host_actions.action(finding(
            'leftover_device', target='nqn.2014-08.org:sub'))
        self.assertIsNone(action)
        self.assertIn('nvmeof devices are not disconnected', why)

    def test_host_plan_keeps_every_gate(self):
        now = 1000.0
        rows = [finding('leftover_device', 1, confirmed=now - 10),
                finding('leftover_device', 2, confirmed=now - 500),
                finding('leftover_device', 3, state='suspected'),
                finding('missing_device', 4, confirmed=0.0)]
        plan = plan_mod.plan(rows, now, 100, 5, set(host_actions.ACTIONS),
                             action=host_actions.action)
        self.assertEqual([2], [s.finding.id for s in plan.steps])
        reasons = {r.finding.id: r.reason for r in plan.refused}
        self.assertIn('less than', reasons[1])
        self.assertIn('not confirmed', reasons[3])
        self.assertIn('nothing on this host', reasons[4])
        # Deleting is never a host action, even named.
        plan = plan_mod.plan(rows[1:2], now, 0, 5, {'disconnect'},
                             delete_ids={2}, action=host_actions.action)
        self.assertEqual((), plan.steps)


class BrickErrorTest(base.BaseTestCase):

    def test_a_failed_command_says_which_and_why(self):
        chained = brick_exc.ExceptionChainer()
        with chained.context(True, 'flush failed'):
            raise processutils.ProcessExecutionError(
                stdout='', stderr='one\nmpatha: map in use\n', exit_code=1,
                cmd='multipath -f mpatha')
        with chained.context(True, 'no volume'):
            raise brick_exc.VolumeDeviceNotFound(device='/dev/sde')
        self.assertEqual(
            'ProcessExecutionError: multipath -f mpatha exited 1: mpatha: '
            'map in use; VolumeDeviceNotFound: Volume device not found at '
            '/dev/sde.', host_remediator._brick_error(chained))

    def test_secrets_are_masked(self):
        error = processutils.ProcessExecutionError(
            stderr='', exit_code=15, cmd='iscsiadm -m node --op update -n '
            'node.session.auth.password -v s3cret')
        self.assertNotIn('s3cret', host_remediator._brick_error(error))


class BrickRootTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.host = self.useFixture(host_fixtures.HostRoot())
        self.host.add_disk('sdc', '4:0:0:1', '36001405aaaa',
                           iscsi=('127.0.0.1:3260', IQN, 1))

    def test_os_brick_reads_the_root_and_gets_its_modules_back(self):
        scsi = linuxscsi.LinuxSCSI(None, execute=self.host.execute)
        before = vars(linuxscsi).get('os'), vars(iscsi).get('glob')
        with brick_root.rooted(self.host.root, self.host.execute):
            self.assertEqual('/dev/sdc', scsi.get_name_from_path(
                '/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-%s-lun-1' % IQN))
            # The privileged helper goes through execute, to the host root.
            self.assertTrue(scsi.is_multipath_running(None))
            self.assertEqual(('multipathd', 'show', 'status'),
                             self.host.executed[-1])
        self.assertEqual(before, (vars(linuxscsi).get('os'),
                                  vars(iscsi).get('glob')))
        self.assertNotIn('open', vars(linuxscsi))
        self.assertFalse(os.path.exists('/dev/disk/by-path/ip-127.0.0.1:'
                                        '3260-iscsi-%s-lun-1' % IQN))

    def test_other_privileged_calls_are_refused(self):
        with brick_root.rooted(self.host.root, self.host.execute):
            self.assertRaises(exception.ReconcilerError, getattr,
                              linuxscsi.priv_rootwrap, 'execute_root')

    def test_the_real_root_changes_nothing(self):
        before = dict(vars(linuxscsi))
        with brick_root.rooted('/', self.host.execute):
            self.assertIs(before['os'], linuxscsi.os)
        self.assertEqual(before, dict(vars(linuxscsi)))

    def test_a_link_out_of_the_root_never_names_a_device_in_it(self):
        os.symlink('/dev/null', self.host.p('/dev/disk/by-path/out'))
        with brick_root.rooted(self.host.root, self.host.execute):
            self.assertFalse(linuxscsi.os.path.realpath(
                '/dev/disk/by-path/out').startswith('/dev/'))
