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

"""Reading one RBD pool: through the ``rbd`` binding, or the ``rbd`` CLI.

Both clients answer the same few questions with plain data (sizes in
bytes) and raise :class:`reconciler.exception.ArrayError` for anything
else, so the RBD driver only decides what names mean. The binding
(``python3-rbd``, as Cinder uses) is preferred where it imports; the CLI
(JSON output) needs nothing but the ``rbd`` command.
"""

import collections
import shlex
import threading

from reconciler.drivers import bounded
from reconciler.drivers import command
from reconciler.drivers import rbd_header
from reconciler import exception

_NOT_FOUND = '(2) No such file or directory'
_HEADER = 'rbd_header.'
_UNDECODED = object()
# librados' waits, each bounded by ceph_timeout(): for the monitors at
# connect, and for every monitor and OSD operation after. Cinder sets the
# same three from rados_connect_timeout.
_TIMEOUTS = ('client_mount_timeout', 'rados_mon_op_timeout',
             'rados_osd_op_timeout')


def ceph_timeout(backend):
    """Seconds librados may wait for one answer: ``rados_connect_timeout``
    when set (>= 1), never more than ``reconciler_command_timeout``.
    """
    limit = backend.reconciler_command_timeout
    asked = backend.rados_connect_timeout
    return min(asked, limit) if asked >= 1 else limit


def _malformed(what, error):
    return exception.ArrayResponseError('rbd %s: malformed entry (%s: %s)'
                                        % (what, type(error).__name__, error))


def _text(value, what):
    if not isinstance(value, str) or not value:
        raise TypeError('%s %r' % (what, value))
    return value


def _bytes(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError('%s %r' % (what, value))
    return value


def _entries(data, what):
    """``data``, a list of JSON objects (rows of an ``rbd`` answer)."""
    if not isinstance(data, list) or not all(
            isinstance(row, dict) for row in data):
        raise TypeError('%s: not a list of objects' % what)
    return data


def _listed(value, what):
    """A whole-pool answer of the binding: None is no answer, not empty."""
    if value is None:
        raise exception.ArrayResponseError(
            'rbd %s: no answer (the pool or its directory is missing)'
            % what)
    return value


def _summary(stderr):
    """One line of why: rbd's own ``rbd: ...`` lines, not librados' log."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    own = [line for line in lines if line.startswith('rbd:')]
    return '; '.join(own or lines[-1:])[-500:]


class CLIClient(object):
    """``rbd ... --format json``, one command per question."""

    def __init__(self, backend):
        self.backend = backend
        self.pool = backend.rbd_pool
        argv = shlex.split(backend.reconciler_rbd_command or 'rbd') + [
            '--cluster', backend.rbd_cluster_name]
        if backend.rbd_user:
            argv += ['--id', backend.rbd_user]
        if backend.rbd_ceph_conf:
            argv += ['--conf', backend.rbd_ceph_conf]
        timeout = str(ceph_timeout(backend))
        for option in _TIMEOUTS:
            argv += ['--' + option.replace('_', '-'), timeout]
        self.argv = argv
        self.requests = 0
        self.counts = collections.Counter()

    def _rbd(self, *args, expect=list):
        self.requests += 1
        try:
            out = command.run(self.argv + list(args) + ['--format', 'json'],
                              timeout=self.backend.reconciler_command_timeout)
        except command.CommandFailed as e:
            raise command.CommandFailed(
                'rbd exited with status %s: %s' % (e.exit_code,
                                                   _summary(e.stderr)),
                e.exit_code, e.stderr)
        try:
            data = bounded.loads(out, 'rbd %s' % args[0])
        except ValueError as e:
            raise exception.ArrayResponseError(
                'rbd %s: output is not JSON (%s)' % (args[0], e))
        if not isinstance(data, expect):
            raise _malformed(' '.join(args), TypeError(
                'a %s expected' % expect.__name__))
        return data

    def _or_none(self, *args, expect=list):
        try:
            return self._rbd(*args, expect=expect)
        except command.CommandFailed as e:
            if _NOT_FOUND in e.stderr:
                return None
            raise

    def _spec(self, image, snap=None):
        return '%s/%s' % (self.pool, image) + ('@' + snap if snap else '')

    def listing(self, kept=None, reread=frozenset()):
        """``({image: size}, {image: {snap: size}}, None)`` of the whole
        pool: ``rbd ls -l`` opens every image, so nothing is kept.
        """
        images, snaps = {}, {}
        try:
            for row in _entries(self._rbd('ls', '-l', self.pool), 'rows'):
                image = _text(row['image'], 'image name')
                size = _bytes(row['size'], 'size of %s' % image)
                if 'snapshot' in row:
                    snap = _text(row['snapshot'], 'snapshot name')
                    snaps.setdefault(image, {})[snap] = size
                else:
                    images[image] = size
        except (KeyError, TypeError) as e:
            raise _malformed('ls -l %s' % self.pool, e)
        self.counts['open'] += len(images)
        return images, snaps, None

    def image_size(self, image):
        info = self._or_none('info', self._spec(image), expect=dict)
        try:
            return None if info is None else _bytes(info['size'], 'size')
        except (KeyError, TypeError) as e:
            raise _malformed('info %s' % self._spec(image), e)

    def snapshots(self, image):
        """``{snap: size}``, or None if the image does not exist."""
        snaps = self._or_none('snap', 'ls', self._spec(image))
        try:
            return None if snaps is None else {
                _text(s['name'], 'snapshot name'): s.get('size')
                for s in _entries(snaps, 'snapshots')}
        except (KeyError, TypeError) as e:
            raise _malformed('snap ls %s' % self._spec(image), e)

    def has_children(self, image):
        """Whether a clone (one in the trash too) depends on any snapshot
        of ``image``, in any namespace: a snapshot removed while a format 2
        clone needs it lives on in the trash namespace.
        """
        spec = self._spec(image)
        try:
            ids = [str(s['id']) for s in self._or_none(
                'snap', 'ls', '--all', spec) or ()]
        except (KeyError, TypeError) as e:
            raise _malformed('snap ls --all %s' % spec, e)
        self.counts['children'] += 1
        return any(self._rbd('children', '--all', '--snap-id', snap_id, spec)
                   for snap_id in ids)

    def children(self, images):
        """``{image: has_children(image)}``."""
        return {image: self.has_children(image) for image in images}

    def trash(self):
        """``[(id, name, source)]`` of every trash entry."""
        try:
            return [(_text(e['id'], 'trash id'), _text(e['name'], 'name'),
                     _text(e['source'], 'trash source'))
                    for e in _entries(self._rbd('trash', 'ls', '--all',
                                                '--long', self.pool),
                                      'entries')]
        except (KeyError, TypeError) as e:
            raise _malformed('trash ls %s' % self.pool, e)

    def close(self):
        pass


# Images read at once by the binding, each reader with its own librados
# I/O context (the version of the object last read is the context's).
# Measured at 10,000 images on 2 cores (doc/benchmarks.md): 4 to 16 readers
# take about the same time, bound by CPU; one alone waits on every answer.
READERS = 8


class Kept(object):
    """What one binding listing read, for the next listing of the pool.

    ``pool``: the cluster's fsid and the pool's id, so that nothing read
    elsewhere is reused; ``images``: image id -> (version of its header
    object when read, size, {snap: size}, the parent a clone refers to).
    """

    __slots__ = ('pool', 'images')

    def __init__(self, pool, images):
        self.pool, self.images = pool, images


class BindingClient(object):
    """librados and librbd through their Python bindings.

    A listing reads the pool's directory (``list2``: names and ids) and
    then every format 2 image's header object (rbd_header.py), one
    librados operation each, READERS at a time; an image whose header does
    not decode, and a format 1 image, is opened with librbd instead. Given
    what an earlier listing of the pool read (:class:`Kept`), it reads a
    header again only when a stat shows the object's version changed:
    every change librbd makes to an image (snapshots, their protection,
    resize, flatten, a format 2 clone or its removal, metadata, locks,
    rename, trash) writes the header, and every write changes its version
    (tests/functional/test_rbd_scale.py checks each on a real cluster).
    """

    def __init__(self, backend, rados, rbd):
        self.rados, self.rbd = rados, rbd
        self.requests = 0
        self._ids, self._parents = {}, set()   # of the last listing
        # What the listing did, by kind: header stats and reads, librbd
        # opens (a format 1 image, a header it did not decode, children).
        self.counts = collections.Counter()
        self._lock = threading.Lock()
        timeout = ceph_timeout(backend)
        try:
            self.client = rados.Rados(rados_id=backend.rbd_user,
                                      clustername=backend.rbd_cluster_name,
                                      conffile=backend.rbd_ceph_conf or '')
            # Bound every operation, not only the connection.
            for option in _TIMEOUTS:
                self.client.conf_set(option, str(timeout))
            self.client.connect(timeout=timeout)
        except rados.Error as e:
            raise exception.ArrayUnreachable(
                'Ceph cluster %s: %s' % (backend.rbd_cluster_name, e))
        try:
            self.ioctx = self.client.open_ioctx(backend.rbd_pool)
            self.pool = (self.client.get_fsid(), self.ioctx.get_pool_id())
        except rados.Error as e:
            self.client.shutdown()
            raise exception.ArrayUnreachable(
                'Ceph cluster %s, pool %s: %s' % (
                    backend.rbd_cluster_name, backend.rbd_pool, e))

    def _count(self, kind):
        with self._lock:
            self.requests += 1
            self.counts[kind] += 1

    def _call(self, what, fn, kind='other'):
        self._count(kind)
        try:
            return fn()
        except (self.rbd.ImageNotFound, self.rados.ObjectNotFound):
            return None
        except (self.rados.Error, self.rbd.Error) as e:
            raise exception.ArrayError('rbd %s: %s' % (what, e))
        except (IndexError, KeyError, TypeError, ValueError) as e:
            # The binding's own decoding: Ceph 16.2's trash_list raises
            # IndexError while a migration's source is in the trash.
            raise _malformed(what, e)

    def _image(self, name, fn, ioctx=None, kind='open'):
        """``fn(image)`` on the opened image; None if there is none."""
        def run():
            with self.rbd.Image(ioctx or self.ioctx, name,
                                read_only=True) as image:
                return fn(image)
        return self._call(name, run, kind)

    def _user_snaps(self, image):
        """``{snap: size}`` as the CLI lists them: ``list_snaps`` also
        yields other namespaces' (trash, group, mirror), UUID-named.
        """
        user = getattr(self.rbd, 'RBD_SNAP_NAMESPACE_TYPE_USER', 0)
        return {s['name']: s['size'] for s in image.list_snaps()
                if s.get('namespace', user) == user}

    def _opened(self, name, ioctx=None):
        """``(size, {snap: size})`` through librbd; None if it is gone."""
        return self._image(name, lambda i: (i.size(), self._user_snaps(i)),
                           ioctx)

    def _parallel(self, items, work):
        """``work(ioctx, item)`` for every item, READERS threads at a time,
        each with an I/O context of its own; the results in item order.
        The first error is raised once every reader has stopped (each
        stops before its next item).
        """
        results = [None] * len(items)
        todo = iter(enumerate(items))
        lock = threading.Lock()
        errors = []

        def reader():
            ioctx = None
            try:
                ioctx = self.ioctx.dup()
                while not errors:
                    with lock:
                        index, item = next(todo, (None, None))
                    if index is None:
                        return
                    results[index] = work(ioctx, item)
            except Exception as e:      # raised by the listing's thread
                errors.append(e)
            finally:
                if ioctx is not None:
                    ioctx.close()
        readers = [threading.Thread(target=reader, daemon=True,
                                    name='rbd-reader-%d' % n)
                   for n in range(min(READERS, len(items)))]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join()
        if errors:
            if isinstance(errors[0], self.rados.Error):
                raise exception.ArrayError('rbd I/O context: %s' % errors[0])
            raise errors[0]
        return results

    def _version(self, ioctx, image_id):
        """The header object's version (a stat); None if it is gone."""
        oid = _HEADER + image_id
        if self._call('stat ' + oid, lambda: ioctx.stat(oid),
                      'header stat') is None:
            return None
        return ioctx.get_last_version()

    def _header(self, ioctx, image_id):
        """``(version, size, snaps, parent)`` read from the header object;
        None if it is gone, _UNDECODED if it does not decode.
        """
        oid = _HEADER + image_id

        def read():
            with self.rados.ReadOpCtx() as op:
                size, _ = ioctx.get_omap_vals_by_keys(
                    op, (rbd_header.SIZE_KEY, rbd_header.PARENT_KEY))
                snaps, _ = ioctx.get_omap_vals(
                    op, '', rbd_header.SNAPSHOT_PREFIX,
                    rbd_header.MAX_SNAPSHOTS)
                ioctx.operate_read_op(op, oid)
                values = dict(snaps)
                values.update(size)
            return values, ioctx.get_last_version()
        found = self._call('read ' + oid, read, 'header read')
        if found is None:
            return None
        values, version = found
        decoded = rbd_header.decode(values)
        return _UNDECODED if decoded is None else (version,) + decoded

    def _read(self, ioctx, entry, kept, reread):
        """``(version, size, snaps, parent)`` of one directory entry, kept
        if its header's version is unchanged; None if it is gone. Opened
        with librbd, it has no version and no parent.
        """
        name, image_id = entry
        if image_id:                    # format 2: the header object
            before = kept.get(image_id) if name not in reread else None
            if before is not None:
                version = self._version(ioctx, image_id)
                if version is None:
                    return None
                if version == before[0]:
                    return before
            found = self._header(ioctx, image_id)
            if found is not _UNDECODED:
                return found
        found = self._opened(name, ioctx)
        return found and (None,) + found + (None,)

    def listing(self, kept=None, reread=frozenset()):
        """``({image: size}, {image: {snap: size}}, Kept)`` of the whole
        pool. ``kept``: what an earlier listing of it read (reused where
        the header did not change), ``reread``: image names read afresh
        whatever their version.
        """
        entries = [(e['name'], e['id']) for e in _listed(self._call(
            'list2', lambda: list(self.rbd.RBD().list2(self.ioctx))),
            'list2')]
        before = kept.images if kept and kept.pool == self.pool else {}
        found = self._parallel(entries, lambda ioctx, entry: self._read(
            ioctx, entry, before, reread))
        images, snaps, now = {}, {}, {}
        self._ids, self._parents = {}, set()
        for (name, image_id), read in zip(entries, found):
            if read is None:            # removed since the list: not there
                continue
            version, images[name], by_name, parent = read
            self._ids[name] = image_id
            self._parents.add(parent)
            if by_name:
                snaps[name] = by_name
            if version is not None:
                now[image_id] = read
        return images, snaps, Kept(self.pool, now)

    def opened_listing(self):
        """``({image: size}, {image: {snap: size}})`` by opening every
        image with librbd, one after another: how the pool was read before
        header reads, kept as the reference the tests and the benchmark
        compare listings with.
        """
        images, snaps = {}, {}
        for name in _listed(self._call('list', lambda: self.rbd.RBD().list(
                self.ioctx)), 'list'):
            found = self._opened(name)
            if found is not None:       # removed since the list: not there
                images[name], by_name = found
                if by_name:
                    snaps[name] = by_name
        return images, snaps

    def image_size(self, image):
        return self._image(image, lambda i: i.size())

    def snapshots(self, image):
        return self._image(image, self._user_snaps)

    def has_children(self, image, ioctx=None):
        """As :meth:`CLIClient.has_children`."""
        def any_clone(i):
            for snap in list(i.list_snaps()):
                i.set_snap_by_id(snap['id'])
                if list(i.list_children2()):
                    return True
            return False
        return bool(self._image(image, any_clone, ioctx, 'children'))

    def children(self, images):
        """``{image: has_children(image)}`` for images of the last listing.

        An image that a listed clone's head refers to has children: no
        request. The others are asked (READERS at a time) through librbd,
        which also finds clones in the trash or in other pools and clones
        that only a snapshot of theirs still ties to the parent.
        """
        pool = (self.pool[1], '')
        found = {image: True for image in images
                 if pool + (self._ids.get(image),) in self._parents}
        ask = [image for image in images if image not in found]
        found.update(zip(ask, self._parallel(
            ask, lambda ioctx, image: self.has_children(image, ioctx))))
        return found

    def trash(self):
        return _listed(self._call('trash_list', lambda: [
            (e['id'], e['name'], e['source'])
            for e in self.rbd.RBD().trash_list(self.ioctx)]), 'trash_list')

    def close(self):
        self.ioctx.close()
        self.client.shutdown()


def connect(backend):
    """The binding when it imports and no CLI is configured, else the CLI."""
    if not backend.reconciler_rbd_command:
        try:
            import rados
            import rbd
        except ImportError:
            pass
        else:
            return BindingClient(backend, rados, rbd)
    return CLIClient(backend)
