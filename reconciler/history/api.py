"""The history: runs, the findings lifecycle and the notification outbox.

Everything a pass records happens in one transaction, so a crash or a lost
connection leaves either the whole pass or nothing of it.
"""

import collections
import dataclasses
import datetime
import json
import types

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from reconciler import exception
from reconciler.history import migration
from reconciler.history import models
from reconciler.history import storable
from reconciler import model

LOG = logging.getLogger(__name__)

RUNS = models.Run.__table__
FINDINGS = models.Finding.__table__
OUTBOX = models.Notification.__table__

_OPEN = (model.FindingState.SUSPECTED.value,
         model.FindingState.CONFIRMED.value)
# Chunk of keys per IN list: well under every backend's bound-parameter limit.
_CHUNK = 500
# Attempts after a deadlock or a locked SQLite database.
_RETRIES = 10
# Error texts are capped to stay within a MySQL TEXT column.
_MAX_ERROR = 16000


@dataclasses.dataclass(frozen=True)
class LifecyclePolicy:
    """When a suspected finding becomes confirmed.

    Once it was seen in ``sightings`` consecutive ok passes and was first
    seen at least ``grace_seconds`` ago.
    """

    sightings: int
    grace_seconds: float

    def __post_init__(self):
        if self.sightings < 1 or self.grace_seconds < 0:
            raise ValueError('sightings must be >= 1 and grace_seconds >= 0')


@dataclasses.dataclass(frozen=True)
class RunRecord:
    id: int
    backend: str
    host: str
    status: model.RunStatus
    started_at: float
    finished_at: float | None
    counts: dict  # FindingKind -> int; empty unless the run completed
    inventory: dict
    error: str | None


@dataclasses.dataclass(frozen=True)
class FindingRecord:
    id: int
    backend: str
    kind: model.FindingKind
    resource_type: model.ResourceType
    resource_id: str
    array_name: str | None
    cinder_id: str | None
    project_id: str | None
    state: model.FindingState
    first_seen: float
    # Confirmed rows are not rewritten while they stay seen: for them this is
    # the time of their last change, and every ok run since saw them too.
    last_seen: float
    sightings: int
    confirmed_at: float | None
    resolved_at: float | None
    details: dict


@dataclasses.dataclass(frozen=True)
class OutboxItem:
    id: int
    event_type: str
    payload: dict
    created_at: float
    attempts: int
    last_error: str | None


def _dt(ts):
    utc = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return utc.replace(tzinfo=None)


def _ts(dt):
    return None if dt is None else dt.replace(tzinfo=datetime.UTC).timestamp()


def _json(value):
    # Sorted keys: equal details always serialise to equal text, which is
    # what decides whether a confirmed finding needs a write.
    return json.dumps(value, sort_keys=True)


def _count_column(kind):
    return f'{kind}_count'


def _sqlite_locked(exc):
    """SQLite's lock contention; oslo.db does not map it to DBDeadlock."""
    return (isinstance(exc, sa_exc.OperationalError)
            and 'database is locked' in str(exc))


def _candidate(row):
    return model.Candidate(
        kind=model.FindingKind(row.kind),
        resource_type=model.ResourceType(row.resource_type),
        resource_id=row.resource_id, array_name=row.array_name,
        cinder_id=row.cinder_id, project_id=row.project_id,
        details=tuple(json.loads(row.details).items()))


def _run_record(row):
    counts = {kind: getattr(row, _count_column(kind))
              for kind in model.FindingKind}
    return RunRecord(
        id=row.id, backend=row.backend, host=row.host,
        status=model.RunStatus(row.status), started_at=_ts(row.started_at),
        finished_at=_ts(row.finished_at),
        counts={k: v for k, v in counts.items() if v is not None},
        inventory=json.loads(row.inventory or '{}'), error=row.error)


def _finding_record(row):
    return FindingRecord(
        id=row.id, backend=row.backend, kind=model.FindingKind(row.kind),
        resource_type=model.ResourceType(row.resource_type),
        resource_id=row.resource_id, array_name=row.array_name,
        cinder_id=row.cinder_id, project_id=row.project_id,
        state=model.FindingState(row.state), first_seen=_ts(row.first_seen),
        last_seen=_ts(row.last_seen), sightings=row.sightings,
        confirmed_at=_ts(row.confirmed_at), resolved_at=_ts(row.resolved_at),
        details=json.loads(row.details))


def _finish_run(conn, run_id, **values):
    """Close a running run and return its backend.

    It is the first statement of its transaction on purpose: taking the
    write lock before any read means SQLite never has to upgrade a read
    lock (which fails at once instead of waiting), and on every database
    the run row is locked, so a run is closed exactly once.
    """
    result = conn.execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run_id,
               RUNS.c.status == model.RunStatus.RUNNING.value)
        .values(**values))
    if result.rowcount != 1:
        raise exception.ReconcilerError(f'run {run_id} is not running')
    return conn.execute(
        sa.select(RUNS.c.backend).where(RUNS.c.id == run_id)).scalar_one()


def _enqueue(conn, at, events):
    rows = [{'event_type': event_type, 'payload': _json(payload),
             'created_at': at, 'attempts': 0}
            for event_type, payload in events]
    if rows:
        conn.execute(sa.insert(OUTBOX), rows)


def _identity(row):
    return (row.kind, row.resource_type, row.resource_id)


def _plain(identity):
    """A candidate's identity as plain strings, as the rows have it."""
    kind, resource_type, resource_id = identity
    return (str(kind), str(resource_type), resource_id)


def _chunks(items):
    return (items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK))


def _load(conn, backend, candidates):
    """The backend's open rows plus the rows of this pass's other keys."""
    columns = sa.select(
        FINDINGS.c.id, FINDINGS.c.kind, FINDINGS.c.resource_type,
        FINDINGS.c.resource_id, FINDINGS.c.state, FINDINGS.c.first_seen,
        FINDINGS.c.sightings, FINDINGS.c.array_name, FINDINGS.c.cinder_id,
        FINDINGS.c.project_id, FINDINGS.c.details,
    ).where(FINDINGS.c.backend == backend)
    rows = {_identity(r): r
            for r in conn.execute(columns.where(FINDINGS.c.state.in_(_OPEN)))}
    unknown = collections.defaultdict(list)
    for kind, resource_type, resource_id in candidates.keys() - rows.keys():
        unknown[kind, resource_type].append(resource_id)
    for (kind, resource_type), ids in unknown.items():
        for chunk in _chunks(ids):
            rows.update((_identity(r), r) for r in conn.execute(columns.where(
                FINDINGS.c.kind == kind,
                FINDINGS.c.resource_type == resource_type,
                FINDINGS.c.resource_id.in_(chunk))))
    return rows


def _state_changes(at):
    """What each (old, new) state pair writes; the same for every row."""
    s = model.FindingState
    reopen = dict(first_seen=at, last_seen=at, sightings=1, resolved_at=None)
    seen = dict(last_seen=at, sightings=FINDINGS.c.sightings + 1)
    resolve = dict(state=s.RESOLVED.value, resolved_at=at)
    return {
        (s.RESOLVED, s.SUSPECTED): dict(
            reopen, state=s.SUSPECTED.value, confirmed_at=None),
        (s.RESOLVED, s.CONFIRMED): dict(
            reopen, state=s.CONFIRMED.value, confirmed_at=at),
        (s.SUSPECTED, s.SUSPECTED): seen,
        (s.SUSPECTED, s.CONFIRMED): dict(
            seen, state=s.CONFIRMED.value, confirmed_at=at),
        (s.SUSPECTED, s.RESOLVED): resolve,
        (s.CONFIRMED, s.RESOLVED): resolve,
    }


def _apply_lifecycle(conn, backend, at, candidates, policy, unchecked):
    """Write this pass's changes to the backend's findings; return them.

    Only changed rows are written, and rows changing state the same way
    share one UPDATE per chunk of ids: a confirmed finding seen again costs
    nothing, so a steady pass writes no finding at all.
    """
    now = _ts(at)  # at the stored precision, so ages compare consistently
    rows = _load(conn, backend, candidates)
    for key in unchecked & candidates.keys():
        row = rows.get(key)
        if row is None or row.state != model.FindingState.CONFIRMED:
            raise exception.ReconcilerError(
                'finding %s %s %s is no longer confirmed but was not '
                're-checked; the next pass re-checks it' % key)
    # (old, new) -> ids; rows whose fields changed; new rows; transitions.
    moved, refreshed, inserts, transitions = (
        collections.defaultdict(list), [], [], [])
    for key, cand in candidates.items():
        row = rows.get(key)
        fields = {'array_name': cand.array_name, 'cinder_id': cand.cinder_id,
                  'project_id': cand.project_id,
                  'details': _json(dict(cand.details))}
        old = None if row is None else model.FindingState(row.state)
        if old == model.FindingState.SUSPECTED:
            first_seen, sightings = _ts(row.first_seen), row.sightings + 1
        else:
            first_seen, sightings = now, 1
        if old == model.FindingState.CONFIRMED:
            new = old
        elif (sightings >= policy.sightings
                and now - first_seen >= policy.grace_seconds):
            new = model.FindingState.CONFIRMED
        else:
            new = model.FindingState.SUSPECTED
        if row is None:
            kind, resource_type, resource_id = key
            inserts.append(dict(
                fields, backend=backend, kind=kind,
                resource_type=resource_type, resource_id=resource_id,
                state=new.value, first_seen=at, last_seen=at, sightings=1,
                confirmed_at=at if new == model.FindingState.CONFIRMED
                else None))
        else:
            if old != model.FindingState.CONFIRMED:
                moved[old, new].append(row.id)
            if any(getattr(row, f) != v for f, v in fields.items()):
                refreshed.append(dict(fields, _id=row.id))
        if new != old:
            transitions.append(model.Transition(
                backend, cand, old, new, first_seen, sightings))

    for key, row in rows.items():
        if key not in candidates:  # only open rows can be absent
            old = model.FindingState(row.state)
            moved[old, model.FindingState.RESOLVED].append(row.id)
            transitions.append(model.Transition(
                backend, _candidate(row), old, model.FindingState.RESOLVED,
                _ts(row.first_seen), row.sightings))

    if inserts:
        conn.execute(sa.insert(FINDINGS), inserts)
    changes = _state_changes(at)
    for pair, ids in moved.items():
        for chunk in _chunks(ids):
            conn.execute(sa.update(FINDINGS).where(FINDINGS.c.id.in_(chunk))
                         .values(changes[pair]))
    if refreshed:
        conn.execute(sa.update(FINDINGS)
                     .where(FINDINGS.c.id == sa.bindparam('_id')), refreshed)
    return transitions


def _utf8mb4(connection):
    """The URL with MySQL's 4-byte UTF-8 charset, whatever it asked for:
    with ``utf8`` (3 bytes) one emoji in a name fails every pass.
    """
    url = sa.engine.make_url(connection)
    if url.get_backend_name() != 'mysql':
        return connection
    return url.update_query_dict({'charset': 'utf8mb4'}).render_as_string(
        hide_password=False)


class History:
    """Runs, findings and outbox in one SQL database; safe across threads."""

    def __init__(self, connection, **options):
        """``options`` are further oslo.db ``[database]`` options."""
        self._facade = enginefacade.transaction_context()
        self._facade.configure(connection=_utf8mb4(connection), **options)

    @classmethod
    def from_conf(cls, conf):
        options = dict(conf.database.items())
        return cls(options.pop('connection'), **options)

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
        facade = self._facade.writer if write else self._facade.reader

        def run():
            with facade.connection.using(types.SimpleNamespace()) as conn:
                return work(conn)
        return self._retried(run)

    def _read(self, statement, convert):
        return self._transaction(
            lambda conn: [convert(r) for r in conn.execute(statement)],
            write=False)

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

    def start_run(self, backend, host, now):
        return self._transaction(lambda conn: conn.execute(
            sa.insert(RUNS).values(
                backend=backend, host=host, started_at=_dt(now),
                status=model.RunStatus.RUNNING.value),
        ).inserted_primary_key[0])

    def last_ok_run(self, backend):
        runs = self._read(
            sa.select(RUNS).where(RUNS.c.backend == backend,
                                  RUNS.c.status == model.RunStatus.OK.value)
            .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1),
            _run_record)
        return runs[0] if runs else None

    def ok_run_count(self, backend):
        """How many passes over ``backend`` completed: one more per ok pass.

        Run ids are shared by all backends and taken by failed passes too,
        so they do not number a backend's ok passes; this count does.
        """
        [count] = self._read(
            sa.select(sa.func.count()).select_from(RUNS)
            .where(RUNS.c.backend == backend,
                   RUNS.c.status == model.RunStatus.OK.value),
            lambda row: row[0])
        return count

    def runs(self, backend=None, limit=20):
        """Newest first."""
        query = sa.select(RUNS).order_by(
            RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(limit)
        if backend is not None:
            query = query.where(RUNS.c.backend == backend)
        return self._read(query, _run_record)

    def complete_run(self, run_id, now, candidates, policy, inventory,
                     announce, unchecked=()):
        """Record a successful pass and return its transitions.

        ``announce(transitions)`` returns the ``(event_type, payload)``
        notifications to queue; it runs inside the transaction (an error
        in it records nothing) and runs again if the transaction is retried.
        ``unchecked`` are the identities of candidates kept without a
        re-check because their findings were confirmed: they may keep a
        confirmed finding confirmed, never create, reopen or advance one.
        Should such a finding have changed since it was read, the pass
        raises ReconcilerError and records nothing.
        """
        by_key = {}
        for cand in map(storable.candidate, candidates):
            key = _plain(cand.identity)
            if by_key.setdefault(key, cand) != cand:
                raise ValueError(f'conflicting candidates for {key}')
        unchecked = {_plain((kind, rtype, storable.key(resource_id)))
                     for kind, rtype, resource_id in unchecked}
        counts = collections.Counter(c.kind for c in by_key.values())
        at = _dt(now)

        def work(conn):
            backend = _finish_run(
                conn, run_id, status=model.RunStatus.OK.value,
                finished_at=at, inventory=_json(inventory),
                **{_count_column(k): counts[k] for k in model.FindingKind})
            transitions = _apply_lifecycle(conn, backend, at, by_key, policy,
                                           unchecked)
            _enqueue(conn, at, announce(transitions))
            return transitions

        return self._transaction(work)

    def fail_run(self, run_id, now, error, events):
        """Record a failed pass; findings are left exactly as they were."""
        at = _dt(now)

        def work(conn):
            _finish_run(conn, run_id, status=model.RunStatus.FAILED.value,
                        finished_at=at,
                        error=storable.text(error)[:_MAX_ERROR])
            _enqueue(conn, at, events)

        self._transaction(work)

    def confirmed(self, backend):
        """The backend's confirmed findings, as candidate identities."""
        return set(self._read(
            sa.select(FINDINGS.c.kind, FINDINGS.c.resource_type,
                      FINDINGS.c.resource_id)
            .where(FINDINGS.c.backend == backend,
                   FINDINGS.c.state == model.FindingState.CONFIRMED.value),
            lambda row: (model.FindingKind(row.kind),
                         model.ResourceType(row.resource_type),
                         row.resource_id)))

    def findings(self, backend=None, state=None, kind=None):
        query = sa.select(FINDINGS).order_by(FINDINGS.c.id)
        for column, value in ((FINDINGS.c.backend, backend),
                              (FINDINGS.c.state, state),
                              (FINDINGS.c.kind, kind)):
            if value is not None:
                query = query.where(column == str(value))
        return self._read(query, _finding_record)

    def pending_notifications(self, limit=100):
        """Oldest first."""
        return self._read(
            sa.select(OUTBOX).order_by(OUTBOX.c.id).limit(limit),
            lambda row: OutboxItem(
                id=row.id, event_type=row.event_type,
                payload=json.loads(row.payload),
                created_at=_ts(row.created_at), attempts=row.attempts,
                last_error=row.last_error))

    def notification_sent(self, item_id):
        self._transaction(lambda conn: conn.execute(
            sa.delete(OUTBOX).where(OUTBOX.c.id == item_id)))

    def notification_failed(self, item_id, error):
        self._transaction(lambda conn: conn.execute(
            sa.update(OUTBOX).where(OUTBOX.c.id == item_id).values(
                attempts=OUTBOX.c.attempts + 1,
                last_error=storable.text(error)[:_MAX_ERROR])))
