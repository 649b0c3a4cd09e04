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

"""Cinder's events, as the listener (reconciler.listener) records them:
evidence a pass may cite, never a verdict.
"""

import json
import time

import sqlalchemy as sa

from reconciler import cinder_events
from reconciler.history import sql
from reconciler.history.sql import EVENTS
from reconciler.history import storable
from reconciler import model


def _event_record(row):
    return model.CinderEvent(
        backend=row.backend, event_type=row.event_type,
        resource_type=row.resource_type, resource_id=row.resource_id,
        host=row.host, emitted_at=sql.ts(row.emitted_at),
        message_id=row.message_id,
        payload=tuple(sorted(json.loads(row.payload).items())),
        recorded_at=sql.ts(row.recorded_at), id=row.id)


def delete_recorded_before(conn, cutoff):
    """Delete events recorded before ``cutoff``, but each backend's newest
    listener start (``listener_started_since`` reads it).
    """
    newest = (sa.select(sa.func.max(EVENTS.c.id))
              .where(EVENTS.c.event_type == cinder_events.LISTENER_STARTED)
              .group_by(EVENTS.c.backend))
    keep = conn.execute(newest).scalars().all()
    return conn.execute(sa.delete(EVENTS).where(
        EVENTS.c.recorded_at < cutoff, EVENTS.c.id.not_in(keep))).rowcount


class Events:
    """Cinder's events' methods of :class:`reconciler.history.api.History`
    (the listener records them, the engine and incremental passes read them).
    """

    def record_events(self, events, now=None):
        """Record ``model.CinderEvent``s (events and start markers), all
        in one transaction, at ``now`` (their ``recorded_at``; by default
        the current time).
        """
        now = time.time() if now is None else now
        rows = [{'backend': e.backend, 'event_type': e.event_type[:64],
                 'resource_type': e.resource_type,
                 'resource_id': storable.key(e.resource_id),
                 'host': storable.text(e.host), 'emitted_at': sql.dt(
                     e.emitted_at), 'recorded_at': sql.dt(now),
                 'message_id': storable.text(e.message_id),
                 'payload': sql.json_text(dict(e.payload))} for e in events]
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
            for chunk in sql.chunks(ids):
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
            EVENTS.c.recorded_at >= sql.dt(since),
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
            EVENTS.c.recorded_at >= sql.dt(since)).limit(1)
        if backend is not None:
            query = query.where(EVENTS.c.backend == backend)
        return bool(self._read(query, lambda row: row.id))

    def purge_events(self, before):
        """Delete Cinder's events recorded before ``before``, but each
        backend's newest listener start; the number deleted.
        """
        return self._transaction(
            lambda conn: delete_recorded_before(conn, sql.dt(before)))
