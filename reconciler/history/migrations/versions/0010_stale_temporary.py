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
