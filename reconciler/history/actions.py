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

"""Remediation's audit: one row per step, planned or applied, from before it
acts to its result; and the abandoned steps of processes that died.
"""

import dataclasses
import json

import sqlalchemy as sa

from reconciler.history import models
from reconciler.history import outbox
from reconciler.history import sql
from reconciler.history.sql import ACTIONS
from reconciler import ownership

#: An action's result while it runs, and once its process died in it.
RUNNING_ACTION = 'running'
ABANDONED_ACTION = 'abandoned'


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


def _action_record(row):
    return ActionRecord(
        id=row.id, finding_id=row.finding_id, backend=row.backend,
        action=row.action, target=row.target, params=json.loads(row.params),
        actor=row.actor, applied=row.applied, result=row.result,
        reason=row.reason, started_at=sql.ts(row.started_at),
        finished_at=sql.ts(row.finished_at),
        owner=None if row.owner_host is None else ownership.Owner(
            row.owner_host, row.owner_pid, row.owner_start))


class Actions:
    """The audit's methods of :class:`reconciler.history.api.History`."""

    def start_action(self, finding, action, target, params, actor, applied,
                     now, owner=None):
        """Audit an action before it runs; returns the action's id.

        ``owner``: the process running it (default: this one).
        """
        owner = owner or ownership.current()
        return self._transaction(lambda conn: conn.execute(
            sa.insert(ACTIONS).values(
                finding_id=finding.id, backend=finding.backend,
                action=action, target=target, params=sql.json_text(params),
                actor=actor, applied=applied, result=RUNNING_ACTION,
                started_at=sql.dt(now), owner_host=owner.host,
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
        at = sql.dt(now)

        def work(conn):
            closed = conn.execute(sa.update(ACTIONS).where(
                ACTIONS.c.id == action_id,
                ACTIONS.c.result == RUNNING_ACTION).values(
                    result=ABANDONED_ACTION, finished_at=at,
                    reason=reason[:sql.MAX_ERROR])).rowcount == 1
            if closed:
                outbox.enqueue(conn, at, events)
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
                        result='done', reason=reason[:sql.MAX_ERROR]))
            return sorted(ids)
        return self._transaction(work)

    def finish_action(self, action_id, result, reason, now, events=()):
        """Close an action's audit row, queueing its notifications."""
        at = sql.dt(now)

        def work(conn):
            conn.execute(sa.update(ACTIONS).where(
                ACTIONS.c.id == action_id).values(
                    result=result, finished_at=at,
                    reason=reason and reason[:sql.MAX_ERROR]))
            outbox.enqueue(conn, at, events)

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
            query = sql.page(conn, query, models.Action, limit, marker,
                             [('id', 'desc')], 'action')
            return [_action_record(r) for r in conn.execute(query)]
        return self._transaction(work, write=False)
