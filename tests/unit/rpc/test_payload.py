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

"""Scans as plain payloads: round trip, and strict decoding."""

import json

from oslotest import base

from reconciler.host import view
from reconciler.rpc import payload
from tests.unit.host import test_compare as tc


def a_scan():
    key = view.TargetKey(view.ISCSI, tc.LVM_IQN % 'v1', 1)
    disk = view.ScsiDisk('sdb', '3:0:0:1', key, tc.P1, tc.WWID[1],
                         links=('by-path-link',), holders=('dm-3',))
    return view.HostView(
        disks=(disk, view.ScsiDisk('sda', '0:0:0:0', None)),
        maps=(view.MultipathMap('mpatha', tc.WWID[1], 'dm-3', (
            view.MapPath('sdb', 'active', 'ready', 'running'),),
            open_count=0),),
        sessions=(view.IscsiSession('1', key.target, tc.P1, 'LOGGED_IN',
                                    ((1, 'sdb'),)),),
        nvme=(view.NvmeSubsystem('nvme-subsys0', 'nqn.x', (
            ('nvme0', 'tcp', 'traddr=10.0.0.9'),), ('nvme0n1',)),),
        namespaces=(view.Namespace('nvme0n1', 'nqn.x', 'eui.1'),),
        boot=frozenset({'sda', 'sda1'}), fetched_at=1.5)


class PayloadTest(base.BaseTestCase):

    def test_round_trip_through_json(self):
        scan = a_scan()
        wire = json.loads(json.dumps(payload.encode(scan)))
        self.assertEqual(scan, payload.decode(view.HostView, wire))

    def test_fields_a_newer_sender_added_are_ignored(self):
        wire = payload.encode(a_scan())
        wire['disks'][0]['nguid'] = 'x'
        wire['pathless_maps'] = []
        self.assertEqual(a_scan(), payload.decode(view.HostView, wire))

    def test_a_missing_field_names_its_path(self):
        wire = payload.encode(a_scan())
        del wire['maps'][0]['paths'][0]['dm_st']
        e = self.assertRaises(payload.Invalid, payload.decode,
                              view.HostView, wire)
        self.assertEqual('payload.maps[0].paths[0]: no dm_st', str(e))

    def test_a_field_with_a_default_may_be_missing(self):
        wire = payload.encode(a_scan())
        del wire['maps'][0]['open_count']
        self.assertIsNone(payload.decode(view.HostView, wire).maps[0]
                          .open_count)

    def test_types_are_checked(self):
        for change, where in (
                (lambda w: w['disks'][0].update(name=7),
                 'payload.disks[0].name: str expected, not int'),
                (lambda w: w['disks'][0]['key'].update(lun=True),
                 'payload.disks[0].key.lun: int expected, not bool'),
                (lambda w: w['sessions'][0].update(disks=[[1, 'a', 2]]),
                 'payload.sessions[0].disks[0]: 2 items expected'),
                (lambda w: w.update(boot='sda'),
                 'payload.boot: list expected'),
                (lambda w: w.update(disks={}),
                 'payload.disks: list expected')):
            wire = payload.encode(a_scan())
            change(wire)
            e = self.assertRaises(payload.Invalid, payload.decode,
                                  view.HostView, wire)
            self.assertEqual(where, str(e))

    def test_sizes_are_bounded(self):
        wire = payload.encode(a_scan())
        wire['disks'][0]['name'] = 'x' * (payload.MAX_TEXT + 1)
        self.assertRaises(payload.Invalid, payload.decode, view.HostView,
                          wire)
        wire = payload.encode(a_scan())
        wire['disks'] = [wire['disks'][1]] * (payload.MAX_ITEMS + 1)
        e = self.assertRaises(payload.Invalid, payload.decode,
                              view.HostView, wire)
        self.assertIn('more than 100000 items', str(e))

    def test_sets_encode_in_one_order(self):
        self.assertEqual(['a', 'b', 'c'],
                         payload.encode(frozenset('cab')))
