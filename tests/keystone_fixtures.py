"""A real Keystone, and the reconciler's API, under uWSGI on 127.0.0.1.

Keystone 30 runs from its own virtualenv (tools/setup-keystone.sh), as
devstack runs it: ``keystone.wsgi.api:application`` under uWSGI, SQLite and
fernet tokens. ``keystone-manage db_sync`` and ``bootstrap`` take most of
its set-up (tens of seconds on a loaded machine), so they run once per
virtualenv into a golden copy (database and keys) that each Keystone
copies; only the port in the catalog's identity endpoints changes.

The API runs ``reconciler.wsgi.api:application`` under uWSGI from this
virtualenv (the pyuwsgi wheel), as production would.
"""

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests

import tests
from tests import servers

ADMIN_PASSWORD = 'keystone-admin-pw'
_PLACEHOLDER = 'http://127.0.0.1:1/v3/'
UWSGI = os.path.join(os.path.dirname(sys.executable), 'uwsgi')


def keystone_venv():
    """The Keystone virtualenv (created by tools/setup-keystone.sh)."""
    venv = os.environ.get('CINDER_RECONCILER_KEYSTONE_VENV')
    if not venv:
        result = subprocess.run(
            ['bash', os.path.join(tests.ROOT, 'tools', 'setup-keystone.sh')],
            capture_output=True, text=True)
        if result.returncode:
            servers.unavailable('no Keystone virtualenv: %s'
                                % result.stderr[-1000:])
        venv = result.stdout.strip()
    if not os.path.exists(os.path.join(venv, 'bin', 'keystone-manage')):
        servers.unavailable('no keystone-manage in %s' % venv)
    return venv


def _conf_text(where):
    return ('[DEFAULT]\nuse_stderr = true\n'
            '[database]\nconnection = sqlite:///%(d)s/keystone.db\n'
            '[token]\nprovider = fernet\n'
            '[fernet_tokens]\nkey_repository = %(d)s/fernet-keys\n'
            '[fernet_receipts]\nkey_repository = %(d)s/fernet-keys\n'
            '[credential]\nkey_repository = %(d)s/credential-keys\n'
            % {'d': where})


def _golden(venv):
    """A bootstrapped Keystone (database and keys), made once per venv."""
    golden = os.path.join(venv, 'var', 'cinder-reconciler-golden')
    if os.path.exists(os.path.join(golden, 'done')):
        return golden
    os.makedirs(os.path.dirname(golden), exist_ok=True)
    with open(golden + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test worker may build it
        if os.path.exists(os.path.join(golden, 'done')):
            return golden
        work = golden + '.new'
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(os.path.join(work, 'fernet-keys'))
        os.makedirs(os.path.join(work, 'credential-keys'))
        conf = os.path.join(work, 'keystone.conf')
        with open(conf, 'w') as f:
            f.write(_conf_text(work))
        manage = [os.path.join(venv, 'bin', 'keystone-manage'),
                  '--config-file', conf]
        owner = ['--keystone-user', 'root', '--keystone-group', 'root']
        if os.geteuid():
            owner = []
        for args in (['db_sync'], ['fernet_setup'] + owner,
                     ['credential_setup'] + owner,
                     ['bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                      '--bootstrap-region-id', 'RegionOne',
                      '--bootstrap-admin-url', _PLACEHOLDER,
                      '--bootstrap-internal-url', _PLACEHOLDER,
                      '--bootstrap-public-url', _PLACEHOLDER]):
            result = subprocess.run(manage + args, capture_output=True,
                                    text=True)
            if result.returncode:
                raise RuntimeError('keystone-manage %s failed: %s' % (
                    args[0], result.stderr[-2000:]))
        os.unlink(conf)
        open(os.path.join(work, 'done'), 'w').close()
        shutil.rmtree(golden, ignore_errors=True)
        os.rename(work, golden)
    return golden


def uwsgi_command(uwsgi, module, port, processes=1, threads=4):
    """uWSGI serving ``module`` over HTTP, as devstack configures it
    (an http-socket closes each connection: clients are told so, or they
    would send their next request on a closed one).
    """
    return [uwsgi, '--http-socket', '127.0.0.1:%d' % port,
            '--module', module, '--master', '--need-app', '--lazy-apps',
            '--die-on-term', '--processes', str(processes),
            '--threads', str(threads), '--buffer-size', '65535',
            '--add-header', 'Connection: close', '--disable-logging']


class _HttpServer(servers.Server):
    READY_PATH = '/'

    def ready(self):
        if self.process.poll() is not None:
            return False
        try:
            return requests.get('http://127.0.0.1:%d%s' % (
                self.port, self.READY_PATH), timeout=2).status_code < 500
        except requests.RequestException:
            return False


class Keystone(_HttpServer):
    """Keystone with its bootstrap admin; :meth:`session` logs users in."""

    NAME = 'keystone'
    READY_PATH = '/v3'

    def check_installed(self):
        self.venv = keystone_venv()

    def prepare(self):
        for name in ('keystone.db', 'fernet-keys', 'credential-keys'):
            source = os.path.join(_golden(self.venv), name)
            (shutil.copytree if os.path.isdir(source) else shutil.copy)(
                source, os.path.join(self.dir, name))
        self.url = 'http://127.0.0.1:%d/v3' % self.port
        with contextlib.closing(sqlite3.connect(
                os.path.join(self.dir, 'keystone.db'))) as db, db:
            db.execute('UPDATE endpoint SET url = ? WHERE url = ?',
                       (self.url + '/', _PLACEHOLDER))
        self.conf = os.path.join(self.dir, 'keystone.conf')
        with open(self.conf, 'w') as f:
            f.write(_conf_text(self.dir))

    def env(self):
        return dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf)

    def command(self):
        return uwsgi_command(os.path.join(self.venv, 'bin', 'uwsgi'),
                             'keystone.wsgi.api:application', self.port)

    def start(self):
        super().start()
        self.admin = self.session('admin', ADMIN_PASSWORD, 'admin')

    def session(self, user, password, project=None, system=False):
        """A keystoneauth session of ``user`` scoped to ``project`` (a
        name in the Default domain) or to the system.
        """
        scope = ({'system_scope': 'all'} if system else
                 {'project_name': project,
                  'project_domain_id': 'default'})
        return ks_session.Session(auth=v3.Password(
            auth_url=self.url, username=user, password=password,
            user_domain_id='default', **scope))

    def _post(self, path, key, body):
        return self.admin.post(self.url + path, json={key: body}).json()[key]

    def _role(self, name):
        [role] = self.admin.get(self.url + '/roles',
                                params={'name': name}).json()['roles']
        return role['id']

    def create_project(self, name):
        return self._post('/projects', 'project',
                          {'name': name, 'domain_id': 'default'})['id']

    def create_user(self, name, password, project_roles=(),
                    system_roles=()):
        """A user with roles on projects (``(project id, role)``) and on
        the system; its id.
        """
        user = self._post('/users', 'user', {
            'name': name, 'password': password,
            'domain_id': 'default'})['id']
        for project, role in project_roles:
            self.admin.put(self.url + '/projects/%s/users/%s/roles/%s' % (
                project, user, self._role(role)))
        for role in system_roles:
            self.admin.put(self.url + '/system/users/%s/roles/%s' % (
                user, self._role(role)))
        return user

    def register(self, service_type, name, url):
        """A service with public and internal endpoints at ``url``."""
        service = self._post('/services', 'service',
                             {'type': service_type, 'name': name})['id']
        for interface in ('public', 'internal'):
            self._post('/endpoints', 'endpoint', {
                'service_id': service, 'interface': interface,
                'url': url, 'region_id': 'RegionOne'})


_API_CONF = """
[DEFAULT]
debug = true

[api]
api_paste_config = {paste}
max_limit = {max_limit}

[reconciler_database]
connection = {database}
max_retries = 0
connect_timeout = 2

[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = cinder-reconciler-api
password = {password}
project_name = service
user_domain_id = default
project_domain_id = default
service_token_roles_required = true
"""


class ReconcilerApi(_HttpServer):
    """cinder-reconciler-api under uWSGI, authenticating with
    ``keystone`` (whose ``service`` project it is given), reading
    ``database``.
    """

    NAME = 'cinder-reconciler-api'
    SERVICE_PASSWORD = 'api-service-pw'

    def __init__(self, keystone, database, service_user=True, max_limit=50):
        super().__init__()
        self.keystone = keystone
        self.database = database
        self.service_user = service_user
        self.max_limit = max_limit

    def check_installed(self):
        if not os.path.exists(UWSGI):
            servers.unavailable('uWSGI is not installed (pyuwsgi, '
                                'test-requirements.txt)')

    def prepare(self):
        self.url = 'http://127.0.0.1:%d' % self.port
        self.conf = os.path.join(self.dir, 'cinder-reconciler-api.conf')
        with open(self.conf, 'w') as f:
            f.write(_API_CONF.format(
                paste=os.path.join(tests.ROOT, 'etc', 'cinder-reconciler',
                                   'api-paste.ini'),
                database=self.database, keystone=self.keystone.url,
                password=self.SERVICE_PASSWORD, max_limit=self.max_limit))
        if self.service_user:
            self.keystone.create_user(
                'cinder-reconciler-api', self.SERVICE_PASSWORD,
                project_roles=[(self.keystone.create_project('service'),
                                'service')])

    def env(self):
        return dict(os.environ,
                    OS_CINDER_RECONCILER_API_CONFIG_FILES=self.conf)

    def command(self):
        return uwsgi_command(UWSGI, 'reconciler.wsgi.api:application',
                             self.port, processes=2, threads=2)


def get(session, url, **kwargs):
    """``session.get`` returning the response whatever its status."""
    try:
        return session.get(url, raise_exc=False, **kwargs)
    except ks_exc.ClientException as e:  # pragma: no cover - says why
        raise AssertionError('%s: %s' % (url, e))
