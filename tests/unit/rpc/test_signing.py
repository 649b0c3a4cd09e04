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

"""Per-host keys: a host signs for itself only."""

from oslotest import base

from reconciler.rpc import signing

AUTH = 'controllers-secret'


class SigningTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.key = signing.host_key(AUTH, 'compute-1')
        self.body = signing.sign(self.key, 'report',
                                 {'host': 'compute-1', 'scans': [1]}, 100.0)

    def check(self, body, host='compute-1', method='report', now=110.0):
        return signing.check(AUTH, host, method, body, now, 300)

    def test_a_host_key_is_its_own(self):
        self.assertEqual(64, len(self.key))
        self.assertNotEqual(self.key, signing.host_key(AUTH, 'compute-2'))
        self.assertNotEqual(self.key, signing.host_key('other', 'compute-1'))
        self.assertIsNone(self.check(self.body))

    def test_another_hosts_key_is_refused(self):
        self.assertEqual("signature is not compute-2's",
                         self.check(dict(self.body, host='compute-2'),
                                    host='compute-2'))

    def test_any_change_breaks_the_signature(self):
        self.assertEqual("signature is not compute-1's",
                         self.check(dict(self.body, scans=[2])))

    def test_for_one_method_only(self):
        self.assertEqual("signed for 'report', not 'view'",
                         self.check(self.body, method='view'))

    def test_old_or_unsigned_bodies_are_refused(self):
        self.assertEqual('sent at 100.0, more than 300s from now',
                         self.check(self.body, now=401.0))
        self.assertEqual('unsigned', self.check(signing.sign(
            None, 'report', {'host': 'compute-1'}, 100.0)))
