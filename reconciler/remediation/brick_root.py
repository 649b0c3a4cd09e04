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

"""os-brick's own file access, under a root prefix other than ``/``.

os-brick reads sysfs and /dev itself, with absolute paths (``glob.glob``,
``os.path.exists``, ``os.path.realpath``, ``open``), and reaches two
privileged helpers through privsep rather than its ``execute``: the
``multipathd show status`` of ``is_multipath_running`` and the unlink of
stale /dev/disk/by-id links. With ``[host_scan] root_prefix`` set (the
tests, the demo, a container seeing the host elsewhere), :func:`rooted`
points exactly those at the root for the duration of a call: paths are
read under it and given back without it, and the privileged helpers go
through the given ``execute`` and the root too, so nothing reaches the
real ``/``. With ``/`` nothing is changed: os-brick runs as Nova runs it.
"""

import builtins
import contextlib
import glob as glob_mod
import os
import threading

from os_brick.initiator.connectors import base
from os_brick.initiator.connectors import fibre_channel
from os_brick.initiator.connectors import iscsi
from os_brick.initiator import linuxfc
from os_brick.initiator import linuxscsi
from os_brick import utils as brick_utils

from reconciler import exception

# The modules of the iSCSI and FC disconnect paths, and the names in them
# that reach the file system or privsep.
_MODULES = (linuxscsi, linuxfc, iscsi, fibre_channel, base, brick_utils)
_NAMES = ('os', 'glob', 'open', 'priv_rootwrap')
_PATCHING = threading.Lock()


class _Root(object):
    def __init__(self, root):
        self.root = os.path.abspath(root)

    def inside(self, path):
        if isinstance(path, str) and path.startswith('/'):
            return os.path.join(self.root, path.lstrip('/'))
        return path

    def outside(self, path):
        if path == self.root:
            return '/'
        if path.startswith(self.root + '/'):
            return path[len(self.root):]
        # Out of the root (a link to an absolute path): never one of ours.
        return '/nonexistent-outside-root' + path


class _Path(object):
    """``os.path`` with absolute paths under the root."""

    def __init__(self, root):
        self._root = root

    def __getattr__(self, name):
        return getattr(os.path, name)  # join, basename, split, sep...

    def exists(self, path):
        return os.path.exists(self._root.inside(path))

    def isdir(self, path):
        return os.path.isdir(self._root.inside(path))

    def islink(self, path):
        return os.path.islink(self._root.inside(path))

    def realpath(self, path):
        return self._root.outside(os.path.realpath(self._root.inside(path)))


class _Os(object):
    """``os`` with absolute paths under the root."""

    def __init__(self, root):
        self._root = root
        self.path = _Path(root)

    def __getattr__(self, name):
        return getattr(os, name)

    def listdir(self, path):
        return os.listdir(self._root.inside(path))

    def readlink(self, path):
        return os.readlink(self._root.inside(path))

    def stat(self, path, *args, **kwargs):
        return os.stat(self._root.inside(path), *args, **kwargs)

    def unlink(self, path):
        return os.unlink(self._root.inside(path))


class _Glob(object):
    def __init__(self, root):
        self._root = root

    def glob(self, pattern, **kwargs):
        escaped = glob_mod.escape(self._root.root) + pattern
        return [self._root.outside(p)
                for p in glob_mod.glob(escaped, **kwargs)]


class _Privileged(object):
    """os-brick's privsep helpers, through ``execute`` and the root."""

    def __init__(self, root, execute):
        self._os = _Os(root)
        self.execute = execute

    def unlink_root(self, *links, **kwargs):
        for link in links:
            try:
                self._os.unlink(link)
            except OSError:
                if not (kwargs.get('no_errors')
                        or kwargs.get('raise_at_end')):
                    raise

    def __getattr__(self, name):
        raise exception.ReconcilerError(
            'os-brick called its privileged %s under a root prefix: not '
            'simulated, refused' % name)


@contextlib.contextmanager
def rooted(root, execute):
    """os-brick's file access and privileged helpers under ``root``."""
    if os.path.abspath(root) == '/':
        yield
        return
    where = _Root(root)
    values = {'os': _Os(where), 'glob': _Glob(where),
              'open': lambda path, *a, **k: builtins.open(
                  where.inside(path), *a, **k),
              'priv_rootwrap': _Privileged(where, execute)}
    with _PATCHING:
        saved = []
        try:
            for module in _MODULES:
                for name in _NAMES:
                    if name in vars(module) or name == 'open':
                        saved.append((module, name, vars(module).get(name)))
                        setattr(module, name, values[name])
            yield
        finally:
            for module, name, value in reversed(saved):
                if value is None:
                    delattr(module, name)
                else:
                    setattr(module, name, value)
