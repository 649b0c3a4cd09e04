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

"""Run counts of the cloud findings (scope ``cloud``).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07

Cloud passes are recorded in the same tables as backend and host passes;
their ``backend`` column holds ``cloud`` (see reconciler.cloud.scope), so
only the per-kind count columns of the new kinds are new.
"""

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None

KINDS = ('stale_attachment', 'dangling_bdm', 'stuck_status',
         'orphan_project', 'stuck_deleting')


def upgrade():
    with op.batch_alter_table('runs') as batch:
        for kind in KINDS:
            batch.add_column(sa.Column(f'{kind}_count', sa.Integer))
