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

"""The RPC foundation over oslo.messaging's in-memory driver."""

import threading

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import oslo_messaging
from oslotest import base
import stevedore

from reconciler import conf as reconciler_conf
from reconciler.rpc import api
from reconciler.rpc import controller
from reconciler import version


class _Echo(api.Endpoint):
    """An API another package could add: namespace ``echo``, 1.1."""

    NAMESPACE = 'echo'
    VERSION = '1.1'

    def __init__(self, services):
        self.services = services

    def echo(self, ctxt, value):
        return {'value': value, 'sender': ctxt['sender']}


class _EchoClient(api.Client):
    TOPIC = controller.TOPIC
    NAMESPACE = 'echo'
    VERSION = '1.1'
    CAP = 'baseapi'     # any [upgrade_levels] option will do for a test

    def echo(self, ctxt, value, version='1.1'):
        return self.prepare(version).call(ctxt, 'echo', value=value)


def conf_with(test, **values):
    conf = cfg.ConfigOpts()
    fixture = test.useFixture(config_fixture.Config(conf))
    reconciler_conf.register(conf)
    conf([], project='x', default_config_files=[], default_config_dirs=[])
    api.configured(conf)
    fixture.config(transport_url='fake:/', host='ctl-1',
                   rpc_response_timeout=5)
    for group, options in values.items():
        fixture.config(group=group, **options)
    return conf


class ControllerServerTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = conf_with(self)
        self.transport = api.get_transport(self.conf)
        self.addCleanup(self.transport.cleanup)
        self.services = controller.Services(
            self.conf, None, None, None, threading.Event(), self.transport)

        real = stevedore.ExtensionManager

        def manager(namespace, invoke_on_load, invoke_args, **kwargs):
            # What stevedore builds from an entry point named echo.
            self.assertEqual(controller.ENDPOINTS, namespace)
            return real.make_test_instance(
                [stevedore.extension.Extension(
                    'echo', None, _Echo, _Echo(*invoke_args))])

        self.useFixture(fixtures.MockPatchObject(
            stevedore, 'ExtensionManager', manager))
        self.server = controller.server(self.services)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.assertTrue(self.server.started.wait(10))

    def test_ping_answers_with_the_release(self):
        client = controller.client(self.conf, self.transport)
        answer = client.ping(api.context('test'), arg='x')
        self.assertEqual({'binary': 'cinder-reconciler', 'host': 'ctl-1',
                          'version': version.version_string(), 'arg': 'x'},
                         answer)

    def test_registered_endpoint_is_served_with_the_services(self):
        client = _EchoClient(self.conf, self.transport)
        self.assertEqual({'value': [1, 'a'], 'sender': 'agent@h1'},
                         client.echo(api.context('agent@h1'), [1, 'a']))

    def test_version_cap_keeps_a_client_at_the_older_version(self):
        capped = conf_with(self, upgrade_levels={'baseapi': '1.0'})
        client = _EchoClient(capped, self.transport)
        self.assertFalse(client.can_send_version('1.1'))
        self.assertTrue(client.can_send_version('1.0'))
        self.assertRaises(oslo_messaging.RPCVersionCapError, client.echo,
                          api.context('x'), 1)
        self.assertEqual(1, client.echo(api.context('x'), 1,
                                        version='1.0')['value'])

    def test_newer_version_than_served_is_refused(self):
        client = _EchoClient(self.conf, self.transport)
        client.VERSION = '1.2'
        e = self.assertRaises(api.ERRORS, client.echo, api.context('x'), 1,
                              version='1.2')
        self.assertIn('UnsupportedVersion', api.describe(e))

    def test_private_methods_are_not_callable(self):
        client = _EchoClient(self.conf, self.transport)
        self.assertRaises(api.ERRORS, client.prepare('1.0').call,
                          api.context('x'), '_secret')


class ConfiguredTest(base.BaseTestCase):

    def test_only_a_set_transport_url_counts(self):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        self.assertFalse(api.configured(conf))
        path = self.create_tempfiles(
            [('c', '[DEFAULT]\ntransport_url = rabbit://u:p@127.0.0.1//\n')])
        conf(['--config-file', path[0]], project='x')
        self.assertTrue(api.configured(conf))

    def test_the_exchange_is_ours_and_stays_out_of_the_defaults(self):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        api.configured(conf)
        api.get_transport(conf).cleanup()
        self.assertEqual('cinder-reconciler', api.exchange(conf))
        # Notifications (ours, and the listener's of Cinder's) keep
        # oslo.messaging's default.
        self.assertEqual('openstack', conf.control_exchange)
        path = self.create_tempfiles(
            [('c', '[DEFAULT]\ncontrol_exchange = fleet-a\n')])
        conf(['--config-file', path[0]], project='x')
        self.assertEqual('fleet-a', api.exchange(conf))

    def test_describe_is_one_line(self):
        self.assertEqual(
            'no answer in time (MessagingTimeout)',
            api.describe(oslo_messaging.MessagingTimeout('x\ntraceback')))
        self.assertEqual('RemoteError: Remote error: X y',
                         api.describe(oslo_messaging.RemoteError(
                             'X', 'y', 'Traceback\n...')))
