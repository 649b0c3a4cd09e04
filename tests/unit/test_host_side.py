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

"""The cloud runbook's way to a host: this host's unit, else its agent."""

from unittest import mock

from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.remediation import host_side
from reconciler.rpc import api as rpc_api


class _Outcome(object):
    error = None

    def __init__(self, ids, result='done'):
        self.results = [(mock.Mock(finding=mock.Mock(id=i)), (result, 'why'))
                        for i in ids]
        self.plan = mock.Mock(refused=[])


class DisconnectTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        reconciler_conf.register(self.conf)
        self.conf([], project='cinder-reconciler')
        self.coordinator = object()

    def disconnect(self, scope='host:compute-9', ids=(4,), **kw):
        return host_side.disconnect(self.conf, 'history', 'notifier', 'me',
                                    scope, set(ids), **kw)

    @mock.patch('reconciler.remediation.host_remediator.HostRemediator')
    def test_this_hosts_unit_disconnects_its_own(self, local):
        self.conf.set_override('enabled', True, 'host_scan')
        self.conf.set_override('connector_host', 'compute-9', 'host_scan')
        local.return_value.run.return_value = _Outcome([4])
        self.assertIsNone(self.disconnect(coordinator=self.coordinator))
        local.assert_called_once_with(self.conf, 'history', 'notifier', 'me')
        local.return_value.run.assert_called_once_with(apply=True,
                                                       finding_ids={4})

    @mock.patch('reconciler.fleet.remediation.AgentRemediator')
    @mock.patch('reconciler.rpc.api.get_transport')
    def test_another_hosts_agent_over_rpc(self, transport, agent):
        rpc_api.configured(self.conf)     # registers oslo.messaging's
        self.conf.set_override('transport_url', 'fake:/')
        agent.return_value.run.return_value = _Outcome([4], 'skipped')
        self.assertEqual('host finding 4: skipped (why)',
                         self.disconnect(coordinator=self.coordinator))
        agent.assert_called_once_with(
            self.conf, 'history', 'notifier', 'me', 'compute-9',
            transport.return_value, self.coordinator)
        transport.return_value.cleanup.assert_called_once_with()

    def test_without_unit_or_transport_says_what_to_run_there(self):
        why = self.disconnect(ids=(5, 4), coordinator=self.coordinator)
        self.assertIn('host findings 4, 5 are on compute-9', why)
        self.assertIn('remediate --host --apply --finding 4 --finding 5', why)

    def test_a_factory_is_given_the_host(self):
        factory = mock.Mock()
        factory.return_value.run.return_value = _Outcome([])
        self.assertEqual('host findings [4]: not disconnected',
                         self.disconnect(factory=factory))
        factory.assert_called_once_with(self.conf, 'history', 'notifier',
                                        'me', 'compute-9')
