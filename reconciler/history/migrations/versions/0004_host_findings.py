"""Run counts of the host findings (scope ``host:<connector host>``).

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-01

Host passes are recorded in the same tables as backend passes; their
``backend`` column holds ``host:<connector host>`` (see reconciler.host.scope),
so only the per-kind count columns of the new kinds are new.
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0006'
branch_labels = None
depends_on = None

KINDS = ('leftover_device', 'faulty_map', 'faulty_attached', 'stale_session',
         'missing_device')


def upgrade():
    with op.batch_alter_table('runs') as batch:
        for kind in KINDS:
            batch.add_column(sa.Column(f'{kind}_count', sa.Integer))
