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

"""A real Keystone, and the reconciler's API, under uWSGI on 127.0.0.1.

Keystone 30 runs from its own virtualenv (``tools/setup-keystone.sh``), as
devstack runs it: ``keystone.wsgi.api:application`` under uWSGI, SQLite and
fernet tokens. ``keystone-manage db_sync`` and ``bootstrap`` take most of
its set-up (40 s on a loaded 2-core machine), so they run once per
virtualenv into a golden copy (database and keys) that each Keystone
copies; only the port in the catalog's identity endpoints changes.

The API runs ``reconciler.wsgi.api:application`` under uWSGI from this
process's virtualenv (the pyuwsgi wheel), as production would. The demo
and the functional tests use both.
"""

import contextlib
import fcntl
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import time

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests

from reconciler.simulators import ports

KEYSTONE_VERSION = '30.0.0'
ADMIN_PASSWORD = 'keystone-admin-pw'
SERVICE_TYPE = 'block-storage-reconciliation'
_PLACEHOLDER = 'http://127.0.0.1:1/v3/'
UWSGI = os.path.join(os.path.dirname(sys.executable), 'uwsgi')
# The account's home, not $HOME: test frameworks point $HOME at a temp dir.
_HOME = pwd.getpwuid(os.getuid()).pw_dir


class KeystoneError(RuntimeError):
    pass


def keystone_venv():
    """The venv of tools/setup-keystone.sh (the script's path rule)."""
    path = os.environ.get('CINDER_RECONCILER_KEYSTONE_VENV') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(_HOME, '.cache'),
        'cinder-reconciler', 'keystone-' + KEYSTONE_VERSION)
    path = os.path.normpath(path)
    for program in ('keystone-manage', 'uwsgi'):
        if not os.access(os.path.join(path, 'bin', program), os.X_OK):
            raise KeystoneError(
                'No Keystone venv with bin/%s at %s: run tools/setup-'
                'keystone.sh (it honours CINDER_RECONCILER_KEYSTONE_VENV)'
                % (program, path))
    return path


def _conf_text(where):
    return ('[DEFAULT]\nuse_stderr = true\n'
            '[database]\nconnection = sqlite:///%(d)s/keystone.db\n'
            '[token]\nprovider = fernet\n'
            '[fernet_tokens]\nkey_repository = %(d)s/fernet-keys\n'
            '[fernet_receipts]\nkey_repository = %(d)s/fernet-keys\n'
            '[credential]\nkey_repository = %(d)s/credential-keys\n'
            % {'d': where})


def golden(venv):
    """A bootstrapped Keystone (database and keys), made once per venv."""
    path = os.path.join(venv, 'var', 'cinder-reconciler-golden')
    if os.path.exists(os.path.join(path, 'done')):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may build it
        if os.path.exists(os.path.join(path, 'done')):
            return path
        work = path + '.new'
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(os.path.join(work, 'fernet-keys'))
        os.makedirs(os.path.join(work, 'credential-keys'))
        conf = os.path.join(work, 'keystone.conf')
        with open(conf, 'w') as f:
            f.write(_conf_text(work))
        manage = [os.path.join(venv, 'bin', 'keystone-manage'),
                  '--config-file', conf]
        user = pwd.getpwuid(os.getuid()).pw_name
        owner = ['--keystone-user', user, '--keystone-group', user]
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
                raise KeystoneError('keystone-manage %s failed: %s' % (
                    args[0], result.stderr[-2000:]))
        os.unlink(conf)
        open(os.path.join(work, 'done'), 'w').close()
        shutil.rmtree(path, ignore_errors=True)
        os.rename(work, path)
    return path


def uwsgi_command(uwsgi, module, port, processes=1, threads=4):
    """uWSGI serving ``module`` over HTTP, as devstack configures it (an
    http-socket closes each connection: clients are told so, or they would
    send their next request on a closed one).
    """
    return [uwsgi, '--http-socket', '127.0.0.1:%d' % port,
            '--module', module, '--master', '--need-app', '--lazy-apps',
            '--die-on-term', '--processes', str(processes),
            '--threads', str(threads), '--buffer-size', '65535',
            '--add-header', 'Connection: close', '--disable-logging']


class _Server(object):
    """A uWSGI server in ``workdir``: ``start()`` returns once it answers
    ``READY_PATH`` (``wait=False``: at once; ``wait_ready()`` later).
    """

    NAME = None
    READY_PATH = '/'

    def __init__(self, workdir):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.log_path = os.path.join(workdir, self.NAME + '.log')
        self.port = ports.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self._proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def prepare(self):
        """Files and accounts before the first start."""

    def command(self):
        raise NotImplementedError()

    def env(self):
        return dict(os.environ)

    def start(self, wait=True, timeout=180):
        self.prepare()
        with open(self.log_path, 'ab') as log:
            self._proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env(), cwd=self.workdir,
                start_new_session=True)
        self._timeout = timeout
        if wait:
            self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + self._timeout
        while True:
            if self._proc.poll() is not None:
                raise KeystoneError('%s exited with %s: %s' % (
                    self.NAME, self._proc.returncode, self.log_tail()))
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.READY_PATH,
                                timeout=5).status_code < 500:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise KeystoneError('%s not ready: %s'
                                    % (self.NAME, self.log_tail()))
            time.sleep(0.2)

    def stop(self):
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self):
        with contextlib.suppress(OSError), open(self.log_path,
                                                errors='replace') as f:
            return f.read()[-2000:]
        return ''


class Keystone(_Server):
    """Keystone with its bootstrap admin; :meth:`session` logs users in."""

    NAME = 'keystone'
    READY_PATH = '/v3'

    def prepare(self):
        self.venv = keystone_venv()
        for name in ('keystone.db', 'fernet-keys', 'credential-keys'):
            source = os.path.join(golden(self.venv), name)
            target = os.path.join(self.workdir, name)
            shutil.rmtree(target, ignore_errors=True)
            (shutil.copytree if os.path.isdir(source) else shutil.copy)(
                source, target)
        self.auth_url = self.url + '/v3'
        with contextlib.closing(sqlite3.connect(
                os.path.join(self.workdir, 'keystone.db'))) as db, db:
            db.execute('UPDATE endpoint SET url = ? WHERE url = ?',
                       (self.auth_url + '/', _PLACEHOLDER))
        self.conf = os.path.join(self.workdir, 'keystone.conf')
        with open(self.conf, 'w') as f:
            f.write(_conf_text(self.workdir))

    def env(self):
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf)
        env.pop('PYTHONPATH', None)
        return env

    def command(self):
        return uwsgi_command(os.path.join(self.venv, 'bin', 'uwsgi'),
                             'keystone.wsgi.api:application', self.port)

    def wait_ready(self):
        super().wait_ready()
        self.admin = self.session('admin', ADMIN_PASSWORD, 'admin')

    def session(self, user, password, project=None, system=False):
        """A keystoneauth session of ``user`` scoped to ``project`` (a
        name in the Default domain) or to the system.
        """
        scope = ({'system_scope': 'all'} if system else
                 {'project_name': project, 'project_domain_id': 'default'})
        return ks_session.Session(auth=v3.Password(
            auth_url=self.auth_url, username=user, password=password,
            user_domain_id='default', **scope))

    def create(self, path, key, body):
        """POST ``{key: body}`` to ``path`` as the admin; the new object."""
        return self.admin.post(self.auth_url + path,
                               json={key: body}).json()[key]

    def _role(self, name):
        [role] = self.admin.get(self.auth_url + '/roles',
                                params={'name': name}).json()['roles']
        return role['id']

    def create_project(self, name):
        return self.create('/projects', 'project',
                           {'name': name, 'domain_id': 'default'})['id']

    def create_user(self, name, password, project_roles=(),
                    system_roles=()):
        """A user with roles on projects (``(project id, role)``) and on
        the system; its id.
        """
        user = self.create('/users', 'user', {
            'name': name, 'password': password,
            'domain_id': 'default'})['id']
        for project, role in project_roles:
            self.admin.put(self.auth_url + '/projects/%s/users/%s/roles/%s'
                           % (project, user, self._role(role)))
        for role in system_roles:
            self.admin.put(self.auth_url + '/system/users/%s/roles/%s'
                           % (user, self._role(role)))
        return user

    def register(self, service_type, name, url):
        """A service with public and internal endpoints at ``url``."""
        service = self.create('/services', 'service',
                              {'type': service_type, 'name': name})['id']
        for interface in ('public', 'internal'):
            self.create('/endpoints', 'endpoint', {
                'service_id': service, 'interface': interface,
                'url': url, 'region_id': 'RegionOne'})

    def openstack_env(self, user='admin', password=ADMIN_PASSWORD,
                      project='admin'):
        """The environment of an ``openstack`` command as ``user``."""
        return dict(os.environ, OS_AUTH_URL=self.auth_url, OS_USERNAME=user,
                    OS_PASSWORD=password, OS_PROJECT_NAME=project,
                    OS_USER_DOMAIN_ID='default',
                    OS_PROJECT_DOMAIN_ID='default',
                    OS_IDENTITY_API_VERSION='3', OS_REGION_NAME='RegionOne')


_API_CONF = """
[DEFAULT]
debug = true
{rpc}
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

#: The pipeline as the package ships it (etc/ in a checkout).
PASTE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'etc', 'cinder-reconciler',
    'api-paste.ini')


class ReconcilerApi(_Server):
    """cinder-reconciler-api under uWSGI, authenticating with ``keystone``
    (given ``service_user``, its service user is created in project
    ``service``), reading ``database``; ``transport_url``: the
    controllers' message bus, for remediation.
    """

    NAME = 'cinder-reconciler-api'
    SERVICE_PASSWORD = 'api-service-pw'

    def __init__(self, workdir, keystone, database, service_user=True,
                 max_limit=1000, transport_url=None, paste=PASTE):
        super().__init__(workdir)
        self.keystone = keystone
        self.database = database
        self.service_user = service_user
        self.max_limit = max_limit
        self.transport_url = transport_url
        self.paste = paste

    def prepare(self):
        if not os.path.exists(UWSGI):
            raise KeystoneError('uWSGI is not installed (pyuwsgi, '
                                'test-requirements.txt)')
        self.conf = os.path.join(self.workdir, 'cinder-reconciler-api.conf')
        with open(self.conf, 'w') as f:
            f.write(_API_CONF.format(
                paste=self.paste, database=self.database,
                keystone=self.keystone.auth_url,
                password=self.SERVICE_PASSWORD, max_limit=self.max_limit,
                rpc='transport_url = %s\n' % self.transport_url
                if self.transport_url else ''))
        if self.service_user:
            self.keystone.create_user(
                'cinder-reconciler-api', self.SERVICE_PASSWORD,
                project_roles=[(self.keystone.create_project('service'),
                                'service')])
            self.service_user = False   # a restart finds it there

    def env(self):
        return dict(os.environ,
                    OS_CINDER_RECONCILER_API_CONFIG_FILES=self.conf)

    def command(self):
        return uwsgi_command(UWSGI, 'reconciler.wsgi.api:application',
                             self.port, processes=2, threads=2)
