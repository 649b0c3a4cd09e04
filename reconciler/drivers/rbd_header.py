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

"""What the listing needs from a format 2 RBD image's header object.

librbd keeps a format 2 image's metadata in the omap of its header object
``rbd_header.<image id>``, written by the cluster's ``cls_rbd`` class: the
size under ``size`` (a little-endian 64-bit integer) and each snapshot
under ``snapshot_<its id in 16 hex digits>``, a versioned ``cls_rbd_snap``
record. Reading those keys is one librados operation per image, where
opening the image with librbd takes about ten round trips and some 4 ms of
client CPU (doc/benchmarks.md).

The decoding follows the record's own framing (version, compatible
version, length) as Ceph writes it: layouts before and from Nautilus
(``struct_compat`` 8 dropped the unused features and the parent from
snapshot records), the snapshot namespace from version 5 on (user
snapshots only, as ``rbd snap ls`` shows). Anything else, a short or
over-long record, an id that is not its key's, a name that is not UTF-8,
an unknown layout, makes :func:`decode` return None, and the caller opens
that image with librbd instead: the header is read, never guessed.
"""

import struct

SIZE_KEY = 'size'
PARENT_KEY = 'parent'
SNAPSHOT_PREFIX = 'snapshot_'
# librbd's SNAPSHOT_NAMESPACE_TYPE_USER; the others are group, trash and
# mirror snapshots, which ``rbd snap ls`` leaves out.
USER_NAMESPACE = 0
# Snapshot keys asked for in one read. The OSD answers at most
# osd_max_omap_entries_per_request (1024 by default); an image with this
# many is opened with librbd, which pages.
MAX_SNAPSHOTS = 1000

_U8 = struct.Struct('<B')
_U32 = struct.Struct('<I')
_U64 = struct.Struct('<Q')
_I64 = struct.Struct('<q')
_FRAME = struct.Struct('<BBI')     # struct_v, struct_compat, length


class Malformed(ValueError):
    """The bytes are not a record this module knows."""


class _Reader(object):

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if n < 0 or self.at + n > len(self.data):
            raise Malformed('record cut short')
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt):
        return fmt.unpack(self.take(fmt.size))[0]

    def frame(self):
        """An ENCODE_START header: (version, compat, a reader of its body)."""
        version, compat, length = _FRAME.unpack(self.take(_FRAME.size))
        if not 1 <= compat <= version:
            raise Malformed('version %d, compatible %d' % (version, compat))
        return version, compat, _Reader(self.take(length))

    def string(self):
        return self.take(self.unpack(_U32)).decode('utf-8')


def _snapshot(key, value):
    """``(name, size, namespace type)`` of one ``snapshot_<id>`` record."""
    if len(key) != len(SNAPSHOT_PREFIX) + 16:
        raise Malformed('snapshot key %r' % key)
    snap_id = int(key[len(SNAPSHOT_PREFIX):], 16)
    outer = _Reader(value)
    version, compat, r = outer.frame()
    if outer.at != len(value):
        raise Malformed('bytes after the record')
    if compat > 8:
        raise Malformed('a layout newer than 8 (compatible %d)' % compat)
    if r.unpack(_U64) != snap_id:
        raise Malformed('record id is not its key')
    name = r.string()
    size = r.unpack(_U64)
    namespace = USER_NAMESPACE
    if compat < 8:
        r.unpack(_U64)                  # features, unused
        if version >= 2:
            r.frame()                   # the parent, framed
    if version >= 3:
        r.unpack(_U8)                   # protection status
    if version >= 4:
        r.unpack(_U64)                  # flags
    if version >= 5:
        _v, _c, ns = r.frame()
        namespace = ns.unpack(_U32)
    if not name:
        raise Malformed('empty snapshot name')
    return name, size, namespace


def _parent(raw):
    """``(pool id, pool namespace, image id)`` of a clone's ``parent``
    record (version 1, or 2 from Nautilus with the namespace).
    """
    outer = _Reader(raw)
    version, compat, r = outer.frame()
    if outer.at != len(raw) or compat > 2:
        raise Malformed('parent record, version %d' % version)
    pool = r.unpack(_I64)
    namespace = r.string() if version >= 2 else ''
    return pool, namespace, r.string()


def decode(values):
    """``(size, {snap: size}, parent)`` from the omap ``values`` of a
    header (``size``, ``parent`` and the ``snapshot_`` keys), user
    snapshots only; None where anything does not add up. ``parent`` is
    what a clone's head refers to, ``(pool id, namespace, image id)``,
    None for an image that is no clone.
    """
    raw = values.get(SIZE_KEY)
    if raw is None or len(raw) != _U64.size:
        return None
    parent = values.get(PARENT_KEY)
    snaps = {}
    keys = [k for k in values if k.startswith(SNAPSHOT_PREFIX)]
    if len(keys) >= MAX_SNAPSHOTS:
        return None
    try:
        for key in keys:
            name, size, namespace = _snapshot(key, values[key])
            if namespace == USER_NAMESPACE:
                if name in snaps:
                    return None
                snaps[name] = size
        if parent is not None:
            parent = _parent(parent)
    except (Malformed, ValueError, struct.error):
        return None
    return _U64.unpack(raw)[0], snaps, parent
