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

"""What every part of the history shares: its tables, and the helpers that
turn stored values (naive UTC datetimes, JSON text) into ours and page a
query.
"""

import datetime
import json

from oslo_db.sqlalchemy import utils as db_utils

from reconciler import exception
from reconciler.history import models
from reconciler import model

RUNS = models.Run.__table__
FINDINGS = models.Finding.__table__
OUTBOX = models.Notification.__table__
ACTIONS = models.Action.__table__
EVENTS = models.CinderEvent.__table__
MATCHED = models.MatchedObject.__table__

#: The states of a finding that is still open.
OPEN = (model.FindingState.SUSPECTED.value,
        model.FindingState.CONFIRMED.value)
#: Keys per IN list: well under every backend's bound-parameter limit.
CHUNK = 500
#: Error texts are capped to stay within a MySQL TEXT column.
MAX_ERROR = 16000


def dt(epoch):
    """Epoch seconds as the naive UTC datetime a column stores."""
    utc = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return utc.replace(tzinfo=None)


def ts(stored):
    """A stored naive UTC datetime (or None) as epoch seconds."""
    if stored is None:
        return None
    return stored.replace(tzinfo=datetime.UTC).timestamp()


def json_text(value):
    # Sorted keys: equal details always serialise to equal text, which is
    # what decides whether a confirmed finding needs a write.
    return json.dumps(value, sort_keys=True)


def count_column(kind):
    return f'{kind}_count'


def identity(row):
    return (row.kind, row.resource_type, row.resource_id)


def plain(key):
    """A candidate's identity as plain strings, as the rows have it."""
    kind, resource_type, resource_id = key
    return (str(kind), str(resource_type), resource_id)


def chunks(items):
    return (items[i:i + CHUNK] for i in range(0, len(items), CHUNK))


def page(conn, query, model_cls, limit, marker, sort, what):
    """``query`` ordered by ``sort`` and cut to the page after ``marker``
    (a row id), with oslo.db's keyset pagination (no OFFSET scans).
    The marker row is read with ``query``'s own filters: a marker the
    caller could not list is not found.
    """
    table = model_cls.__table__
    marker_row = None
    if marker is not None:
        marker_row = conn.execute(
            query.where(table.c.id == marker)).first()
        if marker_row is None:
            raise exception.NotFound('no %s %s (the marker)' % (what, marker))
    return db_utils.paginate_query(
        query, model_cls, limit, [key for key, _ in sort],
        marker=marker_row, sort_dirs=[d for _, d in sort])
