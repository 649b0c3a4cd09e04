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

"""Runs, findings and the notification outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Types are spelled out here rather than imported from models: a migration is a
frozen picture of the schema at its revision.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

MYSQL_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}
DATETIME = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def _key(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, collation='utf8mb4_bin'), 'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'runs',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('backend', _key(128), nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('started_at', DATETIME, nullable=False),
        sa.Column('finished_at', DATETIME),
        sa.Column('array_only_count', sa.Integer),
        sa.Column('cinder_only_count', sa.Integer),
        sa.Column('orphan_export_count', sa.Integer),
        sa.Column('foreign_count', sa.Integer),
        sa.Column('inventory', sa.Text),
        sa.Column('error', sa.Text),
        **MYSQL_OPTIONS)
    op.create_index('ix_runs_backend_started_at', 'runs',
                    ['backend', 'started_at'])

    op.create_table(
        'findings',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('backend', _key(128), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('resource_type', sa.String(16), nullable=False),
        sa.Column('resource_id', _key(255), nullable=False),
        sa.Column('array_name', sa.String(255)),
        sa.Column('cinder_id', sa.String(36)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('first_seen', DATETIME, nullable=False),
        sa.Column('last_seen', DATETIME, nullable=False),
        sa.Column('sightings', sa.Integer, nullable=False),
        sa.Column('confirmed_at', DATETIME),
        sa.Column('resolved_at', DATETIME),
        sa.Column('details', sa.Text, nullable=False),
        sa.UniqueConstraint('backend', 'kind', 'resource_type', 'resource_id',
                            name='uq_findings_identity'),
        **MYSQL_OPTIONS)
    op.create_index('ix_findings_backend_state', 'findings',
                    ['backend', 'state'])

    op.create_table(
        'notification_outbox',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('event_type', sa.String(255), nullable=False),
        sa.Column('payload', sa.Text, nullable=False),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('attempts', sa.Integer, nullable=False),
        sa.Column('last_error', sa.Text),
        **MYSQL_OPTIONS)
