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

"""The listener's endpoint: what a batch records, and a history failure."""

import threading
from unittest import mock

import fixtures as fixtures_lib
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import oslo_messaging
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import listener
from reconciler import model
from reconciler import notifier
from tests.unit.history import fixtures
from tests.unit import test_cinder_events as events


def message(event_type, payload, publisher='volume.h1@be1'):
    # As oslo.messaging's batch dispatcher hands them over; the context
    # holds the caller's token.
    return {'ctxt': {'auth_token': 'secret-token'},
            'publisher_id': publisher, 'event_type': event_type,
            'payload': payload,
            'metadata': {'message_id': 'm-%s' % event_type,
                         'timestamp': events.STAMP}}


class EndpointTest(base.BaseTestCase):

    def endpoint(self, history):
        return listener._Endpoint(history, events.BACKENDS, threading.Event())

    def test_a_batch_is_recorded_in_one_transaction(self):
        history = self.useFixture(fixtures.History()).history
        result = self.endpoint(history).info([
            message('volume.unmanage.end', events.volume_payload('a')),
            message('volume.delete.end', events.volume_payload(
                'b', host='elsewhere@be9#p')),
            message('snapshot.delete.end', events.snapshot_payload('s', 'a'),
                    publisher='snapshot.h1@lvm1')])
        self.assertEqual(oslo_messaging.NotificationResult.HANDLED, result)
        recorded = history.events_since('be1', 0) + history.events_since(
            'lvm1', 0)
        self.assertEqual(
            [('be1', 'volume.unmanage.end'), ('lvm1', 'snapshot.delete.end')],
            [(e.backend, e.event_type) for e in recorded])

    def test_a_history_failure_requeues_and_logs_one_line(self):
        history = mock.Mock()
        history.record_events.side_effect = RuntimeError('db down')
        logger = self.useFixture(fixtures_lib.FakeLogger())
        with mock.patch.object(listener, '_REQUEUE_DELAY', 0):
            result = self.endpoint(history).info([message(
                'volume.attach.end', events.volume_payload(
                    'a', attached=['cmp1']))])
        self.assertEqual(oslo_messaging.NotificationResult.REQUEUE, result)
        self.assertIn('requeued', logger.output)
        for word in ('secret-token', events.SECRET, 'Traceback'):
            self.assertNotIn(word, logger.output)

    def test_start_markers_name_each_backend(self):
        self.assertEqual(
            model.CinderEvent('be1', 'reconciler.listener.started', None,
                              None, 'h', 5.0),
            listener.cinder_events.started('be1', 'h', 5.0))


class ConfiguredTest(base.BaseTestCase):
    """A broker only where one is set: never rabbit://localhost by default."""

    def conf(self, **groups):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values = self.useFixture(config_fixture.Config(conf))
        for group, options in groups.items():
            values.load_raw_values(group=group, **options)
        notifier.Notifier(conf).close()     # registers oslo.messaging's
        return conf

    def test_unset(self):
        self.assertFalse(listener.configured(self.conf()))

    def test_each_place_counts(self):
        for groups in ({'DEFAULT': {'transport_url': 'rabbit://'}},
                       {'oslo_messaging_notifications': {
                           'transport_url': 'fake:/'}},
                       {'cinder_notifications': {'transport_url': 'fake:/'}}):
            self.assertTrue(listener.configured(self.conf(**groups)), groups)


class ExchangeTest(base.BaseTestCase):
    """Cinder's exchange, whatever this process's RPC made the default."""

    def exchange(self, config=None, **group):
        # The controller's RPC sets its own exchange as the default first.
        oslo_messaging.set_transport_defaults('cinder-reconciler')
        self.addCleanup(oslo_messaging.set_transport_defaults, 'openstack')
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        files = []
        if config:
            path = self.useFixture(fixtures_lib.TempDir()).join('cinder.conf')
            with open(path, 'w') as f:
                f.write(config)
            files = [path]
        conf([], project='x', default_config_files=files,
             default_config_dirs=[])
        self.useFixture(config_fixture.Config(conf)).load_raw_values(
            group='cinder_notifications', **group)
        transport = oslo_messaging.get_notification_transport(
            conf, url='fake:/')
        self.addCleanup(transport.cleanup)
        [target] = listener.CinderListener(conf, None, [])._targets()
        return target.exchange

    def test_oslo_messaging_default_not_the_rpc_one(self):
        self.assertEqual('openstack', self.exchange())

    def test_cinder_conf_control_exchange(self):
        self.assertEqual('cinder-x', self.exchange(
            '[DEFAULT]\ncontrol_exchange = cinder-x\n'))

    def test_the_listener_option_first(self):
        self.assertEqual('cinder-y', self.exchange(
            '[DEFAULT]\ncontrol_exchange = cinder-x\n', exchange='cinder-y'))
