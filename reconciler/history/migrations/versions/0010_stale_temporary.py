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

"""Run counts of stale temporaries.

Revision ID: 0010
Revises: 0008
Create Date: 2027-01-15

``stale_temporary`` findings (a temporary object Cinder made for an
operation that is over) are counted per run like every other kind.
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('stale_temporary_count', sa.Integer))
