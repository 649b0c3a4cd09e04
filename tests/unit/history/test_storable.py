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

"""Array names every database stores, distinct names staying distinct."""

from oslotest import base

from reconciler.history import storable


class KeyTest(base.BaseTestCase):

    def test_ordinary_names_are_kept(self):
        for name in ('volume-1', 'ünïcode', 'emoji-\U0001f4be', 'x' * 255):
            self.assertEqual(name, storable.key(name))

    def test_odd_names_fit_and_stay_distinct(self):
        names = ['x' * 300, 'x' * 300 + 'y', 'a\x00b', 'a\\x00b',
                 'l\udc80', 'l\\udc80']
        keys = [storable.key(n) for n in names]
        self.assertEqual(len(names), len(set(keys)))
        for key in keys:
            self.assertLessEqual(len(key), storable.KEY_LENGTH)
            self.assertNotIn('\x00', key)
            key.encode('utf-8')  # no lone surrogate left

    def test_text_escapes_only_what_no_database_takes(self):
        self.assertEqual('a\\x00b\\udc80c', storable.text('a\x00b\udc80c'))
        self.assertEqual('plain', storable.text('plain'))
