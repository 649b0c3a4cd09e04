"""Alembic environment; run through reconciler.history.migration.

The caller hands over an open connection in ``config.attributes``; nothing
here configures logging, so the service's own logging setup is left alone.
"""

from alembic import context

from reconciler.history import migration
from reconciler.history import models

connection = context.config.attributes['connection']
context.configure(
    connection=connection,
    target_metadata=models.Base.metadata,
    version_table=migration.VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == 'sqlite')
with context.begin_transaction():
    context.run_migrations()
