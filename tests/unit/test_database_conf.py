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

"""``[reconciler_database]``: nothing taken from Cinder's ``[database]``."""

import os
import textwrap

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_db import options as db_options
from oslotest import base
import sqlalchemy as sa

from reconciler import conf as reconciler_conf
from reconciler.conf import database as database_conf
from reconciler import exception
from reconciler import history

# Cinder's [database] as kolla writes it: a replica and endless retries.
CINDER_DATABASE = """
[database]
connection = mysql+pymysql://cinder:pw@127.0.0.1:1/cinder
slave_connection = mysql+pymysql://cinder:pw@127.0.0.1:2/cinder
max_retries = -1
retry_interval = 1
max_pool_size = 77
"""


def cinder_schema(url):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in ('volumes', 'snapshots', 'volume_attachment',
                      'services'):
            conn.execute(sa.text('CREATE TABLE %s (id TEXT)' % table))
    engine.dispose()


class DatabaseConfTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.logger = self.useFixture(fixtures.FakeLogger())

    def load(self, *texts):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        argv = []
        for i, text in enumerate(texts):
            path = os.path.join(self.tmp, '%d.conf' % i)
            with open(path, 'w') as f:
                f.write(textwrap.dedent(text))
            argv += ['--config-file', path]
        conf(argv, project='x', default_config_files=[],
             default_config_dirs=[])
        return conf

    def test_nothing_but_our_group_is_used(self):
        conf = self.load(CINDER_DATABASE, """
            [reconciler_database]
            connection = sqlite:///%s/r.sqlite
            """ % self.tmp)
        connection, options = database_conf.engine_options(conf)
        self.assertEqual('sqlite:///%s/r.sqlite' % self.tmp, connection)
        self.assertNotIn('slave_connection', options)
        self.assertEqual(10, options['max_retries'])
        self.assertEqual(10, options['retry_interval'])
        self.assertEqual(5, options['max_pool_size'])
        self.assertEqual('', options['connection_parameters'])

    def test_database_connection_is_a_deprecated_fallback(self):
        # oslo.log says a deprecation once per process: forget earlier tests'.
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_log.versionutils._deprecated_messages_sent', {}))
        url = 'sqlite:///%s/r.sqlite' % self.tmp
        conf = self.load(CINDER_DATABASE.replace(
            'mysql+pymysql://cinder:pw@127.0.0.1:1/cinder', url))
        connection, options = database_conf.engine_options(conf)
        self.assertEqual(url, connection)
        # Only the connection: not Cinder's replica nor its retries.
        self.assertNotIn('slave_connection', options)
        self.assertEqual(10, options['max_retries'])
        self.assertIn('deprecated', self.logger.output)

    def test_default_without_any_connection(self):
        connection, _options = database_conf.engine_options(self.load(''))
        self.assertEqual(database_conf.DEFAULT_CONNECTION, connection)

    def test_endless_retries_are_refused(self):
        conf = self.load("""
            [reconciler_database]
            max_retries = -1
            """)
        self.assertRaises(cfg.ConfigFileValueError,
                          database_conf.engine_options, conf)

    def test_connect_timeout_added_for_network_databases(self):
        def parameters(url, given=''):
            conf = self.load("""
                [reconciler_database]
                connection = %s
                connect_timeout = 7
                connection_parameters = %s
                """ % (url, given))
            return database_conf.engine_options(conf)[1][
                'connection_parameters']

        self.assertEqual('connect_timeout=7',
                         parameters('mysql+pymysql://u:p@127.0.0.1/r'))
        self.assertEqual('charset=utf8mb4&connect_timeout=7', parameters(
            'mysql+pymysql://u:p@127.0.0.1/r', 'charset=utf8mb4'))
        self.assertEqual('connect_timeout=7',
                         parameters('postgresql+psycopg2://u:p@127.0.0.1/r'))
        # Given by the operator: kept as it is.
        self.assertEqual('', parameters(
            'mysql+pymysql://u:p@127.0.0.1/r?connect_timeout=3'))
        self.assertEqual('connect_timeout=3', parameters(
            'postgresql://u:p@127.0.0.1/r', 'connect_timeout=3'))
        self.assertEqual('', parameters('sqlite:///%s/r.sqlite' % self.tmp))

    def test_cinder_schema_refused_before_any_write(self):
        """Even without check_current, the first transaction refuses."""
        url = 'sqlite:///%s/cinder.sqlite' % self.tmp
        cinder_schema(url)
        conf = self.load("""
            [reconciler_database]
            connection = %s
            """ % url)
        store = history.History.from_conf(conf)
        e = self.assertRaises(exception.ConfigError, store.start_run,
                              'b', 'h', 0.0)
        self.assertIn('[reconciler_database] connection', str(e))
        self.assertRaises(exception.ConfigError, store.findings)
        engine = sa.create_engine(url)
        self.assertNotIn('runs', sa.inspect(engine).get_table_names())
        engine.dispose()


class GlobalDatabaseGroupTest(base.BaseTestCase):
    """oslo.db fills what it is not given from cfg.CONF's [database]."""

    def test_cinders_replica_and_retries_are_never_used(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        replica = 'sqlite:///%s/cinder.sqlite' % tmp
        cinder_schema(replica)
        values = self.useFixture(config_fixture.Config(cfg.CONF))
        cfg.CONF.register_opts(db_options.database_opts, 'database')
        values.config(group='database', slave_connection=replica,
                      max_retries=-1)
        store = history.History('sqlite:///%s/r.sqlite' % tmp)
        store.sync()
        self.assertEqual(1, store.start_run('b', 'h', 0.0))
        self.assertEqual(1, len(store.runs()))
        facade = store._facade
        self.assertIs(facade.writer.get_engine(), facade.reader.get_engine())
