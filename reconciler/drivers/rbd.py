"""Cinder's Ceph RBD driver: images, snapshots and trash of ``rbd_pool``.

Read through the ``rbd`` command line with JSON output (``ls -l``, ``info``,
``snap ls``, ``children``, ``trash ls``), as the configured Ceph user. Names
(reference/backends.md section 5):

* ``volume-<name_id>``: a volume; ``volume-<id>.deleted``: a volume Cinder
  deleted while clones still depended on it. Expected while it has children
  (temporary); without any it is a leak Cinder never removes, so it is
  compared like a volume (its row is gone: array-only).
* ``<image>@snapshot-<id>``: a snapshot; ``<image>@volume-<id>.clone_snap``:
  the source snapshot of a clone (temporary); ``<image>@backup.<id>.snap.<t>``
  and ``volume-<id>.backup.*`` images: Ceph backup driver copies (replica).
* Trash entries: images Cinder could not remove at once. With
  ``enable_deferred_deletion`` Cinder purges them (temporary); without, no one
  does, and a Cinder-named one is compared like a volume.

RBD has no per-host exports.
"""

import json
import re
import shlex
import time

from oslo_config import cfg

from reconciler.drivers import base
from reconciler.drivers import command
from reconciler.drivers import names
from reconciler import exception
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
    cfg.BoolOpt('enable_deferred_deletion', default=False,
                help='Whether Cinder purges its trashed images itself; '
                     'without it a trashed Cinder image is a leak.'),
    cfg.StrOpt('reconciler_rbd_command', default='rbd',
               help='The rbd command line to run (a path, or a command '
                    'with leading arguments).'),
    command.TIMEOUT_OPT,
]

_DELETED = '.deleted'
_CLONE_SNAP = '.clone_snap'
_BACKUP_SNAP = re.compile(r'^backup\.[a-z0-9\-]+?\.snap\..+$')
_NOT_FOUND = '(2) No such file or directory'


class RBDDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = ('cinder.volume.drivers.rbd.RBDDriver',)

    def __init__(self, backend):
        super().__init__(backend)
        self.names = names.Templates(backend.conf)
        volume = self.names.volume_template
        self.deleted_re = names.pattern(volume, suffix=re.escape(_DELETED))
        self.clone_snap_re = names.pattern(volume,
                                           suffix=re.escape(_CLONE_SNAP))
        self.backup_image_re = names.pattern(volume, suffix=r'\.backup\..+')
        self.pool = backend.rbd_pool
        self.requests = 0

    # -- the command line ---------------------------------------------------

    def _rbd(self, *args):
        b = self.backend
        argv = shlex.split(b.reconciler_rbd_command) + [
            '--cluster', b.rbd_cluster_name]
        if b.rbd_user:
            argv += ['--id', b.rbd_user]
        if b.rbd_ceph_conf:
            argv += ['--conf', b.rbd_ceph_conf]
        self.requests += 1
        out = command.run(argv + list(args) + ['--format', 'json'],
                          timeout=b.reconciler_command_timeout)
        try:
            return json.loads(out)
        except ValueError as e:
            raise exception.ArrayResponseError(
                'rbd %s: output is not JSON (%s)' % (args[0], e))

    def _rbd_list(self, *args):
        items = self._rbd(*args)
        if not isinstance(items, list):
            raise exception.ArrayResponseError(
                'rbd %s: malformed entry (a list expected)'
                % ' '.join(args))
        return items

    def _spec(self, image, snap=None):
        return '%s/%s' % (self.pool, image) + ('@' + snap if snap else '')

    # -- names --------------------------------------------------------------

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot_name(snapshot_id)

    def decode_name(self, name):
        """Images; see :meth:`decode_snapshot` for ``image@snap`` names."""
        uuid = self.names.uuid(self.names.volume, name)
        if uuid:
            return R.VOLUME, C.CINDER, uuid
        uuid = self.names.uuid(self.backup_image_re, name)
        if uuid:
            return R.VOLUME, C.REPLICA, uuid
        return R.VOLUME, C.FOREIGN, None

    def decode_snapshot(self, snap):
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

    def _image(self, name, size, snaps):
        """An image object; a .deleted parent is judged by its children."""
        uuid = self.names.uuid(self.deleted_re, name)
        if uuid is None:
            _kind, cls, uuid = self.decode_name(name)
        elif self._has_children(name, snaps):
            cls = C.TEMPORARY
        else:
            cls = C.CINDER
        return model.ArrayObject(R.VOLUME, name, uuid, cls, pool=self.pool,
                                 size_gib=_gib(size))

    def _snapshot(self, image, snap, size):
        cls, uuid = self.decode_snapshot(snap)
        return model.ArrayObject(
            R.SNAPSHOT, '%s@%s' % (image, snap), uuid, cls, pool=self.pool,
            size_gib=_gib(size), parent_uuid=self._parent_key(image))

    def _has_children(self, image, snaps):
        for snap in snaps:
            if self._rbd_list('children', '--all', self._spec(image, snap)):
                return True
        return False

    def _trash_object(self, entry):
        name, trash_id = entry['name'], entry['id']
        uuid = (self.names.uuid(self.names.volume, name)
                or self.names.uuid(self.deleted_re, name))
        cls = C.FOREIGN if uuid is None else (
            C.TEMPORARY if self.backend.enable_deferred_deletion
            else C.CINDER)
        return model.ArrayObject(R.VOLUME, _trash_name(name, trash_id), uuid,
                                 cls, pool=self.pool)

    def _trash(self):
        entries = self._rbd_list('trash', 'ls', '--all', self.pool)
        try:
            return [self._trash_object(e) for e in entries]
        except (KeyError, TypeError) as e:
            raise exception.ArrayResponseError(
                'rbd trash ls %s: malformed entry (%s)' % (self.pool, e))

    def list_objects(self):
        start = time.monotonic()
        rows = self._rbd_list('ls', '-l', self.pool)
        images, snaps = {}, {}
        try:
            for row in rows:
                image, size = row['image'], row['size']
                if not isinstance(image, str) or not image:
                    raise TypeError('image name %r' % (image,))
                if 'snapshot' in row:
                    snaps.setdefault(image, {})[row['snapshot']] = size
                else:
                    images[image] = size
        except (KeyError, TypeError) as e:
            raise exception.ArrayResponseError(
                'rbd ls -l %s: malformed entry (%s)' % (self.pool, e))
        objects = [self._image(name, size, snaps.get(name, ()))
                   for name, size in sorted(images.items())]
        objects += [self._snapshot(image, snap, size)
                    for image, by_name in sorted(snaps.items())
                    for snap, size in sorted(by_name.items())]
        objects += self._trash()
        return model.ArrayView(tuple(objects), fetched_at=time.time(),
                               seconds=time.monotonic() - start,
                               requests=self.requests)

    # -- point look-ups -----------------------------------------------------

    def _info(self, image):
        try:
            info = self._rbd('info', self._spec(image))
        except command.CommandFailed as e:
            if _NOT_FOUND in e.stderr:
                return None
            raise
        try:
            size = info['size']
            snaps = () if not self.deleted_re.match(image) else [
                s['name'] for s in self._snaps(image) or ()]
        except (KeyError, TypeError) as e:
            raise exception.ArrayResponseError(
                'rbd info %s: malformed (%s)' % (self._spec(image), e))
        return self._image(image, size, snaps)

    def _snaps(self, image):
        """The image's snapshots; None if the image does not exist."""
        try:
            return self._rbd_list('snap', 'ls', self._spec(image))
        except command.CommandFailed as e:
            if _NOT_FOUND in e.stderr:
                return None
            raise

    def find_volume(self, volume_key):
        return self._info(self.volume_name(volume_key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        image = self.volume_name(volume_key)
        wanted = self.snapshot_name(snapshot_id)
        try:
            for snap in self._snaps(image) or ():
                if snap['name'] == wanted:
                    return self._snapshot(image, wanted, snap.get('size'))
        except (KeyError, TypeError) as e:
            raise exception.ArrayResponseError(
                'rbd snap ls %s: malformed (%s)' % (self._spec(image), e))
        return None

    def refresh(self, obj):
        if obj.kind == R.SNAPSHOT:
            image, _, snap = obj.name.partition('@')
            for entry in self._snaps(image) or ():
                if entry.get('name') == snap:
                    return self._snapshot(image, snap, entry.get('size'))
            return None
        if _is_trash(obj.name):
            return next((t for t in self._trash() if t.name == obj.name),
                        None)
        return self._info(obj.name)


def _gib(size):
    return size / 1024 ** 3 if isinstance(size, int) else None


def _trash_name(name, trash_id):
    return '%s (trash %s)' % (name, trash_id)


def _is_trash(name):
    return name.endswith(')') and ' (trash ' in name
