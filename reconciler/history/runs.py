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

"""Runs: one row per pass of a backend or host scope, from its start to its
end (ok or failed), with its owner and clocks.
"""

import dataclasses
import json

import sqlalchemy as sa

from reconciler import exception
from reconciler.history import models
from reconciler.history import outbox
from reconciler.history import sql
from reconciler.history.sql import RUNS
from reconciler.history import storable
from reconciler import model
from reconciler import ownership

# Wall and monotonic time between two passes may differ by this much (NTP
# slews, rounding) before the wall clock counts as having jumped.
_CLOCK_TOLERANCE = 2.0
_CLOCK_TOLERANCE_RATIO = 0.01


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


def run_record(row):
    counts = {kind: getattr(row, sql.count_column(kind))
              for kind in model.FindingKind}
    return RunRecord(
        id=row.id, backend=row.backend, host=row.host,
        status=model.RunStatus(row.status), started_at=sql.ts(row.started_at),
        finished_at=sql.ts(row.finished_at),
        counts={k: v for k, v in counts.items() if v is not None},
        inventory=json.loads(row.inventory or '{}'), error=row.error,
        owner=None if row.owner_host is None else ownership.Owner(
            row.owner_host, row.owner_pid, row.owner_start))


def insert_run(conn, backend, host, now, owner=None):
    owner = owner or ownership.current()
    return conn.execute(sa.insert(RUNS).values(
        backend=backend, host=host, started_at=sql.dt(now),
        status=model.RunStatus.RUNNING.value, owner_host=owner.host,
        owner_pid=owner.pid, owner_start=owner.start),
    ).inserted_primary_key[0]


def finish_run(conn, run_id, **values):
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


def elapsed(conn, backend, run_id, at, monotonic):
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
    wall = sql.ts(at) - sql.ts(prev.finished_at)
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


class Runs:
    """The runs' methods of :class:`reconciler.history.api.History`."""

    def start_run(self, backend, host, now, owner=None):
        """A running run owned by ``owner`` (by default this process)."""
        return self._transaction(
            lambda conn: insert_run(conn, backend, host, now, owner))

    def running_runs(self, backend=None):
        query = sa.select(RUNS).where(
            RUNS.c.status == model.RunStatus.RUNNING.value).order_by(
                RUNS.c.id)
        if backend is not None:
            query = query.where(RUNS.c.backend == backend)
        return self._read(query, run_record)

    def last_ok_run(self, backend):
        runs = self._read(
            sa.select(RUNS).where(RUNS.c.backend == backend,
                                  RUNS.c.status == model.RunStatus.OK.value)
            .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1),
            run_record)
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
                query = query.where(RUNS.c.finished_at >= sql.dt(since))
            if until is not None:
                query = query.where(RUNS.c.finished_at < sql.dt(until))
            query = sql.page(conn, query, models.Run, limit, marker,
                             [('started_at', 'desc'), ('id', 'desc')],
                             'run')
            return [run_record(r) for r in conn.execute(query)]
        return self._transaction(work, write=False)

    def fail_run(self, run_id, now, error, events):
        """Record a failed pass; findings are left exactly as they were."""
        at = sql.dt(now)

        def work(conn):
            finish_run(conn, run_id, status=model.RunStatus.FAILED.value,
                       finished_at=at,
                       error=storable.text(error)[:sql.MAX_ERROR])
            outbox.enqueue(conn, at, events)

        self._transaction(work)

    def abandon_run(self, run_id, now, error, events):
        """Close a run whose process is gone; False if it was not running."""
        try:
            self.fail_run(run_id, now, error, events)
        except exception.ReconcilerError:
            return False  # closed meanwhile, by its owner or another closer
        return True
