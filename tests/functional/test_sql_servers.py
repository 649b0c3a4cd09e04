"""The operator's path on real PostgreSQL and MariaDB servers.

``db sync`` from empty to head, then the daemon's pass (``check``) against a
real cinder-api, recorded in and read back from each database.
"""

import json
import time

import fixtures
from oslotest import base

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


class PipelineOnPostgreSQL(PipelineOnMariaDB):

    SERVER = servers.PostgreSQL
