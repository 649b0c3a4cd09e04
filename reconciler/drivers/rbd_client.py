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

    def listing(self):
        """``({image: size}, {image: {snap: size}})`` of the whole pool."""
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
        return images, snaps

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
        return any(self._rbd('children', '--all', '--snap-id', snap_id, spec)
                   for snap_id in ids)

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


class BindingClient(object):
    """librados and librbd through their Python bindings."""

    def __init__(self, backend, rados, rbd):
        self.rados, self.rbd = rados, rbd
        self.requests = 0
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
        except (IndexError, KeyError, TypeError, ValueError) as e:
            # The binding's own decoding: Ceph 16.2's trash_list raises
            # IndexError while a migration's source is in the trash.
            raise _malformed(what, e)

    def _image(self, name, fn):
        """``fn(image)`` on the opened image; None if there is none."""
        def run():
            with self.rbd.Image(self.ioctx, name,
                                read_only=True) as image:
                return fn(image)
        return self._call(name, run)

    def _user_snaps(self, image):
        """``{snap: size}`` as the CLI lists them: ``list_snaps`` also
        yields other namespaces' (trash, group, mirror), UUID-named.
        """
        user = getattr(self.rbd, 'RBD_SNAP_NAMESPACE_TYPE_USER', 0)
        return {s['name']: s['size'] for s in image.list_snaps()
                if s.get('namespace', user) == user}

    def listing(self):
        images, snaps = {}, {}
        for name in _listed(self._call('list', lambda: self.rbd.RBD().list(
                self.ioctx)), 'list'):
            found = self._image(name, lambda i: (i.size(),
                                                 self._user_snaps(i)))
            if found is not None:       # removed since the list: not there
                images[name], by_name = found
                if by_name:
                    snaps[name] = by_name
        return images, snaps

    def image_size(self, image):
        return self._image(image, lambda i: i.size())

    def snapshots(self, image):
        return self._image(image, self._user_snaps)

    def has_children(self, image):
        """As :meth:`CLIClient.has_children`."""
        def any_clone(i):
            for snap in list(i.list_snaps()):
                i.set_snap_by_id(snap['id'])
                if list(i.list_children2()):
                    return True
            return False
        return bool(self._image(image, any_clone))

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
