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

"""Overlapping writers on real MariaDB and PostgreSQL servers.

The backend lock keeps passes apart; these tests take it away and make two
passes read the same findings before either writes, as two processes (two
History engines) would, and two flushers send one outbox: one confirmation,
one event id and one delivery per event, whatever the interleaving.
"""

import threading
import time
from unittest import mock

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.history import api
from reconciler.history import findings
from reconciler import model
from reconciler import notifier as notifier_mod
from tests import servers
from tests.unit.history import fixtures as history_fixtures

POLICY = api.LifecyclePolicy(sightings=2, grace_seconds=0)
KINDS = set(model.FindingKind)
FINDINGS = 30


class ConcurrentPassesOnMariaDB(base.BaseTestCase):

    SERVER = servers.MariaDB

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        url = servers.database(self.SERVER, self)
        # One engine each: two processes.
        self.stores = [api.History(url), api.History(url)]
        self.stores[0].sync()
        for store in self.stores:
            self.addCleanup(store._facade.writer.get_engine().dispose)
        self.candidates = [history_fixtures.candidate('u%02d' % i)
                           for i in range(FINDINGS)]

    def record(self, store, now, candidates):
        run = store.start_run('be1', 'host-a', now - 1)
        return store.complete_run(
            run, now, candidates, POLICY, {},
            lambda ts: notifier_mod.finding_events(ts, KINDS))

    def overlap(self, now, candidates):
        """Two passes that both read the findings before either writes."""
        both_read = threading.Barrier(2, timeout=10)
        real_load = findings._load

        def load(*args):
            rows = real_load(*args)
            try:
                both_read.wait()
            except threading.BrokenBarrierError:
                pass  # a retried transaction reads alone
            return rows
        results = [None, None]

        def one(i):
            try:
                results[i] = self.record(self.stores[i], now, candidates)
            except Exception as e:
                results[i] = e
        with mock.patch.object(findings, '_load', load):
            threads = [threading.Thread(target=one, args=(i,))
                       for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        return results

    def detected(self):
        return [i.payload for i in self.stores[0].pending_notifications(1000)
                if i.event_type == notifier_mod.DETECTED]

    def assert_one_winner(self, results):
        won = [r for r in results if isinstance(r, list)]
        lost = [r for r in results if not isinstance(r, list)]
        self.assertEqual(1, len(won), results)
        self.assertEqual(1, len(lost), results)
        self.assertIsInstance(lost[0], exception.ConcurrentChange)
        # The loser recorded nothing: its run is still running.
        self.assertEqual(
            ['ok', 'running'],
            sorted(str(r.status) for r in self.stores[0].runs(limit=2)))
        return won[0]

    def test_two_passes_confirm_once(self):
        self.record(self.stores[0], 1000.0, self.candidates)
        won = self.assert_one_winner(self.overlap(1010.0, self.candidates))
        self.assertEqual(FINDINGS, len(won))
        confirmed = self.stores[0].findings(state='confirmed')
        self.assertEqual(FINDINGS, len(confirmed))
        self.assertEqual({2}, {f.sightings for f in confirmed})
        events = self.detected()
        self.assertEqual(FINDINGS, len(events))
        self.assertEqual(FINDINGS, len({e['event_id'] for e in events}))

    def test_two_passes_create_once(self):
        policy = api.LifecyclePolicy(sightings=1, grace_seconds=0)
        with mock.patch.object(self, 'record', lambda s, n, c: s.complete_run(
                s.start_run('be1', 'h', n - 1), n, c, policy, {},
                lambda ts: notifier_mod.finding_events(ts, KINDS))):
            self.assert_one_winner(self.overlap(1000.0, self.candidates))
        self.assertEqual(FINDINGS, len(self.stores[0].findings()))
        self.assertEqual(FINDINGS, len(self.detected()))

    def test_two_flushers_deliver_each_event_once(self):
        for i in range(3):
            run = self.stores[0].start_run('be1', 'h', 1000.0)
            self.stores[0].fail_run(run, 1001.0, 'x', [
                notifier_mod.run_failed_event('be1', run, 'e%d' % j, 1001.0)
                for j in range(notifier_mod.CLAIM_BATCH)])
        delivered = []
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], default_config_files=[], default_config_dirs=[])
        self.useFixture(config_fixture.Config(conf)).load_raw_values(
            group='oslo_messaging_notifications', driver='noop',
            transport_url='fake:/')

        def send(event_type, payload):
            time.sleep(0.01)  # long enough for the flushers to interleave
            delivered.append(payload['event_id'])
        flushers = []
        for store in self.stores:
            notifier = notifier_mod.Notifier(conf)
            self.addCleanup(notifier.close)
            notifier._send = send
            flushers.append(threading.Thread(target=notifier.flush,
                                             args=(store,)))
        for t in flushers:
            t.start()
        for t in flushers:
            t.join(60)
        self.assertEqual(3 * notifier_mod.CLAIM_BATCH, len(delivered))
        self.assertEqual(len(delivered), len(set(delivered)))
        self.assertEqual([], self.stores[0].pending_notifications())


class ConcurrentPassesOnPostgreSQL(ConcurrentPassesOnMariaDB):

    SERVER = servers.PostgreSQL
