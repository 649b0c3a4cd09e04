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

"""Adoption into a project: the [cinder] credentials, scoped to it."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.remediation import cinder_actions


class ProjectAuthTest(base.BaseTestCase):

    def conf(self, **cinder):
        conf = cfg.ConfigOpts()
        values = self.useFixture(config_fixture.Config(conf))
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values.load_raw_values(group='cinder', **cinder)
        return conf

    def test_password_is_scoped_to_the_project_and_nothing_else(self):
        conf = self.conf(auth_type='password',
                         auth_url='http://127.0.0.1:5000/v3',
                         username='reconciler', password='s3cret',
                         user_domain_name='Default', project_name='service',
                         project_domain_name='Default')
        auth = cinder_actions.project_auth(conf, 'c0ffee')
        self.assertEqual(('c0ffee', None, None),
                         (auth._project_id, auth._project_name,
                          auth._project_domain_name))
        self.assertEqual(('reconciler', 'Default'),
                         (auth._username, auth._user_domain_name))

    def test_noauth_sends_the_project(self):
        conf = self.conf(auth_type='noauth', user_id='admin',
                         project_id='admin', endpoint='http://127.0.0.1:1')
        auth = cinder_actions.project_auth(conf, 'c0ffee')
        self.assertEqual('admin:c0ffee', auth.auth_token)

    def test_a_plugin_without_a_project_is_refused(self):
        conf = self.conf(auth_type='admin_token', token='admin:admin',
                         endpoint='http://127.0.0.1:1')
        e = self.assertRaises(exception.ConfigError,
                              cinder_actions.project_auth, conf, 'c0ffee')
        self.assertIn('admin_token does not', str(e))
        self.assertNotIn('admin:admin', str(e))
