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

"""Schema migrations of the history (alembic, configured in code).

The alembic version table has its own name so the schema can be shared with
other alembic-managed tools.
"""

import contextlib

from alembic import command
from alembic import config
from alembic import migration
from alembic import script
import sqlalchemy as sa

from reconciler import exception

VERSION_TABLE = 'reconciler_alembic_version'


def _config():
    cfg = config.Config()
    cfg.set_main_option('script_location', 'reconciler.history:migrations')
    return cfg


@contextlib.contextmanager
def _connection(engine_or_url):
    if isinstance(engine_or_url, sa.engine.Engine):
        engine = engine_or_url
    else:
        engine = sa.create_engine(engine_or_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if engine is not engine_or_url:
            engine.dispose()


# Tables only Cinder's own database has: never create ours beside them.
_CINDER_TABLES = {'volumes', 'snapshots', 'volume_attachment', 'services'}


def refuse_cinder_database(connection):
    if _CINDER_TABLES <= set(sa.inspect(connection).get_table_names()):
        raise exception.ConfigError(
            "[reconciler_database] connection points at Cinder's own "
            "database; give the reconciler a database of its own")


def upgrade(engine_or_url, revision='head'):
    cfg = _config()
    with _connection(engine_or_url) as connection:
        refuse_cinder_database(connection)
        cfg.attributes['connection'] = connection
        command.upgrade(cfg, revision)


def current(engine_or_url):
    """The schema's revision, or None for an empty database."""
    with _connection(engine_or_url) as connection:
        refuse_cinder_database(connection)
        context = migration.MigrationContext.configure(
            connection, opts={'version_table': VERSION_TABLE})
        return context.get_current_revision()


def head():
    return script.ScriptDirectory.from_config(_config()).get_current_head()
