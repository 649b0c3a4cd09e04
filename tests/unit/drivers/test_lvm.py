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

"""LVM driver pieces that need no volume group: names and target listings."""

import json
import os
import stat

import fixtures
from oslotest import base

from reconciler.drivers import bounded
from reconciler.drivers import lvm
from reconciler import exception
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit.drivers import hostile
from tests.unit.drivers import test_nec

R = model.ResourceType
C = model.ObjectClass

# tgt 1.0.85 on Debian 12, one logged-in initiator (addresses shortened).
TGTADM = """\
Target 1: iqn.2010-10.org.openstack:volume-%s
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.1993-08.org.debian:01:7A5C alias: compute-1
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            Backing store type: null
            Backing store path: None
        LUN: 1
            Type: disk
            Backing store path: /dev/cinder-volumes/volume-x
    Account information:
        p0Ae2dB7
    ACL information:
        ALL
Target 2: iqn.2010-10.org.openstack:volume-%s
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
    Account information:
    ACL information:
        ALL
""" % (uid('a'), uid('b'))


class ParseTest(base.BaseTestCase):

    def test_tgtadm_targets_and_logged_in_initiators(self):
        self.assertEqual(
            {'iqn.2010-10.org.openstack:volume-%s' % uid('a'):
             frozenset(['iqn.1993-08.org.debian:01:7a5c']),
             'iqn.2010-10.org.openstack:volume-%s' % uid('b'): frozenset()},
            lvm.parse_tgtadm(TGTADM))
        self.assertEqual({}, lvm.parse_tgtadm(''))

    def test_tgtadm_output_of_another_shape_is_an_error(self):
        self.assertRaises(exception.ArrayResponseError, lvm.parse_tgtadm,
                          'tgtadm: failed to send request hdr to tgt daemon')

    def test_lvs_report_shape_is_checked(self):
        row = {'lv_name': 'volume-%s' % uid('a'), 'lv_attr': '-wi-a-----',
               'origin': '', 'pool_lv': '', 'lv_size': '1.00'}
        self.assertEqual([row], lvm.parse_lvs_report(
            '{"report": [{"lv": [%s]}]}' % json.dumps(row), 'vg1'))
        self.assertEqual([], lvm.parse_lvs_report(
            '  {"report": [{"lv": []}]}\n', 'vg1'))
        for text in ('', '{}', '{"report": []}', '{"report": [{}]}',
                     '{"report": [{"lv": []}, {"lv": []}]}',
                     '{"report": [{"lv": {}}]}', '{"report": [{"lv": null}]}',
                     '{"report": [{"lv": ["volume-x"]}]}', '[]'):
            error = self.assertRaises(exception.ArrayResponseError,
                                      lvm.parse_lvs_report, text, 'vg1')
            self.assertIn('lvs vg1: malformed report', str(error))

    def test_rtstool(self):
        self.assertEqual({'iqn.x:volume-1': frozenset(),
                          'iqn.x:volume-2': frozenset()},
                         lvm.parse_rtstool('iqn.x:volume-1\n\n'
                                           'iqn.x:volume-2\n'))
        self.assertRaises(exception.ArrayResponseError, lvm.parse_rtstool,
                          'Traceback (most recent call last):\n')


class NamesTest(base.BaseTestCase):

    def driver(self, **defaults):
        [backend] = test_nec.make_backend(self, {'lvm1': {
            'reconciler_driver': 'lvm', 'volume_group': 'vg1'}})
        for name, value in defaults.items():
            backend.conf.set_override(name, value)
        return backend.create_driver()

    def test_selected_by_cinder_volume_driver(self):
        [backend] = test_nec.make_backend(self, {'b': {
            'volume_driver': 'cinder.volume.drivers.lvm.LVMVolumeDriver'}})
        self.assertIs(lvm.LVMDriver, backend.driver_cls)

    def test_decode(self):
        d = self.driver()
        volume = (R.VOLUME, C.CINDER, uid('a'))
        for name, snapshot, expected in (
                ('volume-%s' % uid('a'), False, volume),
                # a thin clone has an origin but is a volume
                ('volume-%s' % uid('a'), True, volume),
                ('_snapshot-%s' % uid('s'), True,
                 (R.SNAPSHOT, C.CINDER, uid('s'))),
                ('snapshot-%s' % uid('s'), True,
                 (R.SNAPSHOT, C.FOREIGN, None)),
                ('clone-snap-%s' % uid('c'), True,
                 (R.SNAPSHOT, C.TEMPORARY, uid('c'))),
                ('vg1-pool', False, (R.VOLUME, C.CONTROL, None)),
                ('other-pool', False, (R.VOLUME, C.FOREIGN, None)),
                ('volume-%s.bak' % uid('a'), False,
                 (R.VOLUME, C.FOREIGN, None)),
                ('volume-not-a-uuid', False, (R.VOLUME, C.FOREIGN, None))):
            self.assertEqual(expected, d.decode_name(name, snapshot), name)

    def test_templates_and_escape_follow_cinder(self):
        d = self.driver(volume_name_template='vol_%s',
                        snapshot_name_template='snap_%s')
        self.assertEqual('vol_%s' % uid('a'), d.volume_name(uid('a')))
        # only names LVM reserves ('snapshot...') get Cinder's '_'
        self.assertEqual('snap_%s' % uid('s'), d.snapshot_name(uid('s')))
        self.assertEqual((R.SNAPSHOT, C.CINDER, uid('s')),
                         d.decode_name('snap_%s' % uid('s'), True))
        self.assertEqual('_snapshot-%s' % uid('s'),
                         self.driver().snapshot_name(uid('s')))


class HostileOutputTest(base.BaseTestCase):
    """``lvs`` printing JSON nested or sized beyond any real report."""

    def driver(self, output):
        tmp = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(tmp, 'out'), 'wb') as f:
            f.write(output)
        helper = os.path.join(tmp, 'helper')
        with open(helper, 'w') as f:
            # A root helper that answers every command with ``out``.
            f.write('#!/bin/sh\nexec cat %s\n' % os.path.join(tmp, 'out'))
        os.chmod(helper, stat.S_IRWXU)
        [backend] = test_nec.make_backend(self, {'lvm1': {
            'reconciler_driver': 'lvm', 'root_helper': helper}})
        return backend.create_driver()

    def test_deep_report(self):
        driver = self.driver(hostile.nested_json())
        error, peak = hostile.peak_of(driver.list_objects)
        self.assertIsInstance(error, bounded.LimitExceeded)
        self.assertIn('lvs cinder-volumes: answer nested deeper than 64 '
                      'levels', str(error))
        self.assertLess(peak, hostile.MAX_PEAK)

    def test_oversized_output(self):
        self.useFixture(fixtures.MockPatch(
            'reconciler.drivers.bounded.MAX_BYTES', 1000))
        driver = self.driver(b' ' * 2000)
        error = self.assertRaises(bounded.LimitExceeded, driver.list_objects)
        self.assertIn('lvs: answer larger than 1000 bytes', str(error))
