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

"""A real OpenStack on 127.0.0.1: Keystone, Nova, Placement and Cinder.

Each service runs from its own venv (``tools/setup-keystone.sh``,
``tools/setup-nova.sh``, ``tools/setup-cinder.sh``) as a subprocess, with
the configuration a small deployment has: every API behind
keystonemiddleware and Keystone's catalog; Nova with a conductor, a
scheduler and two computes on Nova's fake virt driver (``fakehost1`` and
``fakehost2``, see ``tests/innova``), its RPC over a RabbitMQ and its
databases on a MariaDB from Debian's packages (``tests/servers.py``);
Cinder's API, scheduler and volume service (``cinderhost@fake``,
``tests/incinder``'s fixture driver) in one process (``allinone.py``: RPC
in-process), its database on the same MariaDB (Cinder's eventlet services
deadlock on SQLite now and then). Placement keeps SQLite. Nova sends the
service token Cinder 29 requires to delete an attachment; Cinder asks Nova
before it lets anyone else delete one (bug #2004555), as in production.

Glance and Neutron are a stub in this process: every image exists, every
network listing is empty (servers boot with ``"networks": "none"``).
Nova reaches Cinder through a :class:`FaultProxy` (``cinder_proxy``), so a
test can make Cinder fail for Nova alone.

Follows ``../shared/reference/real-nova.md``. The databases' migrations
run once per Nova and Cinder version, into dumps next to their venvs that
later runs restore (``_schemas``).
"""

import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import fixtures
from keystoneauth1 import adapter as ks_adapter
import sqlalchemy as sa

from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import faultproxy
from reconciler.simulators import keystone as keystone_sim
import tests
from tests import servers

NOVA_VERSION = '34.0.0'
SERVICE_PASSWORD = 'service-fixture-password'
IMAGE = '11111111-2222-3333-4444-555555555555'
COMPUTES = ('fakehost1', 'fakehost2')
CINDER_HOST = 'cinderhost'
BACKEND = 'fake'
#: Microversions the tests speak.
COMPUTE_VERSION = '2.89'
VOLUME_VERSION = '3.71'
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def nova_venv():
    path = os.environ.get('CINDER_RECONCILER_NOVA_VENV') or os.path.join(
        os.environ.get('XDG_CACHE_HOME')
        or os.path.join(cinder_sim._HOME, '.cache'),
        'cinder-reconciler', 'nova-' + NOVA_VERSION)
    if not os.access(os.path.join(path, 'bin', 'nova-manage'), os.X_OK):
        servers.unavailable('No Nova venv at %s: run tools/setup-nova.sh'
                            % path)
    return path


def _venv_or_skip(finder):
    try:
        return finder()
    except (cinder_sim.CinderCloudError, keystone_sim.KeystoneError) as e:
        servers.unavailable(str(e))


class _Stub(http.server.BaseHTTPRequestHandler):
    """Glance and Neutron, as much as Nova asks of them: every image ID
    names an active raw image (shelving uploads new ones), every Neutron
    collection is empty.
    """

    protocol_version = 'HTTP/1.1'
    # Nova reads the keys listed here; others may hold anything.
    SCHEMA = {'name': 'image', 'additionalProperties': {},
              'properties': {k: {} for k in (
                  'id', 'name', 'status', 'tags', 'locations', 'min_disk',
                  'min_ram', 'size', 'disk_format', 'container_format',
                  'visibility', 'protected', 'owner')}}

    def log_message(self, *args):
        pass

    def _send(self, code, body=None):
        data = json.dumps(body).encode() if body is not None else b''
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        data = self.rfile.read(length) if length else b''
        try:
            return json.loads(data) if data else {}
        except ValueError:
            return {}     # an image's data

    @staticmethod
    def _image(image_id, **values):
        return dict({
            'id': image_id, 'name': 'fake-image', 'status': 'active',
            'visibility': 'public', 'disk_format': 'raw',
            'container_format': 'bare', 'size': 1024, 'min_disk': 0,
            'min_ram': 0, 'protected': False, 'owner': 'admin', 'tags': [],
            'created_at': '2026-01-01T00:00:00Z',
            'updated_at': '2026-01-01T00:00:00Z'}, **values)

    def do_GET(self):
        path = self.path.split('?')[0].rstrip('/')
        if self.server.kind == 'image':
            if path == '/v2/schemas/image':
                return self._send(200, self.SCHEMA)
            m = re.match(r'^/v2/images/([^/]+)$', path)
            return self._send(200, self._image(m.group(1))) if m else (
                self._send(404, {}))
        m = re.match(r'^/v2\.0/([a-z_-]+)$', path)
        if m:
            return self._send(200, {m.group(1).replace('-', '_'): []})
        return self._send(404, {})

    def do_POST(self):
        body = self._body()
        if self.server.kind == 'image' and self.path.startswith(
                '/v2/images'):
            body.pop('id', None)
            return self._send(201, self._image(
                str(uuid.uuid4()), **dict(body, status='queued')))
        return self._send(404, {})

    def do_PATCH(self):
        self._body()
        m = re.match(r'^/v2/images/([^/]+)$', self.path)
        return self._send(200, self._image(m.group(1))) if m else (
            self._send(404, {}))

    def do_PUT(self):
        self._body()
        return self._send(204)

    def do_DELETE(self):
        return self._send(204)


def _stub(kind):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Stub)
    server.kind = kind
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Process(object):
    """One service process, its log in the work directory."""

    def __init__(self, name, argv, workdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd or workdir
        self.log_path = os.path.join(workdir, 'log', name + '.log')
        self.proc = None

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGCONT)   # a paused one too
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def pause(self):
        """SIGSTOP: the service stops mid-operation, heartbeats too."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def log_tail(self, lines=30):
        with contextlib.suppress(OSError), open(self.log_path) as f:
            return ''.join(f.readlines()[-lines:])
        return ''


def _wait(what, check, timeout, processes=(), interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        for p in processes:
            if not p.alive():
                raise RuntimeError('%s exited while waiting for %s:\n%s'
                                   % (p.name, what, p.log_tail()))
        if time.monotonic() > deadline:
            raise RuntimeError('timed out waiting for %s' % what)
        time.sleep(interval)


def _answers(url):
    try:
        _DIRECT.open(url, timeout=10).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _ini(sections):
    """A config file's text from ``{section: {option: value}}``."""
    return ''.join('[%s]\n%s\n' % (name, ''.join(
        '%s = %s\n' % item for item in options.items()))
        for name, options in sections.items())


class OpenStack(fixtures.Fixture):
    """The whole cloud; one per test class (see ``.stestr.conf``).

    Attributes for tests: ``keystone`` (:class:`Keystone`), ``nova``
    and ``cinder`` (admin keystoneauth adapters speaking
    ``COMPUTE_VERSION`` and ``VOLUME_VERSION``), ``cinder_proxy`` (Nova's
    way to Cinder), ``cinder_volume`` (the volume service's process),
    ``arrays`` (the fixture driver's array directory).
    """

    def _setUp(self):
        started = time.monotonic()
        self.nova_venv = nova_venv()
        self.cinder_venv = _venv_or_skip(cinder_sim.cinder_venv)
        _venv_or_skip(keystone_sim.keystone_venv)
        self.rabbit = servers.shared(servers.RabbitMQ)
        self.mariadb = servers.shared(servers.MariaDB)
        # $CLOUD_FIXTURE_DIR keeps the services' logs and state after the
        # run, for a developer; by default they go with it.
        self.dir = os.environ.get('CLOUD_FIXTURE_DIR') or self.useFixture(
            fixtures.TempDir()).path
        for sub in ('log', 'state', 'lock', 'arrays', 'etc'):
            os.makedirs(os.path.join(self.dir, sub))
        self.processes = []
        self.timings = {}
        self._mark = started
        self.ports = {name: servers.free_port() for name in (
            'cinder', 'nova', 'placement')}
        self.keystone = keystone_sim.Keystone(
            os.path.join(self.dir, 'keystone'))
        # Known before it starts: the services' configuration names it.
        self.identity_url = self.keystone.url + '/v3'
        self.image = _stub('image')
        self.network = _stub('network')
        for stub in (self.image, self.network):
            self.addCleanup(stub.server_close)
            self.addCleanup(stub.shutdown)
        self.cinder_proxy = faultproxy.FaultProxy(
            'http://127.0.0.1:%d/v3' % self.ports['cinder']).start()
        self.addCleanup(self.cinder_proxy.stop)
        # Nova's databases are made meanwhile (they take longest).
        self.databases = self._databases()
        sync = self._nova_conf(self.databases)
        # Before the databases go (cleanups run last first).
        self.addCleanup(self._stop_all)
        self.keystone.start()
        self.addCleanup(self.keystone.stop)
        self._lap('keystone')
        self._identity()
        self._lap('catalog')
        self._cinder_conf()
        _Background(self._cinder_schema).join()
        with open(os.path.join(self.dir, 'arrays', BACKEND + '.json'),
                  'w') as f:
            json.dump({'volumes': [], 'snapshots': []}, f)
        self.start_cinder()
        self._lap('cinder')
        sync.join()
        self._lap('nova databases')
        self._start_services()
        self._lap('nova services')
        self._discover_hosts()
        self._lap('computes')
        self.nova = self._adapter('compute', COMPUTE_VERSION)
        self.cinder = self._adapter('block-storage', VOLUME_VERSION)
        self.nova.post('/flavors', json={'flavor': {
            'name': 'm1.tiny', 'id': '1', 'ram': 512, 'vcpus': 1,
            'disk': 1}})
        self.seconds = time.monotonic() - started

    def _lap(self, name):
        now = time.monotonic()
        self.timings[name] = round(now - self._mark, 1)
        self._mark = now

    # -- Keystone ------------------------------------------------------------

    def url(self, service):
        return {'cinder': 'http://127.0.0.1:%d/v3' % self.ports['cinder'],
                'nova': 'http://127.0.0.1:%d/v2.1' % self.ports['nova'],
                'placement': 'http://127.0.0.1:%d' % self.ports['placement'],
                }[service]

    def _identity(self):
        """The catalog (Keystone's own endpoints, and its roles admin,
        member, reader and service, came with bootstrap) and Nova's and
        Cinder's service users (roles admin and service).
        """
        ks = self.keystone
        ks.register('block-storage', 'cinder', self.url('cinder'))
        ks.register('compute', 'nova', self.url('nova'))
        ks.register('placement', 'placement', self.url('placement'))
        ks.register('image', 'glance', 'http://127.0.0.1:%d'
                    % self.image.server_address[1])
        ks.register('network', 'neutron', 'http://127.0.0.1:%d'
                    % self.network.server_address[1])
        self.service_project = ks.create_project('service')
        for user in ('nova', 'cinder'):
            ks.create_user(user, SERVICE_PASSWORD, project_roles=[
                (self.service_project, 'admin'),
                (self.service_project, 'service')])

    def auth_options(self, project='admin', user='admin',
                     password=keystone_sim.ADMIN_PASSWORD):
        """A keystoneauth password plugin's options, as a group has them."""
        return dict(auth_type='password', auth_url=self.identity_url,
                    username=user, password=password, project_name=project,
                    user_domain_id='default', project_domain_id='default')

    def service_auth(self, user):
        return self.auth_options('service', user, SERVICE_PASSWORD)

    def session(self, project='admin', user='admin',
                password=keystone_sim.ADMIN_PASSWORD):
        """A session of ``user`` scoped to ``project`` (a name)."""
        return self.keystone.session(user, password, project)

    def _adapter(self, service_type, version, session=None):
        return ks_adapter.Adapter(
            session or self.session(), service_type=service_type,
            interface='public', default_microversion=version)

    def create_project(self, name):
        """A project where the admin user has the admin role; its id."""
        ks = self.keystone
        project = ks.create_project(name)
        [admin] = ks.admin.get(ks.auth_url + '/users', params={
            'name': 'admin'}).json()['users']
        ks.admin.put(ks.auth_url + '/projects/%s/users/%s/roles/%s' % (
            project, admin['id'], ks._role('admin')))
        return project

    def delete_project(self, project):
        self.keystone.admin.delete(self.keystone.auth_url
                                   + '/projects/%s' % project)

    # -- databases and configuration ----------------------------------------

    def _databases(self):
        suffix = os.urandom(4).hex()
        names = {n: '%s_%s' % (n, suffix)
                 for n in ('nova_api', 'nova', 'nova_cell0', 'cinder')}
        admin = sa.create_engine(self.mariadb.url,
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text('CREATE DATABASE %s' % name))
        admin.dispose()
        self.addCleanup(self._drop, list(names.values()))
        return names

    def _drop(self, names):
        admin = sa.create_engine(self.mariadb.url,
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()

    def _authtoken(self, user):
        # Only public endpoints are in the catalog.
        return dict(self.service_auth(user), interface='public',
                    www_authenticate_uri=self.identity_url,
                    service_token_roles_required='true')

    def _cinder_conf(self, volume_service=True):
        """cinder.conf: API, scheduler and (``volume_service``) the volume
        service of ``BACKEND`` in one process (tests/incinder/allinone.py),
        its RPC in-process (``fake://``), its database SQLite.
        """
        venv = self.cinder_venv
        self.cinder_conf = os.path.join(self.dir, 'etc', 'cinder.conf')
        default = {
            'auth_strategy': 'keystone',
            'transport_url': 'fake://',
            'api_paste_config': '%s/etc/cinder/api-paste.ini' % venv,
            'resource_query_filters_file':
                '%s/etc/cinder/resource_filters.json' % venv,
            'state_path': '%s/state/cinder' % self.dir,
            'host': CINDER_HOST,
            'osapi_volume_listen': '127.0.0.1',
            'osapi_volume_listen_port': self.ports['cinder'],
            'osapi_volume_workers': 1,
            'debug': 'false', 'use_stderr': 'true',
            # A loaded test machine delays heartbeats (every 10 s) by
            # tens of seconds: a late one must not make a service "down".
            'service_down_time': 300,
            'rpc_response_timeout': 30,
            'scheduler_driver_init_wait_time': 3}
        if volume_service:
            default['enabled_backends'] = BACKEND
        with open(self.cinder_conf, 'w') as f:
            f.write(_ini({
                'DEFAULT': default,
                BACKEND: {
                    'volume_driver': 'fixture_driver.ManageableFakeDriver',
                    'volume_backend_name': BACKEND},
                # MariaDB: Cinder's eventlet services deadlock on SQLite
                # now and then ("database is locked").
                'database': {
                    'connection': self._db_url(self.databases['cinder'])},
                'keystone_authtoken': self._authtoken('cinder'),
                'nova': dict(self.service_auth('nova'),
                             region_name='RegionOne', interface='public'),
                'oslo_concurrency': {
                    'lock_path': '%s/lock/cinder' % self.dir},
                'coordination': {
                    'backend_url': 'file://%s/state' % self.dir},
                'oslo_messaging_notifications': {'driver': 'noop'}}))

    def _nova_conf(self, databases):
        ks_auth = self.service_auth('nova')
        state = os.path.join(self.dir, 'state')
        common = {
            'DEFAULT': {
                'transport_url': self.rabbit.url,
                'compute_driver': 'held_migration.HeldMigrationDriver',
                'use_stderr': 'true',
                'graceful_shutdown_timeout': 5,
                'shelved_offload_time': 0,
                'instance_usage_audit': 'false',
                'heal_instance_info_cache_interval': -1,
                'report_interval': 5, 'service_down_time': 120,
                'rpc_response_timeout': 60},
            'wsgi': {'api_paste_config':
                     os.path.join(self.dir, 'etc', 'api-paste.ini')},
            'api_database': {
                'connection': self._db_url(databases['nova_api'])},
            'database': {'connection': self._db_url(databases['nova'])},
            'oslo_concurrency': {'lock_path': '%s/lock/nova' % self.dir},
            'oslo_messaging_notifications': {'driver': 'noop'},
            'scheduler': {'workers': 1,
                          'discover_hosts_in_cells_interval': -1},
            'conductor': {'workers': 1},
            'vnc': {'enabled': 'false'},
            'keystone_authtoken': self._authtoken('nova'),
            'placement': dict(ks_auth, region_name='RegionOne'),
            'glance': {'endpoint_override': 'http://127.0.0.1:%d'
                       % self.image.server_address[1]},
            'neutron': dict(ks_auth, region_name='RegionOne',
                            endpoint_override='http://127.0.0.1:%d'
                            % self.network.server_address[1]),
            'cinder': dict(ks_auth, os_region_name='RegionOne',
                           endpoint_template=self.cinder_proxy.url),
            'service_user': dict(ks_auth, send_service_user_token='true'),
        }
        self.nova_confs = {}
        api = dict(common, DEFAULT=dict(common['DEFAULT'], host='novaapi',
                                        state_path=state))
        self.nova_confs['api'] = self._write('nova.conf', api)
        for host in COMPUTES:
            # As devstack: nova-compute has no database access.
            conf = {k: v for k, v in common.items()
                    if k not in ('database', 'api_database')}
            conf['DEFAULT'] = dict(
                common['DEFAULT'], host=host,
                state_path=os.path.join(state, host),
                instances_path=os.path.join(state, host, 'instances'))
            self.nova_confs[host] = self._write('nova-%s.conf' % host, conf)
        placement = {
            'DEFAULT': {'use_stderr': 'true'},
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': self._authtoken('nova'),
            'placement_database': {
                'connection': 'sqlite:///%s/placement.sqlite' % state}}
        self._write('placement.conf', placement)
        # nova-api reads nova.conf and api-paste.ini from one directory.
        shutil.copy(os.path.join(self.nova_venv, 'etc', 'nova',
                                 'api-paste.ini'),
                    os.path.join(self.dir, 'etc'))
        with open(os.path.join(self.dir, 'etc', 'nova_wsgi.py'), 'w') as f:
            f.write('import sys\nsys.argv = sys.argv[:1]\n'
                    'from nova.wsgi.osapi_compute import application'
                    '  # noqa\n')
        return _Background(self._nova_schemas, databases)

    def _nova_schemas(self, databases):
        """Placement's and Nova's databases, migrated, with cell0 and cell1
        mapped.
        """
        placement_db = os.path.join(self.dir, 'state', 'placement.sqlite')
        names = {n: databases[n] for n in ('nova_api', 'nova', 'nova_cell0')}
        nm = [os.path.join(self.nova_venv, 'bin', 'nova-manage'),
              '--config-file', self.nova_confs['api']]
        restored = self._schemas(
            os.path.join(os.path.dirname(self.nova_venv),
                         'nova-%s-schema' % NOVA_VERSION), names,
            [[os.path.join(self.nova_venv, 'bin', 'placement-manage'),
              '--config-file', os.path.join(self.dir, 'etc',
                                            'placement.conf'), 'db', 'sync'],
             nm + ['api_db', 'sync'],
             nm + ['cell_v2', 'map_cell0', '--database_connection',
                   self._db_url(databases['nova_cell0'])],
             nm + ['cell_v2', 'create_cell', '--name', 'cell1'],
             nm + ['db', 'sync']], [placement_db])
        if restored:
            # The cells as this run's map them.
            engine = sa.create_engine(self.mariadb.url
                                      + databases['nova_api'])
            with engine.begin() as conn:
                for name, url, transport in (
                        ('cell0', 'nova_cell0', 'none:///'),
                        ('cell1', 'nova', self.rabbit.url)):
                    conn.execute(sa.text(
                        'UPDATE cell_mappings SET database_connection = :d, '
                        'transport_url = :t WHERE name = :n'), dict(
                            d=self._db_url(databases[url]), t=transport,
                            n=name))
            engine.dispose()

    def _cinder_schema(self):
        self._schemas(
            os.path.join(os.path.dirname(self.cinder_venv),
                         'cinder-%s-mysql-schema' % cinder_sim.CINDER_VERSION),
            {'cinder': self.databases['cinder']},
            [[os.path.join(self.cinder_venv, 'bin', 'cinder-manage'),
              '--config-file', self.cinder_conf, 'db', 'sync']])

    def _schemas(self, golden, databases, commands, files=()):
        """MariaDB ``databases`` (``{key: name}``) and ``files`` (in the
        work directory), as ``commands`` make them: restored from a dump of
        the first run's (``golden``, next to the venv), which saves the
        services' migrations (10 to 70 s). True if restored.
        """
        log = os.path.join(self.dir, 'log', 'schema.log')
        if os.path.exists(os.path.join(golden, 'done')):
            for path in files:
                shutil.copyfile(os.path.join(golden, os.path.basename(path)),
                                path)
            for key, name in databases.items():
                self._mariadb(log, 'mariadb', name,
                              stdin=os.path.join(golden, key + '.sql'))
            return True
        for command in commands:
            _run(command, log)
        # Another test process may build it at the same time: each writes
        # its own and renames it into place.
        work = '%s.%d' % (golden, os.getpid())
        os.makedirs(work)
        for path in files:
            shutil.copyfile(path, os.path.join(work, os.path.basename(path)))
        for key, name in databases.items():
            self._mariadb(log, 'mariadb-dump', name,
                          stdout=os.path.join(work, key + '.sql'))
        open(os.path.join(work, 'done'), 'w').close()
        try:
            os.rename(work, golden)
        except OSError:
            shutil.rmtree(work, True)   # the other one won
        return False

    def _db_url(self, name):
        return '%s%s?charset=utf8' % (self.mariadb.url, name)

    def _mariadb(self, log, program, database, stdin=None, stdout=None):
        """``mariadb`` (restore ``stdin``) or ``mariadb-dump`` (into
        ``stdout``) on ``database`` of the shared MariaDB.
        """
        argv = [program, '--no-defaults', '-h', '127.0.0.1', '-P',
                str(self.mariadb.port), '-u', 'openstack_citest',
                '-popenstack_citest']
        if program == 'mariadb-dump':
            argv += ['--skip-comments', '--skip-dump-date']
        _run(argv + [database], log, stdin=stdin, stdout=stdout)

    def _write(self, name, sections):
        path = os.path.join(self.dir, 'etc', name)
        with open(path, 'w') as f:
            f.write(_ini(sections))
        return path

    # -- services -------------------------------------------------------------

    def _process(self, name, argv, venv, **env):
        environ = dict(os.environ, **env)
        environ.pop('PYTHONPATH', None)
        environ.update(env)
        process = _Process(name, [os.path.join(venv, 'bin', argv[0])]
                           + argv[1:], self.dir, environ)
        process.start()
        self.processes.append(process)
        return process

    def start_cinder(self, volume_service=True):
        """Cinder's API and scheduler, and (``volume_service``) the volume
        service, in one process; waits until it answers (and the volume
        service is up).
        """
        self._cinder_conf(volume_service)
        self.cinder_process = self._process(
            'cinder', ['python', os.path.join(
                tests.ROOT, 'tests', 'incinder', 'allinone.py'),
                '--config-file', self.cinder_conf], self.cinder_venv,
            CINDER_RECONCILER_ARRAYS=os.path.join(self.dir, 'arrays'))
        _wait('cinder-api', lambda: _answers(
            'http://127.0.0.1:%d/' % self.ports['cinder']), 90,
            [self.cinder_process])
        if volume_service:
            # Up, and its pool known to the scheduler: volumes can be made.
            _wait('cinder-volume', lambda: self.admin_cinder().get(
                '/scheduler-stats/get_pools').json()['pools'], 120,
                [self.cinder_process], interval=0.5)

    def kill_cinder(self):
        """SIGKILL: Cinder's services stop mid-operation."""
        process = self.cinder_process
        if process in self.processes:
            self.processes.remove(process)
        if process.alive():
            os.killpg(process.proc.pid, signal.SIGKILL)
            process.proc.wait()

    def stop_volume_service(self):
        """The volume service dies mid-operation; the API and scheduler
        are back without it. Its last heartbeat is set back past
        service_down_time (300 s here), as if it stopped that long ago,
        so that Cinder shows it down now rather than in five minutes.
        """
        self.kill_cinder()
        engine = sa.create_engine(self._db_url(self.databases['cinder']))
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE services SET updated_at = NOW() - INTERVAL 1 HOUR "
                "WHERE `binary` = 'cinder-volume'"))
        engine.dispose()
        self.start_cinder(volume_service=False)
        self.wait('cinder-volume down',
                  lambda: self.volume_service_state() == 'down')

    def start_volume_service(self):
        self.kill_cinder()
        self.start_cinder()

    def volume_service_state(self):
        """``up``, ``down`` or None, as Cinder's os-services says."""
        found = self.admin_cinder().get(
            '/os-services?binary=cinder-volume').json()['services']
        return found[0]['state'] if found else None

    def _start_services(self):
        nv = self.nova_venv
        innova = os.path.join(tests.ROOT, 'tests', 'innova')
        etc = os.path.join(self.dir, 'etc')
        self._process('placement', [
            'gunicorn', '--no-control-socket', '-b',
            '127.0.0.1:%d' % self.ports['placement'], '-w', '1',
            '--threads', '4', 'placement.wsgi.api:application'], nv,
            OS_PLACEMENT_CONFIG_DIR=etc)
        for service in ('conductor', 'scheduler'):
            self._process('nova-' + service, [
                'nova-' + service, '--config-file', self.nova_confs['api']],
                nv)
        self.hold_file = os.path.join(self.dir, 'state', 'hold-migration')
        self.computes = {host: self._process(
            'nova-compute-' + host, ['nova-compute', '--config-file',
                                     self.nova_confs[host]], nv,
            PYTHONPATH=innova, HELD_MIGRATION_FILE=self.hold_file)
            for host in COMPUTES}
        self._process('nova-api', [
            'gunicorn', '--no-control-socket', '--pythonpath', etc, '-b',
            '127.0.0.1:%d' % self.ports['nova'], '-w', '1', '--threads',
            '4', 'nova_wsgi:application'], nv, OS_NOVA_CONFIG_DIR=etc)
        for service in ('nova', 'placement'):
            _wait(service, lambda: _answers(
                'http://127.0.0.1:%d/' % self.ports[service]), 90,
                self.processes)

    def _discover_hosts(self):
        placement = ks_adapter.Adapter(
            self.session(), service_type='placement',
            interface='public', default_microversion='1.1')

        def providers():
            found = placement.get('/resource_providers').json()
            return len(found['resource_providers']) == len(COMPUTES)
        _wait('the computes in placement', providers, 120, self.processes,
              interval=0.5)
        subprocess.run([os.path.join(self.nova_venv, 'bin', 'nova-manage'),
                        '--config-file', self.nova_confs['api'], 'cell_v2',
                        'discover_hosts'], check=True, capture_output=True)

    # -- what a user does ---------------------------------------------------

    def wait(self, what, check, timeout=120):
        return _wait(what, check, timeout, self.processes, interval=0.3)

    def server_status(self, server_id):
        resp = self.nova.get('/servers/%s' % server_id, raise_exc=False)
        return resp.json()['server']['status'] if resp.ok else None

    def boot(self, name):
        """An ACTIVE server (no network); its id."""
        server = self.nova.post('/servers', json={'server': {
            'name': name, 'flavorRef': '1', 'imageRef': IMAGE,
            'networks': 'none'}}).json()['server']['id']
        self.wait('server %s ACTIVE' % name,
                  lambda: self.server_status(server) == 'ACTIVE')
        return server

    def delete_server(self, server_id):
        self.nova.delete('/servers/%s' % server_id)
        self.wait('server %s gone' % server_id,
                  lambda: self.server_status(server_id) is None)

    def volume_status(self, volume_id, cinder=None):
        resp = (cinder or self.cinder).get('/volumes/%s' % volume_id,
                                           raise_exc=False)
        return resp.json()['volume']['status'] if resp.ok else None

    def create_volume(self, name, cinder=None, **extra):
        """An available volume (``cinder``: another project's adapter)."""
        cinder = cinder or self.cinder
        volume = cinder.post('/volumes', json={'volume': dict(
            size=1, name=name, **extra)}).json()['volume']['id']
        self.wait('volume %s available' % name,
                  lambda: self.volume_status(volume, cinder) == 'available')
        return volume

    def attach(self, server_id, volume_id):
        """Through Nova, until Cinder shows it in-use; the attachment."""
        self.nova.post('/servers/%s/os-volume_attachments' % server_id,
                       json={'volumeAttachment': {'volumeId': volume_id}})
        self.wait('volume %s attached' % volume_id,
                  lambda: self.volume_status(volume_id) == 'in-use')
        return self.attachments(volume_id, server_id)[0]

    def attachments(self, volume_id, server_id=None):
        found = self.cinder.get('/attachments?all_tenants=1&volume_id=%s'
                                % volume_id).json()['attachments']
        return [a['id'] for a in found
                if server_id is None or a['instance'] == server_id]

    def project_cinder(self, project):
        """A Cinder adapter of the admin user scoped to ``project``."""
        return self._adapter('block-storage', VOLUME_VERSION,
                             session=self.session(project))

    def service_token(self):
        """A token of Nova's service user: Cinder takes a request that
        carries it as X-Service-Token as coming from a service.
        """
        return self.session('service', 'nova', SERVICE_PASSWORD).get_token()

    def archive_deleted_rows(self):
        """``nova-manage db archive_deleted_rows --purge``: Nova forgets
        its deleted servers, as operators' cron jobs make it.
        """
        result = subprocess.run(
            [os.path.join(self.nova_venv, 'bin', 'nova-manage'),
             '--config-file', self.nova_confs['api'], 'db',
             'archive_deleted_rows', '--until-complete', '--purge'],
            capture_output=True, text=True)
        # 1: some rows were archived; 0: none were.
        if result.returncode not in (0, 1):
            raise RuntimeError('archive_deleted_rows failed: %s'
                               % result.stderr[-2000:])

    def admin_cinder(self):
        return self._adapter('block-storage', VOLUME_VERSION)

    def _stop_all(self):
        for process in reversed(self.processes):
            process.stop()

    def logs(self):
        """Every service's log tail, for a failing test's details."""
        return '\n'.join('== %s\n%s' % (p.name, p.log_tail(15))
                         for p in self.processes)


class _Background(threading.Thread):
    """``function(*args)`` in a thread; ``join()`` re-raises its error."""

    def __init__(self, function, *args):
        super().__init__(daemon=True)
        self.function, self.args, self.error = function, args, None
        self.start()

    def run(self):
        try:
            self.function(*self.args)
        except Exception as e:
            self.error = e

    def join(self, timeout=None):
        super().join(timeout)
        if self.error:
            raise self.error


def _run(argv, log, stdin=None, stdout=None):
    """A command of the set-up; its output (or errors) in ``log``."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(open(log, 'ab'))
        into = stack.enter_context(open(stdout, 'wb')) if stdout else err
        source = (stack.enter_context(open(stdin, 'rb')) if stdin
                  else subprocess.DEVNULL)
        if subprocess.run(argv, stdin=source, stdout=into, stderr=err,
                          env=env).returncode:
            with open(log, errors='replace') as f:
                raise RuntimeError('%s failed:\n%s' % (
                    ' '.join(argv[:4]), f.read()[-2000:]))
