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

"""Decoding RBD header objects: records as Ceph 16.2 wrote them, the
layout of older OSDs, and everything that must fall back to librbd.

The Ceph 16.2 records were read from a real cluster's headers (an image
with a user snapshot and one in the trash namespace, a format 2 clone of
it); tests/functional/test_rbd_scale.py compares whole listings with
librbd's on a real cluster.
"""

import struct

from oslotest import base

from reconciler.drivers import rbd_header

GIB = struct.pack('<Q', 1 << 30)
# Ceph 16.2 (struct_v 8, compat 8): snapshot 0x51d "keep", user namespace.
KEEP = bytes.fromhex(
    '0808380000001d05000000000000040000006b65657000000040000000000000'
    '000000000000000101040000000000000060a2166bce9cb3290000000000')
# Snapshot 0x51e, removed while a format 2 clone needed it: trash
# namespace (type 2, original name "gone"), a UUID for a name.
TRASHED = bytes.fromhex(
    '0808640000001e050000000000002400000033316330303532652d613564392d'
    '343065662d386330652d63653263313131663733623300000040000000000000'
    '000000000000000101100000000200000004000000676f6e650000000060a216'
    '6b3b8ad12c0100000000')
# The clone's head: pool 1, no namespace, image 1035f44550a, snapshot
# 0x51e, overlap 1 GiB (version 2, Nautilus and later).
PARENT = bytes.fromhex(
    '02022c0000000100000000000000000000000b00000031303335663434353530'
    '611e05000000000000010000004000000000')


def frame(version, compat, body):
    return struct.pack('<BBI', version, compat, len(body)) + body


def string(text):
    data = text.encode()
    return struct.pack('<I', len(data)) + data


def old_snapshot(snap_id, name, size, version=7, namespace=0):
    """A cls_rbd_snap as OSDs before Nautilus wrote it (compat 1): the
    unused features and the snapshot's parent before the protection.
    """
    body = struct.pack('<Q', snap_id) + string(name) + struct.pack(
        '<QQ', size, 0)
    if version >= 2:
        body += frame(1, 1, struct.pack('<q', -1) + string('') + struct.pack(
            '<QQ', 2 ** 64 - 2, 0))
    if version >= 3:
        body += b'\x00'
    if version >= 4:
        body += struct.pack('<Q', 0)
    if version >= 5:
        body += frame(1, 1, struct.pack('<I', namespace))
    if version >= 6:
        body += struct.pack('<II', 0, 0)
    if version >= 7:
        body += struct.pack('<I', 0)
    return frame(version, 1, body)


class DecodeTest(base.BaseTestCase):

    def test_ceph_16_records(self):
        self.assertEqual((1 << 30, {'keep': 1 << 30}, None), rbd_header.decode(
            {'size': GIB, 'snapshot_000000000000051d': KEEP,
             'snapshot_000000000000051e': TRASHED}))

    def test_clone_parent(self):
        self.assertEqual((1 << 30, {}, (1, '', '1035f44550a')),
                         rbd_header.decode({'size': GIB, 'parent': PARENT}))
        # Version 1 (before Nautilus): no namespace, a plain overlap.
        old = frame(1, 1, struct.pack('<q', 3) + string('abc') + struct.pack(
            '<QQ', 7, 1 << 30))
        self.assertEqual((3, '', 'abc'),
                         rbd_header.decode({'size': GIB, 'parent': old})[2])

    def test_layouts_before_nautilus(self):
        for version in range(1, 8):
            values = {'size': GIB,
                      'snapshot_0000000000000004': old_snapshot(
                          4, 'snap-%d' % version, 5, version),
                      'snapshot_0000000000000005': old_snapshot(
                          5, 'group', 6, version, namespace=1)}
            expected = {'snap-%d' % version: 5}
            if version < 5:     # no namespace: every snapshot a user's
                expected['group'] = 6
            self.assertEqual((1 << 30, expected, None),
                             rbd_header.decode(values), version)

    def test_no_snapshot(self):
        self.assertEqual((5, {}, None),
                         rbd_header.decode({'size': struct.pack('<Q', 5)}))

    def test_what_does_not_add_up_is_none(self):
        key = 'snapshot_000000000000051d'
        for values in (
                {},                                     # no size
                {'size': GIB[:7]},
                {'size': GIB, key: KEEP[:-1]},          # cut short
                {'size': GIB, key: KEEP + b'\x00'},     # bytes after it
                {'size': GIB, 'snapshot_000000000000051e': KEEP},  # its id
                {'size': GIB, 'snapshot_51d': KEEP},
                {'size': GIB, 'snapshot_00000000000005zz': KEEP},
                {'size': GIB, key: b'\x09\x09' + KEEP[2:]},  # newer layout
                {'size': GIB, key: b'\x08\x09' + KEEP[2:]},  # compat > v
                {'size': GIB, key: old_snapshot(0x51d, '', 1)},
                {'size': GIB, key: KEEP.replace(b'keep', b'k\xffep')},
                {'size': GIB, 'parent': PARENT[:-3]},
                {'size': GIB, 'parent': b'\x03\x03' + PARENT[2:]},
                # Two user snapshots of one name cannot be.
                {'size': GIB, key: old_snapshot(0x51d, 'a', 1),
                 'snapshot_000000000000051e': old_snapshot(0x51e, 'a', 1)}):
            self.assertIsNone(rbd_header.decode(values), values)

    def test_as_many_snapshots_as_one_read_returns_is_none(self):
        values = {'size': GIB}
        for n in range(rbd_header.MAX_SNAPSHOTS):
            values['snapshot_%016x' % n] = old_snapshot(n, 's%d' % n, 1)
        self.assertIsNone(rbd_header.decode(values))
        del values['snapshot_%016x' % 0]
        self.assertEqual(rbd_header.MAX_SNAPSHOTS - 1,
                         len(rbd_header.decode(values)[1]))
