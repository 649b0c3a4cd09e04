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

"""The daemon's pass over a Ceph RBD backend: real cinder-api, stand-in rbd.

Ceph is not run: ``reconciler_rbd_command`` is a script that answers like
the ``rbd`` command line from a cluster file (reconciler.simulators.rbd).
"""

import json
import os
import stat
import sys

from reconciler import model
from reconciler.simulators import rbd
from reconciler.simulators import scenario as scn
import tests
from tests.functional import fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
C = model.ObjectClass
BACKEND = 'rbd1'
POOL = 'volumes'
ROOT = tests.ROOT


def rbd_scenario():
    s = scn.planted(BACKEND, 'rbd', ['RBD'], host='host-r',
                    foreign='glance-image-1', migrated_attached=True)
    # A clone of v5 into v4: the source's clone_snap.
    s.array_objects.append(scn.ArrayObject(
        BACKEND, 'snapshot', uuid=uid('v4'), parent=uid('v5'),
        object_class=C.TEMPORARY.value))
    return s


def volume(label):
    return 'volume-%s' % uid(label)


def cluster_of(scenario):
    """The scenario's pool plus what only RBD has: .deleted parents,
    backup snapshots and trash.
    """
    c = rbd.Cluster.from_scenario(scenario, BACKEND, POOL)
    # Deleted while v6 (a clone of it) lives on: expected, temporary.
    c.image(volume('kept-parent') + '.deleted')
    c.snap(volume('kept-parent') + '.deleted', volume('v6') + '.clone_snap')
    c.image(volume('v6'), parent=(volume('kept-parent') + '.deleted',
                                  volume('v6') + '.clone_snap'))
    # Its clone was flattened and deleted: nothing will ever remove it.
    c.image(volume('dead-parent') + '.deleted')
    c.snap(volume('dead-parent') + '.deleted', volume('gone') + '.clone_snap')
    c.snap(volume('v1'), 'backup.%s.snap.1795380000.25' % uid('backup'))
    c.trash(volume('trashed'))
    c.trash('someone-elses-image')
    return c


PLANTED = {
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.ARRAY_ONLY, R.VOLUME, uid('trashed')),
    (K.FOREIGN, R.VOLUME, 'glance-image-1'),
    (K.FOREIGN, R.VOLUME, 'someone-elses-image (trash %s)'
     % uid('trash:someone-elses-image').replace('-', '')[:12]),
}
# No clone left: suspected for its own grace period (a day).
DEAD = (K.STALE_TEMPORARY, R.VOLUME, volume('dead-parent') + '.deleted')


class RbdPassTest(fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'host-r'
    make_scenario = staticmethod(rbd_scenario)

    def start_array(self):
        tmp = self.useFixture(fixtures.fixtures.TempDir()).path
        self.state = os.path.join(tmp, 'cluster.json')
        self.cluster = cluster_of(self.scenario)
        self.cluster.save(self.state)
        script = os.path.join(tmp, 'rbd')
        with open(script, 'w') as f:
            f.write('#!%s\nimport sys\nsys.path.insert(0, %r)\n'
                    'from reconciler.simulators import rbd\n'
                    'sys.exit(rbd.main(%r))\n'
                    % (sys.executable, ROOT, self.state))
        os.chmod(script, stat.S_IRWXU)
        return {'volume_driver': 'cinder.volume.drivers.rbd.RBDDriver',
                'rbd_pool': POOL, 'rbd_user': 'cinder',
                'rbd_ceph_conf': '/etc/ceph/ceph.conf',
                'reconciler_rbd_command': script}

    def commands(self):
        with open(self.state) as f:
            return [' '.join(argv) for argv in json.load(f)['log']]

    def test_pass_finds_each_planted_orphan_class(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED | {DEAD},
                         {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}
                         | {DEAD: S.SUSPECTED}, self.findings())
        # clone_snaps of v5 (for v4) and of both .deleted parents
        self.assertEqual({'temporary snapshot': 3, 'temporary volume': 1,
                          'replica snapshot': 1, 'volume creating': 1},
                         report.skipped)
        # the migrated image is named after its name_id
        self.assertEqual(9, report.consistent['volume'])
        self.assertEqual(2, report.consistent['snapshot'])
        dead = [c for c in report.candidates if c.identity == DEAD]
        self.assertEqual(('volume', uid('dead-parent'), 'no Cinder row'),
                         tuple(dict(dead[0].details)[k] for k in (
                             'holder_type', 'holder', 'holder_state')))
        commands = self.commands()
        self.assertEqual('--cluster ceph --id cinder --conf '
                         '/etc/ceph/ceph.conf --client-mount-timeout 120 '
                         '--rados-mon-op-timeout 120 --rados-osd-op-timeout '
                         '120 ls -l volumes --format json', commands[0])
        # re-checks are point look-ups, never a second listing
        self.assertEqual(1, sum(' ls -l ' in c for c in commands))
        self.assertIn('info volumes/%s --format json' % volume('leak'),
                      ' '.join(commands))

    def test_deferred_deletion_makes_trash_temporary(self):
        self.conf.set_override('enable_deferred_deletion', True,
                               group=BACKEND)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = {c.identity for c in report.candidates}
        self.assertNotIn((K.ARRAY_ONLY, R.VOLUME, uid('trashed')), found)
        # the trashed Cinder image, and the .deleted parent with a child
        self.assertEqual(2, report.skipped['temporary volume'])

    def test_faults_fail_the_pass_and_change_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        # A new orphan: a suspect to re-check, a finding if the pass went on.
        self.cluster.image(volume('new-leak'))
        for command, stdout, exit, text in (
                ('ls', '', 1, 'rbd exited with status 1: rbd: couldn'),
                ('ls', '[{"image": "volume-', 0, 'output is not JSON'),
                ('ls', '[{"name": "x"}]', 0, 'malformed entry'),
                ('children', '', 110, 'rbd exited with status 110'),
                ('trash ls', '{}', 0, 'malformed entry'),
                # the new orphan's re-check
                ('info %s/%s' % (POOL, volume('new-leak')), '', 1,
                 'rbd exited with status 1')):
            self.cluster.fault(command, exit=exit, stdout=stdout,
                               stderr="rbd: couldn't connect to the cluster!")
            self.cluster.save(self.state)
            report = self.run_pass()
            with open(self.state) as f:
                self.assertGreater(json.load(f)['fault']['fired'], 0,
                                   command)
            self.assertEqual(model.RunStatus.FAILED, report.status, command)
            self.assertIn(text, report.error)
            self.assertEqual([], report.candidates)
            self.assertEqual(before, self.findings())
        self.cluster.fault(None)
        self.cluster.save(self.state)
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before[(K.ARRAY_ONLY, R.VOLUME, uid('new-leak'))] = S.CONFIRMED
        self.assertEqual(before, self.findings())

    def test_parent_whose_last_child_appears_is_no_leak(self):
        # Re-checks ask for children again: a clone made since the
        # listing turns the .deleted parent back into an expected one.
        dead = volume('dead-parent') + '.deleted'
        self.cluster.image(volume('v7'), parent=(
            dead, volume('gone') + '.clone_snap'))
        self.cluster.save(self.state)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertNotIn(DEAD, {c.identity for c in report.candidates})
