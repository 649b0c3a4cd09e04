"""The operator's path on real PostgreSQL and MariaDB servers.

``db sync`` from empty to head, then the daemon's pass (``check``) against a
real cinder-api, recorded in and read back from each database.
"""

import json

import fixtures
from oslotest import base

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


class PipelineOnPostgreSQL(PipelineOnMariaDB):

    SERVER = servers.PostgreSQL
