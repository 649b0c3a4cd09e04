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

"""The outbox is delivered once, in order, and kept when sending fails."""

import inspect
import threading
import time
from unittest import mock

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import oslo_messaging
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import history
from reconciler import notifier as notifier_mod


class NotifierTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        self.values = self.useFixture(config_fixture.Config(conf))
        self.values.load_raw_values(group='oslo_messaging_notifications',
                                    driver='noop', transport_url='fake:/')
        path = self.create_tempfiles([('h', '')], ext='.sqlite')[0]
        self.store = history.History('sqlite:///%s' % path)
        self.store.sync()
        self.sent = []
        self.gate = threading.Event()
        self.notifier = self.make_notifier()

    def make_notifier(self):
        notifier = notifier_mod.Notifier(self.conf)
        self.addCleanup(notifier.close)

        def send(event_type, payload):
            self.gate.wait(5)
            self.sent.append(payload['event_id'])
        notifier._send = send
        return notifier

    def enqueue(self, n):
        run = self.store.start_run('b', 'h', 0.0)
        self.store.fail_run(run, 1.0, 'x', [
            notifier_mod.run_failed_event('b', run, 'e%d' % i, 1.0)
            for i in range(n)])

    def test_concurrent_flushes_send_each_event_once(self):
        self.enqueue(20)
        threads = [threading.Thread(target=self.notifier.flush,
                                    args=(self.store,)) for _ in range(4)]
        for t in threads:
            t.start()
        self.gate.set()
        for t in threads:
            t.join(10)
        self.assertEqual(20, len(self.sent))
        self.assertEqual(20, len(set(self.sent)))
        self.assertEqual([], self.store.pending_notifications())

    def test_failed_send_keeps_the_event_for_later(self):
        self.enqueue(3)
        self.gate.set()

        def broken(event_type, payload):
            raise ConnectionError('broker down')
        send, self.notifier._send = self.notifier._send, broken
        self.assertEqual(0, self.notifier.flush(self.store))
        [first, *_] = self.store.pending_notifications()
        self.assertEqual(1, first.attempts)
        self.notifier._send = send
        self.assertEqual(3, self.notifier.flush(self.store))
        self.assertEqual([], self.store.pending_notifications())

    def test_two_flushing_processes_send_each_event_once(self):
        # Two notifiers are two processes: only the outbox claims keep
        # them apart.
        self.enqueue(3 * notifier_mod.CLAIM_BATCH)
        other = self.make_notifier()
        threads = [threading.Thread(target=n.flush, args=(self.store,))
                   for n in (self.notifier, other) * 2]
        for t in threads:
            t.start()
        time.sleep(0.2)
        self.gate.set()
        for t in threads:
            t.join(10)
        self.assertEqual(3 * notifier_mod.CLAIM_BATCH, len(self.sent))
        self.assertEqual(len(self.sent), len(set(self.sent)))
        self.assertEqual([], self.store.pending_notifications())

    def test_a_dead_flushers_claim_expires(self):
        self.enqueue(2)
        self.gate.set()
        now = time.time()
        claimed = self.store.claim_notifications('dead', now, 60)
        self.assertEqual(['dead'] * 2, [i.claimed_by for i in claimed])
        self.assertEqual([], self.store.claim_notifications('x', now, 60))
        self.assertEqual(0, self.notifier.flush(self.store))
        self.assertEqual(2, len(self.store.claim_notifications(
            'late', now + 61, 60)))

    def messaging_notifier(self):
        self.values.config(group='oslo_messaging_notifications',
                           driver=['messagingv2'], topics=['a', 'b'])
        notifier = notifier_mod.Notifier(self.conf)
        self.addCleanup(notifier.close)
        [driver] = [e.obj for e in notifier.drivers.extensions]
        return notifier, driver

    def on_the_wire(self, notifier, **kwargs):
        """Spy on the transport driver, below the private send we call."""
        return mock.patch.object(notifier.transport._driver,
                                 'send_notification', autospec=True,
                                 **kwargs)

    def test_a_send_the_broker_refused_keeps_the_event(self):
        """The messaging driver logs and drops a failed send; we do not."""
        notifier, driver = self.messaging_notifier()
        self.enqueue(2)
        with self.on_the_wire(notifier, side_effect=(
                oslo_messaging.MessageDeliveryFailure('down'))):
            self.assertEqual(0, notifier.flush(self.store))
            # What the driver itself does with the same refusal.
            self.assertIsNone(driver.notify({}, {}, 'INFO', 1))
        self.assertEqual([1, 0], [i.attempts for i in
                                  self.store.pending_notifications()])
        with self.on_the_wire(notifier) as send:
            self.assertEqual(2, notifier.flush(self.store))
        self.assertEqual([], self.store.pending_notifications())
        # Per topic, in the driver's format version, with our retry.
        self.assertEqual(
            [('a.info', 2.0, 1), ('b.info', 2.0, 1)] * 2,
            [(c.args[0].topic, c.args[3], c.kwargs['retry'])
             for c in send.call_args_list])
        message = send.call_args_list[0].args[2]
        self.assertEqual(
            {'message_id', 'publisher_id', 'event_type', 'priority',
             'payload', 'timestamp'}, set(message))
        self.assertEqual(('INFO', message['payload']['event_id']),
                         (message['priority'], message['message_id']))

    def test_we_send_what_the_messaging_driver_sends(self):
        """Pins oslo.messaging's private ``Transport._send_notification``.

        ``Notifier._publish`` calls it as ``MessagingDriver.notify`` does,
        because the driver swallows delivery failures. If this fails,
        oslo.messaging changed that private call: re-read
        ``oslo_messaging/notify/messaging.py`` and ``transport.py`` and
        make ``_publish`` send what ``notify`` sends again.
        """
        self.assertEqual(
            ['self', 'target', 'ctxt', 'message', 'version', 'retry'],
            list(inspect.signature(
                oslo_messaging.transport.Transport._send_notification
            ).parameters))
        notifier, driver = self.messaging_notifier()
        message = {'message_id': 'm', 'publisher_id': 'p',
                   'event_type': 'e', 'priority': 'INFO', 'payload': {},
                   'timestamp': 't'}
        with self.on_the_wire(notifier) as by_driver:
            driver.notify({}, dict(message), 'INFO', 1)
        with self.on_the_wire(notifier) as by_us:
            notifier.retry = 1
            notifier._publish(driver, dict(message))
        self.assertEqual(2, len(by_us.call_args_list))
        self.assertEqual(
            [(c.args[0].topic, c.args[0].server, c.args[0].exchange)
             + c.args[1:] + (c.kwargs,) for c in by_driver.call_args_list],
            [(c.args[0].topic, c.args[0].server, c.args[0].exchange)
             + c.args[1:] + (c.kwargs,) for c in by_us.call_args_list])
