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

"""Array names in a form every supported database stores.

An array may return any string: longer than a column, with a NUL byte
(PostgreSQL refuses it), with a lone surrogate (a JSON ``\\udc80``; no
driver encodes it) or with 4-byte UTF-8 (MySQL needs utf8mb4, which the
history's connections always use). One such object must not make every pass
of its backend fail at the database, so names are stored escaped, and
identities that had to be escaped or cut keep a digest of the whole name:
two distinct names never share a row.
"""

import dataclasses
import hashlib

#: Length of the identity columns (``resource_id``, ``array_name``).
KEY_LENGTH = 255
_DIGEST = 16


def text(value):
    """``value`` with NUL bytes and lone surrogates backslash-escaped."""
    if value is None:
        return None
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        value = value.encode('utf-8', 'backslashreplace').decode('utf-8')
    return value.replace('\x00', '\\x00')


def key(value, length=KEY_LENGTH):
    """Identity text: ``value`` itself when it can be stored as it is,
    otherwise its escaped start and a digest of all of it.
    """
    if value is None:
        return None
    safe = text(value)
    if safe == value and len(value) <= length:
        return value
    digest = hashlib.sha256(
        value.encode('utf-8', 'surrogatepass')).hexdigest()[:_DIGEST]
    return '%s~%s' % (safe[:length - _DIGEST - 1], digest)


def candidate(cand):
    """A candidate whose array-given strings are all storable (its details
    are stored as ASCII JSON, which escapes everything).
    """
    fields = {'resource_id': key(cand.resource_id),
              'array_name': key(cand.array_name),
              'project_id': key(cand.project_id)}
    if all(getattr(cand, f) == v for f, v in fields.items()):
        return cand
    return dataclasses.replace(cand, **fields)
