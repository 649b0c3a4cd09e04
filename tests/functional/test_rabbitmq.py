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

"""Notifications through a real RabbitMQ to ``manage listen``.

The broker (one per class: it takes seconds to start) runs on 127.0.0.1 with
its own node name, port mapper and files. Findings are confirmed on their
first sighting, so one ``check`` announces every planted orphan.

Outages last ``OUTAGE`` seconds, several times what one send's retries take
with the short retry settings below, so every flush meanwhile fails.
"""

import collections

import json
import os
import subprocess
import threading
import time

import fixtures
from oslo_config import cfg
import oslo_messaging
from oslotest import base
import yaml

from reconciler.cmd import manage
from reconciler import history
from reconciler import notifier
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures
from tests.functional import test_manage
from tests import servers

CONF = """
[DEFAULT]
host = demo-host
enabled_backends = fake1

[reconciler]
periodic_fuzzy_delay = 0
outbox_flush_interval = 1
notification_retry = 1
check_flush_timeout = 20

[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
kombu_reconnect_delay = 0.5

[fake1]
reconciler_driver = fake
fake_array_file = {tmp}/array.yaml
reconciler_sightings = 1
reconciler_grace_period = 0

[oslo_messaging_notifications]
driver = messagingv2
transport_url = {broker}
"""

# Foreign objects are recorded, not announced (notify_kinds).
ANNOUNCED = [f for f in test_manage.PLANTED if f[0] != 'foreign']
OUTAGE = 30
PAYLOAD_KEYS = {'payload_version', 'event_id', 'backend', 'kind',
                'resource_type', 'resource_id', 'cinder_id', 'array_name',
                'project_id', 'state', 'first_seen', 'sightings', 'details'}


class _SharedQueueConsumer(object):
    """Another consumer of the shared ``notifications.info`` queue.

    As ceilometer is: no pool, every event type.
    """

    def __init__(self, url):
        self.events = []
        self._lock = threading.Lock()
        self.transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=url)
        self.listener = oslo_messaging.get_notification_listener(
            self.transport, [oslo_messaging.Target(topic='notifications')],
            [self], executor='threading')

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            self.events.append((event_type, payload, publisher_id))

    def reconciler_events(self):
        with self._lock:
            return [e for e in self.events if e[0].startswith('reconciler.')]

    def event_ids(self):
        return {p['event_id'] for _, p, _ in self.reconciler_events()}

    def start(self):
        self.listener.start()
        return self

    def stop(self):
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()


class RabbitMQTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = servers.RabbitMQ()
        cls.broker.setUp()

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(180, gentle=True))
        if self.broker.process.poll() is not None:
            self.broker.start()
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            CONF, broker=self.broker.url))
        self.demo.manage('db', 'sync')
        self.history = history.History('sqlite:///%s/r.sqlite'
                                       % self.demo.tmp)

    def listen(self, count=None, pool=True):
        """A ``listen --exit-after count`` process, with a pool of its own.

        Without ``pool``, no ``--pool`` is given: its default pool.
        """
        name = 'test-%s' % os.urandom(4).hex()
        out = open(os.path.join(self.demo.tmp, '%s.jsonl' % name), 'w+')
        self.addCleanup(out.close)
        proc = subprocess.Popen(
            self.demo.command('manage', 'listen',
                              *(['--exit-after', str(count)] if count else []),
                              *(['--pool', name] if pool else [])),
            stdout=out, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # The pool's queue exists once the listener consumes from it.
        queue = name if pool else manage.LISTEN_POOL
        deadline = time.monotonic() + 60
        while not self._has_queue(queue):
            self.assertLess(time.monotonic(), deadline, 'listener not up')
            self.assertIsNone(proc.poll())
            time.sleep(0.2)
        return proc, out

    def _has_queue(self, pool):
        result = subprocess.run(
            ['/usr/lib/rabbitmq/bin/rabbitmqctl', 'list_queues', 'name',
             '--quiet'], capture_output=True, text=True,
            env=self.broker.env())
        return pool in result.stdout

    @staticmethod
    def events(proc, out, timeout=60):
        proc.wait(timeout)
        out.seek(0)
        return [json.loads(line) for line in out]

    def test_detected_and_resolved(self):
        proc, out = self.listen(len(ANNOUNCED))
        self.demo.manage('check')
        events = self.events(proc, out)
        self.assertEqual({notifier.DETECTED},
                         {e['event_type'] for e in events})
        self.assertEqual(ANNOUNCED, sorted(
            (e['payload']['kind'], e['payload']['resource_type'],
             e['payload']['resource_id']) for e in events))
        for e in events:
            self.assertEqual('reconciler.demo-host', e['publisher_id'])
            self.assertEqual(PAYLOAD_KEYS, set(e['payload']))
            # 1.1 added the stale_temporary kind (additive: a minor bump).
            self.assertEqual(('1.1', 'fake1', 'confirmed', 1), tuple(
                e['payload'][k] for k in ('payload_version', 'backend',
                                          'state', 'sightings')))
        leftover = scn.uid('restored-leftover')
        [detected] = [e['payload'] for e in events
                      if e['payload']['resource_id'] == leftover]
        self.assertEqual('volume-%s' % leftover, detected['array_name'])

        # Someone deletes the leftover on the array: resolved.
        with open(self.demo.array) as f:
            array = yaml.safe_load(f)
        array['volumes'] = [v for v in array['volumes']
                            if leftover not in v['name']]
        with open(self.demo.array, 'w') as f:
            yaml.safe_dump(array, f)
        proc, out = self.listen(1)
        self.demo.manage('check')
        [resolved] = self.events(proc, out)
        self.assertEqual(notifier.RESOLVED, resolved['event_type'])
        self.assertEqual(dict(detected, state='resolved',
                              event_id=resolved['payload']['event_id']),
                         resolved['payload'])

    def test_broker_down_during_a_pass(self):
        self.broker.stop()
        daemon = subprocess.Popen(self.demo.command('reconciler'),
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: daemon.poll() is None and daemon.terminate()
                        or daemon.wait(30))
        # The pass records its findings while its events wait.
        deadline = time.monotonic() + 90
        while not [r for r in self.history.runs() if r.finished_at]:
            self.assertLess(time.monotonic(), deadline, 'no pass')
            time.sleep(0.2)
        [run] = self.history.runs()
        self.assertEqual('ok', run.status)
        self.assertEqual(ANNOUNCED, sorted(
            (str(f.kind), str(f.resource_type), f.resource_id)
            for f in self.history.findings(state='confirmed')
            if str(f.kind) != 'foreign'))
        pending = self.history.pending_notifications()
        self.assertEqual(len(ANNOUNCED), len(pending))
        print('broker down: the pass took %.1f s'
              % (run.finished_at - run.started_at))

        # The outage goes on: the flusher keeps trying, and failing.
        time.sleep(OUTAGE)
        pending = self.history.pending_notifications()
        self.assertEqual(len(ANNOUNCED), len(pending))
        self.assertGreaterEqual(pending[0].attempts, 2)
        self.assert_all_delivered_after_the_outage(pending)

    def test_check_with_the_broker_down(self):
        self.broker.stop()
        begin = time.monotonic()
        check = self.demo.manage('check')
        took = time.monotonic() - begin
        self.assertIn('notification(s) not sent yet', check.stderr)
        pending = self.history.pending_notifications()
        self.assertEqual(len(ANNOUNCED), len(pending))
        # Its flush stopped at the first refused event.
        self.assertEqual([1] + [0] * (len(pending) - 1),
                         [p.attempts for p in pending])
        print('broker down: check took %.1f s' % took)
        time.sleep(OUTAGE)
        # The next check sends what the last one left.
        self.assert_all_delivered_after_the_outage(
            pending, lambda: self.demo.manage('check'))

    def assert_all_delivered_after_the_outage(self, pending, deliver=None):
        """Every pending event arrives, at least once, event_id telling."""
        self.broker.start()
        back = time.monotonic()
        # The shared queue, which the notifier declares when it sends: it
        # keeps what was sent before this consumer started.
        shared = self.shared_consumer()
        if deliver:
            deliver()
        expected = {p.payload['event_id'] for p in pending}
        deadline = time.monotonic() + 120
        while not expected <= shared.event_ids():
            self.assertLess(time.monotonic(), deadline, shared.events)
            time.sleep(0.2)
        time.sleep(2)  # a duplicate, if any, arrives too
        events = shared.reconciler_events()
        counts = collections.Counter(p['event_id'] for _, p, _ in events)
        print('broker back: %d events (%d distinct) delivered within %.1f s'
              % (len(events), len(counts), time.monotonic() - back))
        self.assertEqual(expected, set(counts))
        self.assertEqual([], self.history.pending_notifications())
        # The payload as consumers always had it.
        for _, payload, publisher in events:
            self.assertEqual(PAYLOAD_KEYS, set(payload))
            self.assertEqual('reconciler.demo-host', publisher)

    def shared_consumer(self):
        consumer = _SharedQueueConsumer(self.broker.url).start()
        self.addCleanup(consumer.stop)
        return consumer

    def test_listen_takes_no_event_from_the_shared_queue(self):
        """Another consumer of notifications.info still gets every event."""
        shared = self.shared_consumer()
        proc, out = self.listen(len(ANNOUNCED), pool=False)
        self.demo.manage('check')
        listened = {e['payload']['event_id'] for e in self.events(proc, out)}
        self.assertEqual(len(ANNOUNCED), len(listened))
        # The shared queue may also hold events of earlier tests.
        deadline = time.monotonic() + 30
        while not listened <= shared.event_ids():
            self.assertLess(time.monotonic(), deadline,
                            (listened, shared.event_ids()))
            time.sleep(0.2)
