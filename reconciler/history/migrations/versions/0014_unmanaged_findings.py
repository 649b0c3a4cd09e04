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

"""Run counts of unmanaged findings (Cinder's events alone say unmanaged).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

An array object Cinder's recorded events say it unmanaged used to be
counted as "not compared" and left out of the findings; it is now a
finding of its own kind, so that what events hide stays in sight.
"""

from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('unmanaged_count', sa.Integer))
