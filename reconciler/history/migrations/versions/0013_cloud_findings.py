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
