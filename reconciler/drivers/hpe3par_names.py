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

"""3PAR virtual volume names <-> Cinder UUIDs, with no I/O.

Cinder's 3PAR driver names an object ``<prefix><enc>``: ``enc`` is the UUID's
16 bytes in base64 with ``+`` -> ``.``, ``/`` -> ``-`` and no padding, always
22 characters (3PAR names are limited to 31). Because ``-`` is part of that
alphabet, names are cut by position, never split on ``-``. Group-snapshot
members append ``-<index>`` to the encoded *group snapshot* id. The prefix
says what the object is; a name that does not decode exactly is foreign.
Only version-4 UUIDs decode: Cinder makes every id it names VVs after with
uuid4 (volumes, snapshots, group snapshots, the ``tss-`` of a clone). A
name can still decode by chance: 1 in 1,024 texts of 22 characters of the
alphabet is the canonical encoding of a uuid4, so after ``osv-``/``oss-``
the name is the only evidence a VV is Cinder's (``chance_names``).
Shared by the driver and ``cinder-reconciler-manage name-map``.
"""

import base64
import binascii
import dataclasses
import re
import uuid as uuidlib

from reconciler import model

ENCODED_LEN = 22
_PREFIX_LEN = 4
_MEMBER_SUFFIX = re.compile(r'^-(\d+)$')

R = model.ResourceType
C = model.ObjectClass

# prefix -> (resource type, class); see backends.md section 1.2.
PREFIXES = {
    'osv-': (R.VOLUME, C.CINDER),
    'oss-': (R.SNAPSHOT, C.CINDER),
    'tsv-': (R.VOLUME, C.TEMPORARY),      # migration: original renamed aside
    'omv-': (R.VOLUME, C.TEMPORARY),      # convert-to-base physical copy
    'tss-': (R.SNAPSHOT, C.TEMPORARY),    # clone source, expires in 1 h
    'tos-': (R.VOLUME, C.TEMPORARY),      # vvset renamed during migration
    'unm-': (R.VOLUME, C.UNMANAGED),
    'ums-': (R.SNAPSHOT, C.UNMANAGED),
    'vvs-': (R.VOLUME, C.CONTROL),        # QoS / group volume set
}
# Remote-copy groups keep only 18 encoded characters: not reversible.
REPLICA_PREFIX = 'rcg-'
# Temporaries of an operation on a volume (a migration or retype renames
# it tsv-, a convert copies it omv-) or on a clone's source (its tss-
# snapshot, named after a random uuid): stale once that volume is not in
# transition.
HELD_BY_VOLUME = ('tsv-', 'omv-')
HELD_BY_PARENT = ('tss-',)


@dataclasses.dataclass(frozen=True)
class Decoded:
    """What a name says. Group-snapshot members have ``group_uuid`` set and
    ``uuid`` None; foreign names have neither.
    """

    resource_type: model.ResourceType | None
    object_class: model.ObjectClass
    uuid: str | None = None
    group_uuid: str | None = None
    member_index: int | None = None


FOREIGN = Decoded(None, C.FOREIGN)


def encode(uuid):
    """The 22-character form of a UUID string (with or without dashes)."""
    raw = uuidlib.UUID(uuid).bytes
    text = base64.b64encode(raw).decode('ascii').rstrip('=')
    return text.replace('+', '.').replace('/', '-')


def decode(encoded):
    """The uuid4 a 22-character form stands for, or None if it is not one.

    Only canonical encodings count: re-encoding must give the input back, so
    stray characters or non-zero padding bits make a name foreign.
    """
    if len(encoded) != ENCODED_LEN:
        return None
    text = encoded.replace('.', '+').replace('-', '/') + '=='
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    value = uuidlib.UUID(bytes=raw)
    if value.version != 4 or value.variant != uuidlib.RFC_4122:
        return None
    return str(value) if encode(str(value)) == encoded else None


def name(prefix, uuid):
    return prefix + encode(uuid)


def volume_name(volume_key):
    """``osv-`` name of the volume named after ``name_id or id``."""
    return name('osv-', volume_key)


def snapshot_name(snapshot_id):
    return name('oss-', snapshot_id)


def group_member_name(group_snapshot_id, index):
    return '%s-%d' % (snapshot_name(group_snapshot_id), index)


def held_by(vv_name, uuid, parent_uuid):
    """``(ResourceType, uuid)`` of the volume a temporary VV serves."""
    prefix = vv_name[:_PREFIX_LEN]
    if prefix in HELD_BY_VOLUME:
        return R.VOLUME, uuid
    if prefix in HELD_BY_PARENT:
        return R.VOLUME, parent_uuid
    return None


def parse(vv_name):
    """Decode a VV name into a :class:`Decoded`."""
    prefix = vv_name[:_PREFIX_LEN]
    if prefix == REPLICA_PREFIX:
        return Decoded(R.VOLUME, C.REPLICA)
    if prefix not in PREFIXES:
        return FOREIGN
    rtype, cls = PREFIXES[prefix]
    end = _PREFIX_LEN + ENCODED_LEN
    uuid = decode(vv_name[_PREFIX_LEN:end])
    if uuid is None:
        return FOREIGN
    rest = vv_name[end:]
    if not rest:
        return Decoded(rtype, cls, uuid)
    member = _MEMBER_SUFFIX.match(rest)
    if member and rtype == R.SNAPSHOT:
        # oss-<group snapshot>-<i>, tss-<random>-<i> (group clone source)
        return Decoded(rtype, cls, None, uuid, int(member.group(1)))
    return FOREIGN
