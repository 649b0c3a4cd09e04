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

"""A History per test on a copy of a SQLite file migrated once per process."""

import atexit
import os
import shutil
import tempfile

import fixtures
import sqlalchemy as sa

from reconciler.history import api
from reconciler.history import migration
from reconciler import model

# Taken at import, before oslotest points tempfile at a per-test directory.
_GOLDEN_DIR = tempfile.mkdtemp(prefix='reconciler-history-')
atexit.register(shutil.rmtree, _GOLDEN_DIR, True)
_GOLDEN = os.path.join(_GOLDEN_DIR, 'golden.sqlite')


def _golden():
    if not os.path.exists(_GOLDEN):
        migration.upgrade('sqlite:///' + _GOLDEN)
    return _GOLDEN


class History(fixtures.Fixture):

    def _setUp(self):
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'history.sqlite')
        shutil.copy(_golden(), self.path)
        self.url = 'sqlite:///' + self.path
        self.history = api.History(self.url)


class Writes(fixtures.Fixture):
    """Every INSERT, UPDATE and DELETE any engine sends while in use.

    Each entry is (statement, number of parameter sets).
    """

    def _setUp(self):
        self.statements = []
        sa.event.listen(sa.engine.Engine, 'before_cursor_execute', self._seen)
        self.addCleanup(sa.event.remove, sa.engine.Engine,
                        'before_cursor_execute', self._seen)

    def _seen(self, conn, cursor, statement, parameters, context,
              executemany):
        if statement.lstrip().split(None, 1)[0].upper() in (
                'INSERT', 'UPDATE', 'DELETE'):
            self.statements.append((' '.join(statement.split()[:3]),
                                    len(context.compiled_parameters)))


def candidate(resource_id, kind=model.FindingKind.ARRAY_ONLY,
              resource_type=model.ResourceType.VOLUME, **fields):
    fields.setdefault('array_name', f'volume-{resource_id}')
    return model.Candidate(kind, resource_type, resource_id, **fields)


def no_events(transitions):
    return []
