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

"""Remediation you can trust: who runs an action, what passes matched.

The process owning each action (so a dead one's rows are closed as
abandoned), and the array objects passes matched to Cinder rows (so an
array-only object known only by its name can be told from one Cinder had).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

MYSQL_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}
DATETIME = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def _key(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, collation='utf8mb4_bin'), 'mysql', 'mariadb')


def upgrade():
    with op.batch_alter_table('actions') as batch:
        batch.add_column(sa.Column('owner_host', sa.String(255)))
        batch.add_column(sa.Column('owner_pid', sa.Integer))
        batch.add_column(sa.Column('owner_start', sa.String(64)))
    op.create_table(
        'matched_objects',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('backend', _key(128), nullable=False),
        sa.Column('resource_type', sa.String(16), nullable=False),
        sa.Column('resource_id', _key(255), nullable=False),
        sa.Column('first_matched', DATETIME, nullable=False),
        sa.UniqueConstraint('backend', 'resource_type', 'resource_id',
                            name='uq_matched_objects_identity'),
        **MYSQL_OPTIONS)
