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
