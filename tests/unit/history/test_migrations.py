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

"""The migrations build exactly the models' schema."""

import os

from alembic import script
import fixtures
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import test_fixtures
from oslo_db.sqlalchemy import test_migrations
from oslotest import base
import sqlalchemy as sa

from reconciler import exception
from reconciler.history import api
from reconciler.history import migration
from reconciler.history import models
from reconciler import model
from tests import servers


class _ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):
    """An empty database upgraded to head has exactly the models' schema."""

    def db_sync(self, engine):
        migration.upgrade(engine)

    def get_metadata(self):
        return models.Base.metadata

    def include_object(self, object_, name, type_, reflected, compare_to):
        return not (type_ == 'table' and name == migration.VERSION_TABLE)


class ModelsMigrationsSyncSQLite(test_fixtures.OpportunisticDBTestMixin,
                                 _ModelsMigrationsSync, base.BaseTestCase):

    def get_engine(self):
        return enginefacade.writer.get_engine()


class ModelsMigrationsSyncMySQL(_ModelsMigrationsSync, base.BaseTestCase):
    """On a real MariaDB server (tests/servers.py)."""

    SERVER = servers.MariaDB

    def setUp(self):
        super().setUp()
        self.engine = sa.create_engine(servers.database(self.SERVER, self))
        self.addCleanup(self.engine.dispose)

    def get_engine(self):
        return self.engine


class ModelsMigrationsSyncPostgreSQL(ModelsMigrationsSyncMySQL):
    SERVER = servers.PostgreSQL


class MigrationTest(base.BaseTestCase):

    def test_single_base_and_head(self):
        scripts = script.ScriptDirectory.from_config(migration._config())
        self.assertEqual(1, len(scripts.get_bases()))
        self.assertEqual(1, len(scripts.get_heads()))

    def test_sync_and_check_current(self):
        url = 'sqlite:///' + os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'h.sqlite')
        history = api.History(url)
        error = self.assertRaises(exception.ReconcilerError,
                                  history.check_current)
        self.assertIn('run "cinder-reconciler-manage db sync"', str(error))
        self.assertIsNone(migration.current(url))
        history.sync()
        history.check_current()
        self.assertEqual(migration.head(), migration.current(url))
        history.sync()  # idempotent

    def test_a_count_column_per_kind(self):
        self.assertLessEqual(
            {f'{kind}_count' for kind in model.FindingKind},
            set(models.Run.__table__.c.keys()))


class CinderDatabaseGuardTest(base.BaseTestCase):
    """cinder.conf's [database] must never receive our tables."""

    def test_refuses_a_database_holding_cinders_tables(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'c.db')
        url = 'sqlite:///%s' % path
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in ('volumes', 'snapshots', 'volume_attachment',
                          'services'):
                conn.execute(sa.text('CREATE TABLE %s (id TEXT)' % table))
        engine.dispose()
        store = api.History(url)
        e = self.assertRaises(exception.ConfigError, store.sync)
        self.assertIn("Cinder's own database", str(e))
        self.assertRaises(exception.ConfigError, store.check_current)
        engine = sa.create_engine(url)
        self.assertNotIn(migration.VERSION_TABLE,
                         sa.inspect(engine).get_table_names())
        engine.dispose()
