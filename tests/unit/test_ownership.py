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

"""Runs no live process owns are closed as failed, and only those."""

import os
import subprocess
import sys

from oslotest import base

from reconciler.history import api
from reconciler import ownership
from tests.unit.history import fixtures

T0 = 1_700_000_000.0


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


class OwnershipTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history
        self.me = ownership.current()

    def run_of(self, owner, backend='be1'):
        return self.history.start_run(backend, 'h', T0, owner=owner)

    def status(self, run_id):
        [run] = [r for r in self.history.runs() if r.id == run_id]
        return str(run.status), run.error

    def test_this_process_is_alive(self):
        self.assertEqual(os.getpid(), self.me.pid)
        self.assertTrue(ownership.alive(self.me))

    def test_dead_and_reused_pids_on_this_host_are_closed(self):
        gone = self.run_of(ownership.Owner(self.me.host, dead_pid(),
                                           self.me.start))
        # Our pid, but another process's start: the pid was reused.
        reused = self.run_of(ownership.Owner(
            self.me.host, self.me.pid, self.me.boot + ':12.00'))
        rebooted = self.run_of(ownership.Owner(
            self.me.host, self.me.pid, 'another-boot:1.00'))
        live = self.run_of(self.me)
        elsewhere = self.run_of(ownership.Owner('other-host', 1, 'b:1'))
        closed = ownership.close_abandoned(self.history, T0 + 1)
        self.assertEqual([gone, reused, rebooted], closed)
        for run_id in closed:
            status, error = self.status(run_id)
            self.assertEqual('failed', status)
            self.assertIn('abandoned: its process (%s pid' % self.me.host,
                          error)
        self.assertEqual(('running', None), self.status(live))
        self.assertEqual(('running', None), self.status(elsewhere))
        # One run.failed event each.
        self.assertEqual(sorted(closed), sorted(
            e.payload['run_id']
            for e in self.history.pending_notifications()))
        # Closed once: a second closer finds nothing to do.
        self.assertEqual([], ownership.close_abandoned(self.history, T0 + 2))

    def test_a_global_lock_closes_other_hosts_runs_of_its_backend(self):
        other = ownership.Owner('other-host', 1, 'b:1')
        mine, theirs = self.run_of(other), self.run_of(other, 'be2')
        self.assertEqual([], ownership.close_abandoned(
            self.history, T0, 'be1', ownership.HOST_LOCK))
        self.assertEqual([mine], ownership.close_abandoned(
            self.history, T0, 'be1', ownership.GLOBAL_LOCK))
        self.assertIn('no longer holds the backend lock',
                      self.status(mine)[1])
        self.assertEqual('running', self.status(theirs)[0])

    def test_under_the_lock_our_own_unfinished_pass_is_closed(self):
        # Its end could not be recorded (the database was down).
        earlier = self.run_of(self.me)
        self.assertEqual([], ownership.close_abandoned(self.history, T0))
        self.assertEqual([earlier], ownership.close_abandoned(
            self.history, T0, 'be1', ownership.HOST_LOCK))

    def test_runs_of_old_versions_are_closed_only_under_the_lock(self):
        legacy = self.run_of(self.me)
        self.history._transaction(lambda conn: conn.execute(
            api.RUNS.update().values(owner_host=None, owner_pid=None,
                                     owner_start=None)))
        self.assertEqual([], ownership.close_abandoned(self.history, T0))
        self.assertEqual([legacy], ownership.close_abandoned(
            self.history, T0, 'be1', ownership.HOST_LOCK))
        self.assertIn('its process is unknown', self.status(legacy)[1])


class AbandonedActionsTest(base.BaseTestCase):
    """Remediation steps of dead processes are closed as abandoned."""

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history
        self.me = ownership.current()
        self.finding = api.FindingRecord(
            7, 'be1', 'array_only', 'volume', 'u1', 'volume-u1', 'u1', None,
            'confirmed', T0, T0, 2, T0, None, {})

    def action_of(self, owner):
        return self.history.start_action(
            self.finding, 'quarantine', 'volume-u1', {}, 'test', True, T0,
            owner=owner)

    def results(self):
        return {a.id: (a.result, a.reason)
                for a in self.history.actions(backend='be1')}

    def test_dead_processes_steps_are_abandoned_and_only_those(self):
        gone = self.action_of(ownership.Owner(self.me.host, dead_pid(),
                                              self.me.start))
        live = self.action_of(self.me)
        elsewhere = self.action_of(ownership.Owner('other-host', 1, 'b:1'))
        sent = []
        closed = ownership.close_abandoned_actions(
            self.history, T0 + 1, 'be1',
            announce=lambda a, why: sent.append(a.id) or [
                ('reconciler.remediation.abandoned', {'id': a.id})])
        self.assertEqual([gone], closed)
        self.assertEqual([gone], sent)
        result, reason = self.results()[gone]
        self.assertEqual('abandoned', result)
        self.assertIn('abandoned: its process (%s pid' % self.me.host, reason)
        self.assertIn('found by the next remediation of finding 7', reason)
        self.assertEqual(('running', None), self.results()[live])
        self.assertEqual(('running', None), self.results()[elsewhere])
        self.assertEqual(['reconciler.remediation.abandoned'], [
            e.event_type for e in self.history.pending_notifications()])
        # Closed once; under the host's lock our own step is over too.
        self.assertEqual([], ownership.close_abandoned_actions(
            self.history, T0 + 2, 'be1'))
        self.assertEqual([live], ownership.close_abandoned_actions(
            self.history, T0 + 2, 'be1', ownership.HOST_LOCK))

    def test_settled_when_found_applied(self):
        gone = self.action_of(ownership.Owner(self.me.host, dead_pid(),
                                              self.me.start))
        ownership.close_abandoned_actions(self.history, T0 + 1, 'be1')
        self.assertEqual([gone], self.history.settle_abandoned(
            7, 'quarantine', 'found it renamed'))
        self.assertEqual(('done', 'found it renamed'), self.results()[gone])
        self.assertEqual([], self.history.settle_abandoned(
            7, 'quarantine', 'again'))
