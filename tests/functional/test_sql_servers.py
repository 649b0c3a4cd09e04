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

"""The operator's path on real PostgreSQL and MariaDB servers.

``db sync`` from empty to head, then the daemon's pass (``check``) against a
real cinder-api, recorded in and read back from each database.
"""

import json
import time

import fixtures
from oslotest import base
import sqlalchemy as sa
import yaml

from reconciler import history

from tests.functional import fixtures as local_fixtures
from tests.functional import test_manage
from tests import servers


class PipelineOnMariaDB(base.BaseTestCase):

    SERVER = servers.MariaDB

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(180, gentle=True))
        self.url = servers.database(self.SERVER, self)
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            test_manage.CONF, database=self.url))

    def findings(self, state):
        return sorted((f['kind'], f['resource_type'], f['resource_id'])
                      for f in json.loads(self.demo.manage(
                          'findings', 'list', '--state', state, '--format',
                          'json').stdout))

    def test_sync_and_two_passes(self):
        self.assertEqual('empty', self.demo.manage('db', 'version')
                         .stdout.strip())
        self.demo.manage('db', 'sync')
        self.assertNotEqual('empty', self.demo.manage('db', 'version')
                            .stdout.strip())
        # reconciler_sightings = 2: suspected, then confirmed.
        first = self.demo.manage('check', '--format', 'json')
        self.assertEqual(test_manage.PLANTED, self.findings('suspected'))
        [second] = json.loads(self.demo.manage(
            'check', '--format', 'json').stdout)
        self.assertEqual('ok', second['status'])
        self.assertEqual(2, second['run_id'])
        self.assertEqual(test_manage.PLANTED, self.findings('confirmed'))
        self.assertEqual([], self.findings('suspected'))
        self.assertNotIn('openstack_citest:', first.stdout + first.stderr)

    def test_operations_queries(self):
        """Dry run, runs, findings show, purge and metrics on this server."""
        self.demo.manage('db', 'sync')
        self.demo.manage('check')
        self.demo.manage('check')
        [dry] = json.loads(self.demo.manage(
            'check', '--dry-run', '--format', 'json').stdout)
        self.assertEqual(('ok', []), (dry['status'], dry['transitions']))
        runs = json.loads(self.demo.manage('runs', 'list', '--format',
                                           'json').stdout)
        self.assertEqual([2, 1], [r['id'] for r in runs])
        story = json.loads(self.demo.manage('findings', 'show', '1',
                                            '--format', 'json').stdout)
        self.assertEqual(2, story['seen_by'])
        self.assertIn('Purged 0 runs', self.demo.manage(
            'db', 'purge', '--age-in-days', '1').stdout)
        store = history.History(self.url)
        self.addCleanup(store.close)
        snap = store.snapshot()
        self.assertEqual(len(test_manage.PLANTED),
                         sum(snap.findings.values()))
        self.assertEqual({'fake1'}, set(snap.last_ok))
        self.assertLess(abs(time.time() - snap.last_ok['fake1']), 120)
        self.assertEqual((0, 0, None), (snap.outbox_depth,
                                        snap.outbox_undelivered,
                                        snap.outbox_oldest))

    def test_odd_array_names_never_block_the_backend(self):
        # Names an array may return that no column takes as they are.
        odd = ['x' * 300, 'x' * 300 + 'y', 'nul\x00byte', 'emoji-\U0001f4be',
               'lone-\udc80-surrogate']
        with open(self.demo.array) as f:
            array = yaml.safe_load(f)
        pool = array['volumes'][0]['pool']
        array['volumes'] += [{'name': n, 'pool': pool, 'size': 1}
                             for n in odd]
        with open(self.demo.array, 'w') as f:
            json.dump(array, f)   # ASCII, with \u escapes for the odd ones
        # Six new foreign objects on a small backend trip the suspect cap,
        # which this test is not about.
        self.demo.conf_text = self.demo.conf_text.replace(
            '[fake1]\n', '[fake1]\nreconciler_max_suspect_percent = 100\n')
        self.demo.write_conf()
        self.demo.manage('db', 'sync')
        for _ in range(2):
            result = self.demo.manage('check', '--format', 'json',
                                      check=False)
            [report] = json.loads(result.stdout)
            self.assertEqual('ok', report['status'], result.stderr)
        foreign = [f for f in self.findings('confirmed') if f[0] == 'foreign']
        # One finding per name, the planted one included, none merged.
        self.assertEqual(len(odd) + 1, len(foreign), foreign)
        self.assertEqual(test_manage.PLANTED, [
            f for f in self.findings('confirmed')
            if f[0] != 'foreign' or f[2] == 'backup-lun-7'])
        stored = {f[2] for f in foreign}
        self.assertIn('emoji-\U0001f4be', stored)  # 4-byte UTF-8 as it is
        self.assertTrue(all(len(name) <= 255 and '\x00' not in name
                            for name in stored))


class PipelineOnMariaDBUtf8(PipelineOnMariaDB):
    """A URL asking for MySQL's 3-byte utf8: utf8mb4 is used anyway."""

    def setUp(self):
        super().setUp()
        url = sa.engine.make_url(self.url).update_query_dict(
            {'charset': 'utf8'})
        self.demo.write_conf(database=url.render_as_string(
            hide_password=False))


class PipelineOnPostgreSQL(PipelineOnMariaDB):

    SERVER = servers.PostgreSQL


class PipelineOnSQLite(PipelineOnMariaDB):

    def setUp(self):
        base.BaseTestCase.setUp(self)
        self.useFixture(fixtures.Timeout(180, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            test_manage.CONF))
        self.url = 'sqlite:///%s/r.sqlite' % self.demo.tmp
