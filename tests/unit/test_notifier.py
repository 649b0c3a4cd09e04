"""The outbox is delivered once, in order, and kept when sending fails."""

import threading

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import history
from reconciler import notifier as notifier_mod


class NotifierTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values = self.useFixture(config_fixture.Config(conf))
        values.load_raw_values(group='oslo_messaging_notifications',
                               driver='noop', transport_url='fake:/')
        path = self.create_tempfiles([('h', '')], ext='.sqlite')[0]
        self.store = history.History('sqlite:///%s' % path)
        self.store.sync()
        self.notifier = notifier_mod.Notifier(conf)
        self.addCleanup(self.notifier.close)
        self.sent = []
        self.gate = threading.Event()

        def send(event_type, payload):
            self.gate.wait(5)
            self.sent.append(payload['event_id'])
        self.notifier._send = send

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
