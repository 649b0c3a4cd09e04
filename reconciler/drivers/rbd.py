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

"""Cinder's Ceph RBD driver: images, snapshots and trash of ``rbd_pool``.

Read as the configured Ceph user through the ``rbd`` binding or command line
(rbd_client.py). Names (reference/backends.md section 5):

* ``volume-<name_id>``: a volume; ``volume-<id>.deleted``: a volume Cinder
  deleted while clones still depended on it. Expected while it has children
  (temporary); without any it is a leak Cinder never removes: a temporary
  held by its volume, whose row is gone (a stale temporary).
* ``<image>@snapshot-<id>``: a snapshot; ``<image>@volume-<id>.clone_snap``:
  the source snapshot of a clone (temporary); ``<image>@backup.<id>.snap.<t>``
  and ``volume-<id>.backup.*`` images: Ceph backup driver copies (replica).
* Trash entries: images Cinder could not remove at once. With
  ``enable_deferred_deletion`` Cinder purges them (temporary); without, no one
  does, and a Cinder-named one is compared like a volume. Entries librbd
  itself keeps while a removal, migration or mirroring is under way
  (source other than USER) are temporary.

RBD has no per-host exports.
"""

import re
import time

from oslo_config import cfg

from reconciler.drivers import base
from reconciler.drivers import command
from reconciler.drivers import names
from reconciler.drivers import rbd_client
from reconciler import model

R = model.ResourceType
C = model.ObjectClass

OPTS = [
    cfg.StrOpt('rbd_pool', default='rbd',
               help="Cinder's RADOS pool of this backend's volumes."),
    cfg.StrOpt('rbd_user',
               help='Ceph client name (cephx); read access to rbd_pool is '
                    'enough.'),
    cfg.StrOpt('rbd_ceph_conf', default='',
               help='Ceph configuration file; empty for librados default.'),
    cfg.StrOpt('rbd_cluster_name', default='ceph',
               help='Ceph cluster name.'),
    cfg.StrOpt('rbd_secret_uuid',
               help="Cinder's libvirt secret UUID; accepted so Cinder's "
                    'group works unchanged, not used for listing.'),
    cfg.IntOpt('rados_connect_timeout', default=-1, min=-1, max=3600,
               help="Cinder's option: seconds to wait for the monitors "
                    '(connecting, client_mount_timeout) and for each '
                    'monitor or OSD operation (rados_mon_op_timeout, '
                    'rados_osd_op_timeout), through the binding and the '
                    'command line alike. Below 1 (Cinder\'s default -1, '
                    "librados' own unbounded waits): "
                    'reconciler_command_timeout. Never more than that.'),
    cfg.BoolOpt('enable_deferred_deletion', default=False,
                help='Whether Cinder purges its trashed images itself; '
                     'without it a trashed Cinder image is a leak.'),
    cfg.StrOpt('reconciler_rbd_command',
               help='Read the pool with this rbd command line (a path, or a '
                    'command with leading arguments) rather than the Python '
                    'binding. Unset: the binding where it imports, else '
                    '"rbd".'),
    command.TIMEOUT_OPT,
]

_DELETED = '.deleted'
_CLONE_SNAP = '.clone_snap'
_BACKUP_SNAP = re.compile(r'^backup\.[a-z0-9\-]+?\.snap\..+$')
# Trash entries someone moved there (rbd trash mv, Cinder's trash_move);
# librbd's own are removals (REMOVING), migrations and mirroring under way.
_TRASHED_BY_USER = ('USER', 'USER_PARENT')
#: Why a steady listing read in full: what was kept is of another pool.
OTHER_POOL = 'what was kept is of another pool or cluster'


class RBDDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = ('cinder.volume.drivers.rbd.RBDDriver',)
    UNMANAGE_KEEPS_NAME = True   # Cinder's unmanage leaves the image

    def __init__(self, backend):
        super().__init__(backend)
        self.names = names.Templates(backend.conf)
        volume = self.names.volume_template
        self.deleted_re = names.pattern(volume, suffix=re.escape(_DELETED))
        self.clone_snap_re = names.pattern(volume,
                                           suffix=re.escape(_CLONE_SNAP))
        self.backup_image_re = names.pattern(volume, suffix=r'\.backup\..+')
        self.pool = backend.rbd_pool
        self.client = None

    def open(self):
        self.client = rbd_client.connect(self.backend)

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    # -- names --------------------------------------------------------------

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot_name(snapshot_id)

    def decode_name(self, name):
        """An image, or an ``image@snap`` snapshot."""
        if '@' in name:
            cls, uuid = self.decode_snapshot(name.partition('@')[2])
            return R.SNAPSHOT, cls, uuid
        uuid = self.names.uuid(self.names.volume, name)
        if uuid:
            return R.VOLUME, C.CINDER, uuid
        uuid = self.names.uuid(self.backup_image_re, name)
        if uuid:
            return R.VOLUME, C.REPLICA, uuid
        return R.VOLUME, C.FOREIGN, None

    def decode_snapshot(self, snap):
        """The class and UUID of a snapshot name (the part after ``@``)."""
        uuid = self.names.uuid(self.names.snapshot, snap)
        if uuid:
            return C.CINDER, uuid
        uuid = self.names.uuid(self.clone_snap_re, snap)
        if uuid:
            return C.TEMPORARY, uuid
        if _BACKUP_SNAP.match(snap):
            return C.REPLICA, None
        return C.FOREIGN, None

    def _parent_key(self, image):
        return (self.names.uuid(self.names.volume, image)
                or self.names.uuid(self.deleted_re, image))

    # -- objects ------------------------------------------------------------

    def _image(self, name, size, children=None):
        """An image object; a .deleted parent is judged by its children
        (``children``: whether it has any, None to ask the cluster):
        without any, it is held by its deleted volume alone (stale).
        """
        uuid, held_by = self.names.uuid(self.deleted_re, name), None
        if uuid is None:
            _kind, cls, uuid = self.decode_name(name)
        else:
            cls = C.TEMPORARY
            if children is None:
                children = self.client.has_children(name)
            if not children:
                held_by = (R.VOLUME, uuid)
        return model.ArrayObject(R.VOLUME, name, uuid, cls, pool=self.pool,
                                 size_gib=_gib(size), held_by=held_by)

    def _snapshot(self, image, snap, size):
        cls, uuid = self.decode_snapshot(snap)
        return model.ArrayObject(
            R.SNAPSHOT, '%s@%s' % (image, snap), uuid, cls, pool=self.pool,
            size_gib=_gib(size), parent_uuid=self._parent_key(image))

    def _trash(self):
        objects = []
        for trash_id, name, source in self.client.trash():
            uuid = self._parent_key(name)
            if source not in _TRASHED_BY_USER:
                cls = C.TEMPORARY       # a removal or migration under way
            elif uuid is None:
                cls = C.FOREIGN
            else:
                cls = (C.TEMPORARY if self.backend.enable_deferred_deletion
                       else C.CINDER)
            objects.append(model.ArrayObject(
                R.VOLUME, _trash_name(name, trash_id), uuid, cls,
                pool=self.pool))
        return objects

    def _view(self, start, images, snaps, children=None, full=True):
        children = children or {}
        objects = [self._image(name, size, children.get(name))
                   for name, size in sorted(images.items())]
        objects += [self._snapshot(image, snap, size)
                    for image, by_name in sorted(snaps.items())
                    for snap, size in sorted(by_name.items())]
        objects += self._trash()
        counts = self.client.counts
        return model.ArrayView(
            tuple(objects), fetched_at=time.time(),
            seconds=time.monotonic() - start, requests=self.client.requests,
            full_listing=full,
            read_in_full=counts['header read'] + counts['open'])

    def _list(self, kept=None, reread=frozenset(), full=True):
        """The view, and what to keep of it for the next listing."""
        start = time.monotonic()
        images, snaps, kept = self.client.listing(kept, reread)
        # Whether a .deleted image still has clones depends on other
        # images (a format 1 clone leaves its parent's header alone): it
        # is asked on every listing.
        children = self.client.children(
            [n for n in images if self.names.uuid(self.deleted_re, n)])
        return self._view(start, images, snaps, children, full), kept

    def list_objects(self):
        return self._list()[0]

    def list_objects_reusing(self, cache):
        began = time.time()
        reason = cache.full_reason()
        if not reason and cache.data.pool != getattr(self.client, 'pool',
                                                     None):
            reason = OTHER_POOL     # rbd_pool or the cluster changed
        reread = frozenset(name for key in cache.reread
                           for name in (self.volume_name(key),
                                        self.volume_name(key) + _DELETED))
        view, kept = self._list(None if reason else cache.data, reread,
                                full=bool(reason))
        cache.listed(kept, reason, began)
        return view

    def list_objects_opening_each(self):
        """The listing as it was before header reads (binding only): every
        image opened with librbd, one after another, and each .deleted one
        again for its children. The reference the tests and the benchmark
        compare :meth:`list_objects` with.
        """
        start = time.monotonic()
        return self._view(start, *self.client.opened_listing())

    # -- point look-ups -----------------------------------------------------

    def _find_image(self, image):
        size = self.client.image_size(image)
        if size is None:
            return None
        return self._image(image, size)

    def _find_snapshot(self, image, snap):
        snaps = self.client.snapshots(image) or {}
        if snap not in snaps:
            return None
        return self._snapshot(image, snap, snaps[snap])

    def find_volume(self, volume_key):
        return self._find_image(self.volume_name(volume_key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        return self._find_snapshot(self.volume_name(volume_key),
                                   self.snapshot_name(snapshot_id))

    def refresh(self, obj):
        if obj.kind == R.SNAPSHOT:
            image, _, snap = obj.name.partition('@')
            return self._find_snapshot(image, snap)
        if _is_trash(obj.name):
            return next((t for t in self._trash() if t.name == obj.name),
                        None)
        return self._find_image(obj.name)


def _gib(size):
    return size / 1024 ** 3 if isinstance(size, int) else None


def _trash_name(name, trash_id):
    return '%s (trash %s)' % (name, trash_id)


def _is_trash(name):
    return name.endswith(')') and ' (trash ' in name
