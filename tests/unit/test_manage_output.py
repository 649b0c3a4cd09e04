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

"""The output of ``cinder-reconciler-manage``'s listings and records
(reconciler.cmd.output, cliff's formatters): every format parses, ``-c``
selects, ``--sort-column`` orders, ``--limit``/``--marker`` page in SQL.

The commands run in this process on a fresh ConfigOpts and a SQLite
history; one runs as the installed command, for its stderr.
"""

import csv
import io
import json
import os
import subprocess
import sys

import fixtures
from oslo_config import cfg
from oslotest import base
import sqlalchemy as sa
import yaml

from reconciler.cmd import manage
from reconciler.cmd import output
from reconciler import conf as reconciler_conf
from reconciler.history import api
from reconciler.history import views
from reconciler import model
from tests.unit.history import fixtures as history_fixtures

T0 = 1_700_000_000.0


class ManageOutputTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        store = self.useFixture(history_fixtures.History())
        self.history = store.history
        self.conf_file = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'reconciler.conf')
        with open(self.conf_file, 'w') as f:
            f.write('[DEFAULT]\nenabled_backends =\n'
                    '[reconciler_database]\nconnection = %s\n' % store.url)
        # be1: u0..u6 (u0..u4 confirmed, u5 and u6 suspected, u6 without
        # an array name); be2: c1, Cinder-only, suspected.
        cands = [history_fixtures.candidate('u%d' % i, details={'n': i})
                 for i in range(7)]
        cands[6] = history_fixtures.candidate('u6', array_name=None)
        self.complete('be1', T0, cands[:5])
        self.complete('be1', T0 + 10, cands)
        self.complete('be2', T0 + 20, [history_fixtures.candidate(
            'c1', kind=model.FindingKind.CINDER_ONLY)])

    def complete(self, backend, now, candidates):
        run_id = self.history.start_run(backend, 'host-a', now - 1)
        self.history.complete_run(run_id, now, candidates,
                                  api.LifecyclePolicy(2, 0), {},
                                  history_fixtures.no_events)

    def manage(self, *argv, status=0):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        manage.register_cli_opts(conf)
        conf(['--config-file', self.conf_file] + list(argv))
        out = self.useFixture(fixtures.MonkeyPatch('sys.stdout',
                                                   io.StringIO())).new_value
        err = self.useFixture(fixtures.MonkeyPatch('sys.stderr',
                                                   io.StringIO())).new_value
        self.assertEqual(status, manage.run(conf), err.getvalue())
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', sys.__stdout__))
        return (out if status == 0 else err).getvalue()

    def listed(self, *argv):
        return json.loads(self.manage('findings', 'list', *argv,
                                      '-f', 'json'))

    def test_every_format_parses_to_the_same_findings(self):
        rows = self.listed()
        self.assertEqual(['u%d' % i for i in range(7)] + ['c1'],
                         [r['resource_id'] for r in rows])
        # Machine formats name the fields as the REST API does.
        self.assertEqual([list(views.FINDING_FIELDS)] * 8,
                         [list(r) for r in rows])
        self.assertEqual({'n': 0}, rows[0]['details'])
        self.assertEqual(rows, yaml.safe_load(
            self.manage('findings', 'list', '-f', 'yaml')))
        from_csv = list(csv.DictReader(io.StringIO(
            self.manage('findings', 'list', '-f', 'csv'))))
        self.assertEqual([str(r['id']) for r in rows],
                         [r['id'] for r in from_csv])
        self.assertEqual({'n': 0}, json.loads(from_csv[0]['details']))
        self.assertEqual('', from_csv[6]['array_name'])
        self.assertEqual(
            ['%(id)s %(state)s' % r for r in rows],
            self.manage('findings', 'list', '-f', 'value', '-c', 'id',
                        '-c', 'state').splitlines())

    def test_a_table_titles_its_columns_as_the_openstack_command(self):
        table = self.manage('findings', 'list', '--backend', 'be2')
        header = [c.strip() for c in table.splitlines()[1].split('|')[1:-1]]
        self.assertEqual(['ID', 'Backend', 'Kind', 'Resource Type',
                          'Resource ID', 'Array Name', 'State', 'First Seen',
                          'Sightings', 'Ignored'], header)
        self.assertIn('| cinder_only ', table)
        # An empty value is "-"; -c picks any field, by name or title.
        table = self.manage('findings', 'list', '--state', 'suspected',
                            '-c', 'Resource ID', '-c', 'array_name',
                            '-c', 'details')
        self.assertRegex(table, r'\| Resource ID +\| Array Name +\| '
                                r'Details +\|')
        self.assertRegex(table, r'\| u6 +\| - +\| \{\} +\|')
        self.assertIn('{"n": 5}', table)
        self.assertEqual(('Resource ID', 'ID', 'WWID', 'Last OK At'),
                         tuple(output.title(k) for k in (
                             'resource_id', 'id', 'wwid', 'last_ok_at')))

    def test_columns_select_in_every_format(self):
        rows = self.listed('-c', 'resource_id', '-c', 'State', '-c', 'id')
        # In the listing's order, as cliff gives them.
        self.assertEqual([['id', 'resource_id', 'state']] * 8,
                         [list(r) for r in rows])
        self.assertEqual(
            'resource_id\nu0\n',
            self.manage('findings', 'list', '-f', 'csv', '-c',
                        'resource_id', '--limit', '1').replace('"', ''))
        error = self.manage('findings', 'list', '-c', 'nope', status=1)
        self.assertIn('no column nope; the columns are: id, backend', error)
        self.assertEqual(1, error.count('\n'))

    def test_sort_columns_order_the_rows(self):
        rows = self.listed('--sort-column', 'state', '--sort-column',
                           'Resource ID', '--sort-descending')
        self.assertEqual(['u6', 'u5', 'c1', 'u4', 'u3', 'u2', 'u1', 'u0'],
                         [r['resource_id'] for r in rows])
        rows = self.listed('--sort-column', 'array_name')
        self.assertEqual('u6', rows[-1]['resource_id'])  # empty values last
        self.assertIn('cannot sort by nope', self.manage(
            'findings', 'list', '--sort-column', 'nope', status=1))

    def pages(self, *argv, limit=3):
        """Every page of ``findings list *argv``, following the marker."""
        pages, marker = [], ()
        while True:
            page = [r['resource_id'] for r in self.listed(
                *argv, '--limit', str(limit), *marker)]
            pages.append(page)
            if len(page) < limit:
                return pages
            marker = ('--marker', str(self.by_resource[page[-1]]))

    def test_limit_and_marker_page_in_sql_without_gap_or_overlap(self):
        self.by_resource = {r['resource_id']: r['id'] for r in self.listed()}
        selects = []

        def seen(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith('SELECT'):
                selects.append(statement)
        sa.event.listen(sa.engine.Engine, 'before_cursor_execute', seen)
        self.addCleanup(sa.event.remove, sa.engine.Engine,
                        'before_cursor_execute', seen)
        pages = self.pages()
        self.assertEqual([['u0', 'u1', 'u2'], ['u3', 'u4', 'u5'],
                          ['u6', 'c1']], pages)
        # The history cuts the page: LIMIT in the query, no slicing here.
        self.assertTrue(any('LIMIT' in s.upper() and 'findings' in s
                            for s in selects))
        # Newest first, and in any other order of the history's.
        self.assertEqual(['c1', 'u6', 'u5', 'u4', 'u3', 'u2', 'u1', 'u0'],
                         sum(self.pages('--sort', 'id:desc'), []))
        by_state = sum(self.pages('--sort', 'state:desc,resource_id',
                                  limit=2), [])
        self.assertEqual(['c1', 'u5', 'u6', 'u0', 'u1', 'u2', 'u3', 'u4'],
                         by_state)
        self.assertEqual(['u5', 'u6', 'c1'], sum(self.pages(
            '--state', 'suspected', limit=1), []))
        self.assertIn('no finding 999 (the marker)', self.manage(
            'findings', 'list', '--marker', '999', status=1))
        self.assertIn('--sort takes KEY[:asc|desc]', self.manage(
            'findings', 'list', '--sort', 'details', status=1))
        self.assertIn('--limit must be at least 1', self.manage(
            'findings', 'list', '--limit', '0', status=1))

    def test_runs_and_actions_page_newest_first(self):
        ids = [r['id'] for r in json.loads(
            self.manage('runs', 'list', '-f', 'json'))]
        self.assertEqual([3, 2, 1], ids)
        page = json.loads(self.manage('runs', 'list', '-f', 'json',
                                      '--limit', '2', '--marker', '3'))
        self.assertEqual([2, 1], [r['id'] for r in page])
        self.assertEqual([list(views.RUN_FIELDS) + ['stale']] * 2,
                         [list(r) for r in page])
        for finding_id in (1, 2, 3):
            self.history.ignore(finding_id, 'test', 'me')
        actions = yaml.safe_load(self.manage(
            'actions', 'list', '-f', 'yaml', '--limit', '2'))
        self.assertEqual([3, 2], [a['finding_id'] for a in actions])
        # (yaml sorts a mapping's keys, as cliff dumps it)
        self.assertEqual(sorted(views.ACTION_FIELDS), list(actions[0]))
        self.assertEqual([1], [a['finding_id'] for a in yaml.safe_load(
            self.manage('actions', 'list', '-f', 'yaml', '--marker',
                        str(actions[-1]['id'])))])

    def test_show_in_every_format(self):
        story = json.loads(self.manage('findings', 'show', '1', '-f',
                                       'json'))
        self.assertEqual(('u0', 'confirmed', 2),
                         (story['resource_id'], story['state'],
                          story['seen_by']))
        self.assertEqual(story, yaml.safe_load(
            self.manage('findings', 'show', '1', '-f', 'yaml')))
        [row] = csv.DictReader(io.StringIO(
            self.manage('findings', 'show', '1', '-f', 'csv')))
        self.assertEqual('u0', row['resource_id'])
        self.assertEqual(story['transitions'],
                         json.loads(row['transitions']))
        self.assertEqual('u0\nconfirmed\n', self.manage(
            'findings', 'show', '1', '-f', 'value', '-c', 'resource_id',
            '-c', 'state'))
        self.assertIn('state="confirmed"', self.manage(
            'findings', 'show', '1', '-f', 'shell'))
        table = self.manage('findings', 'show', '1')
        self.assertRegex(table, r'\| Field +\| Value +\|')
        self.assertRegex(table, r'\| resource_id +\| u0 +\|')
        self.assertIn('no finding 99', self.manage('findings', 'show', '99',
                                                   status=1))

    def test_the_installed_command_prints_no_library_warning(self):
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable),
                          'cinder-reconciler-manage'), '--config-file',
             self.conf_file, 'findings', 'list', '-f', 'yaml', '-c', 'id'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(list(range(1, 9)),
                         [r['id'] for r in yaml.safe_load(result.stdout)])
        self.assertNotIn('Warning', result.stderr)
        self.assertNotIn('warn', result.stderr.lower())


class PluginTest(base.BaseTestCase):

    def test_the_plugin_knows_every_kind_of_finding(self):
        from reconcilerclient.osc.v1 import orphans
        self.assertEqual([k.value for k in model.FindingKind],
                         list(orphans.KINDS))
