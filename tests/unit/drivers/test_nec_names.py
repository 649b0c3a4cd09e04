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

"""Base 62 LD names: Cinder's encoding, both ways, and every name class."""

import random
import uuid as uuidlib

from oslotest import base

from reconciler.drivers import nec_names
from reconciler import model

R = model.ResourceType
C = model.ObjectClass

KNOWN = '52f22665-a60c-42d2-8918-5d950ee88136'
KNOWN_B62 = '2WW25PmMhDCbR7BP0i79qo'


class Base62Test(base.BaseTestCase):

    def test_known_pair(self):
        self.assertEqual(KNOWN_B62, nec_names.encode(KNOWN))
        self.assertEqual(KNOWN, nec_names.decode(KNOWN_B62))

    def test_round_trips(self):
        rng = random.Random(62)
        for _ in range(2000):
            u = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
            name = nec_names.encode(u)
            self.assertLessEqual(len(name), 22)
            self.assertEqual(u, nec_names.decode(name))

    def test_leading_zeros_give_short_names(self):
        for u in ('00000000-0000-4000-8000-000000000001',
                  '0000001f-0000-4000-8000-000000000000',
                  '00000000-0000-1000-8000-000000000000'):
            name = nec_names.encode(u)
            value = uuidlib.UUID(u).int
            digits = next(n for n in range(1, 23) if 62 ** n > value)
            self.assertEqual(digits, len(name))
            self.assertLess(len(name), 19)

    def test_only_the_lengths_cinder_writes_decode(self):
        # Cinder wrote one name in 1,000,000 of 18 characters (5.4e-7):
        # from 19 to 22 characters, every uuid4 but such a one decodes.
        self.assertLess(62 ** 18 / 2 ** 128, 1e-6)
        # Version bits move a value by less than 2**80.
        for value, length in ((62 ** 18 + 2 ** 80, 19),
                              (62 ** 19 - 2 ** 80, 19),
                              (62 ** 20 + 2 ** 80, 21),
                              (2 ** 128 - 1, 22)):
            u = str(uuidlib.UUID(int=value, version=4))
            name = nec_names.encode(u)
            self.assertEqual(length, len(name), u)
            self.assertEqual(u, nec_names.decode(name))
        u = str(uuidlib.UUID(int=62 ** 18 - 2 ** 81, version=4))
        self.assertEqual(18, len(nec_names.encode(u)))
        self.assertIsNone(nec_names.decode(nec_names.encode(u)))

    def test_only_uuid4_decodes(self):
        for version in (1, 3, 5):
            u = str(uuidlib.UUID(int=uuidlib.UUID(KNOWN).int,
                                 version=version))
            self.assertIsNone(nec_names.decode(nec_names.encode(u)), u)
        # RFC 4122's variant bits are 10: 00 (NCS) does not decode.
        ncs = uuidlib.UUID(KNOWN).int & ~(0xc000 << 48)
        self.assertEqual(uuidlib.RESERVED_NCS, uuidlib.UUID(int=ncs).variant)
        self.assertIsNone(nec_names.decode(nec_names.encode(
            str(uuidlib.UUID(int=ncs)))))

    def test_digit_order_is_most_significant_first(self):
        # 62 ** 10 with the version/variant bits of a v4 UUID set: its
        # encoding must end in ten zeros only if the high digit comes first.
        value = uuidlib.UUID('00000000-0000-4000-8000-000000000000').int
        name = nec_names.encode(str(uuidlib.UUID(int=value)))
        self.assertNotEqual('0', name[0])
        self.assertEqual(value, sum(
            nec_names.ALPHABET.index(c) * 62 ** i
            for i, c in enumerate(reversed(name))))

    def test_non_canonical_or_non_uuid_text_does_not_decode(self):
        too_big = nec_names.ALPHABET[-1] * 22        # > 2**128
        for text in ('', '0' + KNOWN_B62, KNOWN_B62 + '_m', KNOWN_B62[:-1]
                     + '-', too_big, 'x' * 23,
                     # numeric LD names other tools use: not RFC 4122 UUIDs
                     '20000009910200140005', 'Pool0000SYV0FFF',
                     # a version-0 value (too short for a real UUID)
                     '3'):
            self.assertIsNone(nec_names.decode(text), text)


class LDNamesTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.names = nec_names.LDNames()

    def test_default_names(self):
        self.assertEqual('LX:' + KNOWN_B62, self.names.volume(KNOWN))
        self.assertEqual('LX:' + KNOWN_B62, self.names.snapshot(KNOWN))
        self.assertEqual('LX:__ControlVolume_1fh', self.names.control(0x1f))

    def test_each_class(self):
        name = 'LX:' + KNOWN_B62
        for text, is_snapshot, expected in (
                (name, False, (R.VOLUME, C.CINDER, KNOWN)),
                (name, True, (R.SNAPSHOT, C.CINDER, KNOWN)),
                (name, None, (R.VOLUME, C.CINDER, KNOWN)),
                (name + '_m', False, (R.VOLUME, C.TEMPORARY, KNOWN)),
                (name + '_d', None, (R.VOLUME, C.TEMPORARY, KNOWN)),
                (name + '_l', False, (R.SNAPSHOT, C.TEMPORARY, KNOWN)),
                ('LX:__ControlVolume_a0h', False, (R.VOLUME, C.CONTROL, None)),
                (name + '_back', False, (R.VOLUME, C.FOREIGN, None)),
                (name + '_x', True, (R.SNAPSHOT, C.FOREIGN, None)),
                ('WN:' + KNOWN_B62, False, (R.VOLUME, C.FOREIGN, None)),
                (KNOWN_B62, None, (None, C.FOREIGN, None)),
                ('LX:0' + KNOWN_B62, False, (R.VOLUME, C.FOREIGN, None)),
                ('LX:__ControlVolume_xyh', False, (R.VOLUME, C.FOREIGN, None)),
                ('LX:_' + KNOWN_B62, False, (R.VOLUME, C.FOREIGN, None))):
            self.assertEqual(expected, self.names.decode(text, is_snapshot),
                             text)

    def test_configured_formats(self):
        names = nec_names.LDNames('LX:v%s', 'LX:s%s', 'LX:cv%x')
        self.assertEqual('LX:v' + KNOWN_B62, names.volume(KNOWN))
        self.assertEqual((R.SNAPSHOT, C.CINDER, KNOWN),
                         names.decode('LX:s' + KNOWN_B62))
        self.assertEqual((R.VOLUME, C.CINDER, KNOWN),
                         names.decode('LX:v' + KNOWN_B62))
        # the snapshot format read as a volume (and back) is foreign
        self.assertEqual((R.VOLUME, C.FOREIGN, None),
                         names.decode('LX:s' + KNOWN_B62, is_snapshot=False))
        self.assertEqual((R.SNAPSHOT, C.FOREIGN, None),
                         names.decode('LX:v' + KNOWN_B62, is_snapshot=True))
        self.assertEqual((R.SNAPSHOT, C.TEMPORARY, KNOWN),
                         names.decode('LX:v%s_l' % KNOWN_B62))
        self.assertEqual((R.VOLUME, C.CONTROL, None), names.decode('LX:cv1f'))
        self.assertEqual((R.VOLUME, C.FOREIGN, None),
                         names.decode('LX:' + KNOWN_B62, is_snapshot=False))

    def test_bad_formats(self):
        for args in (('LX:',), ('LX:%s%s',), ('LX:%d-%s',),
                     ('LX:%s', 'LX'), ('LX:%s', 'LX:%s', 'LX:cv')):
            self.assertRaises(ValueError, nec_names.LDNames, *args)
