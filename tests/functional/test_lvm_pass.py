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

"""The daemon's pass over an LVM backend: real cinder-api, LVM and tgtd.

The volume group lives on a loop device and ``lvs`` is the system's own;
the targets are a real tgtd's (lvm_fixtures). The command prefix (Cinder's
root helper option) puts a ``tgtadm`` first on the PATH that talks to the
test's tgtd, as the one of the host would. RootwrapLvmPassTest runs every
command through the real cinder-reconciler-rootwrap and the shipped filters.
"""

import os
import sys

from reconciler.drivers import lvm
from reconciler import engine
from reconciler import model
from reconciler.simulators import scenario as scn
import tests
from tests.functional import fixtures
from tests import lvm_fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
C = model.ObjectClass
BACKEND = 'lvm1'
PREFIX = 'iqn.2010-10.org.openstack:'


def lvm_scenario():
    s = scn.planted(BACKEND, 'lvm', ['LVM'], host='host-l', foreign='dbdisk')
    s.volumes.append(scn.Volume(id=uid('attached'), backend=BACKEND,
                                status='in-use', attached_to=['compute-1']))
    s.array_objects += [
        scn.ArrayObject(BACKEND, 'export', uuid=uid('v3'), host='compute-9'),
        # A clone in progress: its temporary snapshot of the source.
        scn.ArrayObject(BACKEND, 'snapshot', uuid=uid('v4'),
                        parent=uid('v5'), object_class=C.TEMPORARY.value)]
    return s


def logical_volumes(scenario, vg, thin):
    """The scenario's array as LVs in Cinder's thick or thin layout."""
    pool = '%s-pool' % vg
    lvs = [lvm_fixtures.LV(pool, 'thin-pool', extents=8)] if thin else []
    snapshots = []
    for obj in scenario.array_contents(BACKEND):
        if obj.kind == 'volume':
            name = obj.name or 'volume-%s' % obj.uuid
            lvs.append(lvm_fixtures.LV(name, 'thin', pool=pool) if thin
                       else lvm_fixtures.LV(name))
        elif obj.kind == 'snapshot':
            name = ('clone-snap-%s' if obj.object_class == C.TEMPORARY
                    else '_snapshot-%s') % obj.uuid
            origin = 'volume-%s' % obj.parent
            snapshots.append(
                lvm_fixtures.LV(name, 'thin', pool=pool, origin=origin)
                if thin else lvm_fixtures.LV(name, 'snapshot', origin=origin))
    return lvs + snapshots


def target_names(scenario):
    """The iSCSI targets the scenario's exports are, and one that is not
    Cinder's (never judged).
    """
    return ['%svolume-%s' % (PREFIX, o.uuid)
            for o in scenario.array_contents(BACKEND)
            if o.kind == 'export'] + ['iqn.2003-01.org.example:backup']


PLANTED = {
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.ORPHAN_EXPORT, R.EXPORT, '%svolume-%s' % (PREFIX, uid('v3'))),
    (K.FOREIGN, R.VOLUME, 'dbdisk'),
}


class LvmPassTest(fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'host-l'
    make_scenario = staticmethod(lvm_scenario)
    THIN = False

    def start_array(self):
        reason = lvm_fixtures.available() or lvm_fixtures.tgt_available()
        if reason:
            self.skipTest(reason)
        self.vg_name = 'crt-%d' % os.getpid()
        self.vg = self.useFixture(lvm_fixtures.LoopVolumeGroup(self.vg_name))
        self.vg.write(logical_volumes(self.scenario, self.vg_name, self.THIN))
        self.tgtd = self.useFixture(lvm_fixtures.TgtDaemon())
        for iqn in target_names(self.scenario):
            self.tgtd.target(iqn)
        bindir = os.path.join(self.vg.dir, 'bin')
        os.mkdir(bindir)
        self.tgtd.wrap(bindir)
        return {'volume_driver': 'cinder.volume.drivers.lvm.LVMVolumeDriver',
                'volume_group': self.vg_name,
                'lvm_type': 'thin' if self.THIN else 'default',
                'lvm_conf_file': self.vg.lvm_conf_file,
                'volumes_dir': self.vg.dir,
                'root_helper': 'env PATH=%s:%s' % (bindir,
                                                   os.environ['PATH'])}

    def test_remediation_unexports_and_quarantines(self):
        self.check_array_side_remediation()

    def test_pass_finds_each_planted_orphan_class(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        # tgtd's targets name no initiator: whether the attached volume's
        # export is its attachment's stays undecidable, counted, not
        # dropped.
        skipped = {'temporary snapshot': 1, 'volume creating': 1,
                   engine.UNDECIDED_EXPORT: 1}
        if self.THIN:
            skipped['control volume'] = 1
        self.assertEqual(skipped, report.skipped)
        # the migrated volume's LV is named after its name_id
        self.assertEqual(10, report.consistent['volume'])
        self.assertEqual(2, report.consistent['snapshot'])
        # The attached volume's target names no host: a suspect that its
        # re-check drops (Cinder shows the attachment), never a finding.
        self.assertNotIn('export', report.consistent)
        self.assertEqual(len(PLANTED) + 1, report.inventory['suspects'])

    def test_lvm_failure_fails_the_pass_and_changes_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        self.vg.lvm('vgrename', self.vg_name, self.vg_name + '-gone')
        self.addCleanup(self.vg.lvm, 'vgrename', self.vg_name + '-gone',
                        self.vg_name)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('lvs exited with status 5', report.error)
        self.assertIn(self.vg_name, report.error)
        self.assertEqual(before, self.findings())

    def test_target_daemon_down_fails_the_pass(self):
        self.tgtd.stop()
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('tgtadm exited with status', report.error)
        self.assertEqual({}, self.findings())

    def test_leak_deleted_between_listing_and_recheck_is_no_finding(self):
        lvs = logical_volumes(self.scenario, self.vg_name, self.THIN)
        without_leak = [lv for lv in lvs
                        if lv.name != 'volume-%s' % uid('leak')]
        driver = lvm.LVMDriver(self.backend)
        view = driver.list_objects()
        self.assertIn('volume-%s' % uid('leak'),
                      {o.name for o in view.objects})
        self.vg.write(without_leak)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertNotIn((K.ARRAY_ONLY, R.VOLUME, uid('leak')),
                         {c.identity for c in report.candidates})


class ThinLvmPassTest(LvmPassTest):
    """Cinder's thin layout: every LV in <vg>-pool, snapshots thin too."""

    THIN = True


class RootwrapLvmPassTest(LvmPassTest):
    """root_helper = cinder-reconciler-rootwrap with the shipped filters.

    Rootwrap runs as root here (the LVM tests need root anyway), so no sudo;
    its exec_dirs put the test's tgtadm first, as the PATH does above.
    """

    def start_array(self):
        group = super().start_array()
        rootwrap = os.path.join(os.path.dirname(sys.executable),
                                'cinder-reconciler-rootwrap')
        if not os.access(rootwrap, os.X_OK):
            self.skipTest('%s is not installed (pip install -e .)'
                          % rootwrap)
        bindir = os.path.join(self.vg.dir, 'bin')
        conf = os.path.join(self.vg.dir, 'rootwrap.conf')
        with open(conf, 'w') as f:
            # Remediation's filters too: the pass tests remediate.
            f.write('[DEFAULT]\nfilters_path=%s\nexec_dirs=%s\n' % (
                ','.join(os.path.join(tests.ROOT, 'etc', 'cinder-reconciler',
                                      d) for d in ('rootwrap.d',
                                                   'rootwrap.d-remediation')),
                ','.join([bindir, '/usr/sbin', '/sbin', '/usr/bin',
                          '/bin'])))
        group['root_helper'] = '%s %s' % (rootwrap, conf)
        return group
