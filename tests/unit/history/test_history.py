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

"""Runs, the outbox, atomicity, write counts and threads."""

import sqlite3
import threading

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.history import api
from reconciler import model
from tests.unit.history import fixtures

S = model.FindingState
K = model.FindingKind
T0 = 1_700_000_000.0
CONFIRM_AT_ONCE = api.LifecyclePolicy(1, 0)


def announce(transitions):
    return [('reconciler.finding.' + t.new_state,
             {'id': t.candidate.resource_id, 'old': t.old_state})
            for t in transitions]


class HistoryTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.fixture = self.useFixture(fixtures.History())
        self.history = self.fixture.history

    def complete(self, backend, now, candidates, announce=announce,
                 inventory=None, policy=CONFIRM_AT_ONCE):
        run_id = self.history.start_run(backend, 'host-a', now - 1)
        return self.history.complete_run(run_id, now, candidates, policy,
                                         inventory or {}, announce)

    def test_runs_are_recorded(self):
        export = fixtures.candidate('x', kind=K.ORPHAN_EXPORT,
                                    resource_type=model.ResourceType.EXPORT)
        candidates = [fixtures.candidate('u1'), fixtures.candidate('u2'),
                      export]
        self.complete('be1', T0, candidates, inventory={'volumes': 3,
                                                        'seconds': 1.5})
        failed = self.history.start_run('be1', 'host-b', T0 + 10)
        self.history.fail_run(failed, T0 + 11, 'x' * 100000, [])
        self.history.start_run('be2', 'host-a', T0 + 20)

        running, fail, ok = self.history.runs()
        self.assertEqual(
            (model.RunStatus.OK, 'be1', 'host-a', T0 - 1, T0,
             dict({k: 0 for k in K}, **{K.ARRAY_ONLY: 2,
                                        K.ORPHAN_EXPORT: 1}),
             {'volumes': 3, 'seconds': 1.5}, None),
            (ok.status, ok.backend, ok.host, ok.started_at, ok.finished_at,
             ok.counts, ok.inventory, ok.error))
        self.assertEqual((model.RunStatus.FAILED, T0 + 11, {}),
                         (fail.status, fail.finished_at, fail.counts))
        # Clipped, so a huge error text still fits a MySQL TEXT column.
        self.assertTrue(1000 < len(fail.error) < 100000)
        self.assertEqual((model.RunStatus.RUNNING, None),
                         (running.status, running.finished_at))
        self.assertEqual([fail, ok], self.history.runs('be1'))
        self.assertEqual([running], self.history.runs(limit=1))
        self.assertEqual(ok, self.history.last_ok_run('be1'))
        self.assertIsNone(self.history.last_ok_run('be2'))

    def test_ok_run_count_numbers_a_backends_ok_passes(self):
        """One more per ok pass of the backend, whatever the run ids."""
        self.assertEqual(0, self.history.ok_run_count('be1'))
        counts = []
        for i in range(3):
            self.complete('be1', T0 + 10 * i, [])
            # Other backends' runs and failed or running runs take ids.
            self.complete('be2', T0 + 10 * i + 1, [])
            failed = self.history.start_run('be1', 'host-a', T0 + 10 * i + 2)
            self.history.fail_run(failed, T0 + 10 * i + 3, 'boom', [])
            counts.append(self.history.ok_run_count('be1'))
        self.history.start_run('be1', 'host-a', T0 + 40)
        self.assertEqual([1, 2, 3], counts)
        self.assertEqual(3, self.history.ok_run_count('be1'))
        self.assertEqual(3, self.history.ok_run_count('be2'))
        self.assertEqual(0, self.history.ok_run_count('be10'))

    def test_complete_run_queues_announced_events(self):
        seen = []

        def record(transitions):
            seen.append(transitions)
            return announce(transitions)

        transitions = self.complete('be1', T0, [fixtures.candidate('u1')],
                                    announce=record)
        self.assertEqual([transitions], seen)
        [item] = self.history.pending_notifications()
        self.assertEqual(
            ('reconciler.finding.confirmed', {'id': 'u1', 'old': None}, T0, 0,
             None),
            (item.event_type, item.payload, item.created_at, item.attempts,
             item.last_error))

    def test_announce_error_records_nothing(self):
        self.complete('be1', T0, [fixtures.candidate('u1')])
        before = (self.history.findings(),
                  self.history.pending_notifications())

        def broken(transitions):
            raise RuntimeError('no')

        run_id = self.history.start_run('be1', 'host-a', T0 + 1)
        self.assertRaises(RuntimeError, self.history.complete_run, run_id,
                          T0 + 2, [fixtures.candidate('u2')], CONFIRM_AT_ONCE,
                          {'volumes': 1}, broken)
        self.assertEqual(
            before,
            (self.history.findings(), self.history.pending_notifications()))
        run = self.history.runs(limit=1)[0]
        self.assertEqual((run_id, model.RunStatus.RUNNING, None, {}, {}),
                         (run.id, run.status, run.finished_at, run.counts,
                          run.inventory))
        # The pass can still be recorded as failed.
        self.history.fail_run(run_id, T0 + 3, 'announce failed', [])

    def test_fail_run_queues_events_atomically(self):
        run_id = self.history.start_run('be1', 'host-a', T0)
        self.assertRaises(
            TypeError, self.history.fail_run, run_id, T0 + 1, 'boom',
            [('reconciler.run.failed', {'not json': object()})])
        self.assertEqual(model.RunStatus.RUNNING,
                         self.history.runs()[0].status)
        self.assertEqual([], self.history.pending_notifications())

        self.history.fail_run(run_id, T0 + 1, 'boom',
                              [('reconciler.run.failed', {'backend': 'be1'})])
        run = self.history.runs()[0]
        self.assertEqual((model.RunStatus.FAILED, 'boom'),
                         (run.status, run.error))
        [item] = self.history.pending_notifications()
        self.assertEqual(('reconciler.run.failed', {'backend': 'be1'}),
                         (item.event_type, item.payload))
        self.assertRaises(exception.ReconcilerError, self.history.fail_run,
                          run_id, T0 + 2, 'again', [])

    def test_outbox_delivery(self):
        self.complete('be1', T0, [fixtures.candidate(f'u{i}')
                                  for i in range(3)])
        first, second, third = self.history.pending_notifications()
        self.assertEqual([first, second],
                         self.history.pending_notifications(limit=2))
        self.history.notification_sent(first.id)
        self.history.notification_failed(second.id, 'bus down')
        self.history.notification_failed(second.id, 'still down')
        items = self.history.pending_notifications()
        self.assertEqual([second.id, third.id], [i.id for i in items])
        self.assertEqual((2, 'still down'),
                         (items[0].attempts, items[0].last_error))

    def test_steady_pass_writes_only_the_run(self):
        candidates = [fixtures.candidate(f'u{i}') for i in range(1000)]
        self.complete('be1', T0, candidates)
        self.complete('be2', T0, candidates[:10])
        writes = self.useFixture(fixtures.Writes()).statements
        self.assertEqual([], self.complete('be1', T0 + 60, candidates))
        self.assertEqual([('INSERT INTO runs', 1), ('UPDATE runs SET', 1)],
                         writes)

    def test_pass_writes_only_changes(self):
        candidates = [fixtures.candidate(f'u{i}') for i in range(1000)]
        self.complete('be1', T0, candidates)
        candidates[0] = fixtures.candidate('new')
        candidates[1] = fixtures.candidate('u1', project_id='moved')
        writes = self.useFixture(fixtures.Writes()).statements
        self.complete('be1', T0 + 60, candidates)
        self.assertCountEqual(
            [('INSERT INTO runs', 1), ('UPDATE runs SET', 1),
             ('INSERT INTO findings', 1),
             ('UPDATE findings SET', 1),  # u1's project
             ('UPDATE findings SET', 1),  # u0 resolved
             ('INSERT INTO notification_outbox', 2)],
            writes)

    def test_threads_complete_runs_of_their_backends(self):
        errors = []

        def passes(backend):
            try:
                for i in range(15):
                    self.complete(backend, T0 + i, [
                        fixtures.candidate(f'{backend}-{n}')
                        for n in range(i * 20, i * 20 + 200)])
                    self.history.findings(backend=backend)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=passes, args=(b,))
                   for b in ('be1', 'be2')]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        for backend in ('be1', 'be2'):
            self.assertEqual(
                [model.RunStatus.OK] * 15,
                [r.status for r in self.history.runs(backend, limit=100)])
            self.assertEqual(200, len(self.history.findings(
                backend=backend, state=S.CONFIRMED)))
            self.assertEqual(14 * 20, len(self.history.findings(
                backend=backend, state=S.RESOLVED)))

    def test_locked_sqlite_is_waited_for(self):
        history = api.History(self.fixture.url + '?timeout=0.05')
        blocker = sqlite3.connect(self.fixture.path, isolation_level=None,
                                  check_same_thread=False)
        self.addCleanup(blocker.close)
        blocker.execute('BEGIN IMMEDIATE')
        release = threading.Timer(0.5, blocker.execute, ('COMMIT',))
        release.start()
        self.addCleanup(release.join)
        self.assertEqual(1, history.start_run('be1', 'host-a', T0))

    def test_from_conf(self):
        conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts())).conf
        reconciler_conf.register(conf)
        conf.set_override('connection', self.fixture.url,
                          group='reconciler_database')
        history = api.History.from_conf(conf)
        history.check_current()
        self.assertEqual(1, history.start_run('be1', 'host-a', T0))


class OperationsTest(base.BaseTestCase):
    """Dry runs, purge and the metrics snapshot."""

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history

    complete = HistoryTest.complete

    def test_preview_writes_nothing_and_predicts_the_pass(self):
        policy = api.LifecyclePolicy(2, 0)
        self.complete('be1', T0, [fixtures.candidate('u1')], policy=policy)
        before = (self.history.findings(), self.history.runs(),
                  self.history.pending_notifications())
        preview = self.history.preview_run(
            'be1', 'host-a', T0 + 10, [fixtures.candidate('u2')], policy)
        self.assertEqual(before, (self.history.findings(),
                                  self.history.runs(),
                                  self.history.pending_notifications()))
        real = self.complete('be1', T0 + 10, [fixtures.candidate('u2')],
                             policy=policy)
        self.assertEqual(real, preview)
        self.assertEqual({('u1', S.RESOLVED), ('u2', S.SUSPECTED)},
                         {(t.candidate.resource_id, t.new_state)
                          for t in real})

    def test_purge_keeps_open_findings_running_and_newest_runs(self):
        day = 86400
        self.complete('be1', T0, [fixtures.candidate('gone')])
        self.complete('be1', T0 + day, [fixtures.candidate('open')])
        self.complete('be1', T0 + 2 * day, [fixtures.candidate('open')])
        running = self.history.start_run('be1', 'host-a', T0 - day)
        failed = self.history.start_run('be2', 'host-a', T0)
        self.history.fail_run(failed, T0 + 1, 'boom', [])

        purged = self.history.purge(T0 + 10 * day)
        # 'gone' was resolved by the second pass; the first run is older
        # than the open finding's first sighting. be2's only run is its
        # newest; the running run is never purged.
        self.assertEqual({'runs': 1, 'findings': 1, 'events': 0}, purged)
        self.assertEqual(['open'], [f.resource_id
                                    for f in self.history.findings()])
        self.assertEqual({running, failed} | {r.id for r in self.history.runs(
            backend='be1', status=model.RunStatus.OK)},
            {r.id for r in self.history.runs()})
        self.assertEqual(2, len(self.history.runs(
            backend='be1', status=model.RunStatus.OK)))

    def test_snapshot(self):
        self.complete('be1', T0, [fixtures.candidate('u1'),
                                  fixtures.candidate('u2')],
                      announce=lambda ts: [('e', {})])
        failed = self.history.start_run('be1', 'host-a', T0 + 5)
        self.history.fail_run(failed, T0 + 6, 'boom', [('e', {})])
        [item, _] = self.history.pending_notifications()
        self.history.notification_failed(item.id, 'broker down')
        snap = self.history.snapshot()
        self.assertEqual({('be1', 'array_only', 'confirmed'): 2},
                         snap.findings)
        self.assertEqual({'be1': T0}, snap.last_ok)
        self.assertEqual(model.RunStatus.FAILED, snap.last_run['be1'].status)
        self.assertEqual((2, 1, T0), (snap.outbox_depth,
                                      snap.outbox_undelivered,
                                      snap.outbox_oldest))


class MatchedObjectsTest(base.BaseTestCase):
    """What passes matched to Cinder rows, kept while the array lists it."""

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history

    def complete(self, now, matched, listed, backend='be1'):
        run_id = self.history.start_run(backend, 'host-a', now - 1)
        self.history.complete_run(run_id, now, [], CONFIRM_AT_ONCE, {},
                                  announce, matches=(matched, listed))

    def test_kept_while_listed_and_cheap_when_steady(self):
        v, s = model.ResourceType.VOLUME, model.ResourceType.SNAPSHOT
        # An odd name is stored escaped: still one row, never rewritten.
        matched = {(v, 'u%d' % i) for i in range(1000)} | {
            (s, 's1'), (v, 'odd\x00name')}
        self.complete(T0, matched, matched | {(v, 'leak')})
        asked = [(v, 'u7'), (s, 's1'), (v, 'leak'), (s, 'u7')]
        self.assertEqual({('volume', 'u7'): T0, ('snapshot', 's1'): T0},
                         self.history.matched_before('be1', asked))
        self.assertEqual({}, self.history.matched_before('be2', asked))
        writes = self.useFixture(fixtures.Writes()).statements
        # u7's row is gone (still listed: an array-only object now), s1 is
        # no longer listed, and the listing did not cover the backend once.
        self.complete(T0 + 60, matched - {(v, 'u7'), (s, 's1')},
                      matched - {(s, 's1')})
        self.assertEqual([('INSERT INTO runs', 1), ('UPDATE runs SET', 1),
                          ('DELETE FROM matched_objects', 1)], writes)
        self.assertEqual({('volume', 'u7'): T0},
                         self.history.matched_before('be1', asked))
        self.assertEqual({('volume', 'odd\x00name'): T0},
                         self.history.matched_before(
                             'be1', [(v, 'odd\x00name')]))
        self.complete(T0 + 120, {(v, 'u1')}, None)
        self.assertEqual({('volume', 'u2'): T0}, self.history.matched_before(
            'be1', [(v, 'u2')]))
