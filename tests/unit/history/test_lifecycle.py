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

"""The findings lifecycle: suspected, confirmed, resolved, reopened."""

import fixtures as base_fixtures
from oslotest import base

from reconciler import exception
from reconciler.history import api
from reconciler import model
from reconciler import ownership
from tests.unit.history import fixtures

S = model.FindingState
T0 = 1_700_000_000.0


class LifecycleTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history

    def run_pass(self, now, candidates, policy, backend='be1', unchecked=()):
        run_id = self.history.start_run(backend, 'host-a', now - 1)
        return self.history.complete_run(
            run_id, now, candidates, policy, {}, fixtures.no_events,
            unchecked=unchecked)

    def finding(self, resource_id='u1'):
        [record] = [f for f in self.history.findings()
                    if f.resource_id == resource_id]
        return record

    def states(self, transitions):
        return [(t.candidate.resource_id, t.old_state, t.new_state)
                for t in transitions]

    def test_new_candidate_is_suspected(self):
        cand = fixtures.candidate('u1', cinder_id='u1', project_id='p',
                                  details=(('pool', 'a'),))
        [t] = self.run_pass(T0, [cand], api.LifecyclePolicy(2, 0))
        self.assertEqual(
            model.Transition('be1', cand, None, S.SUSPECTED, T0, 1), t)
        f = self.finding()
        self.assertEqual(
            (S.SUSPECTED, T0, T0, 1, None, None, 'volume-u1', 'u1', 'p',
             {'pool': 'a'}),
            (f.state, f.first_seen, f.last_seen, f.sightings, f.confirmed_at,
             f.resolved_at, f.array_name, f.cinder_id, f.project_id,
             f.details))

    def test_enough_sightings_but_too_young_stays_suspected(self):
        policy = api.LifecyclePolicy(3, 100)
        cand = fixtures.candidate('u1')
        for now in (T0, T0 + 10, T0 + 20, T0 + 30):
            transitions = self.run_pass(now, [cand], policy)
        self.assertEqual([], transitions)
        f = self.finding()
        self.assertEqual((S.SUSPECTED, 4, T0, T0 + 30),
                         (f.state, f.sightings, f.first_seen, f.last_seen))

    def test_old_enough_but_too_few_sightings_stays_suspected(self):
        policy = api.LifecyclePolicy(3, 10)
        cand = fixtures.candidate('u1')
        self.run_pass(T0, [cand], policy)
        self.assertEqual([], self.run_pass(T0 + 1000, [cand], policy))
        self.assertEqual((S.SUSPECTED, 2), (self.finding().state,
                                            self.finding().sightings))

    def test_confirmed_once_when_both_hold(self):
        policy = api.LifecyclePolicy(3, 100)
        cand = fixtures.candidate('u1')
        seen = [self.run_pass(now, [cand], policy)
                for now in (T0, T0 + 50, T0 + 99, T0 + 100, T0 + 200,
                            T0 + 300)]
        self.assertEqual(
            [[('u1', None, S.SUSPECTED)], [], [],
             [('u1', S.SUSPECTED, S.CONFIRMED)], [], []],
            [self.states(t) for t in seen])
        self.assertEqual(
            model.Transition('be1', cand, S.SUSPECTED, S.CONFIRMED, T0, 4),
            seen[3][0])
        f = self.finding()
        # Seeing a confirmed finding again writes nothing.
        self.assertEqual((S.CONFIRMED, T0 + 100, 4, T0 + 100),
                         (f.state, f.confirmed_at, f.sightings, f.last_seen))

    def test_a_kind_with_a_grace_of_its_own(self):
        """Stale temporaries wait reconciler_stale_temporary_grace_period,
        other kinds reconciler_grace_period.
        """
        policy = api.LifecyclePolicy(1, 0, kind_grace=(
            (model.FindingKind.STALE_TEMPORARY, 86400),))
        leak = fixtures.candidate('u1')
        temporary = fixtures.candidate(
            'u2', kind=model.FindingKind.STALE_TEMPORARY)
        self.assertEqual(
            [('u1', None, S.CONFIRMED), ('u2', None, S.SUSPECTED)],
            sorted(self.states(self.run_pass(T0, [leak, temporary], policy))))
        self.assertEqual([], self.run_pass(T0 + 86399, [leak, temporary],
                                           policy))
        self.assertEqual(
            [('u2', S.SUSPECTED, S.CONFIRMED)],
            self.states(self.run_pass(T0 + 86400, [leak, temporary],
                                      policy)))
        self.assertRaises(ValueError, api.LifecyclePolicy, 1, 0, (
            (model.FindingKind.STALE_TEMPORARY, -1),))

    def test_immediate_confirmation_is_one_transition(self):
        policy = api.LifecyclePolicy(1, 0)
        cand = fixtures.candidate('u1')
        [t] = self.run_pass(T0, [cand], policy)
        self.assertEqual(
            model.Transition('be1', cand, None, S.CONFIRMED, T0, 1), t)
        self.run_pass(T0 + 1, [], policy)
        self.assertEqual([('u1', S.RESOLVED, S.CONFIRMED)],
                         self.states(self.run_pass(T0 + 2, [cand], policy)))
        f = self.finding()
        self.assertEqual((S.CONFIRMED, T0 + 2, None),
                         (f.state, f.confirmed_at, f.resolved_at))

    def test_unseen_open_findings_resolve(self):
        policy = api.LifecyclePolicy(1, 0)
        confirmed = fixtures.candidate('u1', details=(('z', '1'), ('a', '2')))
        self.run_pass(T0, [confirmed], policy)
        suspected = fixtures.candidate('u2')
        self.run_pass(T0 + 1, [confirmed, suspected],
                      api.LifecyclePolicy(5, 0))
        transitions = self.run_pass(T0 + 2, [], policy)
        # A resolved finding's candidate is rebuilt from its row.
        from_row = fixtures.candidate('u1', details=(('a', '2'), ('z', '1')))
        self.assertEqual(
            [model.Transition('be1', from_row, S.CONFIRMED, S.RESOLVED, T0, 1),
             model.Transition('be1', suspected, S.SUSPECTED, S.RESOLVED,
                              T0 + 1, 1)],
            transitions)
        self.assertEqual([(S.RESOLVED, T0 + 2)] * 2,
                         [(f.state, f.resolved_at)
                          for f in self.history.findings()])
        # Resolved findings stay resolved while unseen.
        self.assertEqual([], self.run_pass(T0 + 3, [], policy))

    def test_resolved_finding_reopens_as_new(self):
        policy = api.LifecyclePolicy(1, 0)
        self.run_pass(T0, [fixtures.candidate('u1', project_id='p1')], policy)
        self.run_pass(T0 + 1, [], policy)
        before = self.finding()
        reopened = fixtures.candidate('u1', project_id='p2',
                                      details=(('k', 'v'),))
        [t] = self.run_pass(T0 + 2, [reopened], api.LifecyclePolicy(2, 0))
        self.assertEqual(
            model.Transition('be1', reopened, S.RESOLVED, S.SUSPECTED,
                             T0 + 2, 1), t)
        after = self.finding()
        self.assertEqual(before.id, after.id)
        self.assertEqual(
            (S.SUSPECTED, T0 + 2, T0 + 2, 1, None, None, 'p2', {'k': 'v'}),
            (after.state, after.first_seen, after.last_seen, after.sightings,
             after.confirmed_at, after.resolved_at, after.project_id,
             after.details))

    def test_failed_run_touches_nothing_and_keeps_the_streak(self):
        policy = api.LifecyclePolicy(3, 0)
        cand = fixtures.candidate('u1')
        self.run_pass(T0, [cand], policy)
        self.run_pass(T0 + 10, [cand], policy)
        before = self.history.findings()
        run_id = self.history.start_run('be1', 'host-a', T0 + 20)
        self.history.fail_run(run_id, T0 + 21, 'array unreachable', [])
        self.assertEqual(before, self.history.findings())
        self.assertEqual([('u1', S.SUSPECTED, S.CONFIRMED)],
                         self.states(self.run_pass(T0 + 30, [cand], policy)))
        self.assertEqual(3, self.finding().sightings)

    def test_suspected_progress_refreshes_fields(self):
        policy = api.LifecyclePolicy(3, 0)
        self.run_pass(T0, [fixtures.candidate('u1')], policy)
        self.run_pass(T0 + 5, [fixtures.candidate('u1', cinder_id='c')],
                      policy)
        f = self.finding()
        self.assertEqual((2, T0 + 5, 'c'),
                         (f.sightings, f.last_seen, f.cinder_id))

    def test_confirmed_fields_follow_without_transition(self):
        policy = api.LifecyclePolicy(1, 0)
        self.run_pass(T0, [fixtures.candidate('u1')], policy)
        changed = fixtures.candidate('u1', array_name='renamed',
                                     details=(('pool', 'b'),))
        self.assertEqual([], self.run_pass(T0 + 5, [changed], policy))
        f = self.finding()
        self.assertEqual(
            (S.CONFIRMED, 'renamed', {'pool': 'b'}, T0, 1),
            (f.state, f.array_name, f.details, f.last_seen, f.sightings))

    def test_unchecked_candidate_keeps_a_confirmed_finding(self):
        policy = api.LifecyclePolicy(1, 0)
        cand = fixtures.candidate('u1')
        self.run_pass(T0, [cand], policy)
        before = self.history.findings()
        self.assertEqual({cand.identity}, self.history.confirmed('be1'))
        self.assertEqual([], self.run_pass(T0 + 1, [cand], policy,
                                           unchecked=[cand.identity]))
        self.assertEqual(before, self.history.findings())
        self.assertEqual(set(), self.history.confirmed('be2'))

    def test_unchecked_candidate_never_changes_a_finding_state(self):
        """Only a re-checked candidate may create, reopen or advance one."""
        confirm, wait = api.LifecyclePolicy(1, 0), api.LifecyclePolicy(2, 0)
        resolved, suspected, new = (fixtures.candidate(u)
                                    for u in ('u1', 'u2', 'u3'))
        self.run_pass(T0, [resolved], confirm)
        self.run_pass(T0 + 1, [suspected], wait)
        before = self.history.findings()
        self.assertEqual([S.RESOLVED, S.SUSPECTED],
                         [f.state for f in before])
        for cand in (resolved, suspected, new):
            run_id = self.history.start_run('be1', 'host-a', T0 + 2)
            e = self.assertRaises(
                exception.ReconcilerError, self.history.complete_run,
                run_id, T0 + 3, [cand], confirm, {}, fixtures.no_events,
                unchecked=[cand.identity])
            self.assertIn(cand.resource_id, str(e))
            self.assertEqual(model.RunStatus.RUNNING,
                             self.history.runs(limit=1)[0].status)
            self.assertEqual(before, self.history.findings())

    def test_identity_is_kind_type_and_exact_resource_id(self):
        policy = api.LifecyclePolicy(1, 0)
        distinct = [
            fixtures.candidate('u1'),
            fixtures.candidate('U1'),  # array names can differ only in case
            fixtures.candidate('u1', kind=model.FindingKind.CINDER_ONLY),
            fixtures.candidate('u1',
                               resource_type=model.ResourceType.SNAPSHOT),
        ]
        self.assertEqual(4, len(self.run_pass(T0, distinct, policy)))
        self.assertEqual([], self.run_pass(T0 + 1, distinct, policy))
        self.assertEqual(4, len(self.history.findings(state=S.CONFIRMED)))

    def test_backends_are_independent(self):
        policy = api.LifecyclePolicy(1, 0)
        self.run_pass(T0, [fixtures.candidate('u1')], policy, backend='be1')
        [t] = self.run_pass(T0, [fixtures.candidate('u1')], policy,
                            backend='be2')
        self.assertEqual(('be2', None), (t.backend, t.old_state))
        self.run_pass(T0 + 1, [], policy, backend='be2')
        self.assertEqual(S.CONFIRMED,
                         self.history.findings(backend='be1')[0].state)
        self.assertEqual(S.RESOLVED,
                         self.history.findings(backend='be2')[0].state)

    def test_conflicting_candidates_are_refused(self):
        run_id = self.history.start_run('be1', 'host-a', T0)
        self.assertRaises(
            ValueError, self.history.complete_run, run_id, T0,
            [fixtures.candidate('u1'),
             fixtures.candidate('u1', cinder_id='x')],
            api.LifecyclePolicy(1, 0), {}, fixtures.no_events)
        self.assertEqual(model.RunStatus.RUNNING,
                         self.history.runs()[0].status)
        self.assertEqual([], self.history.findings())

    def test_run_completes_once(self):
        policy = api.LifecyclePolicy(1, 0)
        run_id = self.history.start_run('be1', 'host-a', T0)
        self.history.complete_run(run_id, T0, [], policy, {},
                                  fixtures.no_events)
        self.assertRaises(
            exception.ReconcilerError, self.history.complete_run, run_id,
            T0 + 1, [fixtures.candidate('u1')], policy, {},
            fixtures.no_events)
        self.assertEqual([], self.history.findings())

    def test_policy_is_validated(self):
        self.assertRaises(ValueError, api.LifecyclePolicy, 0, 0)
        self.assertRaises(ValueError, api.LifecyclePolicy, 1, -1)


class ClockTest(base.BaseTestCase):
    """Grace counts monotonic time; a jumped wall clock confirms nothing."""

    POLICY = api.LifecyclePolicy(2, 600)

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history
        self.log = self.useFixture(base_fixtures.FakeLogger())

    def run_pass(self, wall, mono, owner=None):
        run_id = self.history.start_run('be1', 'h', wall - 1, owner=owner)
        return [(t.old_state, t.new_state) for t in self.history.complete_run(
            run_id, wall, [fixtures.candidate('u1')], self.POLICY, {},
            fixtures.no_events, monotonic=mono)]

    def suspected_seconds(self):
        [row] = self.history._read(
            api.FINDINGS.select(), lambda row: row.suspected_seconds)
        return row

    def test_a_jump_forward_confirms_nothing(self):
        self.assertEqual([(None, S.SUSPECTED)], self.run_pass(T0, 100.0))
        # An hour on the wall clock, ten seconds really.
        self.assertEqual([], self.run_pass(T0 + 3600, 110.0))
        self.assertIn('the wall clock moved 3600.0 s in 10.0 s',
                      self.log.output)
        self.assertEqual(10.0, self.suspected_seconds())
        self.assertEqual([], self.run_pass(T0 + 3610, 120.0))
        self.assertEqual([], self.run_pass(T0 + 4180, 690.0))
        self.assertEqual([(S.SUSPECTED, S.CONFIRMED)],
                         self.run_pass(T0 + 4190, 700.0))

    def test_a_jump_back_does_not_delay_confirmation(self):
        self.run_pass(T0, 100.0)
        self.assertEqual([], self.run_pass(T0 - 3600, 400.0))
        self.assertIn('the wall clock moved -3600.0 s in 300.0 s',
                      self.log.output)
        # 600 s of grace really passed: confirmed although the wall clock
        # says the finding was first seen in the future.
        self.assertEqual([(S.SUSPECTED, S.CONFIRMED)],
                         self.run_pass(T0 - 3300, 700.0))

    def test_slew_within_tolerance_is_no_jump(self):
        self.run_pass(T0, 100.0)
        self.assertEqual([(S.SUSPECTED, S.CONFIRMED)],
                         self.run_pass(T0 + 601.5, 700.0))
        self.assertNotIn('clock', self.log.output)

    def test_without_a_shared_monotonic_clock_the_wall_must_go_on(self):
        """Another host or boot: only the wall clock, which must not go
        back.
        """
        other = ownership.Owner('other-host', 1, 'boot-b:1.00')
        self.run_pass(T0, 100.0, owner=other)
        self.assertEqual([], self.run_pass(T0 - 10, 5000.0))
        self.assertIn('the wall clock went back 10.0 s', self.log.output)
        self.assertEqual(0.0, self.suspected_seconds())
        self.assertEqual([], self.run_pass(T0 + 500, 5510.0))
        self.assertEqual(510.0, self.suspected_seconds())
        self.assertEqual([(S.SUSPECTED, S.CONFIRMED)],
                         self.run_pass(T0 + 590, 5600.0))

    def test_no_grace_needs_no_clock(self):
        self.POLICY = api.LifecyclePolicy(2, 0)
        self.run_pass(T0, 100.0)
        self.assertEqual([(S.SUSPECTED, S.CONFIRMED)],
                         self.run_pass(T0 + 3600, 101.0))
