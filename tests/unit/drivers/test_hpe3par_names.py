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

"""3PAR name encoding: round trips, every prefix, ``-`` and ``.`` inside."""

import random
import uuid as uuidlib

from oslotest import base

from reconciler.drivers import hpe3par_names as names
from reconciler import model

R = model.ResourceType
C = model.ObjectClass


def _uuids(count, seed):
    rnd = random.Random(seed)
    return [str(uuidlib.UUID(int=rnd.getrandbits(128), version=4))
            for _ in range(count)]


def _with_chars(chars, seed=7):
    """A UUID whose encoding contains every one of ``chars``."""
    for value in _uuids(100000, seed):
        if all(c in names.encode(value) for c in chars):
            return value
    raise AssertionError('no UUID found')


class EncodingTest(base.BaseTestCase):

    def test_round_trip_of_random_uuids(self):
        for value in _uuids(2000, seed=1):
            enc = names.encode(value)
            self.assertEqual(22, len(enc))
            self.assertRegex(enc, r'^[A-Za-z0-9.-]{22}$')
            self.assertEqual(value, names.decode(enc))

    def test_backends_md_example(self):
        # The docstring in Cinder says 7P.DD5..., the code gives 7P-DD5...
        self.assertEqual(
            'osv-7P-DD5jLTPWF7tcwnMF80g',
            names.volume_name('ecffc30f-98cb-4cf5-85ee-d7309cc17cd2'))

    def test_dash_and_dot_inside_the_encoding(self):
        value = _with_chars('-.')
        enc = names.encode(value)
        self.assertIn('-', enc)
        self.assertIn('.', enc)
        for prefix in list(names.PREFIXES):
            d = names.parse(prefix + enc)
            self.assertEqual(value, d.uuid, prefix)
            self.assertIsNone(d.group_uuid)
        member = names.parse(names.group_member_name(value, 12))
        self.assertEqual((None, value, 12),
                         (member.uuid, member.group_uuid,
                          member.member_index))

    def test_dash_just_before_the_member_suffix(self):
        # The last character carries 2 bits ([AQgw]); a '-' just before it
        # makes 'oss-...-A-3', which split('-') would cut wrongly.
        value = next(v for v in _uuids(100000, seed=3)
                     if names.encode(v)[-2] == '-')
        plain = names.parse(names.snapshot_name(value))
        member = names.parse(names.group_member_name(value, 3))
        self.assertEqual((value, None), (plain.uuid, plain.group_uuid))
        self.assertEqual((None, value, 3), (member.uuid, member.group_uuid,
                                            member.member_index))

    def test_every_prefix_is_classified(self):
        value = _uuids(1, seed=2)[0]
        expected = {
            'osv-': (R.VOLUME, C.CINDER), 'oss-': (R.SNAPSHOT, C.CINDER),
            'tsv-': (R.VOLUME, C.TEMPORARY), 'omv-': (R.VOLUME, C.TEMPORARY),
            'tss-': (R.SNAPSHOT, C.TEMPORARY), 'tos-': (R.VOLUME, C.TEMPORARY),
            'unm-': (R.VOLUME, C.UNMANAGED), 'ums-': (R.SNAPSHOT, C.UNMANAGED),
            'vvs-': (R.VOLUME, C.CONTROL),
        }
        self.assertEqual(set(expected), set(names.PREFIXES))
        for prefix, (rtype, cls) in expected.items():
            d = names.parse(names.name(prefix, value))
            self.assertEqual((rtype, cls, value),
                             (d.resource_type, d.object_class, d.uuid))
        rcg = names.parse('rcg-' + names.encode(value)[:18] + '.r1234')
        self.assertEqual((R.VOLUME, C.REPLICA, None),
                         (rcg.resource_type, rcg.object_class, rcg.uuid))

    def test_names_that_do_not_decode_are_foreign(self):
        enc = names.encode(_uuids(1, seed=4)[0])
        for name in ('lun7', 'volume-%s' % _uuids(1, seed=5)[0],
                     'osv-' + enc[:21],            # too short
                     'osv-' + enc + 'x',           # trailing garbage
                     'osv-' + enc + '-1',          # volumes have no members
                     'osv-' + enc[:21] + '_',      # outside the alphabet
                     'osv-' + enc[:21] + 'B',      # non-zero padding bits
                     'xyz-' + enc, 'OSV-' + enc, ''):
            d = names.parse(name)
            self.assertEqual((None, C.FOREIGN, None, None),
                             (d.resource_type, d.object_class, d.uuid,
                              d.group_uuid), name)

    def test_only_uuid4_decodes(self):
        """Cinder names VVs after uuid4 ids only; other versions are
        foreign, whatever the prefix.
        """
        value = uuidlib.UUID(_uuids(1, seed=6)[0])
        for version in (1, 3, 5):
            other = str(uuidlib.UUID(int=value.int, version=version))
            for name in (names.volume_name(other), names.snapshot_name(other),
                         names.group_member_name(other, 1),
                         names.name('tsv-', other)):
                self.assertEqual(C.FOREIGN, names.parse(name).object_class,
                                 name)
        self.assertIsNone(names.decode(names.encode(
            str(uuidlib.UUID(int=value.int & ~(0xc000 << 48))))))
