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

"""Tables of the history: runs, findings and the notification outbox.

Times are naive UTC. Enumerated values (status, kind, state) are short strings
rather than native enums, so later migrations never have to alter enum types.
"""

import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

# MySQL's DATETIME drops fractions of seconds unless told otherwise, which
# would skew the grace-period arithmetic.
DateTime = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), 'mysql', 'mariadb')

MYSQL_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def key_string(length):
    """Text that is part of an identity: compared byte-wise everywhere.

    MySQL's default collations fold case (and accents), which would merge two
    array objects whose names differ only in case.
    """
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, collation='utf8mb4_bin'), 'mysql', 'mariadb')


class Base(orm.DeclarativeBase):
    type_annotation_map = {datetime.datetime: DateTime, str: sa.Text}


class Run(Base):
    __tablename__ = 'runs'
    __table_args__ = (
        sa.Index('ix_runs_backend_started_at', 'backend', 'started_at'),
        MYSQL_OPTIONS)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    backend: orm.Mapped[str] = orm.mapped_column(key_string(128))
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    started_at: orm.Mapped[datetime.datetime]
    finished_at: orm.Mapped[datetime.datetime | None]
    # Candidates of each FindingKind in the pass (NULL until it completes).
    array_only_count: orm.Mapped[int | None]
    cinder_only_count: orm.Mapped[int | None]
    orphan_export_count: orm.Mapped[int | None]
    foreign_count: orm.Mapped[int | None]
    stale_temporary_count: orm.Mapped[int | None]
    unmanaged_count: orm.Mapped[int | None]
    leftover_device_count: orm.Mapped[int | None]
    faulty_map_count: orm.Mapped[int | None]
    faulty_attached_count: orm.Mapped[int | None]
    stale_session_count: orm.Mapped[int | None]
    missing_device_count: orm.Mapped[int | None]
    stale_attachment_count: orm.Mapped[int | None]
    dangling_bdm_count: orm.Mapped[int | None]
    stuck_status_count: orm.Mapped[int | None]
    orphan_project_count: orm.Mapped[int | None]
    stuck_deleting_count: orm.Mapped[int | None]
    inventory: orm.Mapped[str | None]  # JSON
    error: orm.Mapped[str | None]
    # The process that owns a running run (see reconciler.ownership).
    owner_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    owner_pid: orm.Mapped[int | None]
    owner_start: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    # time.monotonic() when finished_at was taken (ok runs), if known.
    monotonic: orm.Mapped[float | None] = orm.mapped_column(sa.Float)


class Finding(Base):
    __tablename__ = 'findings'
    __table_args__ = (
        sa.UniqueConstraint('backend', 'kind', 'resource_type', 'resource_id',
                            name='uq_findings_identity'),
        sa.Index('ix_findings_backend_state', 'backend', 'state'),
        MYSQL_OPTIONS)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    backend: orm.Mapped[str] = orm.mapped_column(key_string(128))
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    resource_type: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    resource_id: orm.Mapped[str] = orm.mapped_column(key_string(255))
    array_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    cinder_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    state: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    first_seen: orm.Mapped[datetime.datetime]
    last_seen: orm.Mapped[datetime.datetime]
    sightings: orm.Mapped[int]
    confirmed_at: orm.Mapped[datetime.datetime | None]
    resolved_at: orm.Mapped[datetime.datetime | None]
    details: orm.Mapped[str]  # JSON object
    # Seconds between the first and the last sighting of a suspected
    # finding, summed pass by pass from clocks that cannot jump.
    suspected_seconds: orm.Mapped[float] = orm.mapped_column(
        sa.Float, server_default='0')
    # Set by an operator: not announced, never remediated (until a time).
    ignored_reason: orm.Mapped[str | None]
    ignored_until: orm.Mapped[datetime.datetime | None]


class Action(Base):
    """One remediation step, planned or applied: the audit trail."""

    __tablename__ = 'actions'
    __table_args__ = (
        sa.Index('ix_actions_finding_id', 'finding_id'), MYSQL_OPTIONS)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    finding_id: orm.Mapped[int]
    backend: orm.Mapped[str] = orm.mapped_column(sa.String(128))
    action: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    target: orm.Mapped[str]       # what it acts on, as the operator reads it
    params: orm.Mapped[str]       # JSON object
    actor: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    applied: orm.Mapped[bool]     # False: a dry run's plan
    # running, planned, done, skipped, failed, abandoned
    result: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    reason: orm.Mapped[str | None]
    started_at: orm.Mapped[datetime.datetime]
    finished_at: orm.Mapped[datetime.datetime | None]
    # The process that runs it (see reconciler.ownership); NULL for rows
    # of versions that did not record it.
    owner_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    owner_pid: orm.Mapped[int | None]
    owner_start: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))


class MatchedObject(Base):
    """An array volume or snapshot a pass matched to a Cinder row.

    Evidence, later, that an array-only object was Cinder's rather than an
    operator's object whose name decodes by chance (see
    reconciler.remediation.plan). Kept while the array lists the object.
    """

    __tablename__ = 'matched_objects'
    __table_args__ = (
        sa.UniqueConstraint('backend', 'resource_type', 'resource_id',
                            name='uq_matched_objects_identity'),
        MYSQL_OPTIONS)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    backend: orm.Mapped[str] = orm.mapped_column(key_string(128))
    resource_type: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    resource_id: orm.Mapped[str] = orm.mapped_column(key_string(255))
    first_matched: orm.Mapped[datetime.datetime]


class Notification(Base):
    """A notification not yet handed to the message bus."""

    __tablename__ = 'notification_outbox'
    __table_args__ = (MYSQL_OPTIONS,)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    event_type: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    payload: orm.Mapped[str]  # JSON object
    created_at: orm.Mapped[datetime.datetime]
    attempts: orm.Mapped[int]
    last_error: orm.Mapped[str | None]
    # The flusher that sends it now, until when (see History.claim_...).
    claimed_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    claimed_until: orm.Mapped[datetime.datetime | None]


class CinderEvent(Base):
    """One of Cinder's volume or snapshot notifications, or a listener's
    start marker (no resource): see reconciler.cinder_events.
    """

    __tablename__ = 'cinder_events'
    __table_args__ = (
        sa.Index('ix_cinder_events_backend_resource_id', 'backend',
                 'resource_id'),
        sa.Index('ix_cinder_events_backend_recorded_at', 'backend',
                 'recorded_at'),
        sa.Index('ix_cinder_events_recorded_at', 'recorded_at'),
        MYSQL_OPTIONS)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    backend: orm.Mapped[str] = orm.mapped_column(key_string(128))
    event_type: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    resource_type: orm.Mapped[str | None] = orm.mapped_column(sa.String(16))
    resource_id: orm.Mapped[str | None] = orm.mapped_column(key_string(255))
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    emitted_at: orm.Mapped[datetime.datetime]    # Cinder's clock
    recorded_at: orm.Mapped[datetime.datetime]   # ours
    message_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    payload: orm.Mapped[str]  # JSON object of short strings
