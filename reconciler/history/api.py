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

"""The history: one SQL database of runs, findings, the notification outbox,
Cinder's events and remediation's audit.

:class:`History` is the one object the rest of the service uses; each
concern is a module of its own (runs, findings, outbox, events, actions),
whose methods it gathers, over one engine, one transaction helper and one
retry policy. The names other modules use are importable from here.
"""

import dataclasses
import types

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from reconciler.conf import database as database_conf
from reconciler import exception
from reconciler.history import actions
from reconciler.history import events
from reconciler.history import findings
from reconciler.history import migration
from reconciler.history import outbox
from reconciler.history import runs
from reconciler.history import sql
from reconciler.history.sql import FINDINGS
from reconciler.history.sql import OUTBOX
from reconciler.history.sql import RUNS
from reconciler import model

LOG = logging.getLogger(__name__)

# The names the rest of the service (and its tests) import from here.
FINDING_SORT_KEYS = findings.FINDING_SORT_KEYS
IGNORE, UNIGNORE = findings.IGNORE, findings.UNIGNORE
LifecyclePolicy = findings.LifecyclePolicy
FindingRecord = findings.FindingRecord
RunRecord = runs.RunRecord
OutboxItem = outbox.OutboxItem
ActionRecord = actions.ActionRecord
RUNNING_ACTION = actions.RUNNING_ACTION
ABANDONED_ACTION = actions.ABANDONED_ACTION

# Attempts after a deadlock or a locked SQLite database.
_RETRIES = 10


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the metrics endpoint reports, read in one transaction."""

    findings: dict      # (backend, kind, state) -> count, open states only
    last_ok: dict       # backend -> finish time of its newest ok run
    last_run: dict      # backend -> RunRecord of its newest finished run
    outbox_depth: int
    outbox_undelivered: int   # rows a send was already tried for
    outbox_oldest: float | None


def _sqlite_locked(exc):
    """SQLite's lock contention; oslo.db does not map it to DBDeadlock."""
    return (isinstance(exc, sa_exc.OperationalError)
            and 'database is locked' in str(exc))


def _utf8mb4(connection):
    """The URL with MySQL's 4-byte UTF-8 charset, whatever it asked for:
    with ``utf8`` (3 bytes) one emoji in a name fails every pass.
    """
    url = sa.engine.make_url(connection)
    if url.get_backend_name() != 'mysql':
        return connection
    return url.update_query_dict({'charset': 'utf8mb4'}).render_as_string(
        hide_password=False)


class History(runs.Runs, findings.Findings, outbox.Outbox, events.Events,
              actions.Actions):
    """Runs, findings, outbox, Cinder's events and the audit in one SQL
    database; safe across threads.
    """

    def __init__(self, connection, **options):
        """``options`` are further oslo.db engine options."""
        self._facade = enginefacade.transaction_context()
        self._facade.configure(connection=_utf8mb4(connection),
                               **database_conf.isolated(options))
        self._schema_checked = False

    @classmethod
    def from_conf(cls, conf, **overrides):
        """From ``[reconciler_database]``; ``overrides`` replace options."""
        connection, options = database_conf.engine_options(conf, **overrides)
        return cls(connection, **options)

    def _refuse_cinder_database(self):
        """Before the first transaction: never write beside Cinder's tables.

        The engine is the only one (no replica), so this covers every
        connection the history uses.
        """
        if not self._schema_checked:
            with self._facade.writer.get_engine().connect() as conn:
                migration.refuse_cinder_database(conn)
            self._schema_checked = True

    # Deadlocks (MySQL, PostgreSQL) and SQLite lock timeouts roll the whole
    # transaction back; running it again from the start is safe.
    @oslo_db_api.wrap_db_retry(max_retries=_RETRIES, retry_interval=0.2,
                               max_retry_interval=5, jitter=True,
                               retry_on_deadlock=True,
                               exception_checker=_sqlite_locked)
    def _retried(self, call):
        """``call()``, run again while the database is busy."""
        try:
            return call()
        except Exception as e:
            if not (isinstance(e, db_exc.DBDeadlock) or _sqlite_locked(e)):
                raise
            busy, error = e, exception.describe(e)
        # Each retry is logged: SQLite alone can wait 5 s per attempt.
        LOG.warning('History database busy, the transaction is retried '
                    '(up to %d times): %s', _RETRIES, error)
        raise busy

    def _transaction(self, work, write=True):
        self._refuse_cinder_database()
        facade = self._facade.writer if write else self._facade.reader

        def run():
            with facade.connection.using(types.SimpleNamespace()) as conn:
                return work(conn)
        return self._retried(run)

    def _read(self, statement, convert):
        return self._transaction(
            lambda conn: [convert(r) for r in conn.execute(statement)],
            write=False)

    def close(self):
        """Release pooled connections (so a database can be dropped)."""
        self._facade.dispose_pool()

    def sync(self):
        migration.upgrade(self._facade.writer.get_engine())

    def version(self):
        """The schema revision, None for an empty database."""
        return self._retried(
            lambda: migration.current(self._facade.writer.get_engine()))

    def check_current(self):
        current = self.version()
        head = migration.head()
        if current != head:
            raise exception.ReconcilerError(
                f'The history database schema is at revision {current}, '
                f'this code needs {head}: run "cinder-reconciler-manage db '
                f'sync".')

    def snapshot(self):
        """Counts for the metrics endpoint, from one consistent read."""
        def work(conn):
            open_findings = {
                (r.backend, r.kind, r.state): r.n for r in conn.execute(
                    sa.select(FINDINGS.c.backend, FINDINGS.c.kind,
                              FINDINGS.c.state,
                              sa.func.count().label('n'))
                    .where(FINDINGS.c.state.in_(sql.OPEN))
                    .group_by(FINDINGS.c.backend, FINDINGS.c.kind,
                              FINDINGS.c.state))}
            last_ok = {r.backend: sql.ts(r.at) for r in conn.execute(
                sa.select(RUNS.c.backend,
                          sa.func.max(RUNS.c.finished_at).label('at'))
                .where(RUNS.c.status == model.RunStatus.OK.value)
                .group_by(RUNS.c.backend))}
            newest = (sa.select(sa.func.max(RUNS.c.id))
                      .where(RUNS.c.finished_at.is_not(None))
                      .group_by(RUNS.c.backend))
            last_run = {r.backend: runs.run_record(r) for r in conn.execute(
                sa.select(RUNS).where(RUNS.c.id.in_(newest)))}
            depth, tried, oldest = conn.execute(sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(
                    sa.case((OUTBOX.c.attempts > 0, 1), else_=0)), 0),
                sa.func.min(OUTBOX.c.created_at))).one()
            return Snapshot(open_findings, last_ok, last_run, depth, tried,
                            sql.ts(oldest))
        return self._transaction(work, write=False)

    def purge(self, before):
        """Delete runs and resolved findings older than ``before``.

        Never an open finding, a running run, a backend's newest run or
        newest ok run (the shrink check compares with it), nor a run that
        finished at or after the first sighting of the backend's oldest
        open finding: whatever an open finding's lifecycle may still read
        is kept. Cinder's events recorded before ``before`` go too (see
        ``purge_events``).
        Returns ``{'runs': n, 'findings': n, 'events': n}``.
        """
        cutoff = sql.dt(before)

        def work(conn):
            deleted = conn.execute(sa.delete(FINDINGS).where(
                FINDINGS.c.state == model.FindingState.RESOLVED.value,
                FINDINGS.c.resolved_at < cutoff)).rowcount
            deleted_runs = 0
            backends = conn.execute(
                sa.select(RUNS.c.backend).distinct()).scalars().all()
            for backend in backends:
                newest = sa.select(sa.func.max(RUNS.c.finished_at)).where(
                    RUNS.c.backend == backend)
                keep = [cutoff]
                keep += conn.execute(newest).scalars().all()
                keep += conn.execute(newest.where(
                    RUNS.c.status == model.RunStatus.OK.value)
                ).scalars().all()
                keep += conn.execute(sa.select(
                    sa.func.min(FINDINGS.c.first_seen)).where(
                        FINDINGS.c.backend == backend,
                        FINDINGS.c.state.in_(sql.OPEN))).scalars().all()
                deleted_runs += conn.execute(sa.delete(RUNS).where(
                    RUNS.c.backend == backend,
                    RUNS.c.status != model.RunStatus.RUNNING.value,
                    RUNS.c.finished_at < min(k for k in keep
                                             if k is not None))).rowcount
            return {'runs': deleted_runs, 'findings': deleted,
                    'events': events.delete_recorded_before(conn, cutoff)}

        return self._transaction(work)
