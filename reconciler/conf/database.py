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

"""``[reconciler_database]``: the history's own database (oslo.db options).

The daemon reads cinder.conf, whose ``[database]`` group is Cinder's: its
``slave_connection`` is a Cinder-schema replica and ``max_retries = -1``
retries forever. So, as placement does with ``[placement_database]``, the
reconciler has a group of its own and inherits nothing from ``[database]``
but, as a deprecated fallback, its ``connection`` (which the history refuses
when it holds Cinder's schema). There is no replica connection: the history
reads what it writes.

Every connect is bounded: ``max_retries`` cannot be -1 (forever), and
MySQL/PostgreSQL connects time out after ``connect_timeout`` seconds.
"""

import copy
import urllib.parse

from oslo_config import cfg
from oslo_db import options as db_options
import sqlalchemy as sa

from reconciler.conf import bounded

GROUP = cfg.OptGroup(
    'reconciler_database',
    help="The reconciler's own history database (never Cinder's).")

DEFAULT_CONNECTION = 'sqlite:////var/lib/cinder-reconciler/reconciler.sqlite'

# oslo.db options that make sense for one read-write engine; the replica,
# asyncio and DB-API retry options are left out on purpose.
_LIBRARY_OPTS = ('connection_parameters', 'sqlite_synchronous',
                 'mysql_sql_mode', 'mysql_wsrep_sync_wait',
                 'connection_recycle_time', 'max_pool_size', 'max_overflow',
                 'pool_timeout', 'connection_debug', 'connection_trace')

# Dialects whose DB-API takes ``connect_timeout`` in the URL's query.
_TIMEOUT_DIALECTS = ('mysql', 'postgresql')


# oslo.db's numeric options have no bounds (but connection_debug's).
_LIBRARY_BOUNDS = {'mysql_wsrep_sync_wait': (0, 15),
                   'connection_recycle_time': (1, 86400),
                   'max_pool_size': (0, 100), 'max_overflow': (-1, 100),
                   'pool_timeout': (1, 3600)}


def _library_opts():
    by_name = {o.dest: o for o in db_options.database_opts}
    return bounded.bounded(
        [copy.deepcopy(by_name[name]) for name in _LIBRARY_OPTS],
        _LIBRARY_BOUNDS)


OPTS = [
    cfg.StrOpt('connection', secret=True, default=DEFAULT_CONNECTION,
               deprecated_opts=[cfg.DeprecatedOpt('connection',
                                                  group='database')],
               help='SQLAlchemy URL of the history database. It must not be '
                    "Cinder's database: the reconciler refuses one that "
                    "holds Cinder's tables. Read from [database] connection "
                    'when unset, a deprecated fallback.'),
    cfg.IntOpt('max_retries', default=10, min=0, max=1000,
               help='Attempts to connect when the engine is created (0: '
                    'no test connection). Unlike oslo.db, -1 (forever) is '
                    'refused.'),
    cfg.IntOpt('retry_interval', default=10, min=0, max=3600,
               help='Seconds between two connection attempts.'),
    cfg.IntOpt('connect_timeout', default=10, min=1, max=3600,
               help='Seconds a MySQL or PostgreSQL connect may take before '
                    'it fails, unless the URL sets connect_timeout itself.'),
] + _library_opts()


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}


def _with_connect_timeout(connection, parameters, timeout):
    """``connection_parameters`` with a connect timeout where one applies."""
    try:
        url = sa.engine.make_url(connection)
    except sa.exc.ArgumentError:
        return parameters  # oslo.db reports the bad URL itself.
    if url.get_backend_name() not in _TIMEOUT_DIALECTS:
        return parameters
    given = set(url.query) | set(urllib.parse.parse_qs(parameters))
    if 'connect_timeout' in given:
        return parameters
    extra = 'connect_timeout=%d' % timeout
    return '%s&%s' % (parameters, extra) if parameters else extra


# oslo.db's enginefacade takes every option it is not given from the global
# cfg.CONF's [database], Cinder's once cinder.conf was parsed: these are
# always given, so none of Cinder's (replica, retries...) is ever used.
_NO_REPLICA = {'slave_connection': None, 'asyncio_connection': None,
               'asyncio_slave_connection': None, 'synchronous_reader': True}


def isolated(options):
    """Engine options with a value for each one enginefacade would inherit."""
    settings = {o.dest: o.default for o in OPTS
                if o.dest not in ('connection', 'connect_timeout')}
    settings.update(_NO_REPLICA)
    settings.update(options)
    return settings


def engine_options(conf, **overrides):
    """``(connection, oslo.db options)`` for the history's engine.

    ``overrides`` replace options of the group (e.g. a single connect
    attempt for a check that must answer promptly).
    """
    group = dict(conf[GROUP.name].items(), **overrides)
    connection = group.pop('connection')
    timeout = group.pop('connect_timeout')
    group['connection_parameters'] = _with_connect_timeout(
        connection, group.get('connection_parameters') or '', timeout)
    return connection, group
