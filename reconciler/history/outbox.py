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

"""The notification outbox: events written in the transaction of the change
they announce, claimed by a flusher, deleted once the broker took them
(reconciler.notifier).
"""

import dataclasses
import json

import sqlalchemy as sa

from reconciler.history import sql
from reconciler.history.sql import OUTBOX
from reconciler.history import storable


@dataclasses.dataclass(frozen=True)
class OutboxItem:
    id: int
    event_type: str
    payload: dict
    created_at: float
    attempts: int
    last_error: str | None
    claimed_by: str | None = None


def _outbox_item(row):
    return OutboxItem(
        id=row.id, event_type=row.event_type, payload=json.loads(row.payload),
        created_at=sql.ts(row.created_at), attempts=row.attempts,
        last_error=row.last_error, claimed_by=row.claimed_by)


def enqueue(conn, at, events):
    rows = [{'event_type': event_type, 'payload': sql.json_text(payload),
             'created_at': at, 'attempts': 0}
            for event_type, payload in events]
    if rows:
        conn.execute(sa.insert(OUTBOX), rows)


class Outbox:
    """The outbox's methods of :class:`reconciler.history.api.History`."""

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
        at = sql.dt(now)
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
                                 claimed_until=sql.dt(now + lease)))
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
                last_error=storable.text(error)[:sql.MAX_ERROR])))
