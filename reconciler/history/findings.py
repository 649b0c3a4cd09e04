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

"""The finding lifecycle: what a completed pass does to a backend's findings
(suspected, confirmed, resolved), the objects it matched to Cinder rows, and
the operator's ignores.

Everything a pass records happens in one transaction with its run and its
notifications, so a crash or a lost connection leaves either the whole pass
or nothing of it.
"""

import collections
import dataclasses
import json
import time

from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa

from reconciler import exception
from reconciler.history import models
from reconciler.history import outbox
from reconciler.history import runs
from reconciler.history import sql
from reconciler.history.sql import ACTIONS
from reconciler.history.sql import FINDINGS
from reconciler.history.sql import MATCHED
from reconciler.history.sql import RUNS
from reconciler.history import storable
from reconciler import model

LOG = logging.getLogger(__name__)

#: Keys findings can be sorted by (``History.findings``).
FINDING_SORT_KEYS = ('id', 'backend', 'kind', 'resource_type', 'resource_id',
                     'project_id', 'state', 'first_seen', 'last_seen',
                     'sightings', 'confirmed_at', 'resolved_at')
#: Audit actions of an operator's ignore and unignore.
IGNORE, UNIGNORE = 'ignore', 'unignore'


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

    def candidate(self):
        """The candidate this finding stands for (what a pass compares)."""
        return model.Candidate(
            self.kind, self.resource_type, self.resource_id,
            array_name=self.array_name, cinder_id=self.cinder_id,
            project_id=self.project_id,
            details=tuple(sorted(self.details.items())))


class _Preview(Exception):
    """Carries a dry run's result out of the transaction it rolls back."""

    def __init__(self, result):
        super().__init__('dry run')
        self.result = result


def _candidate(row):
    return model.Candidate(
        kind=model.FindingKind(row.kind),
        resource_type=model.ResourceType(row.resource_type),
        resource_id=row.resource_id, array_name=row.array_name,
        cinder_id=row.cinder_id, project_id=row.project_id,
        details=tuple(json.loads(row.details).items()))


def _finding_record(row):
    return FindingRecord(
        id=row.id, backend=row.backend, kind=model.FindingKind(row.kind),
        resource_type=model.ResourceType(row.resource_type),
        resource_id=row.resource_id, array_name=row.array_name,
        cinder_id=row.cinder_id, project_id=row.project_id,
        state=model.FindingState(row.state),
        first_seen=sql.ts(row.first_seen), last_seen=sql.ts(row.last_seen),
        sightings=row.sightings, confirmed_at=sql.ts(row.confirmed_at),
        resolved_at=sql.ts(row.resolved_at),
        details=json.loads(row.details), ignored_reason=row.ignored_reason,
        ignored_until=sql.ts(row.ignored_until))


def _ignored(conn, backend, at):
    """Identities of the backend's findings an operator ignores at ``at``."""
    return {sql.identity(r) for r in conn.execute(
        sa.select(FINDINGS.c.kind, FINDINGS.c.resource_type,
                  FINDINGS.c.resource_id)
        .where(FINDINGS.c.backend == backend,
               FINDINGS.c.ignored_reason.is_not(None),
               sa.or_(FINDINGS.c.ignored_until.is_(None),
                      FINDINGS.c.ignored_until > at)))}


def _load(conn, backend, candidates):
    """The backend's open rows plus the rows of this pass's other keys."""
    columns = sa.select(
        FINDINGS.c.id, FINDINGS.c.kind, FINDINGS.c.resource_type,
        FINDINGS.c.resource_id, FINDINGS.c.state, FINDINGS.c.first_seen,
        FINDINGS.c.sightings, FINDINGS.c.array_name, FINDINGS.c.cinder_id,
        FINDINGS.c.project_id, FINDINGS.c.details,
        FINDINGS.c.suspected_seconds,
    ).where(FINDINGS.c.backend == backend)
    rows = {sql.identity(r): r for r in conn.execute(
        columns.where(FINDINGS.c.state.in_(sql.OPEN)))}
    unknown = collections.defaultdict(list)
    for kind, resource_type, resource_id in candidates.keys() - rows.keys():
        unknown[kind, resource_type].append(resource_id)
    for (kind, resource_type), ids in unknown.items():
        for chunk in sql.chunks(ids):
            rows.update((sql.identity(r), r) for r in conn.execute(
                columns.where(FINDINGS.c.kind == kind,
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
    now = sql.ts(at)  # at the stored precision, so ages compare consistently
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
                  'details': sql.json_text(dict(cand.details))}
        old = None if row is None else model.FindingState(row.state)
        if old == model.FindingState.SUSPECTED:
            first_seen, sightings = sql.ts(row.first_seen), row.sightings + 1
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
                sql.ts(row.first_seen), row.sightings))

    if inserts:
        try:
            conn.execute(sa.insert(FINDINGS), inserts)
        except db_exc.DBDuplicateEntry:
            raise exception.ConcurrentChange(
                'another pass of %s recorded a new finding meanwhile; the '
                'next pass sees it' % backend)
    changes = _state_changes(at, span)
    for (old, new, sightings), ids in moved.items():
        for chunk in sql.chunks(ids):
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
        for chunk in sql.chunks(ids):
            conn.execute(sa.delete(MATCHED).where(
                MATCHED.c.backend == backend,
                MATCHED.c.resource_type == rtype,
                MATCHED.c.resource_id.in_(chunk)))


def _complete(conn, run_id, now, candidates, policy, inventory, announce,
              unchecked, monotonic):
    """Close a run as ok and apply its lifecycle (see complete_run)."""
    by_key = {}
    for cand in map(storable.candidate, candidates):
        key = sql.plain(cand.identity)
        if by_key.setdefault(key, cand) != cand:
            raise ValueError(f'conflicting candidates for {key}')
    unchecked = {sql.plain((kind, rtype, storable.key(resource_id)))
                 for kind, rtype, resource_id in unchecked}
    counts = collections.Counter(c.kind for c in by_key.values())
    at = sql.dt(now)
    backend = runs.finish_run(
        conn, run_id, status=model.RunStatus.OK.value,
        finished_at=at, inventory=sql.json_text(inventory),
        monotonic=monotonic,
        **{sql.count_column(k): counts[k] for k in model.FindingKind})
    span, jump = runs.elapsed(conn, backend, run_id, at, monotonic)
    if jump and policy.grace_seconds:
        LOG.warning('Backend %s run %d: %s since the previous pass; '
                    'no finding is confirmed in this pass', backend,
                    run_id, jump)
    transitions = _apply_lifecycle(conn, backend, at, by_key, policy,
                                   unchecked, span, not jump)
    ignored = _ignored(conn, backend, at)
    outbox.enqueue(conn, at, announce([
        t for t in transitions
        if sql.plain(t.candidate.identity) not in ignored]))
    return transitions


class Findings:
    """The lifecycle's methods of :class:`reconciler.history.api.History`."""

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
                _record_matches(conn, backend, sql.dt(now), *matches)
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
                for chunk in sql.chunks(sorted(ids)):
                    for row in conn.execute(sa.select(
                            MATCHED.c.resource_id, MATCHED.c.first_matched)
                            .where(MATCHED.c.backend == backend,
                                   MATCHED.c.resource_type == rtype,
                                   MATCHED.c.resource_id.in_(chunk))):
                        found[ids[row.resource_id]] = sql.ts(row.first_matched)
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
            run_id = runs.insert_run(conn, backend, host, now)
            raise _Preview(_complete(
                conn, run_id, now, candidates, policy, {},
                lambda transitions: [], unchecked, monotonic))

        try:
            self._transaction(work)
        except _Preview as preview:
            return preview.result
        raise AssertionError('unreachable')  # pragma: no cover

    def finding(self, finding_id):
        rows = self._read(sa.select(FINDINGS).where(
            FINDINGS.c.id == finding_id), _finding_record)
        return rows[0] if rows else None

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
                query = query.where(FINDINGS.c.first_seen >= sql.dt(since))
            query = sql.page(conn, query, models.Finding, limit, marker,
                             sort, 'finding')
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
                          ignored_until=until and sql.dt(until))

    def unignore(self, finding_id, actor, now=None):
        """Undo :meth:`ignore`, audited as an ``unignore`` of ``actor``."""
        self._set_finding(finding_id, actor, UNIGNORE, {}, now,
                          ignored_reason=None, ignored_until=None)

    def _set_finding(self, finding_id, actor, action, params, now,
                     **values):
        at = sql.dt(time.time() if now is None else now)

        def work(conn):
            if conn.execute(sa.update(FINDINGS).where(
                    FINDINGS.c.id == finding_id).values(**values)
            ).rowcount != 1:
                raise exception.NotFound('no finding %d' % finding_id)
            backend = conn.execute(sa.select(FINDINGS.c.backend).where(
                FINDINGS.c.id == finding_id)).scalar_one()
            conn.execute(sa.insert(ACTIONS).values(
                finding_id=finding_id, backend=backend, action=action,
                target='finding %d' % finding_id, params=sql.json_text(params),
                actor=actor[:255], applied=True, result='done',
                started_at=at, finished_at=at))
        self._transaction(work)
