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

"""What the CLI and the API read: filters, sorting, marker pages, the
ignore audit and the shared views (reconciler.history.views).
"""

from oslotest import base

from reconciler import exception
from reconciler.history import api
from reconciler.history import views
from reconciler import model
from tests.unit.history import fixtures

K = model.FindingKind
T0 = 1_700_000_000.0


class QueriesTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history

    def complete(self, backend, now, candidates):
        run_id = self.history.start_run(backend, 'host-a', now - 1)
        self.history.complete_run(run_id, now, candidates,
                                  api.LifecyclePolicy(2, 0), {},
                                  fixtures.no_events)
        return run_id

    def seed(self):
        """be1: seven array-only volumes (p1: 0-2, p2: 3-4, none: 5-6),
        the first five seen twice (confirmed); be2: one Cinder-only.
        """
        cands = [fixtures.candidate(
            'u%d' % i, project_id='p1' if i < 3 else 'p2' if i < 5 else None)
            for i in range(7)]
        self.complete('be1', T0, cands[:5])
        self.complete('be1', T0 + 10, cands)
        self.complete('be2', T0 + 20, [fixtures.candidate(
            'c1', kind=K.CINDER_ONLY, project_id='p1')])

    def ids(self, **kwargs):
        return [f.resource_id for f in self.history.findings(**kwargs)]

    def test_filters(self):
        self.seed()
        self.assertEqual(['u0', 'u1', 'u2', 'c1'], self.ids(project_id='p1'))
        self.assertEqual(['c1'], self.ids(kind=K.CINDER_ONLY))
        self.assertEqual(['u5', 'u6'], self.ids(
            backend='be1', state=model.FindingState.SUSPECTED))
        self.assertEqual(['u4'], self.ids(resource_id='u4'))
        self.assertEqual(['u5', 'u6', 'c1'], self.ids(since=T0 + 10))
        self.assertEqual([], self.ids(backend='be3'))

    def test_marker_pages_follow_any_sort(self):
        self.seed()
        sort = [('state', 'desc'), ('resource_id', 'desc')]
        everything = self.ids(sort=sort)
        self.assertEqual(['u6', 'u5', 'c1', 'u4', 'u3', 'u2', 'u1', 'u0'],
                         everything)
        pages, marker = [], None
        while True:
            page = self.history.findings(sort=sort, limit=3, marker=marker)
            if not page:
                break
            pages.append([f.resource_id for f in page])
            marker = page[-1].id
        self.assertEqual([everything[0:3], everything[3:6], everything[6:]],
                         pages)

    def test_a_marker_outside_the_filters_is_not_found(self):
        self.seed()
        [c1] = self.history.findings(resource_id='c1')
        self.assertRaises(exception.NotFound, self.history.findings,
                          project_id='p2', marker=c1.id)
        self.assertRaises(exception.NotFound, self.history.findings,
                          marker=10 ** 6)

    def test_unknown_sort_keys_are_refused(self):
        self.assertRaises(ValueError, self.history.findings,
                          sort=[('details', 'asc')])
        self.assertRaises(ValueError, self.history.findings,
                          sort=[('id', 'up')])

    def test_runs_and_actions_pages(self):
        self.seed()
        first = self.history.runs(limit=2)
        rest = self.history.runs(limit=2, marker=first[-1].id)
        self.assertEqual(['be2', 'be1', 'be1'],
                         [r.backend for r in first + rest])
        self.assertGreater(first[0].id, first[1].id)
        ids = [f.id for f in self.history.findings()][:3]
        for i in ids:
            self.history.ignore(i, 'kept', 'alice')
        newest = self.history.actions(limit=2)
        older = self.history.actions(limit=2, marker=newest[-1].id)
        self.assertEqual(ids[::-1], [a.finding_id for a in newest + older])

    def test_ignore_and_unignore_are_audited_with_the_actor(self):
        self.seed()
        [f] = self.history.findings(resource_id='u1')
        self.history.ignore(f.id, 'DR copy', 'alice (project p1)',
                            until=T0 + 3600, now=T0 + 30)
        self.history.unignore(f.id, 'bob', now=T0 + 40)
        unignore, ignore = self.history.actions(finding_id=f.id)
        self.assertEqual(
            [('ignore', 'alice (project p1)', 'done', True, 'be1',
              {'reason': 'DR copy', 'until': T0 + 3600}, T0 + 30),
             ('unignore', 'bob', 'done', True, 'be1', {}, T0 + 40)],
            [(a.action, a.actor, a.result, a.applied, a.backend, a.params,
              a.started_at) for a in (ignore, unignore)])
        self.assertIsNone(self.history.finding(f.id).ignored_reason)
        self.assertRaises(exception.NotFound, self.history.ignore, 10 ** 6,
                          'x', 'alice')
        self.assertEqual(2, len(self.history.actions()))

    def test_views_mask_secrets_in_free_text(self):
        self.complete('be1', T0, [fixtures.candidate(
            'u1', details=(('error', 'GET /api/v1/credentials/0-abc-1 '
                                     'password=hunter2'),))])
        [f] = self.history.findings()
        shown = views.finding_dict(f)
        self.assertNotIn('0-abc-1', str(shown))
        self.assertNotIn('hunter2', str(shown))
        self.assertIn('/credentials/***', shown['details']['error'])

    def test_story_and_backend_summaries(self):
        self.seed()
        [f] = self.history.findings(resource_id='u0')
        story = views.finding_story(self.history, f)
        self.assertEqual(2, story['seen_by'])
        self.assertEqual(['suspected', 'confirmed'],
                         [t['state'] for t in story['transitions']])
        be1, be2 = views.backend_summaries(self.history)
        self.assertEqual(('be1', {'array_only': {'confirmed': 5,
                                                 'suspected': 2}}, 7),
                         (be1['backend'], be1['open_findings'],
                          be1['open_total']))
        self.assertEqual('ok', be1['last_run']['status'])
        self.assertEqual(views.when(T0 + 20), be2['last_ok_at'])
