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

"""Remediation: the actions audit table, and ignored findings.

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None

MYSQL_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}
DATETIME = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'actions',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('finding_id', sa.Integer, nullable=False),
        sa.Column('backend', sa.String(128), nullable=False),
        sa.Column('action', sa.String(16), nullable=False),
        sa.Column('target', sa.Text, nullable=False),
        sa.Column('params', sa.Text, nullable=False),
        sa.Column('actor', sa.String(255), nullable=False),
        sa.Column('applied', sa.Boolean, nullable=False),
        sa.Column('result', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text),
        sa.Column('started_at', DATETIME, nullable=False),
        sa.Column('finished_at', DATETIME),
        **MYSQL_OPTIONS)
    op.create_index('ix_actions_finding_id', 'actions', ['finding_id'])
    with op.batch_alter_table('findings') as batch:
        batch.add_column(sa.Column('ignored_reason', sa.Text))
        batch.add_column(sa.Column('ignored_until', DATETIME))
