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

"""A real cinder-api on 127.0.0.1, seeded from a :class:`Scenario`.

Cinder runs only as a subprocess from its own venv (``tools/setup-cinder.sh``):
its eventlet monkey-patching must never reach our process. The API uses
``auth_strategy = noauth`` (every token ``user:project`` is an admin context,
URLs are ``/v3/...`` without a project id), ``transport_url = fake://``
(notifications to a real broker on request) and a sqlite DB in the work
directory, which we write with plain ``sqlite3``: Cinder's DB API would
cost seconds of imports and minutes for 100k rows.

Clients: a keystoneauth1 session from :meth:`CinderCloud.session`, or, from
configuration, keystoneauth's ``admin_token`` plugin (``auth_type =
admin_token``, ``endpoint = <CinderCloud.endpoint>``, ``token = admin:admin``).

What Cinder 29 answers (measured with this fixture as admin; raw requests
sent with ``X-Auth-Token: admin:admin`` and ``OpenStack-API-Version: volume
<v>``; the functional tests pin most of it):

* Snapshots filter by host through their parent volume at every
  microversion (3.0 to 3.71): ``GET /v3/snapshots/detail?all_tenants=1&
  host=hostA@be1`` lists the snapshots of volumes on all pools of
  ``hostA@be1`` (not of ``hostA@be10``); ``host=hostA@be1%23pool2`` one
  pool; ``host=hostA`` every backend of the host.
* Only the column name filters by name_id: ``GET /v3/volumes/detail?
  all_tenants=1&_name_id=<uuid>`` (any microversion). ``name_id=<uuid>``
  returns ``[]``, like every unknown filter (``bogus=1``: 200, no volumes);
  an unknown LIKE filter (``bogus~=1``) is a 500 (AttributeError in Cinder).
* ``with_count=true`` from 3.45: ``count`` (all matches, not the page) is in
  every page. But then every non-empty page has a next link, even a partial
  last one, so a listing costs one extra request (an empty page, with
  count). At 3.44 it is an unknown filter: 200 with NO volumes.
  cinderclient: ``search_opts={'with_count': True}`` returns ``(all pages'
  volumes, count)``.
* ``sort=id:asc`` with ``marker`` pages by id. A marker soft-deleted between
  two pages (or unknown) gives 404 itemNotFound ``Volume <id> could not be
  found.`` (``Snapshot ...`` for snapshots): the listing must restart.
* Snapshots show ``group_snapshot_id`` from 3.14. Admins see
  ``os-vol-mig-status-attr:migstat`` / ``:name_id``, ``os-vol-host-attr:host``
  and ``attachments[].host_name`` at every microversion from 3.0.
* ``start()`` with 10,000 volumes (2,500 attached) and 2,000 snapshots:
  1.5 s (DB copy < 10 ms, seeding 0.17 s, cinder-api ready 1.3 s); with
  100,000 volumes and 20,000 snapshots 3.4 s. The first start per Cinder
  version adds 2 s of ``db sync``. Listing 10,000 volumes in detail (1000 a
  page): 3.2 s, or 7.1 s when a quarter of them are attached.
"""

import contextlib
import datetime
import glob
import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from reconciler.simulators import ports
from reconciler.simulators import scenario as scn

CINDER_VERSION = '29.0.0'
#: The noauth middleware turns any ``user:project`` token into an admin.
ADMIN_TOKEN = 'admin:admin'
#: The newest microversion of Cinder 29.
MAX_MICROVERSION = '3.71'
USER_ID = 'fixture-user'
# Never through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# The account's home, not $HOME: test frameworks point $HOME at a temp dir.
_HOME = pwd.getpwuid(os.getuid()).pw_dir


class CinderCloudError(RuntimeError):
    pass


def cinder_venv():
    """The venv of tools/setup-cinder.sh (the script's path rule)."""
    path = os.environ.get('CINDER_RECONCILER_CINDER_VENV') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(_HOME, '.cache'),
        'cinder-reconciler', 'cinder-' + CINDER_VERSION)
    path = os.path.normpath(path)
    if not os.access(os.path.join(path, 'bin', 'cinder-api'), os.X_OK):
        raise CinderCloudError(
            'No Cinder venv with bin/cinder-api at %s: run '
            'tools/setup-cinder.sh (it honours CINDER_RECONCILER_CINDER_VENV)'
            % path)
    return path


def admin_session(endpoint):
    """A keystoneauth1 session that sends the noauth admin token."""
    return ks_session.Session(auth=token_endpoint.Token(endpoint, ADMIN_TOKEN))


def _installed_version(venv):
    found = glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages',
                                   'cinder-*.dist-info'))
    if not found:
        raise CinderCloudError('cinder is not installed in %s: run '
                               'tools/setup-cinder.sh' % venv)
    return os.path.basename(found[0])[len('cinder-'):-len('.dist-info')]


def _notifications(url):
    """``[oslo_messaging_notifications]``: none, or ``messagingv2`` to the
    broker at ``url`` (RPC stays ``fake://``). One reconnection attempt per
    notification: with the broker down Cinder drops it and goes on, instead
    of retrying forever (its default) inside the request.
    """
    if not url:
        return 'driver = noop\n'
    return ('driver = messagingv2\ntransport_url = %s\nretry = 1\n\n'
            '[oslo_messaging_rabbit]\nrabbit_retry_interval = 1\n'
            'rabbit_retry_backoff = 1\nkombu_reconnect_delay = 0.5\n' % url)


def _write_conf(path, venv, workdir, db_path, port=0, page_size=1000,
                volume_backends=(), notifications_url=None, api_workers=1):
    """cinder.conf; ``volume_backends`` (scenario ``Backend``s) each get a
    volume service with the fixture driver (``allinone`` runs only);
    ``notifications_url``: see ``_notifications``; ``api_workers``
    cinder-api processes serve the port.
    """
    with open(path, 'w') as f:
        f.write(f"""[DEFAULT]
auth_strategy = noauth
transport_url = fake://
api_paste_config = {venv}/etc/cinder/api-paste.ini
resource_query_filters_file = {venv}/etc/cinder/resource_filters.json
state_path = {workdir}/state
host = cinder-reconciler-fixture
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = {port}
osapi_volume_workers = {api_workers}
osapi_max_limit = {page_size}
debug = false
use_stderr = true

[database]
connection = sqlite:///{db_path}

[oslo_concurrency]
lock_path = {workdir}/lock

[coordination]
backend_url = file://{workdir}/state

[oslo_messaging_notifications]
{_notifications(notifications_url)}""")
        if not volume_backends:
            return
        groups = [b.group or b.name for b in volume_backends]
        # A loaded test machine delays the services' heartbeats (every
        # report_interval, 10 s): a late one must not make them "down".
        f.write('\n[DEFAULT]\nenabled_backends = %s\n'
                'rpc_response_timeout = 30\n'
                'service_down_time = 300\n'
                'scheduler_driver_init_wait_time = 10\n' % ','.join(groups))
        for group, b in zip(groups, volume_backends):
            f.write(f"""
[{group}]
volume_driver = fixture_driver.ManageableFakeDriver
volume_backend_name = {group}
backend_host = {b.host}
""")


def golden_db(venv):
    """An empty, migrated Cinder DB, made once per Cinder version.

    ``db sync`` runs every alembic migration (2 s); copying its result takes
    milliseconds. It lives next to the venv; concurrent first runs each build
    their own and atomically rename it into place.
    """
    version = _installed_version(venv)
    path = os.path.join(os.path.dirname(venv),
                        'cinder-%s-schema.sqlite' % version)
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=os.path.dirname(venv)) as tmp:
        db_path = os.path.join(tmp, 'cinder.sqlite')
        conf = os.path.join(tmp, 'cinder.conf')
        _write_conf(conf, venv, tmp, db_path)
        proc = subprocess.run(
            [os.path.join(venv, 'bin', 'cinder-manage'), '--config-file',
             conf, 'db', 'sync'], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise CinderCloudError('cinder-manage db sync failed:\n%s'
                                   % proc.stdout[-3000:])
        os.replace(db_path, path)
    return path


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _ts(moment):
    """Timestamps as SQLAlchemy stores DATETIME columns in sqlite."""
    return moment.strftime('%Y-%m-%d %H:%M:%S.%f')


def _insert(db, table, columns, rows, verb='INSERT'):
    db.executemany('%s INTO %s (%s) VALUES (%s)' % (
        verb, table, ', '.join(columns), ', '.join('?' * len(columns))), rows)


def connector(host):
    """The os-brick connector Nova would have sent for compute ``host``."""
    return {'host': host, 'initiator': scn.initiator(host),
            'ip': '127.0.0.1', 'platform': 'x86_64', 'os_type': 'linux',
            'multipath': False}


def instance_uuid(volume_id, host):
    """The (stable) server a seeded attachment belongs to."""
    return scn.uid('instance:%s:%s' % (volume_id, host))


_VOLUME_COLUMNS = (
    'id', 'created_at', 'updated_at', 'deleted', 'user_id', 'project_id',
    'host', 'size', 'availability_zone', 'status', 'attach_status',
    'display_name', 'volume_type_id', '_name_id', 'migration_status',
    'bootable', 'multiattach', 'replication_status', 'use_quota',
    'cluster_name')
_ATTACHMENT_COLUMNS = (
    'id', 'created_at', 'updated_at', 'deleted', 'volume_id', 'attached_host',
    'instance_uuid', 'mountpoint', 'attach_time', 'attach_mode',
    'attach_status', 'connector', 'connection_info')
_SNAPSHOT_COLUMNS = (
    'id', 'created_at', 'updated_at', 'deleted', 'volume_id', 'user_id',
    'project_id', 'status', 'progress', 'volume_size', 'volume_type_id',
    'group_snapshot_id', 'use_quota')


class CinderCloud:
    """cinder-api serving a fresh copy of the scenario's Cinder DB.

    Every ``start()`` begins from the scenario again. The mutation helpers
    write the DB (WAL mode) while the API runs; each call is one committed
    transaction, so the API's next request sees it.
    """

    def __init__(self, workdir, scenario, page_size=1000, port=None,
                 volume_services=(), allinone=None, notifications_url=None,
                 api_workers=1):
        """``volume_services``: names of scenario backends that get a real
        cinder-volume service in the API's process, run by the ``allinone``
        script (the tests' ``tests/incinder/allinone.py``: it imports Cinder,
        so it is not part of this package), whose driver lists the array
        :meth:`write_array` wrote through Cinder's manageable-resources API.
        ``notifications_url``: Cinder sends its notifications (messagingv2)
        to this broker; by default it sends none. ``api_workers``:
        cinder-api's ``osapi_volume_workers`` (processes serving requests in
        parallel).
        """
        self.notifications_url = notifications_url
        if volume_services and not allinone:
            raise CinderCloudError('volume_services need an allinone script')
        self.allinone = allinone
        self.workdir = os.path.abspath(workdir)
        self.volume_services = [scenario.backend(name)
                                for name in volume_services]
        self.arrays_dir = os.path.join(self.workdir, 'arrays')
        self.scenario = scenario
        self.page_size = page_size
        self.api_workers = api_workers
        self.port = port
        self._fixed_port = port
        self.db_path = os.path.join(self.workdir, 'cinder.sqlite')
        self.conf_path = os.path.join(self.workdir, 'cinder.conf')
        self.log_path = os.path.join(self.workdir, 'cinder-api.log')
        self._proc = None
        self._volume_type_id = None

    @property
    def endpoint(self):
        return 'http://127.0.0.1:%d/v3' % self.port

    def session(self, endpoint=None):
        """An admin session for this cloud, or for ``endpoint`` (a proxy)."""
        return admin_session(endpoint or self.endpoint)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=60):
        if self._proc is not None:
            raise CinderCloudError('already started')
        venv = cinder_venv()
        for sub in ('state', 'lock'):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        for stale in (self.db_path + '-wal', self.db_path + '-shm'):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        shutil.copyfile(golden_db(venv), self.db_path)
        with self._db() as db:
            # WAL: the API keeps reading while the helpers write.
            db.execute('PRAGMA journal_mode=WAL')
            self._volume_type_id = db.execute(
                "SELECT id FROM volume_types WHERE name='__DEFAULT__'"
            ).fetchone()[0]
            self._insert_clusters(db)
            self._insert_volumes(db, self.scenario.volumes)
            self._insert_snapshots(db, self.scenario.snapshots)
        self.port = self._fixed_port or ports.free_port()
        _write_conf(self.conf_path, venv, self.workdir, self.db_path,
                    self.port, self.page_size, self.volume_services,
                    self.notifications_url, self.api_workers)
        env = dict(os.environ, CINDER_RECONCILER_ARRAYS=self.arrays_dir)
        env.pop('PYTHONPATH', None)
        argv = [os.path.join(venv, 'bin', 'cinder-api')]
        if self.volume_services:
            for b in self.volume_services:
                if not os.path.exists(self.array_path(b.name)):
                    self.write_array(b.name)
            argv = [os.path.join(venv, 'bin', 'python'), self.allinone]
        with open(self.log_path, 'ab') as log:
            self._proc = subprocess.Popen(
                argv + ['--config-file', self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout):
        """Until the API answers, and each volume service lists its array."""
        deadline = time.monotonic() + timeout
        probes = ['http://127.0.0.1:%d/' % self.port] + [
            '%s/manageable_volumes?host=%s' % (self.endpoint, b.backend_host)
            for b in self.volume_services]
        while probes:
            if self._proc.poll() is not None:
                raise CinderCloudError('cinder-api exited with %s:\n%s' % (
                    self._proc.returncode, self.log_tail()))
            request = urllib.request.Request(probes[0], headers={
                'X-Auth-Token': ADMIN_TOKEN,
                'OpenStack-API-Version': 'volume 3.8'})
            try:
                _DIRECT.open(request, timeout=30).close()
                probes.pop(0)
                continue
            except urllib.error.HTTPError as e:
                if e.code == 300:       # GET / answers Multiple Choices
                    probes.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CinderCloudError('cinder-api not ready after %ss:\n%s'
                                       % (timeout, self.log_tail()))
            time.sleep(0.1)

    def log_tail(self, lines=40):
        with contextlib.suppress(OSError), open(self.log_path) as f:
            return ''.join(f.readlines()[-lines:])
        return ''

    def stop(self, timeout=15):
        """SIGTERM: the parent stops its worker; SIGKILL the group if stuck."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # -- the DB ------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self):
        db = sqlite3.connect(self.db_path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _insert_clusters(self, db):
        """A ``clusters`` row per clustered backend, as cinder-volume makes."""
        stamp = _ts(_now())
        _insert(db, 'clusters', (
            'created_at', 'updated_at', 'deleted', 'name', 'binary',
            'disabled', 'race_preventer', 'frozen'), sorted({
                (stamp, stamp, 0, '%s@%s' % (b.cluster, b.group or b.name),
                 'cinder-volume', 0, 0, 0)
                for b in self.scenario.backends if b.cluster}))

    def _insert_volumes(self, db, volumes):
        backends = {b.name: b for b in self.scenario.backends}
        base = _now()
        rows, attachments = [], []
        for i, v in enumerate(volumes):
            # Distinct created_at: the default sort (created_at desc) is
            # stable.
            stamp = _ts(base + datetime.timedelta(milliseconds=i))
            backend = backends[v.backend]
            host = backend.cinder_host(v.pool, v.member)
            rows.append((
                v.id, stamp, stamp, 0, USER_ID, v.project, host, v.size,
                'nova', v.status, 'attached' if v.attached_to else 'detached',
                v.display_name, self._volume_type_id, v.name_id,
                v.migration_status, 0, len(v.attached_to) > 1, 'disabled', 1,
                backend.cluster_name(v.pool)))
            attachments += [self._attachment_row(v.id, h, stamp)
                            for h in v.attached_to]
        _insert(db, 'volumes', _VOLUME_COLUMNS, rows)
        _insert(db, 'volume_attachment', _ATTACHMENT_COLUMNS, attachments)

    @staticmethod
    def _attachment_row(volume_id, host, stamp, connection_info=None,
                        attach_status='attached'):
        # attachment_update records the host and 'attaching'; the API shows
        # the host only once attachment_complete marked it 'attached'. A
        # 'reserved' one (attachment_create without a connector) has
        # neither host nor connector yet.
        server = instance_uuid(volume_id, host)
        if attach_status == 'reserved':
            return (str(uuid.uuid4()), stamp, stamp, 0, volume_id, None,
                    server, None, None, 'null', attach_status, None, None)
        return (str(uuid.uuid4()), stamp, stamp, 0, volume_id, host,
                server, '/dev/vdb', stamp, 'rw', attach_status,
                json.dumps(connector(host)),
                connection_info and json.dumps(connection_info))

    def _insert_snapshots(self, db, snapshots):
        if not snapshots:
            return
        parents = {row[0]: row[1:] for row in db.execute(
            'SELECT id, project_id, size, host FROM volumes WHERE deleted=0')}
        base = _now()
        rows, groups = [], {}
        for i, s in enumerate(snapshots):
            if s.volume not in parents:
                raise CinderCloudError('snapshot %s: no live volume %s'
                                       % (s.id, s.volume))
            project, size, host = parents[s.volume]
            stamp = _ts(base + datetime.timedelta(milliseconds=i))
            rows.append((s.id, stamp, stamp, 0, s.volume, USER_ID, project,
                         s.status, '100%', size, self._volume_type_id,
                         s.group_snapshot_id, 1))
            if s.group_snapshot_id:
                groups[s.group_snapshot_id] = (project, host, stamp)
        if groups:
            # Group snapshots need their group; both rows make
            # GET /group_snapshots answer like a real cloud.
            group_type = db.execute('SELECT id FROM group_types').fetchone()[0]
            _insert(db, 'groups', (
                'id', 'created_at', 'deleted', 'user_id', 'project_id', 'host',
                'availability_zone', 'name', 'group_type_id', 'status'),
                [(scn.uid('group:' + gs), stamp, 0, USER_ID, project, host,
                  'nova', 'group-of-' + gs, group_type, 'available')
                 for gs, (project, host, stamp) in groups.items()],
                verb='INSERT OR IGNORE')
            _insert(db, 'group_snapshots', (
                'id', 'created_at', 'deleted', 'group_id', 'user_id',
                'project_id', 'name', 'group_type_id', 'status'),
                [(gs, stamp, 0, scn.uid('group:' + gs), USER_ID, project,
                  'group-snapshot-' + gs, group_type, 'available')
                 for gs, (project, host, stamp) in groups.items()],
                verb='INSERT OR IGNORE')
        _insert(db, 'snapshots', _SNAPSHOT_COLUMNS, rows)

    def _update(self, db, table, row_id, columns, touch=True):
        """Cinder's row update: updated_at set to now, as its models'
        onupdate does, unless ``touch`` is False (destroys and
        volume_detached keep the row's updated_at).
        """
        if touch:
            columns.setdefault('updated_at', _ts(_now()))
        cur = db.execute('UPDATE %s SET %s WHERE id=? AND deleted=0' % (
            table, ', '.join('%s=?' % c for c in columns)),
            (*columns.values(), row_id))
        if not cur.rowcount:
            raise KeyError('no live row %s in %s' % (row_id, table))

    # -- the arrays behind volume services ----------------------------------

    def array_path(self, backend):
        return os.path.join(self.arrays_dir,
                            '%s.json' % (self.scenario.backend(backend).group
                                         or backend))

    def write_array(self, backend, volumes=(), snapshots=()):
        """What the fixture driver of ``backend`` lists as manageable.

        ``volumes``: dicts ``{name, size, in_use}``; ``snapshots``: dicts
        ``{name, size, source}`` (source: the parent's array name).
        """
        path = self.array_path(backend)
        os.makedirs(self.arrays_dir, exist_ok=True)
        with open(path + '.tmp', 'w') as f:
            json.dump({'volumes': list(volumes),
                       'snapshots': list(snapshots)}, f)
        os.replace(path + '.tmp', path)

    # -- churn while the API runs -------------------------------------------

    def add_volumes(self, volumes):
        """Insert scenario ``Volume``s (and their attachments)."""
        with self._db() as db:
            self._insert_volumes(db, volumes)

    def rename_project(self, old, new):
        """Give the volumes and snapshots of project ``old`` to ``new``
        (a scenario's project labels to a Keystone's project ids).
        """
        with self._db() as db:
            for table in ('volumes', 'snapshots'):
                db.execute('UPDATE %s SET project_id=? WHERE project_id=?'
                           % table, (new, old))

    def update_volume(self, volume_id, **columns):
        """Set raw ``volumes`` columns (``status``, ``_name_id``, ...)."""
        with self._db() as db:
            self._update(db, 'volumes', volume_id, columns)

    def soft_delete_volume(self, volume_id):
        """What Cinder's ``volume_destroy`` does, dependants included: the
        row's updated_at stays what it was.
        """
        now = _ts(_now())
        with self._db() as db:
            self._update(db, 'volumes', volume_id, {
                'status': 'deleted', 'deleted': 1, 'deleted_at': now,
                'migration_status': None}, touch=False)
            for table in ('snapshots', 'volume_attachment'):
                db.execute('UPDATE %s SET deleted=1, deleted_at=? '
                           'WHERE volume_id=? AND deleted=0' % table,
                           (now, volume_id))

    def finish_migration(self, volume_id, dest_id):
        """The name_id swap that ends a generic migration, in one commit.

        The source row takes over the destination's array object; the
        destination row, now naming the source's old object, is marked for
        deletion (as Cinder's finish_volume_migration leaves it). Like it,
        the two rows swap ``created_at``.
        """
        with self._db() as db:
            rows = {row[0]: row[1:] for row in db.execute(
                'SELECT id, COALESCE(_name_id, id), created_at FROM volumes '
                'WHERE id IN (?, ?) AND deleted=0', (volume_id, dest_id))}
            self._update(db, 'volumes', volume_id, {
                '_name_id': rows[dest_id][0], 'created_at': rows[dest_id][1]})
            self._update(db, 'volumes', dest_id, {
                '_name_id': rows[volume_id][0], 'status': 'deleting',
                'migration_status': 'deleting',
                'created_at': rows[volume_id][1]})

    def set_volume_metadata(self, volume_id, metadata):
        """Add ``metadata`` (a dict) to a volume, as Cinder's API would."""
        stamp = _ts(_now())
        with self._db() as db:
            db.executemany(
                'INSERT INTO volume_metadata (created_at, deleted, '
                'volume_id, key, value) VALUES (?, 0, ?, ?, ?)',
                [(stamp, volume_id, k, v) for k, v in metadata.items()])

    def add_snapshots(self, snapshots):
        """Insert scenario ``Snapshot``s of live volumes."""
        with self._db() as db:
            self._insert_snapshots(db, snapshots)

    def update_snapshot(self, snapshot_id, **columns):
        with self._db() as db:
            self._update(db, 'snapshots', snapshot_id, columns)

    def soft_delete_snapshot(self, snapshot_id):
        with self._db() as db:
            self._update(db, 'snapshots', snapshot_id, {
                'status': 'deleted', 'deleted': 1,
                'deleted_at': _ts(_now())}, touch=False)

    def add_attachment(self, volume_id, host, connection_info=None,
                       attach_status='attached', touch=True):
        """Attach ``volume_id`` to ``host`` as a finished Nova attach would.

        ``connection_info`` is what the driver's initialize_connection
        returned (e.g. an FC initiator_target_map), stored as Cinder's
        attachment_update stores it. ``attach_status='attaching'`` leaves
        the attach where Nova's connect_volume runs: connection_info is set,
        the volume ``attaching``, the host not shown yet. ``touch=False``:
        the volume keeps its updated_at, as Cinder's volume_attached leaves
        it when nothing of the row changes (a multiattach volume in-use
        attached again). ``attach_status='reserved'``: what Nova's reserve
        leaves (a shelved-offloaded server keeps it), ``host`` naming only
        the server. Returns the attachment id.
        """
        row = self._attachment_row(volume_id, host, _ts(_now()),
                                   connection_info, attach_status)
        with self._db() as db:
            self._update(db, 'volumes', volume_id,
                         {'attach_status': attach_status}, touch=touch)
            db.execute("UPDATE volumes SET status=? "
                       "WHERE id=? AND status='available'",
                       ('in-use' if attach_status == 'attached'
                        else attach_status, volume_id))
            _insert(db, 'volume_attachment', _ATTACHMENT_COLUMNS, [row])
        return row[0]

    def add_attachments(self, attachments):
        """Many finished attaches in one transaction (benchmarks):
        ``(volume_id, host, connection_info)`` each, as
        :meth:`add_attachment` with ``attach_status='attached'``.
        """
        stamp = _ts(_now())
        rows = [self._attachment_row(volume_id, host, stamp, info)
                for volume_id, host, info in attachments]
        with self._db() as db:
            db.executemany(
                "UPDATE volumes SET attach_status='attached', status="
                "CASE status WHEN 'available' THEN 'in-use' ELSE status END, "
                'updated_at=? WHERE id=? AND deleted=0',
                [(stamp, volume_id) for volume_id, _h, _i in attachments])
            _insert(db, 'volume_attachment', _ATTACHMENT_COLUMNS, rows)
        return [row[0] for row in rows]

    def remove_attachment(self, volume_id, host):
        """Detach ``volume_id`` from ``host`` like Cinder's volume_detached,
        which keeps the volume's updated_at.
        """
        now = _ts(_now())
        with self._db() as db:
            cur = db.execute(
                "UPDATE volume_attachment SET attach_status='detached', "
                "deleted=1, deleted_at=?, detach_time=?, updated_at=? "
                "WHERE volume_id=? AND attached_host=? AND deleted=0",
                (now, now, now, volume_id, host))
            if not cur.rowcount:
                raise KeyError('volume %s is not attached to %s'
                               % (volume_id, host))
            if not db.execute('SELECT 1 FROM volume_attachment WHERE '
                              'volume_id=? AND deleted=0',
                              (volume_id,)).fetchone():
                db.execute("UPDATE volumes SET attach_status='detached', "
                           "status=CASE status WHEN 'in-use' THEN 'available' "
                           "ELSE status END WHERE id=?", (volume_id,))
