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

"""The controller's RPC server across a real RabbitMQ broker."""

import threading

from oslotest import base

from reconciler.rpc import api
from reconciler.rpc import controller
from reconciler import version
from tests import servers
from tests.unit.rpc import test_api


class ControllerRPCTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        broker = servers.shared(servers.RabbitMQ)
        self.conf = test_api.conf_with(self)
        self.conf.set_override('transport_url', broker.url)
        self.transport = api.get_transport(self.conf)
        self.addCleanup(self.transport.cleanup)

    def serve(self):
        server = controller.server(controller.Services(
            self.conf, None, None, None, threading.Event(), self.transport))
        server.start()
        self.addCleanup(server.stop)
        self.assertTrue(server.started.wait(30))

    def test_ping_across_the_broker(self):
        self.serve()
        answer = controller.client(self.conf, self.transport, timeout=30
                                   ).ping(api.context('test'), arg=[1])
        self.assertEqual(('cinder-reconciler', version.version_string(),
                          [1]),
                         (answer['binary'], answer['version'],
                          answer['arg']))

    def test_no_controller_is_a_timeout_in_one_line(self):
        client = controller.client(self.conf, self.transport, timeout=2)
        e = self.assertRaises(api.ERRORS, client.ping, api.context('test'))
        self.assertEqual('no answer in time (MessagingTimeout)',
                         api.describe(e))
