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

"""Configuration: cinder.conf followed by our own file just works."""

import textwrap

import fixtures
from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.conf import opts
from reconciler.drivers import fake
from reconciler.drivers import hpe3par
from reconciler import exception

CINDER_CONF = """
[DEFAULT]
host = ctl-1
enabled_backends = pure-1,fake-2
transport_url = rabbit://cinder:s3cret@127.0.0.1:5672/
glance_api_servers = http://127.0.0.1:9292
volume_name_template = vol-%s

[backend_defaults]
reconciler_interval = 120

[pure-1]
volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
san_ip = 127.0.0.1

[fake-2]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
backend_host = shared-host
some_option_reconciler_does_not_know = 42

[database]
connection = mysql+pymysql://cinder:pw@127.0.0.1/cinder
"""

OUR_CONF = """
[DEFAULT]
enabled_backends = fake-2

[fake-2]
fake_array_file = /tmp/array.yaml
reconciler_sightings = 2

[reconciler_database]
connection = sqlite:////var/lib/cinder-reconciler/r.sqlite
"""


class ConfTest(base.BaseTestCase):

    def load(self, *texts):
        conf = cfg.ConfigOpts()
        files = []
        for text in texts:
            path = self.create_tempfiles([('c', textwrap.dedent(text))],
                                         ext='.conf')[0]
            files.append(path)
        reconciler_conf.register(conf)
        conf(['--config-file=%s' % f for f in files], project='x',
             default_config_files=[], default_config_dirs=[])
        return conf

    def test_cinder_conf_then_ours(self):
        conf = self.load(CINDER_CONF, OUR_CONF)
        self.assertEqual('ctl-1', conf.host)
        self.assertEqual('vol-%s', conf.volume_name_template)
        self.assertTrue(
            conf.reconciler_database.connection.startswith('sqlite'))
        [b] = backend_conf.enabled(conf)
        self.assertEqual('fake-2', b.name)
        # Derived from Cinder's volume_driver, no reconciler option needed.
        self.assertIs(fake.FakeDriver, b.driver_cls)
        self.assertEqual('shared-host@fake-2', b.cinder_host)
        self.assertEqual(2, b.reconciler_sightings)
        # Unset in the group: [backend_defaults], then the default.
        self.assertEqual(120, b.reconciler_interval)
        self.assertEqual(3600, b.reconciler_grace_period)
        self.assertEqual(10, b.reconciler_confirmed_recheck_passes)
        self.assertEqual('/tmp/array.yaml', b.fake_array_file)
        self.assertIsInstance(b.create_driver(), fake.FakeDriver)

    def test_confirmed_recheck_passes_is_at_least_one(self):
        """1 re-checks on every pass; 0 (never) is refused."""
        def passes(value):
            conf = self.load(CINDER_CONF, OUR_CONF, """
                [backend_defaults]
                reconciler_confirmed_recheck_passes = %s
                """ % value)
            [b] = backend_conf.enabled(conf)
            return b.reconciler_confirmed_recheck_passes

        self.assertEqual(1, passes(1))
        self.assertRaises(cfg.ConfigFileValueError, passes, 0)

    def test_default_host_used_without_backend_host(self):
        conf = self.load(CINDER_CONF, """
            [DEFAULT]
            enabled_backends = f
            [f]
            reconciler_driver = fake
            fake_array_file = /x
            """)
        self.assertEqual('ctl-1@f', backend_conf.enabled(conf)[0].cinder_host)

    def test_unsupported_backend_is_skipped_with_one_warning(self):
        conf = self.load(CINDER_CONF, """
            [fake-2]
            fake_array_file = /x
            """)
        logger = self.useFixture(fixtures.FakeLogger())
        [b] = backend_conf.enabled(conf)
        self.assertEqual('fake-2', b.name)
        [line] = [x for x in logger.output.splitlines() if x]
        self.assertIn('pure-1', line)
        self.assertIn('PureISCSIDriver', line)
        self.assertIn('skipped', line)
        # Asked again without warnings (the daemon's early check).
        backend_conf.enabled(conf, warn=False)
        self.assertEqual(1, len([x for x in logger.output.splitlines()
                                 if x]))

    def test_unsupported_backend_alone_is_a_clear_error(self):
        conf = self.load(CINDER_CONF)
        e = self.assertRaises(exception.UnsupportedBackend,
                              backend_conf.BackendConf, conf, 'pure-1')
        self.assertIn('reconciler_driver = manageable', str(e))

    def test_unsupported_backend_through_the_manageable_api(self):
        from reconciler.drivers import manageable
        conf = self.load(CINDER_CONF, """
            [reconciler]
            unsupported_backends = manageable
            [fake-2]
            fake_array_file = /x
            """)
        pure, fake_2 = backend_conf.enabled(conf)
        self.assertIs(manageable.ManageableDriver, pure.driver_cls)
        self.assertEqual('ctl-1@pure-1', pure.cinder_host)
        self.assertIs(fake.FakeDriver, fake_2.driver_cls)

    def test_interpolations_of_cinder_options_resolve(self):
        """Cinder's $state_path and $my_ip, as shipped files use them."""
        conf = self.load("""
            [DEFAULT]
            my_ip = 192.0.2.7
            enabled_backends = 3par
            [coordination]
            backend_url = file://$state_path
            [3par]
            volume_driver = %s
            san_ip = $my_ip
            [reconciler_database]
            connection = sqlite:///$state_path/x.sqlite
            """ % hpe3par.HPE3PARDriver.CINDER_VOLUME_DRIVERS[1])
        self.assertEqual('file:///var/lib/cinder',
                         conf.coordination.backend_url)
        self.assertEqual('sqlite:////var/lib/cinder/x.sqlite',
                         conf.reconciler_database.connection)
        [b] = backend_conf.enabled(conf)
        self.assertEqual('192.0.2.7', b.san_ip)

    def test_interpolated_cinder_defaults(self):
        conf = self.load("""
            [DEFAULT]
            state_path = /srv/cinder
            [coordination]
            backend_url = file://$state_path/locks?host=$host
            """)
        self.assertEqual('file:///srv/cinder/locks?host=%s' % conf.host,
                         conf.coordination.backend_url)

    def test_unknown_reconciler_driver(self):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b
            [b]
            reconciler_driver = nosuch
            """)
        e = self.assertRaises(exception.ConfigError,
                              backend_conf.enabled, conf)
        self.assertIn('nosuch', str(e))
        self.assertIn('fake', str(e))

    def test_no_driver_at_all(self):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b
            """)
        self.assertRaises(exception.ConfigError, backend_conf.enabled, conf)

    def test_fake_driver_needs_its_file(self):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b
            [b]
            reconciler_driver = fake
            """)
        [b] = backend_conf.enabled(conf)
        e = self.assertRaises(exception.ConfigError, b.create_driver)
        self.assertIn('fake_array_file', str(e))

    def test_duplicate_backend(self):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b,b
            [b]
            reconciler_driver = fake
            """)
        self.assertRaises(exception.ConfigError, backend_conf.enabled, conf)

    def test_list_opts_covers_every_group(self):
        groups = {getattr(g, 'name', g): {o.name for o in os}
                  for g, os in opts.list_opts()}
        self.assertIn('enabled_backends', groups['DEFAULT'])
        self.assertIn('notify_kinds', groups['reconciler'])
        self.assertIn('auth_type', groups['cinder'])
        self.assertIn('cafile', groups['cinder'])
        self.assertIn('reconciler_interval', groups['backend_defaults'])
        self.assertIn('fake_array_file', groups['backend_defaults'])


class IsolationTest(base.BaseTestCase):

    def test_auth_plugin_options_stay_in_their_config(self):
        from keystoneauth1 import loading as ks_loading
        first = cfg.ConfigOpts()
        reconciler_conf.register(first)
        first(['--config-file', self.create_tempfiles([('a', textwrap.dedent(
            """
            [cinder]
            auth_type = password
            auth_url = http://127.0.0.1:5000/v3
            """))], ext='.conf')[0]], project='x', default_config_files=[],
            default_config_dirs=[])
        ks_loading.load_auth_from_conf_options(first, 'cinder')
        second = cfg.ConfigOpts()
        reconciler_conf.register(second)
        second([], project='x', default_config_files=[],
               default_config_dirs=[])
        self.assertNotIn('auth_url', second.cinder)
