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

"""Run owners and clocks, grace counted in seconds, outbox claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Runs record the process that owns them, so a run whose process died can be
closed as abandoned, and the monotonic clock reading at their end, so grace
periods do not follow the wall clock. Findings count the seconds they have
been suspected. Outbox rows are claimed by one flusher at a time.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade():
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('owner_host', sa.String(255)))
        batch.add_column(sa.Column('owner_pid', sa.Integer))
        batch.add_column(sa.Column('owner_start', sa.String(64)))
        batch.add_column(sa.Column('monotonic', sa.Float))
    with op.batch_alter_table('findings') as batch:
        # Existing suspected findings start counting again: a later
        # confirmation, never an early one.
        batch.add_column(sa.Column('suspected_seconds', sa.Float,
                                   nullable=False, server_default='0'))
    with op.batch_alter_table('notification_outbox') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(36)))
        batch.add_column(sa.Column('claimed_until', DATETIME))
