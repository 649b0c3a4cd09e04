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

"""A real single-node Ceph cluster on 127.0.0.1, and Cinder's way with a pool.

From Debian's packages (``ceph-mon``, ``ceph-osd``, ``ceph-common``,
``python3-rados``, ``python3-rbd``; tools/install-debs.sh installs them):
one monitor speaking msgr v1 on a free port, one OSD with the ``memstore``
object store (no disk, no kernel module), pools of size 1, cephx on or off.
Everything lives in a directory of its own and the daemons are ended by
PID. The ``rados``/``rbd`` bindings are Debian's, made importable through a
directory holding only them (:func:`bindings_path`), never the whole of
dist-packages.

:class:`CinderRBD` changes a pool the way Cinder's RBD driver and Ceph
backup driver do (cinder/volume/drivers/rbd.py, cinder/backup/drivers/ceph.py).
Used by the RBD tests (tests/ceph_fixtures.py wraps the cluster in a fixture),
the benchmark and the churn harness; :func:`missing` says why it cannot run.
"""

import base64
import contextlib
import importlib.machinery
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid

from reconciler.simulators import ports

# Taken at import, before a test runner points tempfile at a per-test
# directory: the bindings' directory outlives a test.
_BASE = tempfile.gettempdir()
PROGRAMS = ('ceph-mon', 'ceph-osd', 'monmaptool', 'rbd')
DIST_PACKAGES = '/usr/lib/python3/dist-packages'
GIB = 1024 ** 3
START_TIMEOUT = 90

_CONF = """\
[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{port}
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = {auth}
auth service required = {auth}
auth client required = {auth}
auth allow insecure global id reclaim = false
keyring = {dir}/$cluster.$name.keyring
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
log file = {dir}/log/$name.log
mon data = {dir}/mon
osd data = {dir}/osd
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
paxos propose interval = 0.05
paxos min wait = 0.01
osd crush update on start = false
osd class update on start = false
"""

_KEYRING = '[%s]\n\tkey = %s\n%s'


def _secret():
    """A cephx key, encoded as ceph-authtool --gen-print-key does."""
    header = struct.pack('<HIIH', 1, int(time.time()), 0, 16)
    return base64.b64encode(header + os.urandom(16)).decode()


def _keyring(path, name, secret, **caps):
    with open(path, 'w') as f:
        f.write(_KEYRING % (name, secret, ''.join(
            '\tcaps %s = "%s"\n' % kv for kv in sorted(caps.items()))))


def bindings_path():
    """A directory holding only Debian's rados and rbd modules for this
    Python; why not, as a string, if there is none.
    """
    found = {}
    for module in ('rados', 'rbd'):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(DIST_PACKAGES, module + suffix)
            if os.path.exists(path):
                found[module] = path
                break
        else:
            return None, ('python3-%s has no module for Python %d.%d in %s'
                          % (module, sys.version_info[0],
                             sys.version_info[1], DIST_PACKAGES))
    directory = os.path.join(_BASE, 'ceph-bindings-%d' % os.getuid())
    os.makedirs(directory, exist_ok=True)
    for path in found.values():
        link = os.path.join(directory, os.path.basename(path))
        try:
            os.symlink(path, link)
        except FileExistsError:     # an earlier run's, or another worker's
            pass
    return directory, None


class Unavailable(RuntimeError):
    """Ceph's programs or bindings are not installed here."""


def import_bindings():
    """``(rados, rbd)``, Debian's; :class:`Unavailable` without them."""
    directory, reason = bindings_path()
    if reason:
        raise Unavailable(reason)
    if directory not in sys.path:
        sys.path.append(directory)
    try:
        import rados
        import rbd
    except ImportError as e:
        raise Unavailable('the Ceph bindings do not import: %s' % e)
    return rados, rbd


def missing():
    """Why no cluster can start here (one line), or None."""
    for program in PROGRAMS:
        if not shutil.which(program):
            return '%s is not installed (tools/install-debs.sh)' % program
    try:
        import_bindings()
    except Unavailable as e:
        return str(e)
    return None


class Cluster(object):
    """One monitor and one memstore OSD; ``pools`` created for RBD.

    :meth:`start` lays it out in a new directory under ``base``;
    :meth:`stop` (or leaving the ``with`` block) ends the daemons and
    removes it. ``conf`` is the client configuration file; with ``cephx``
    each client reads its key from ``<dir>/ceph.client.<name>.keyring``
    (:meth:`add_user`).
    """

    def __init__(self, base=None, cephx=False, pools=('volumes',)):
        self.base = base or _BASE
        self.cephx = cephx
        self.pools = pools
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def callback(self, fn, *args, **kwargs):
        """Call ``fn`` when the cluster stops (before the daemons end)."""
        self._stack.callback(fn, *args, **kwargs)

    def stop(self):
        self._stack.close()

    def start(self):
        self.rados, self.rbd = import_bindings()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix='ceph-', dir=self.base)
        self.callback(shutil.rmtree, self.dir, True)
        for sub in ('mon', 'osd', 'run', 'log'):
            os.mkdir(os.path.join(self.dir, sub))
        self.port = ports.free_port()
        self.fsid = str(uuid.uuid4())
        self.conf = os.path.join(self.dir, 'ceph.conf')
        with open(self.conf, 'w') as f:
            f.write(_CONF.format(fsid=self.fsid, port=self.port,
                                 dir=self.dir,
                                 auth='cephx' if self.cephx else 'none'))
        self.processes = {}
        self.callback(self._stop_all)
        start = time.monotonic()
        self._make_monitor()
        self.start_monitor()
        self.admin = self.connect()
        self.callback(self.admin.shutdown)
        self._wait('mon', self._monitor_serves)
        self._make_osd()
        self.start_osd()
        for pool in self.pools:
            self.create_pool(pool)
        self.start_seconds = time.monotonic() - start

    # -- daemons ------------------------------------------------------------

    def _run(self, *argv):
        proc = subprocess.run(argv, capture_output=True, text=True,
                              cwd=self.dir)
        if proc.returncode:
            raise RuntimeError('%s failed: %s' % (
                ' '.join(argv), (proc.stderr or proc.stdout)[-2000:]))

    def _make_monitor(self):
        admin_keyring = self.keyring_path('admin')
        _keyring(admin_keyring, 'client.admin', _secret(),
                 mon='allow *', osd='allow *', mgr='allow *')
        mkfs_keyring = os.path.join(self.dir, 'mkfs.keyring')
        _keyring(mkfs_keyring, 'mon.', _secret(), mon='allow *')
        with open(admin_keyring) as f, open(mkfs_keyring, 'a') as out:
            out.write(f.read())
        monmap = os.path.join(self.dir, 'monmap')
        self._run('monmaptool', '--create', '--fsid', self.fsid, '--addv',
                  'a', '[v1:127.0.0.1:%d]' % self.port, monmap)
        self._run('ceph-mon', '-c', self.conf, '--mkfs', '-i', 'a',
                  '--monmap', monmap, '--keyring', mkfs_keyring)

    def _make_osd(self):
        osd_uuid = str(uuid.uuid4())
        secret = _secret()
        self.osd_keyring = os.path.join(self.dir, 'osd.keyring')
        _keyring(self.osd_keyring, 'osd.0', secret)
        inbuf = json.dumps({'cephx_secret': secret}) if self.cephx else ''
        self.mon_command({'prefix': 'osd new', 'uuid': osd_uuid, 'id': 0},
                         inbuf)
        # Placed here rather than by the OSD's own start-up commands, which
        # a monitor this young may turn away ("wrong fsid").
        self.mon_command({'prefix': 'osd crush add', 'id': 0, 'weight': 1.0,
                          'args': ['root=default']})
        self._run('ceph-osd', '-c', self.conf, '-i', '0', '--mkfs',
                  '--osd-uuid', osd_uuid, '--keyring', self.osd_keyring)

    def _spawn(self, name, argv):
        with open(os.path.join(self.dir, 'log', name + '.out'), 'ab') as log:
            self.processes[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir,
                start_new_session=True)

    def _wait(self, name, ready):
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if (self.processes[name].poll() is not None
                    or time.monotonic() > deadline):
                raise RuntimeError('ceph %s did not start: %s'
                                   % (name, self.log_tail(name)))
            time.sleep(0.1)

    def start_monitor(self):
        self._spawn('mon', ['ceph-mon', '-f', '-c', self.conf, '-i', 'a'])
        self._wait('mon', lambda: ports.can_connect(self.port))

    def _monitor_serves(self):
        # Until its first election the monitor turns commands away
        # ("wrong fsid"); an OSD started then gives up.
        ret, _out, _err = self.admin.mon_command(
            json.dumps({'prefix': 'quorum_status'}), b'')
        return ret == 0

    def stop_monitor(self):
        self._end('mon', signal.SIGTERM)

    def start_osd(self):
        self._spawn('osd', ['ceph-osd', '-f', '-c', self.conf, '-i', '0',
                            '--keyring', self.osd_keyring])
        self._wait('osd', self._osd_up)

    def pause_osd(self):
        """Freeze the OSD: its clients wait on it (until a timeout)."""
        os.kill(self.processes['osd'].pid, signal.SIGSTOP)

    def resume_osd(self):
        os.kill(self.processes['osd'].pid, signal.SIGCONT)

    def _osd_up(self):
        dump = json.loads(self.mon_command({'prefix': 'osd dump',
                                            'format': 'json'}))
        return any(o['up'] for o in dump['osds'])

    def _end(self, name, sig):
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        os.kill(proc.pid, signal.SIGCONT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _stop_all(self):
        # memstore keeps nothing worth a clean shutdown; the OSD first,
        # while the monitor can still hear that it is going.
        self._end('osd', signal.SIGKILL)
        self._end('mon', signal.SIGTERM)

    def log_tail(self, name):
        tails = []
        for log in sorted(os.listdir(os.path.join(self.dir, 'log'))):
            if log.startswith(name) or log.startswith('ceph-' + name):
                with open(os.path.join(self.dir, 'log', log),
                          errors='replace') as f:
                    tails.append(f.read()[-1500:])
        return '\n'.join(tails)

    # -- clients ------------------------------------------------------------

    def keyring_path(self, user):
        return os.path.join(self.dir, 'ceph.client.%s.keyring' % user)

    def connect(self, user='admin', timeout=10, **conf):
        """A connected ``rados.Rados`` as ``client.<user>``."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            client = self.rados.Rados(rados_id=user, conffile=self.conf,
                                      conf=conf)
            try:
                client.connect(timeout=timeout)
                return client
            except self.rados.Error:
                client.shutdown()
                if time.monotonic() > deadline:
                    raise

    def mon_command(self, command, inbuf=''):
        ret, out, err = self.admin.mon_command(json.dumps(command),
                                               inbuf.encode())
        if ret:
            raise RuntimeError('ceph %s: %s (%d)'
                               % (command['prefix'], err, ret))
        return out

    def create_pool(self, pool):
        self.mon_command({'prefix': 'osd pool create', 'pool': pool,
                          'pg_num': 8})
        with self.admin.open_ioctx(pool) as ioctx:
            self.rbd.RBD().pool_init(ioctx, True)

    def add_user(self, user, pool):
        """``client.<user>`` with Cinder's caps on ``pool``; its keyring."""
        secret = _secret()
        self.mon_command({'prefix': 'auth add', 'entity': 'client.' + user,
                          'caps': ['mon', 'profile rbd',
                                   'osd', 'profile rbd pool=%s' % pool]},
                         _KEYRING % ('client.' + user, secret, ''))
        _keyring(self.keyring_path(user), 'client.' + user, secret)
        return self.keyring_path(user)

    def ioctx(self, pool):
        ioctx = self.admin.open_ioctx(pool)
        self.callback(ioctx.close)
        return ioctx


class CinderRBD(object):
    """One pool changed as Cinder's RBD and Ceph backup drivers change it.

    Each method follows the driver's own calls (create_volume,
    create_snapshot, create_cloned_volume, create_volume_from_snapshot,
    _delete_volume; the backup driver's base images and source snapshots),
    leaving what they leave, so the reconciler meets Cinder's layout rather
    than our reading of it. Clones are format 1 (protected parents), as
    on a cluster whose clients may be older than Mimic.
    """

    def __init__(self, cluster, pool, clone_format=1):
        self.rbd = cluster.rbd
        self.client = cluster.connect(
            rbd_default_clone_format=str(clone_format))
        cluster.callback(self.client.shutdown)
        self.ioctx = self.client.open_ioctx(pool)
        cluster.callback(self.ioctx.close)
        self.features = int(self.client.conf_get('rbd_default_features'))

    def image(self, name):
        return self.rbd.Image(self.ioctx, name)

    def create_volume(self, name, size_gib=1):
        self.rbd.RBD().create(self.ioctx, name, size_gib * GIB, order=22,
                              old_format=False, features=self.features)

    def create_snapshot(self, image, snap, protect=True):
        with self.image(image) as i:
            i.create_snap(snap)
            if protect:
                i.protect_snap(snap)

    def create_cloned_volume(self, dest, src):
        """``src@<dest>.clone_snap``, protected, cloned into ``dest``."""
        clone_snap = dest + '.clone_snap'
        self.create_snapshot(src, clone_snap)
        self.clone(src, clone_snap, dest)

    def clone(self, image, snap, dest):
        self.rbd.RBD().clone(self.ioctx, image, snap, self.ioctx, dest,
                             features=self.features)

    def delete_volume(self, name, deferred_delay=None):
        """Cinder's delete: rename a parent of clones to ``.deleted``;
        else remove, or move to the trash if that fails (with
        ``deferred_deletion_delay`` under ``enable_deferred_deletion``,
        else 0).
        """
        with self.image(name) as i:
            for snap in list(i.list_snaps()):
                if snap['name'].startswith('backup.'):
                    i.remove_snap(snap['name'])
            has_clones = any(s['name'].endswith('.clone_snap')
                             for s in i.list_snaps())
        if has_clones:
            self.rbd.RBD().rename(self.ioctx, name, name + '.deleted')
            return
        try:
            self.rbd.RBD().remove(self.ioctx, name)
        except (self.rbd.ImageHasSnapshots, self.rbd.ImageBusy):
            self.rbd.RBD().trash_move(self.ioctx, name, deferred_delay or 0)

    def flatten(self, name):
        with self.image(name) as i:
            i.flatten()

    def backup_snapshot(self, image, backup_id):
        """The Ceph backup driver's snapshot of a backed-up volume."""
        snap = 'backup.%s.snap.%s' % (backup_id, time.time())
        self.create_snapshot(image, snap, protect=False)
        return snap

    def trash_entries(self):
        return {e['name']: e['id']
                for e in self.rbd.RBD().trash_list(self.ioctx)}


def _gone(name, what):
    """A Cinder name for a volume Cinder had once, derived from ``name``."""
    return 'volume-%s' % uuid.uuid5(uuid.NAMESPACE_URL, name + what)


def seed(cinder, scenario, backend, clone_every=50, deleted_every=100):
    """The pool of ``backend`` as Cinder leaves it for ``scenario``.

    Every volume an image, every snapshot a protected one; beyond that,
    what Cinder keeps of volumes it no longer has. Each ``clone_every``-th
    volume is a clone of the one before (through ``<dest>.clone_snap``);
    each ``deleted_every``-th is a clone of a volume deleted since (kept
    as ``.deleted`` for it) and brings one more deleted volume, in the
    trash because a snapshot not Cinder's kept ``remove`` from it. The
    trash entries are Cinder's to purge only under
    ``enable_deferred_deletion``. Returns the images made.
    """
    made, previous, snaps = 0, None, {}
    contents = scenario.array_contents(backend)
    for obj in contents:
        if obj.kind == 'snapshot':
            snaps.setdefault(obj.parent, []).append(obj.uuid)
    volumes = [o for o in contents if o.kind == 'volume']
    for n, obj in enumerate(volumes, 1):
        name = 'volume-%s' % obj.uuid
        if n % deleted_every == 0:
            parent, trashed = _gone(name, 'parent'), _gone(name, 'trash')
            cinder.create_volume(parent)
            cinder.create_cloned_volume(name, parent)
            cinder.delete_volume(parent)
            cinder.create_volume(trashed)
            cinder.create_snapshot(trashed, 'operator-snap', protect=False)
            cinder.delete_volume(trashed, deferred_delay=3600)
            made += 2
        elif previous and n % clone_every == 0:
            cinder.create_cloned_volume(name, previous)
        else:
            cinder.create_volume(name, obj.size)
        made += 1
        for snap in snaps.get(obj.uuid, ()):
            cinder.create_snapshot(name, 'snapshot-%s' % snap)
        previous = name
    return made
