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

"""What the controller accepts from an agent, before anything is read."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.fleet import endpoint
from reconciler.rpc import host_api
from reconciler.rpc import signing


class TrustTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.values = self.useFixture(config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])

    def trusted(self, sender, body, method='report', now=10.0):
        return endpoint.trusted_host(
            self.conf, {'sender': host_api.sender(sender)}, method, body,
            now)

    def test_without_auth_key_the_sender_must_name_the_host(self):
        body = {'host': 'compute-1'}
        self.assertEqual('compute-1', self.trusted('compute-1', body))
        e = self.assertRaises(endpoint.Refused, self.trusted, 'compute-2',
                              body)
        self.assertEqual("about host 'compute-1', sent by "
                         "'cinder-reconciler-agent@compute-2'", str(e))
        for bad in ({}, {'host': ''}, {'host': 'x' * 256}, ['compute-1']):
            self.assertRaises(endpoint.Refused, self.trusted, 'compute-1',
                              bad)

    def test_with_auth_key_only_the_hosts_key_signs(self):
        self.values.config(group='agents', auth_key='k')
        mine = signing.host_key('k', 'compute-1')
        body = signing.sign(mine, 'report', {'host': 'compute-1'}, 10.0)
        self.assertEqual('compute-1', self.trusted('compute-1', body))
        forged = signing.sign(mine, 'report', {'host': 'compute-2'}, 10.0)
        e = self.assertRaises(endpoint.Refused, self.trusted, 'compute-2',
                              forged)
        self.assertEqual("about host 'compute-2': signature is not "
                         "compute-2's", str(e))
        e = self.assertRaises(endpoint.Refused, self.trusted, 'compute-1',
                              body, method='view')
        self.assertIn("signed for 'report', not 'view'", str(e))
