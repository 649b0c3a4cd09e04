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

"""LVM remediation on a real volume group (loop device) and a real tgtd.

The root helper option puts the test's ``tgtadm`` (and a recording
``cinder-rtstool``, for lioadm) first on the PATH; LVM runs with the
fixture's lvm.conf, as the driver's listing does.
"""

import copy
import os
import shutil

from oslotest import base

from reconciler.drivers import lvm
from reconciler import exception
from reconciler import model
from reconciler.simulators.scenario import uid
from tests import lvm_fixtures
from tests.unit.drivers import guards
from tests.unit.drivers import test_nec

R = model.ResourceType
C = model.ObjectClass
PREFIX = 'iqn.2010-10.org.openstack:'
LEAK, KEPT, SNAP, EXPORTED = uid('leak'), uid('kept'), uid('snap'), uid('exp')

_RTSTOOL = """#!/bin/sh
echo "$@" >> %(log)s
case "$1" in
  get-targets) cat %(targets)s ;;
  delete) grep -vx "$2" %(targets)s > %(targets)s.new
          mv %(targets)s.new %(targets)s ;;
esac
exit ${RTSTOOL_EXIT:-0}
"""


class LvmRemediationTest(guards.GuardTests, base.BaseTestCase):

    exported_to = ('%svolume-%s' % (PREFIX, EXPORTED),)

    def setUp(self):
        super().setUp()
        reason = lvm_fixtures.available() or lvm_fixtures.tgt_available()
        if reason:
            self.skipTest(reason)
        self.vg_name = 'crr-%d' % os.getpid()
        self.vg = self.useFixture(lvm_fixtures.LoopVolumeGroup(self.vg_name))
        self.lvs = [lvm_fixtures.LV('volume-%s' % v)
                    for v in (LEAK, KEPT, EXPORTED)] + [
            lvm_fixtures.LV('_snapshot-%s' % SNAP, 'snapshot',
                            origin='volume-%s' % KEPT)]
        self.vg.write(self.lvs)
        self.tgtd = self.useFixture(lvm_fixtures.TgtDaemon())
        for v in (EXPORTED, KEPT):
            self.tgtd.target('%svolume-%s' % (PREFIX, v))
        self.bindir = os.path.join(self.vg.dir, 'bin')
        os.mkdir(self.bindir)
        self.tgtd.wrap(self.bindir)
        self.volumes_dir = os.path.join(self.vg.dir, 'volumes')
        os.mkdir(self.volumes_dir)
        for v in (EXPORTED, KEPT):
            with open(os.path.join(self.volumes_dir, 'volume-%s' % v),
                      'w') as f:
                f.write('<target %svolume-%s>\n</target>\n' % (PREFIX, v))

    def driver(self, **overrides):
        options = {
            'volume_driver': 'cinder.volume.drivers.lvm.LVMVolumeDriver',
            'volume_group': self.vg_name, 'lvm_type': 'default',
            'lvm_conf_file': self.vg.lvm_conf_file,
            'volumes_dir': self.volumes_dir,
            'root_helper': 'env PATH=%s:%s' % (self.bindir,
                                               os.environ['PATH'])}
        options.update(overrides)
        (backend,) = test_nec.make_backend(self, {'lvm1': options})
        driver = backend.create_driver()
        driver.open()
        self.addCleanup(driver.close)
        return driver

    def guard_setup(self):
        base_lv = 'volume-%s' % uid('base')
        self.lvs += [lvm_fixtures.LV(base_lv), lvm_fixtures.LV(
            '_snapshot-%s' % uid('base-snap'), 'snapshot', origin=base_lv)]
        self.vg.write(self.lvs)
        d = self.driver()
        return d, {'exported': self.fresh(d, R.VOLUME,
                                          'volume-%s' % EXPORTED),
                   'snapshotted': self.fresh(d, R.VOLUME, base_lv),
                   'free': self.fresh(d, R.VOLUME, 'volume-%s' % LEAK)}

    def occupy(self, name):
        self.lvs.append(lvm_fixtures.LV(name))
        self.vg.write(self.lvs)

    def state(self, driver):
        return copy.deepcopy((driver._rows(), sorted(
            e.name for e in driver._exports()),
            sorted(os.listdir(self.volumes_dir))))

    def fresh(self, driver, kind, name):
        obj = driver.refresh(model.ArrayObject(kind, name, None, C.CINDER))
        self.assertIsNotNone(obj)
        return obj

    def test_tgtadm_target_removed_with_its_file(self):
        d = self.driver()
        iqn = '%svolume-%s' % (PREFIX, EXPORTED)
        export = self.fresh(d, R.EXPORT, iqn)
        rows, targets, files = self.state(d)
        d.remove_export(export)
        self.assertEqual((rows, [t for t in targets if t != iqn],
                          [f for f in files if f != 'volume-%s' % EXPORTED]),
                         self.state(d))
        self.assertIsNone(d.refresh(export))
        # Gone again: tgtadm says so, nothing else changes.
        before = self.state(d)
        e = self.assertRaises(exception.ArrayError, d.remove_export, export)
        self.assertIn('no target', str(e))
        self.assertEqual(before, self.state(d))

    def test_tgtadm_failure_is_an_array_error(self):
        d = self.driver()
        iqn = '%svolume-%s' % (PREFIX, EXPORTED)
        export = self.fresh(d, R.EXPORT, iqn)
        before = self.state(d)
        # The target goes between the look-up and the delete: tgtd's own
        # refusal, a non-zero exit (the delete is sent for a tid tgtd no
        # longer has).
        with open(os.path.join(self.bindir, 'tgtadm'), 'w') as f:
            f.write('#!/bin/sh\ncase "$*" in *"--op delete"*) exec %s -C %d '
                    '--lld iscsi --op delete --mode target --tid 99;; esac\n'
                    'exec %s -C %d "$@"\n' % (
                        shutil.which('tgtadm'), self.tgtd.control_port,
                        shutil.which('tgtadm'), self.tgtd.control_port))
        e = self.assertRaises(exception.ArrayError, d.remove_export, export)
        self.assertIn('tgtadm exited with status', str(e))
        self.assertIn("can't find the target", str(e))
        self.assertEqual(before, self.state(d))

    def test_lioadm_deletes_through_rtstool_and_saves(self):
        log = os.path.join(self.vg.dir, 'rtstool.log')
        targets = os.path.join(self.vg.dir, 'lio-targets')
        iqn = '%svolume-%s' % (PREFIX, EXPORTED)
        with open(targets, 'w') as f:
            f.write('%s\n%svolume-%s\n' % (iqn, PREFIX, KEPT))
        path = os.path.join(self.bindir, 'cinder-rtstool')
        with open(path, 'w') as f:
            f.write(_RTSTOOL % {'log': log, 'targets': targets})
        os.chmod(path, 0o755)
        d = self.driver(target_helper='lioadm')
        export = self.fresh(d, R.EXPORT, iqn)
        d.remove_export(export)
        self.assertIsNone(d.refresh(export))
        self.fresh(d, R.EXPORT, '%svolume-%s' % (PREFIX, KEPT))
        with open(log) as f:
            sent = f.read().splitlines()
        self.assertEqual(['delete %s' % iqn, 'save'],
                         [s for s in sent if s != 'get-targets'])
        d = self.driver(target_helper='lioadm',
                        root_helper='env RTSTOOL_EXIT=1 PATH=%s:%s' % (
                            self.bindir, os.environ['PATH']))
        e = self.assertRaises(
            exception.ArrayError, d.remove_export, model.ArrayObject(
                R.EXPORT, '%svolume-%s' % (PREFIX, KEPT), KEPT, C.CINDER))
        self.assertIn('cinder-rtstool exited with status 1', str(e))

    def test_quarantine_renames_out_of_cinders_templates(self):
        d = self.driver()
        for kind, name, new in (
                (R.VOLUME, 'volume-%s' % LEAK, 'unm-%s' % LEAK),
                (R.SNAPSHOT, '_snapshot-%s' % SNAP, 'ums-%s' % SNAP)):
            obj = self.fresh(d, kind, name)
            rows, targets, files = self.state(d)
            self.assertEqual(new, d.quarantine(obj))
            for row in rows:
                if row['lv_name'] == name:
                    row['lv_name'] = new
            key = lambda r: r['lv_name']  # noqa: E731
            self.assertEqual((sorted(rows, key=key), targets, files), (
                sorted(d._rows(), key=key),) + self.state(d)[1:])
            self.assertIsNone(d.refresh(obj))
            renamed = self.fresh(d, kind, new)
            self.assertEqual((C.UNMANAGED, obj.uuid),
                             (renamed.object_class, renamed.uuid))

    def test_delete_only_an_lv_nothing_uses(self):
        d = self.driver()
        before = self.state(d)
        for name, why in (('volume-%s' % EXPORTED, 'is exported'),
                          ('volume-%s' % KEPT, 'has snapshots')):
            e = self.assertRaises(exception.ArrayError, d.delete_object,
                                  self.fresh(d, R.VOLUME, name))
            self.assertIn(why, str(e))
        self.assertEqual(before, self.state(d))
        obj = self.fresh(d, R.VOLUME, 'volume-%s' % LEAK)
        rows, targets, files = before
        d.delete_object(obj)
        self.assertEqual(([r for r in rows if r['lv_name'] != obj.name],
                          targets, files), self.state(d))
        self.assertIsNone(d.refresh(obj))
        # An LVM command failing (the LV is gone): a non-zero exit.
        e = self.assertRaises(exception.ArrayError, d.quarantine, obj)
        self.assertIn('lvrename exited with status', str(e))

    def test_offered(self):
        self.assertEqual({'unexport', 'quarantine', 'delete'},
                         set(lvm.LVMDriver.REMEDIATIONS))
