"""The history: runs, the findings lifecycle and the notification outbox.

Everything a pass records happens in one transaction, so a crash or a lost
connection leaves either the whole pass or nothing of it.
"""

import collections
import dataclasses
import datetime
import json
import time
import types

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import utils as db_utils
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from reconciler import cinder_events
from reconciler.conf import database as database_conf
from reconciler import exception
from reconciler.history import migration
from reconciler.history import models
from reconciler.history import storable
from reconciler import model
from reconciler import ownership

LOG = logging.getLogger(__name__)

RUNS = models.Run.__table__
FINDINGS = models.Finding.__table__
OUTBOX = models.Notification.__table__
ACTIONS = models.Action.__table__
EVENTS = models.CinderEvent.__table__
MATCHED = models.MatchedObject.__table__

#: An action's result while it runs, and once its process died in it.
RUNNING_ACTION = 'running'
ABANDONED_ACTION = 'abandoned'

#: Keys findings can be sorted by (``History.findings``).
FINDING_SORT_KEYS = ('id', 'backend', 'kind', 'resource_type', 'resource_id',
                     'project_id', 'state', 'first_seen', 'last_seen',
                     'sightings', 'confirmed_at', 'resolved_at')
#: Audit actions of an operator's ignore and unignore.
IGNORE, UNIGNORE = 'ignore', 'unignore'

_OPEN = (model.FindingState.SUSPECTED.value,
         model.FindingState.CONFIRMED.value)
# Chunk of keys per IN list: well under every backend's bound-parameter limit.
_CHUNK = 500
# Attempts after a deadlock or a locked SQLite database.
_RETRIES = 10
# Error texts are capped to stay within a MySQL TEXT column.
_MAX_ERROR = 16000
# Wall and monotonic time between two passes may differ by this much (NTP
# slews, rounding) before the wall clock counts as having jumped.
_CLOCK_TOLERANCE = 2.0
_CLOCK_TOLERANCE_RATIO = 0.01


@dataclasses.dataclass(frozen=True)
class LifecyclePolicy:
    """When a suspected finding becomes confirmed.

    Once it was seen in ``sightings`` consecutive ok passes and was first
    seen at least ``grace_seconds`` ago, or, for a kind with a grace of its
    own in ``kind_grace`` (``((kind, seconds), ...)``), that long ago.
    """

    sightings: int
    grace_seconds: float
    kind_grace: tuple = ()

    def __post_init__(self):
        if self.sightings < 1 or self.grace_seconds < 0 or any(
                seconds < 0 for _kind, seconds in self.kind_grace):
            raise ValueError('sightings must be >= 1 and grace seconds >= 0')

    def grace(self, kind):
        """Seconds a finding of ``kind`` is suspected before confirming."""
        return dict(self.kind_grace).get(kind, self.grace_seconds)


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
    owner: ownership.Owner | None = None  # None for runs of old versions


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
    ignored_reason: str | None = None
    ignored_until: float | None = None

    def ignored(self, now):
        return self.ignored_reason is not None and (
            self.ignored_until is None or self.ignored_until > now)


@dataclasses.dataclass(frozen=True)
class ActionRecord:
    id: int
    finding_id: int
    backend: str
    action: str
    target: str
    params: dict
    actor: str
    applied: bool
    result: str
    reason: str | None
    started_at: float
    finished_at: float | None
    owner: ownership.Owner | None = None  # None for rows of old versions


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the metrics endpoint reports, read in one transaction."""

    findings: dict      # (backend, kind, state) -> count, open states only
    last_ok: dict       # backend -> finish time of its newest ok run
    last_run: dict      # backend -> RunRecord of its newest finished run
    outbox_depth: int
    outbox_undelivered: int   # rows a send was already tried for
    outbox_oldest: float | None


class _Preview(Exception):
    """Carries a dry run's result out of the transaction it rolls back."""

    def __init__(self, result):
        super().__init__('dry run')
        self.result = result


@dataclasses.dataclass(frozen=True)
class OutboxItem:
    id: int
    event_type: str
    payload: dict
    created_at: float
    attempts: int
    last_error: str | None
    claimed_by: str | None = None


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
        inventory=json.loads(row.inventory or '{}'), error=row.error,
        owner=None if row.owner_host is None else ownership.Owner(
            row.owner_host, row.owner_pid, row.owner_start))


def _outbox_item(row):
    return OutboxItem(
        id=row.id, event_type=row.event_type, payload=json.loads(row.payload),
        created_at=_ts(row.created_at), attempts=row.attempts,
        last_error=row.last_error, claimed_by=row.claimed_by)


def _finding_record(row):
    return FindingRecord(
        id=row.id, backend=row.backend, kind=model.FindingKind(row.kind),
        resource_type=model.ResourceType(row.resource_type),
        resource_id=row.resource_id, array_name=row.array_name,
        cinder_id=row.cinder_id, project_id=row.project_id,
        state=model.FindingState(row.state), first_seen=_ts(row.first_seen),
        last_seen=_ts(row.last_seen), sightings=row.sightings,
        confirmed_at=_ts(row.confirmed_at), resolved_at=_ts(row.resolved_at),
        details=json.loads(row.details), ignored_reason=row.ignored_reason,
        ignored_until=_ts(row.ignored_until))


def _action_record(row):
    return ActionRecord(
        id=row.id, finding_id=row.finding_id, backend=row.backend,
        action=row.action, target=row.target, params=json.loads(row.params),
        actor=row.actor, applied=row.applied, result=row.result,
        reason=row.reason, started_at=_ts(row.started_at),
        finished_at=_ts(row.finished_at),
        owner=None if row.owner_host is None else ownership.Owner(
            row.owner_host, row.owner_pid, row.owner_start))


def _page(conn, query, model_cls, limit, marker, sort, what):
    """``query`` ordered by ``sort`` and cut to the page after ``marker``
    (a row id), with oslo.db's keyset pagination (no OFFSET scans).
    The marker row is read with ``query``'s own filters: a marker the
    caller could not list is not found.
    """
    table = model_cls.__table__
    marker_row = None
    if marker is not None:
        marker_row = conn.execute(
            query.where(table.c.id == marker)).first()
        if marker_row is None:
            raise exception.NotFound('no %s %s (the marker)' % (what, marker))
    return db_utils.paginate_query(
        query, model_cls, limit, [key for key, _ in sort],
        marker=marker_row, sort_dirs=[d for _, d in sort])


def _ignored(conn, backend, at):
    """Identities of the backend's findings an operator ignores at ``at``."""
    return {_identity(r) for r in conn.execute(
        sa.select(FINDINGS.c.kind, FINDINGS.c.resource_type,
                  FINDINGS.c.resource_id)
        .where(FINDINGS.c.backend == backend,
               FINDINGS.c.ignored_reason.is_not(None),
               sa.or_(FINDINGS.c.ignored_until.is_(None),
                      FINDINGS.c.ignored_until > at)))}


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


def _insert_run(conn, backend, host, now, owner=None):
    owner = owner or ownership.current()
    return conn.execute(sa.insert(RUNS).values(
        backend=backend, host=host, started_at=_dt(now),
        status=model.RunStatus.RUNNING.value, owner_host=owner.host,
        owner_pid=owner.pid, owner_start=owner.start),
    ).inserted_primary_key[0]


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
        FINDINGS.c.suspected_seconds,
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


def _state_changes(at, span):
    """What each (old, new) state pair writes; the same for every row."""
    s = model.FindingState
    reopen = dict(first_seen=at, last_seen=at, sightings=1, resolved_at=None,
                  suspected_seconds=0)
    seen = dict(last_seen=at, sightings=FINDINGS.c.sightings + 1,
                suspected_seconds=FINDINGS.c.suspected_seconds + span)
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


def _elapsed(conn, backend, run_id, at, monotonic):
    """Seconds since the backend's previous ok pass, and whether they are
    trustworthy: ``(seconds, jump)`` with ``jump`` a reason or None.

    Passes of one host and boot compare monotonic readings (the clock is
    shared by its processes), and a wall clock that disagrees has jumped.
    Otherwise only the wall clock is known: it must not go back.
    """
    cols = (RUNS.c.finished_at, RUNS.c.monotonic, RUNS.c.owner_host,
            RUNS.c.owner_start)
    [this] = conn.execute(sa.select(*cols).where(RUNS.c.id == run_id))
    prev = conn.execute(
        sa.select(*cols).where(RUNS.c.backend == backend,
                               RUNS.c.status == model.RunStatus.OK.value,
                               RUNS.c.id != run_id)
        .order_by(RUNS.c.id.desc()).limit(1)).first()
    if prev is None:
        return 0.0, None
    wall = _ts(at) - _ts(prev.finished_at)
    boot = ownership.boot_of(this.owner_start)
    same_clock = (monotonic is not None and prev.monotonic is not None
                  and boot is not None and this.owner_host == prev.owner_host
                  and boot == ownership.boot_of(prev.owner_start))
    if same_clock:
        mono = monotonic - prev.monotonic
        if mono < 0:
            return 0.0, 'the monotonic clock went back %.1f s' % -mono
        if abs(wall - mono) > (_CLOCK_TOLERANCE
                               + _CLOCK_TOLERANCE_RATIO * mono):
            return mono, ('the wall clock moved %.1f s in %.1f s'
                          % (wall, mono))
        return mono, None
    if wall < 0:
        return 0.0, 'the wall clock went back %.1f s' % -wall
    return wall, None


def _apply_lifecycle(conn, backend, at, candidates, policy, unchecked,
                     span=0.0, may_confirm=True):
    """Write this pass's changes to the backend's findings; return them.

    Only changed rows are written, and rows changing state the same way
    share one UPDATE per chunk of ids: a confirmed finding seen again costs
    nothing, so a steady pass writes no finding at all. A suspected finding
    has been suspected for its ``suspected_seconds`` plus ``span``; it is
    never confirmed unless ``may_confirm`` (or the policy has no grace).

    Every UPDATE that moves a finding applies only if the row still has the
    state and sightings this pass read (compare-and-set), and an INSERT
    fails on the identity's unique key: a pass that overlapped another one
    raises ConcurrentChange and records nothing.
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
            suspected = row.suspected_seconds + span
        else:
            first_seen, sightings, suspected = now, 1, 0.0
        grace = policy.grace(key[0])
        if old == model.FindingState.CONFIRMED:
            new = old
        elif (sightings >= policy.sightings and suspected >= grace
                and (may_confirm or not grace)):
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
                moved[old, new, row.sightings].append(row.id)
            if any(getattr(row, f) != v for f, v in fields.items()):
                refreshed.append(dict(fields, _id=row.id))
        if new != old:
            transitions.append(model.Transition(
                backend, cand, old, new, first_seen, sightings))

    for key, row in rows.items():
        if key not in candidates:  # only open rows can be absent
            old = model.FindingState(row.state)
            moved[old, model.FindingState.RESOLVED, row.sightings].append(
                row.id)
            transitions.append(model.Transition(
                backend, _candidate(row), old, model.FindingState.RESOLVED,
                _ts(row.first_seen), row.sightings))

    if inserts:
        try:
            conn.execute(sa.insert(FINDINGS), inserts)
        except db_exc.DBDuplicateEntry:
            raise exception.ConcurrentChange(
                'another pass of %s recorded a new finding meanwhile; the '
                'next pass sees it' % backend)
    changes = _state_changes(at, span)
    for (old, new, sightings), ids in moved.items():
        for chunk in _chunks(ids):
            result = conn.execute(
                sa.update(FINDINGS)
                .where(FINDINGS.c.id.in_(chunk),
                       FINDINGS.c.state == old.value,
                       FINDINGS.c.sightings == sightings)
                .values(changes[old, new]))
            if result.rowcount != len(chunk):
                raise exception.ConcurrentChange(
                    'another pass of %s changed its findings meanwhile; '
                    'the next pass sees the change' % backend)
    if refreshed:
        conn.execute(sa.update(FINDINGS)
                     .where(FINDINGS.c.id == sa.bindparam('_id')), refreshed)
    return transitions


def _record_matches(conn, backend, at, matched, listed):
    """Keep the backend's matched objects: add those ``matched`` now,
    forget those the array no longer lists (``listed`` None: the listing
    did not cover the whole backend, forget none).

    A steady backend costs one SELECT of its matched identities and set
    arithmetic (identities are escaped for storage only where they differ
    from what is stored: new or odd names).
    """
    known = set(conn.execute(
        sa.select(MATCHED.c.resource_type, MATCHED.c.resource_id)
        .where(MATCHED.c.backend == backend)).tuples())

    def plain(identities):
        # ResourceType members hash unlike their strings.
        return {(str(rtype), rid) for rtype, rid in identities}

    def stored(identities):
        return {(rtype, storable.key(rid)) for rtype, rid in identities}

    matched = plain(matched)
    new = stored(matched - known) - known
    if new:
        conn.execute(sa.insert(MATCHED), [
            {'backend': backend, 'resource_type': rtype, 'resource_id': rid,
             'first_matched': at} for rtype, rid in sorted(new)])
    if listed is None:
        return
    listed = plain(listed)
    gone = collections.defaultdict(list)
    for rtype, rid in known - listed - stored(listed - known):
        gone[rtype].append(rid)
    for rtype, ids in gone.items():
        for chunk in _chunks(ids):
            conn.execute(sa.delete(MATCHED).where(
                MATCHED.c.backend == backend,
                MATCHED.c.resource_type == rtype,
                MATCHED.c.resource_id.in_(chunk)))


def _complete(conn, run_id, now, candidates, policy, inventory, announce,
              unchecked, monotonic):
    """Close a run as ok and apply its lifecycle (see complete_run)."""
    by_key = {}
    for cand in map(storable.candidate, candidates):
        key = _plain(cand.identity)
        if by_key.setdefault(key, cand) != cand:
            raise ValueError(f'conflicting candidates for {key}')
    unchecked = {_plain((kind, rtype, storable.key(resource_id)))
                 for kind, rtype, resource_id in unchecked}
    counts = collections.Counter(c.kind for c in by_key.values())
    at = _dt(now)
    backend = _finish_run(
        conn, run_id, status=model.RunStatus.OK.value,
        finished_at=at, inventory=_json(inventory), monotonic=monotonic,
        **{_count_column(k): counts[k] for k in model.FindingKind})
    span, jump = _elapsed(conn, backend, run_id, at, monotonic)
    if jump and policy.grace_seconds:
        LOG.warning('Backend %s run %d: %s since the previous pass; '
                    'no finding is confirmed in this pass', backend,
                    run_id, jump)
    transitions = _apply_lifecycle(conn, backend, at, by_key, policy,
                                   unchecked, span, not jump)
    ignored = _ignored(conn, backend, at)
    _enqueue(conn, at, announce([t for t in transitions
                                 if _plain(t.candidate.identity)
                                 not in ignored]))
    return transitions


def _event_record(row):
    return model.CinderEvent(
        backend=row.backend, event_type=row.event_type,
        resource_type=row.resource_type, resource_id=row.resource_id,
        host=row.host, emitted_at=_ts(row.emitted_at),
        message_id=row.message_id,
        payload=tuple(sorted(json.loads(row.payload).items())),
        recorded_at=_ts(row.recorded_at), id=row.id)


def _purge_events(conn, cutoff):
    """Delete events recorded before ``cutoff``, but each backend's newest
    listener start (``listener_started_since`` reads it).
    """
    newest = (sa.select(sa.func.max(EVENTS.c.id))
              .where(EVENTS.c.event_type == cinder_events.LISTENER_STARTED)
              .group_by(EVENTS.c.backend))
    keep = conn.execute(newest).scalars().all()
    return conn.execute(sa.delete(EVENTS).where(
        EVENTS.c.recorded_at < cutoff, EVENTS.c.id.not_in(keep))).rowcount


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

    def start_run(self, backend, host, now, owner=None):
        """A running run owned by ``owner`` (by default this process)."""
        return self._transaction(
            lambda conn: _insert_run(conn, backend, host, now, owner))

    def running_runs(self, backend=None):
        query = sa.select(RUNS).where(
            RUNS.c.status == model.RunStatus.RUNNING.value).order_by(
                RUNS.c.id)
        if backend is not None:
            query = query.where(RUNS.c.backend == backend)
        return self._read(query, _run_record)

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

    def runs(self, backend=None, limit=20, status=None, since=None,
             until=None, marker=None):
        """Newest first; finished in [``since``, ``until``) if given; the
        page after run ``marker`` (an id) if given.
        """
        def work(conn):
            query = sa.select(RUNS)
            if backend is not None:
                query = query.where(RUNS.c.backend == backend)
            if status is not None:
                query = query.where(RUNS.c.status == str(status))
            if since is not None:
                query = query.where(RUNS.c.finished_at >= _dt(since))
            if until is not None:
                query = query.where(RUNS.c.finished_at < _dt(until))
            query = _page(conn, query, models.Run, limit, marker,
                          [('started_at', 'desc'), ('id', 'desc')], 'run')
            return [_run_record(r) for r in conn.execute(query)]
        return self._transaction(work, write=False)

    def finding(self, finding_id):
        rows = self._read(sa.select(FINDINGS).where(
            FINDINGS.c.id == finding_id), _finding_record)
        return rows[0] if rows else None

    def snapshot(self):
        """Counts for the metrics endpoint, from one consistent read."""
        def work(conn):
            findings = {
                (r.backend, r.kind, r.state): r.n for r in conn.execute(
                    sa.select(FINDINGS.c.backend, FINDINGS.c.kind,
                              FINDINGS.c.state,
                              sa.func.count().label('n'))
                    .where(FINDINGS.c.state.in_(_OPEN))
                    .group_by(FINDINGS.c.backend, FINDINGS.c.kind,
                              FINDINGS.c.state))}
            last_ok = {r.backend: _ts(r.at) for r in conn.execute(
                sa.select(RUNS.c.backend,
                          sa.func.max(RUNS.c.finished_at).label('at'))
                .where(RUNS.c.status == model.RunStatus.OK.value)
                .group_by(RUNS.c.backend))}
            newest = (sa.select(sa.func.max(RUNS.c.id))
                      .where(RUNS.c.finished_at.is_not(None))
                      .group_by(RUNS.c.backend))
            last_run = {r.backend: _run_record(r) for r in conn.execute(
                sa.select(RUNS).where(RUNS.c.id.in_(newest)))}
            depth, tried, oldest = conn.execute(sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(
                    sa.case((OUTBOX.c.attempts > 0, 1), else_=0)), 0),
                sa.func.min(OUTBOX.c.created_at))).one()
            return Snapshot(findings, last_ok, last_run, depth, tried,
                            _ts(oldest))
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
        cutoff = _dt(before)

        def work(conn):
            deleted = conn.execute(sa.delete(FINDINGS).where(
                FINDINGS.c.state == model.FindingState.RESOLVED.value,
                FINDINGS.c.resolved_at < cutoff)).rowcount
            runs = 0
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
                        FINDINGS.c.state.in_(_OPEN))).scalars().all()
                runs += conn.execute(sa.delete(RUNS).where(
                    RUNS.c.backend == backend,
                    RUNS.c.status != model.RunStatus.RUNNING.value,
                    RUNS.c.finished_at < min(k for k in keep
                                             if k is not None))).rowcount
            return {'runs': runs, 'findings': deleted,
                    'events': _purge_events(conn, cutoff)}

        return self._transaction(work)

    def complete_run(self, run_id, now, candidates, policy, inventory,
                     announce, unchecked=(), monotonic=None, matches=None):
        """Record a successful pass and return its transitions.

        ``monotonic`` is ``time.monotonic()`` read with ``now``: grace
        periods then count monotonic time between passes of one host,
        and a wall clock that jumped confirms nothing (see ``_elapsed``).

        ``announce(transitions)`` returns the ``(event_type, payload)``
        notifications to queue; it runs inside the transaction (an error
        in it records nothing) and runs again if the transaction is retried.
        ``unchecked`` are the identities of candidates kept without a
        re-check because their findings were confirmed: they may keep a
        confirmed finding confirmed, never create, reopen or advance one.
        Should such a finding have changed since it was read, the pass
        raises ReconcilerError and records nothing.

        ``matches``: ``(matched, listed)`` identities ``(resource type,
        resource id)`` of the array objects the pass matched to Cinder
        rows and of all it listed (None if the listing did not cover the
        backend): kept for ``matched_before``.
        """
        def work(conn):
            transitions = _complete(conn, run_id, now, candidates, policy,
                                    inventory, announce, unchecked,
                                    monotonic)
            if matches is not None:
                backend = conn.execute(sa.select(RUNS.c.backend).where(
                    RUNS.c.id == run_id)).scalar_one()
                _record_matches(conn, backend, _dt(now), *matches)
            return transitions
        return self._transaction(work)

    def matched_before(self, backend, identities):
        """When a pass first matched each of these array objects
        (``(resource type, resource id)``) to a Cinder row, kept while the
        array lists it: ``{identity: time}`` of those it did.
        """
        wanted = collections.defaultdict(dict)   # type -> stored -> asked
        for rtype, rid in identities:
            wanted[str(rtype)][storable.key(rid)] = (str(rtype), rid)

        def work(conn):
            found = {}
            for rtype, ids in wanted.items():
                for chunk in _chunks(sorted(ids)):
                    for row in conn.execute(sa.select(
                            MATCHED.c.resource_id, MATCHED.c.first_matched)
                            .where(MATCHED.c.backend == backend,
                                   MATCHED.c.resource_type == rtype,
                                   MATCHED.c.resource_id.in_(chunk))):
                        found[ids[row.resource_id]] = _ts(row.first_matched)
            return found
        return self._transaction(work, write=False)

    def preview_run(self, backend, host, now, candidates, policy,
                    unchecked=(), monotonic=None):
        """The transitions ``complete_run`` would make; writes nothing.

        A run is started and completed by the same code as a pass's, in a
        transaction that is then rolled back, so a dry run predicts exactly
        what a pass would record.
        """
        def work(conn):
            run_id = _insert_run(conn, backend, host, now)
            raise _Preview(_complete(
                conn, run_id, now, candidates, policy, {},
                lambda transitions: [], unchecked, monotonic))

        try:
            self._transaction(work)
        except _Preview as preview:
            return preview.result
        raise AssertionError('unreachable')  # pragma: no cover

    def fail_run(self, run_id, now, error, events):
        """Record a failed pass; findings are left exactly as they were."""
        at = _dt(now)

        def work(conn):
            _finish_run(conn, run_id, status=model.RunStatus.FAILED.value,
                        finished_at=at,
                        error=storable.text(error)[:_MAX_ERROR])
            _enqueue(conn, at, events)

        self._transaction(work)

    # Cinder's events (reconciler.listener records them, the engine and
    # incremental passes read them).

    def record_events(self, events, now=None):
        """Record ``model.CinderEvent``s (events and start markers), all
        in one transaction, at ``now`` (their ``recorded_at``; by default
        the current time).
        """
        now = time.time() if now is None else now
        rows = [{'backend': e.backend, 'event_type': e.event_type[:64],
                 'resource_type': e.resource_type,
                 'resource_id': storable.key(e.resource_id),
                 'host': storable.text(e.host), 'emitted_at': _dt(
                     e.emitted_at), 'recorded_at': _dt(now),
                 'message_id': storable.text(e.message_id),
                 'payload': _json(dict(e.payload))} for e in events]
        if rows:
            self._transaction(lambda conn: conn.execute(
                sa.insert(EVENTS), rows))

    def events_for(self, backend, resource_ids):
        """The recorded events of these resources (volume or snapshot ids)
        on ``backend``, oldest first (Cinder's time, then arrival).
        """
        ids = sorted({storable.key(i) for i in resource_ids})

        def work(conn):
            found = []
            for chunk in _chunks(ids):
                found += conn.execute(sa.select(EVENTS).where(
                    EVENTS.c.backend == backend,
                    EVENTS.c.resource_id.in_(chunk))).all()
            return [_event_record(r) for r in found]
        events = self._transaction(work, write=False)
        return sorted(events, key=lambda e: (e.emitted_at, e.id))

    def events_since(self, backend, since, types=None):
        """``backend``'s events recorded at or after ``since`` (the
        reconciler's clock, not Cinder's: an event queued while the
        listener was down counts from when it arrived), oldest first by
        arrival; start markers excluded (see ``listener_started_since``);
        only those of ``types`` if given.
        An event Cinder emitted while no listener ran may be missing:
        call ``listener_started_since`` for the same ``since``.
        """
        query = sa.select(EVENTS).where(
            EVENTS.c.backend == backend,
            EVENTS.c.recorded_at >= _dt(since),
            EVENTS.c.event_type != cinder_events.LISTENER_STARTED)
        if types is not None:
            query = query.where(EVENTS.c.event_type.in_(sorted(types)))
        return self._read(
            query.order_by(EVENTS.c.recorded_at, EVENTS.c.id),
            _event_record)

    def listener_started_since(self, backend, since):
        """Whether a listener (of any daemon) started at or after ``since``
        for ``backend`` (None: for any backend).

        True means events may be missing from before that start: the
        broker or the listener was down, or its queue was new. It never
        proves that none are missing since (a broker restart loses what
        its queues held): events are evidence, not the truth.
        """
        query = sa.select(EVENTS.c.id).where(
            EVENTS.c.event_type == cinder_events.LISTENER_STARTED,
            EVENTS.c.recorded_at >= _dt(since)).limit(1)
        if backend is not None:
            query = query.where(EVENTS.c.backend == backend)
        return bool(self._read(query, lambda row: row.id))

    def purge_events(self, before):
        """Delete Cinder's events recorded before ``before``, but each
        backend's newest listener start; the number deleted.
        """
        return self._transaction(
            lambda conn: _purge_events(conn, _dt(before)))

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

    def findings(self, backend=None, state=None, kind=None,
                 project_id=None, resource_id=None, since=None, sort=(),
                 limit=None, marker=None):
        """Findings matching every filter given (``since``: first seen at
        or after), ordered by ``sort`` (``(key, 'asc' | 'desc')`` pairs,
        keys from FINDING_SORT_KEYS; the id breaks ties), the page after
        finding ``marker`` (an id, found with the same filters) if given.
        """
        sort = list(sort) or [('id', 'asc')]
        for key, direction in sort:
            if key not in FINDING_SORT_KEYS or direction not in (
                    'asc', 'desc'):
                raise ValueError('cannot sort findings by %s:%s'
                                 % (key, direction))
        if 'id' not in [key for key, _ in sort]:
            sort.append(('id', sort[0][1]))

        def work(conn):
            query = sa.select(FINDINGS)
            for column, value in ((FINDINGS.c.backend, backend),
                                  (FINDINGS.c.state, state),
                                  (FINDINGS.c.kind, kind),
                                  (FINDINGS.c.project_id, project_id),
                                  (FINDINGS.c.resource_id, resource_id)):
                if value is not None:
                    query = query.where(column == str(value))
            if since is not None:
                query = query.where(FINDINGS.c.first_seen >= _dt(since))
            query = _page(conn, query, models.Finding, limit, marker, sort,
                          'finding')
            return [_finding_record(r) for r in conn.execute(query)]
        return self._transaction(work, write=False)

    def ignore(self, finding_id, reason, actor, until=None, now=None):
        """Stop announcing and remediating a finding (until ``until``);
        audited as an ``ignore`` action of ``actor``.
        """
        if not reason:
            raise ValueError('ignoring a finding needs a reason')
        self._set_finding(finding_id, actor, IGNORE,
                          {'reason': reason, 'until': until}, now,
                          ignored_reason=reason,
                          ignored_until=until and _dt(until))

    def unignore(self, finding_id, actor, now=None):
        """Undo :meth:`ignore`, audited as an ``unignore`` of ``actor``."""
        self._set_finding(finding_id, actor, UNIGNORE, {}, now,
                          ignored_reason=None, ignored_until=None)

    def _set_finding(self, finding_id, actor, action, params, now,
                     **values):
        at = _dt(time.time() if now is None else now)

        def work(conn):
            if conn.execute(sa.update(FINDINGS).where(
                    FINDINGS.c.id == finding_id).values(**values)
            ).rowcount != 1:
                raise exception.NotFound('no finding %d' % finding_id)
            backend = conn.execute(sa.select(FINDINGS.c.backend).where(
                FINDINGS.c.id == finding_id)).scalar_one()
            conn.execute(sa.insert(ACTIONS).values(
                finding_id=finding_id, backend=backend, action=action,
                target='finding %d' % finding_id, params=_json(params),
                actor=actor[:255], applied=True, result='done',
                started_at=at, finished_at=at))
        self._transaction(work)

    def start_action(self, finding, action, target, params, actor, applied,
                     now, owner=None):
        """Audit an action before it runs; returns the action's id.

        ``owner``: the process running it (default: this one).
        """
        owner = owner or ownership.current()
        return self._transaction(lambda conn: conn.execute(
            sa.insert(ACTIONS).values(
                finding_id=finding.id, backend=finding.backend,
                action=action, target=target, params=_json(params),
                actor=actor, applied=applied, result=RUNNING_ACTION,
                started_at=_dt(now), owner_host=owner.host,
                owner_pid=owner.pid, owner_start=owner.start)
        ).inserted_primary_key[0])

    def running_actions(self, backend):
        """The backend's (or host scope's) actions still marked running."""
        return self._read(
            sa.select(ACTIONS).where(ACTIONS.c.backend == backend,
                                     ACTIONS.c.result == RUNNING_ACTION)
            .order_by(ACTIONS.c.id), _action_record)

    def abandon_action(self, action_id, now, reason, events=()):
        """Close an action whose process is gone; False if it was not
        running (closed meanwhile by its owner or another closer).
        """
        at = _dt(now)

        def work(conn):
            closed = conn.execute(sa.update(ACTIONS).where(
                ACTIONS.c.id == action_id,
                ACTIONS.c.result == RUNNING_ACTION).values(
                    result=ABANDONED_ACTION, finished_at=at,
                    reason=reason[:_MAX_ERROR])).rowcount == 1
            if closed:
                _enqueue(conn, at, events)
            return closed
        return self._transaction(work)

    def settle_abandoned(self, finding_id, action, reason):
        """Record ``reason`` as the outcome of the finding's abandoned
        ``action`` steps (their array change was found applied): they
        become done. Returns their ids.
        """
        def work(conn):
            where = (ACTIONS.c.finding_id == finding_id,
                     ACTIONS.c.action == action,
                     ACTIONS.c.applied.is_(True),
                     ACTIONS.c.result == ABANDONED_ACTION)
            ids = conn.execute(sa.select(ACTIONS.c.id).where(*where)
                               ).scalars().all()
            if ids:
                conn.execute(sa.update(ACTIONS).where(
                    ACTIONS.c.id.in_(ids), *where[3:]).values(
                        result='done', reason=reason[:_MAX_ERROR]))
            return sorted(ids)
        return self._transaction(work)

    def finish_action(self, action_id, result, reason, now, events=()):
        """Close an action's audit row, queueing its notifications."""
        at = _dt(now)

        def work(conn):
            conn.execute(sa.update(ACTIONS).where(
                ACTIONS.c.id == action_id).values(
                    result=result, finished_at=at,
                    reason=reason and reason[:_MAX_ERROR]))
            _enqueue(conn, at, events)

        self._transaction(work)

    def actions(self, backend=None, finding_id=None, limit=50,
                marker=None):
        """Newest first; the page after action ``marker`` if given."""
        def work(conn):
            query = sa.select(ACTIONS)
            if backend is not None:
                query = query.where(ACTIONS.c.backend == backend)
            if finding_id is not None:
                query = query.where(ACTIONS.c.finding_id == finding_id)
            query = _page(conn, query, models.Action, limit, marker,
                          [('id', 'desc')], 'action')
            return [_action_record(r) for r in conn.execute(query)]
        return self._transaction(work, write=False)

    def abandon_run(self, run_id, now, error, events):
        """Close a run whose process is gone; False if it was not running."""
        try:
            self.fail_run(run_id, now, error, events)
        except exception.ReconcilerError:
            return False  # closed meanwhile, by its owner or another closer
        return True

    def pending_notifications(self, limit=100):
        """Oldest first."""
        return self._read(
            sa.select(OUTBOX).order_by(OUTBOX.c.id).limit(limit),
            _outbox_item)

    def claim_notifications(self, owner, now, lease, limit=50):
        """Claim up to ``limit`` unclaimed events for ``owner``; oldest first.

        A claim is a compare-and-set on the claim columns, so two flushers
        (threads or processes) never hold one event; one that died leaves
        its claims to expire after ``lease`` seconds. ``owner`` must be new
        for every call (a claim token), so that the rows read back are
        exactly those this call claimed.
        """
        at = _dt(now)
        free = sa.or_(OUTBOX.c.claimed_until.is_(None),
                      OUTBOX.c.claimed_until < at)
        ids = self._read(
            sa.select(OUTBOX.c.id).where(free).order_by(OUTBOX.c.id)
            .limit(limit), lambda row: row.id)
        if not ids:
            return []

        def work(conn):
            conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id.in_(ids), free)
                         .values(claimed_by=owner,
                                 claimed_until=_dt(now + lease)))
            return [_outbox_item(r) for r in conn.execute(
                sa.select(OUTBOX).where(OUTBOX.c.claimed_by == owner)
                .order_by(OUTBOX.c.id))]

        return self._transaction(work)

    def release_notifications(self, owner):
        """Give back what ``owner`` claimed and did not send."""
        self._transaction(lambda conn: conn.execute(
            sa.update(OUTBOX).where(OUTBOX.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)))

    def notification_sent(self, item_id):
        self._transaction(lambda conn: conn.execute(
            sa.delete(OUTBOX).where(OUTBOX.c.id == item_id)))

    def notification_failed(self, item_id, error):
        self._transaction(lambda conn: conn.execute(
            sa.update(OUTBOX).where(OUTBOX.c.id == item_id).values(
                attempts=OUTBOX.c.attempts + 1,
                last_error=storable.text(error)[:_MAX_ERROR])))
