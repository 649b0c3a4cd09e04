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

"""The v1 resources in-process: what each persona sees and may do."""

from oslotest import base

from tests.unit.api import fixtures


class FindingsTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(fixtures.Api())
        self.findings = self.api.seed(6)

    def get(self, persona, path, status=200, **headers):
        response = self.api.request(persona, path, **headers)
        self.assertEqual(status, response.status_int, response.body)
        return response.json_body if response.body else None

    def ids(self, body):
        return [f['resource_id'] for f in body['findings']]

    def test_cloud_readers_list_everything_with_evidence(self):
        for persona in ('project_admin', 'system_admin', 'system_reader'):
            body = self.get(persona, '/findings')
            self.assertEqual(['u00', 'u01', 'u02', 'u03', 'u04', 'u05',
                              'd1'], self.ids(body))
            self.assertEqual({'size': 1}, body['findings'][1]['details'])
            self.assertEqual('be1', body['findings'][1]['backend'])

    def test_project_readers_list_their_project_without_infrastructure(self):
        body = self.get('project_reader', '/findings')
        self.assertEqual(['u00', 'u03', 'd1'], self.ids(body))
        for key in ('backend', 'array_name', 'details'):
            self.assertNotIn(key, body['findings'][0])
        self.assertEqual(['u01', 'u04'],
                         self.ids(self.get('other_reader', '/findings')))
        self.get('no_role', '/findings', 403)
        self.get('project_reader', '/findings?backend=be1', 403)
        self.get('project_reader', '/findings?host=compute-1', 403)
        self.get('project_reader', '/findings?project_id=p2', 403)
        self.get('project_reader', '/findings?sort=backend', 400)
        self.assertEqual(['u00', 'u03', 'd1'], self.ids(
            self.get('project_reader', '/findings?project_id=p1')))

    def test_filters(self):
        self.assertEqual(['d1'], self.ids(self.get(
            'system_reader', '/findings?host=compute-1')))
        self.assertEqual(['u01', 'u04'], self.ids(self.get(
            'system_reader', '/findings?backend=be1&project_id=p2&sort='
                             'first_seen:asc,resource_id:desc'))[::-1])
        self.assertEqual(['d1'], self.ids(self.get(
            'system_reader', '/findings?kind=leftover_device&state='
                             'confirmed')))
        self.assertEqual([], self.ids(self.get(
            'system_reader', '/findings?since=2030-01-01T00:00:00Z')))
        for bad in ('kind=nope', 'state=open', 'limit=0', 'marker=x',
                    'since=yesterday', 'sort=id:up', 'colour=red',
                    'backend=be1&host=h'):
            self.get('system_reader', '/findings?' + bad, 400)

    def test_pages_follow_the_next_link(self):
        seen, path = [], '/findings?sort=resource_id:desc&limit=3'
        while path:
            body = self.get('system_reader', path)
            seen += self.ids(body)
            links = body.get('findings_links')
            path = links and links[0]['href'].split('localhost', 1)[1]
        self.assertEqual(['u05', 'u04', 'u03', 'u02', 'u01', 'u00', 'd1'],
                         seen)
        self.get('system_reader', '/findings?marker=999', 404)

    def test_show_tells_the_story_to_whom_may_know(self):
        u0 = self.findings[0].id
        story = self.get('system_reader', '/findings/%d' % u0)['finding']
        self.assertEqual((1, ['suspected', 'confirmed'], {'size': 0}),
                         (story['seen_by'], [t['state'] for t in
                                             story['transitions']],
                          story['details']))
        mine = self.get('project_reader', '/findings/%d' % u0)['finding']
        self.assertNotIn('details', mine)
        self.assertNotIn('newest_sightings', mine)
        self.get('other_reader', '/findings/%d' % u0, 404)
        self.get('no_role', '/findings/%d' % u0, 403)
        # u02 has no known project: cloud readers only.
        self.get('project_reader', '/findings/%d' % self.findings[2].id, 404)
        self.get('system_reader', '/findings/999', 404)

    def test_ignore_and_unignore_need_an_admin_and_are_audited(self):
        u0 = self.findings[0].id
        path = '/findings/%d/ignore' % u0
        body = {'reason': 'kept for the DR test',
                'until': '2030-01-01T00:00:00'}
        for persona in ('project_member', 'project_reader',
                        'system_reader'):
            response = self.api.request(persona, path, 'PUT', body)
            self.assertEqual(403, response.status_int, persona)
        response = self.api.request('project_admin', path, 'PUT', body)
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(('kept for the DR test', '2030-01-01 00:00:00Z'),
                         (response.json_body['finding']['ignored'],
                          response.json_body['finding']['ignored_until']))
        self.assertEqual(403, self.api.request(
            'project_member', path, 'DELETE').status_int)
        self.assertEqual(204, self.api.request(
            'system_admin', path, 'DELETE').status_int)
        actions = self.get('system_reader', '/actions')['actions']
        self.assertEqual(
            [('unignore', 'system_admin (u-system_admin), project None '
                          '(system scope)'),
             ('ignore', 'project_admin (u-project_admin), project None '
                        '(p-admin)')],
            [(a['action'], a['actor'].split(', cinder-reconciler-api')[0])
             for a in actions])
        for bad in ({}, {'reason': ''}, {'reason': 'x', 'until': 'soon'},
                    {'reason': 'x', 'colour': 'red'}):
            self.assertEqual(400, self.api.request(
                'project_admin', path, 'PUT', bad).status_int, bad)


class RecordsTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(fixtures.Api())
        self.api.seed(3)

    def test_cloud_readers_only(self):
        for path in ('/runs', '/actions', '/backends'):
            for persona, status in (('system_reader', 200),
                                    ('project_admin', 200),
                                    ('project_member', 403),
                                    ('project_reader', 403)):
                self.assertEqual(status, self.api.request(
                    persona, path).status_int, (path, persona))

    def test_runs_and_backends(self):
        runs = self.api.request('system_reader', '/runs?limit=1').json_body
        self.assertEqual(['host:compute-1'],
                         [r['backend'] for r in runs['runs']])
        self.assertIn('marker=', runs['runs_links'][0]['href'])
        backends = self.api.request('system_reader', '/backends').json_body
        self.assertEqual(
            [('be1', 3, 'ok'), ('host:compute-1', 1, 'ok')],
            [(b['backend'], b['open_total'], b['last_run']['status'])
             for b in backends['backends']])

    def test_microversions(self):
        response = self.api.request('system_reader', '/runs', **{
            'OpenStack-API-Version': 'reconciler 1.0'})
        self.assertEqual('reconciler 1.0',
                         response.headers['OpenStack-API-Version'])
        response = self.api.request('system_reader', '/runs', **{
            'OpenStack-API-Version': 'reconciler 1.99'})
        self.assertEqual(406, response.status_int)
        self.assertEqual(406, response.json_body['errors'][0]['status'])
        response = self.api.request('system_reader', '/runs', **{
            'OpenStack-API-Version': 'reconciler latest'})
        self.assertEqual(200, response.status_int)

    def test_method_not_allowed(self):
        response = self.api.request('system_admin', '/runs', 'DELETE')
        self.assertEqual((405, 'GET'),
                         (response.status_int, response.headers['Allow']))
