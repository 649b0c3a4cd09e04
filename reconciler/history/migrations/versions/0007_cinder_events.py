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

"""Cinder's volume and snapshot notifications, recorded as evidence.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0007'
down_revision = '0004'
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
        'cinder_events',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('backend', _key(128), nullable=False),
        sa.Column('event_type', sa.String(64), nullable=False),
        sa.Column('resource_type', sa.String(16)),
        sa.Column('resource_id', _key(255)),
        sa.Column('host', sa.String(255)),
        sa.Column('emitted_at', DATETIME, nullable=False),
        sa.Column('recorded_at', DATETIME, nullable=False),
        sa.Column('message_id', sa.String(255)),
        sa.Column('payload', sa.Text, nullable=False),
        **MYSQL_OPTIONS)
    op.create_index('ix_cinder_events_backend_resource_id', 'cinder_events',
                    ['backend', 'resource_id'])
    op.create_index('ix_cinder_events_backend_recorded_at', 'cinder_events',
                    ['backend', 'recorded_at'])
    op.create_index('ix_cinder_events_recorded_at', 'cinder_events',
                    ['recorded_at'])
