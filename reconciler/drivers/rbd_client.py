"""Reading one RBD pool: through the ``rbd`` binding, or the ``rbd`` CLI.

Both clients answer the same few questions with plain data (sizes in
bytes) and raise :class:`reconciler.exception.ArrayError` for anything
else, so the RBD driver only decides what names mean. The binding
(``python3-rbd``, as Cinder uses) is preferred where it imports; the CLI
(JSON output) needs nothing but the ``rbd`` command.
"""

import shlex

from reconciler.drivers import bounded
from reconciler.drivers import command
from reconciler import exception

_NOT_FOUND = '(2) No such file or directory'


def _malformed(what, error):
    return exception.ArrayResponseError('rbd %s: malformed entry (%s: %s)'
                                        % (what, type(error).__name__, error))


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
        self.argv = argv
        self.requests = 0

    def _rbd(self, *args, expect=list):
        self.requests += 1
        out = command.run(self.argv + list(args) + ['--format', 'json'],
                          timeout=self.backend.reconciler_command_timeout)
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

    def listing(self):
        """``({image: size}, {image: {snap: size}})`` of the whole pool."""
        images, snaps = {}, {}
        try:
            for row in self._rbd('ls', '-l', self.pool):
                image, size = row['image'], row['size']
                if not isinstance(image, str) or not image:
                    raise TypeError('image name %r' % (image,))
                if 'snapshot' in row:
                    snaps.setdefault(image, {})[row['snapshot']] = size
                else:
                    images[image] = size
        except (KeyError, TypeError) as e:
            raise _malformed('ls -l %s' % self.pool, e)
        return images, snaps

    def image_size(self, image):
        info = self._or_none('info', self._spec(image), expect=dict)
        try:
            return None if info is None else info['size']
        except KeyError as e:
            raise _malformed('info %s' % self._spec(image), e)

    def snapshots(self, image):
        """``{snap: size}``, or None if the image does not exist."""
        snaps = self._or_none('snap', 'ls', self._spec(image))
        try:
            return None if snaps is None else {
                s['name']: s.get('size') for s in snaps}
        except (KeyError, TypeError) as e:
            raise _malformed('snap ls %s' % self._spec(image), e)

    def has_children(self, image, snap):
        """Clones of ``image@snap``, those in the trash included."""
        return bool(self._rbd('children', '--all', self._spec(image, snap)))

    def trash(self):
        try:
            return [(e['id'], e['name'])
                    for e in self._rbd('trash', 'ls', '--all', self.pool)]
        except (KeyError, TypeError) as e:
            raise _malformed('trash ls %s' % self.pool, e)

    def close(self):
        pass


class BindingClient(object):
    """librados and librbd through their Python bindings."""

    def __init__(self, backend, rados, rbd):
        self.rados, self.rbd = rados, rbd
        self.requests = 0
        timeout = backend.reconciler_command_timeout
        try:
            self.client = rados.Rados(rados_id=backend.rbd_user,
                                      clustername=backend.rbd_cluster_name,
                                      conffile=backend.rbd_ceph_conf or '')
            # Bound every operation, not only the connection.
            for option in ('rados_osd_op_timeout', 'rados_mon_op_timeout'):
                self.client.conf_set(option, str(timeout))
            self.client.connect(timeout=timeout)
        except rados.Error as e:
            raise exception.ArrayUnreachable(
                'Ceph cluster %s: %s' % (backend.rbd_cluster_name, e))
        try:
            self.ioctx = self.client.open_ioctx(backend.rbd_pool)
        except rados.Error as e:
            self.client.shutdown()
            raise exception.ArrayUnreachable(
                'Ceph cluster %s, pool %s: %s' % (
                    backend.rbd_cluster_name, backend.rbd_pool, e))

    def _call(self, what, fn):
        self.requests += 1
        try:
            return fn()
        except self.rbd.ImageNotFound:
            return None
        except (self.rados.Error, self.rbd.Error) as e:
            raise exception.ArrayError('rbd %s: %s' % (what, e))

    def _image(self, name, fn, snapshot=None):
        """``fn(image)`` on the opened image; None if there is none."""
        def run():
            with self.rbd.Image(self.ioctx, name, snapshot=snapshot,
                                read_only=True) as image:
                return fn(image)
        return self._call(name, run)

    def listing(self):
        images, snaps = {}, {}
        for name in self._call('list', lambda: self.rbd.RBD().list(
                self.ioctx)) or ():
            found = self._image(name, lambda i: (i.size(), {
                s['name']: s['size'] for s in i.list_snaps()}))
            if found is not None:       # removed since the list: not there
                images[name], by_name = found
                if by_name:
                    snaps[name] = by_name
        return images, snaps

    def image_size(self, image):
        return self._image(image, lambda i: i.size())

    def snapshots(self, image):
        return self._image(image, lambda i: {
            s['name']: s['size'] for s in i.list_snaps()})

    def has_children(self, image, snap):
        return bool(self._image(image, lambda i: list(i.list_children2()),
                                snapshot=snap))

    def trash(self):
        return [(e['id'], e['name']) for e in self._call(
            'trash_list', lambda: list(self.rbd.RBD().trash_list(
                self.ioctx))) or ()]

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
