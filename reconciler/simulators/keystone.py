"""A real Keystone on 127.0.0.1, as the demo and the tests run it.

Keystone runs only as a subprocess from its own venv
(``tools/setup-keystone.sh``), under uWSGI as devstack runs it, on SQLite
with Fernet tokens. ``keystone-manage db_sync`` and ``bootstrap`` (an
``admin`` user with the admin role on an ``admin`` project of the
``Default`` domain) run once per Keystone version into a schema copied for
each start, which takes milliseconds instead of about ten seconds. Fernet
and credential keys are new for each start.

Clients: a keystoneauth1 session from :meth:`KeystoneServer.session`
(password auth as ``admin``), or, from configuration, ``auth_type =
password`` with :meth:`KeystoneServer.auth_options`. Projects, users,
roles and catalog entries are made through Keystone's own API.
"""

import base64
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

KEYSTONE_VERSION = '30.0.0'
ADMIN_USER = 'admin'
ADMIN_PROJECT = 'admin'
#: The bootstrap admin's password: a throw-away database on loopback.
ADMIN_PASSWORD = 'keystone-fixture-admin'
DOMAIN = 'Default'
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_HOME = pwd.getpwuid(os.getuid()).pw_dir


class KeystoneError(RuntimeError):
    pass


def keystone_venv():
    """The venv of tools/setup-keystone.sh (the script's path rule)."""
    path = os.environ.get('CINDER_RECONCILER_KEYSTONE_VENV') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(_HOME, '.cache'),
        'cinder-reconciler', 'keystone-' + KEYSTONE_VERSION)
    path = os.path.normpath(path)
    if not os.access(os.path.join(path, 'bin', 'keystone-manage'), os.X_OK):
        raise KeystoneError(
            'No Keystone venv with bin/keystone-manage at %s: run '
            'tools/setup-keystone.sh (it honours '
            'CINDER_RECONCILER_KEYSTONE_VENV)' % path)
    return path


def _fernet_keys(directory):
    """A key repository as ``keystone-manage fernet_setup`` leaves it:
    a staged key (0) and a primary key (1).
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name in ('0', '1'):
        with open(os.path.join(directory, name), 'wb') as f:
            f.write(base64.urlsafe_b64encode(os.urandom(32)))


def _write_conf(path, workdir, db_path):
    with open(path, 'w') as f:
        f.write(f"""[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///{db_path}

[token]
provider = fernet

[fernet_tokens]
key_repository = {workdir}/fernet-keys

[fernet_receipts]
key_repository = {workdir}/fernet-keys

[credential]
key_repository = {workdir}/credential-keys
""")


def _manage(venv, conf, *args):
    proc = subprocess.run(
        [os.path.join(venv, 'bin', 'keystone-manage'), '--config-file', conf]
        + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    if proc.returncode:
        raise KeystoneError('keystone-manage %s failed:\n%s'
                            % (args[0], proc.stdout[-3000:]))


def golden_db(venv):
    """Keystone's schema with the bootstrap admin, made once per version.

    It lives next to the venv; concurrent first runs each build their own
    and atomically rename it into place.
    """
    path = os.path.join(os.path.dirname(venv),
                        'keystone-%s-bootstrapped.sqlite' % KEYSTONE_VERSION)
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=os.path.dirname(venv)) as tmp:
        db_path = os.path.join(tmp, 'keystone.sqlite')
        conf = os.path.join(tmp, 'keystone.conf')
        _write_conf(conf, tmp, db_path)
        _fernet_keys(os.path.join(tmp, 'fernet-keys'))
        _fernet_keys(os.path.join(tmp, 'credential-keys'))
        _manage(venv, conf, 'db_sync')
        _manage(venv, conf, 'bootstrap',
                '--bootstrap-username', ADMIN_USER,
                '--bootstrap-password', ADMIN_PASSWORD,
                '--bootstrap-project-name', ADMIN_PROJECT,
                '--bootstrap-region-id', 'RegionOne')
        os.replace(db_path, path)
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class KeystoneServer(object):
    """Keystone under uWSGI, serving a fresh copy of the schema."""

    def __init__(self, workdir, port=None):
        self.workdir = os.path.abspath(workdir)
        self.port = port
        self.db_path = os.path.join(self.workdir, 'keystone.sqlite')
        self.conf_path = os.path.join(self.workdir, 'keystone.conf')
        self.log_path = os.path.join(self.workdir, 'keystone.log')
        self._proc = None
        self._session = None

    @property
    def url(self):
        """The identity v3 endpoint (auth_url)."""
        return 'http://127.0.0.1:%d/v3' % self.port

    def auth_options(self, project=ADMIN_PROJECT, user=ADMIN_USER,
                     password=ADMIN_PASSWORD):
        """keystoneauth ``password`` plugin options, as a config group
        holds them.
        """
        return dict(auth_type='password', auth_url=self.url, username=user,
                    password=password, project_name=project,
                    user_domain_name=DOMAIN, project_domain_name=DOMAIN)

    def session(self, project=ADMIN_PROJECT, user=ADMIN_USER,
                password=ADMIN_PASSWORD):
        options = self.auth_options(project, user, password)
        options.pop('auth_type')
        return ks_session.Session(auth=v3.Password(**options))

    @property
    def admin(self):
        """An admin session, shared by the helpers."""
        if self._session is None:
            self._session = self.session()
        return self._session

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=60):
        if self._proc is not None:
            raise KeystoneError('already started')
        venv = keystone_venv()
        os.makedirs(self.workdir, exist_ok=True)
        shutil.copyfile(golden_db(venv), self.db_path)
        for keys in ('fernet-keys', 'credential-keys'):
            shutil.rmtree(os.path.join(self.workdir, keys), True)
            _fernet_keys(os.path.join(self.workdir, keys))
        _write_conf(self.conf_path, self.workdir, self.db_path)
        self.port = self.port or _free_port()
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf_path)
        env.pop('PYTHONPATH', None)
        with open(self.log_path, 'ab') as log:
            self._proc = subprocess.Popen(
                # An http-socket closes each connection: clients are told.
                [os.path.join(venv, 'bin', 'uwsgi'), '--http-socket',
                 '127.0.0.1:%d' % self.port, '--module',
                 'keystone.wsgi.api:application', '--master', '--need-app',
                 '--lazy-apps', '--die-on-term', '--processes', '1',
                 '--threads', '8', '--buffer-size', '65535',
                 '--add-header', 'Connection: close', '--disable-logging'],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise KeystoneError('keystone exited with %s:\n%s' % (
                    self._proc.returncode, self.log_tail()))
            try:
                _DIRECT.open(self.url, timeout=10).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise KeystoneError('keystone not ready after %ss:\n%s'
                                    % (timeout, self.log_tail()))
            time.sleep(0.1)

    def log_tail(self, lines=40):
        with contextlib.suppress(OSError), open(self.log_path) as f:
            return ''.join(f.readlines()[-lines:])
        return ''

    def stop(self, timeout=15):
        """SIGTERM to uWSGI's master, which stops its worker."""
        proc, self._proc = self._proc, None
        self._session = None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # -- Keystone's API -----------------------------------------------------

    def _call(self, method, path, body=None, ok=(200, 201, 204)):
        resp = self.admin.request(self.url + path, method, json=body,
                                  raise_exc=False)
        if resp.status_code not in ok:
            raise KeystoneError('%s %s: %s %s' % (
                method, path, resp.status_code, resp.text[:300]))
        return resp.json() if resp.content else None

    def _id(self, collection, name):
        found = self._call('GET', '/%s?name=%s' % (collection, name))
        items = found[collection]
        return items[0]['id'] if items else None

    def create_project(self, name):
        """A project of the Default domain; the admin user gets the admin
        role on it (so it can act there). Returns its id.
        """
        project = self._call('POST', '/projects', {'project': {
            'name': name, 'domain_id': 'default'}})['project']['id']
        self.grant(project, ADMIN_USER, 'admin')
        return project

    def delete_project(self, project_id):
        self._call('DELETE', '/projects/%s' % project_id)

    def role(self, name):
        """The id of a role, created if missing."""
        return self._id('roles', name) or self._call(
            'POST', '/roles', {'role': {'name': name}})['role']['id']

    def grant(self, project_id, user, role):
        user_id = self._id('users', user)
        self._call('PUT', '/projects/%s/users/%s/roles/%s' % (
            project_id, user_id, self.role(role)))

    def create_user(self, name, password, project_id, roles=('admin',)):
        self._call('POST', '/users', {'user': {
            'name': name, 'password': password, 'domain_id': 'default',
            'default_project_id': project_id}})
        for role in roles:
            self.grant(project_id, name, role)

    def register(self, service_type, name, url, interfaces=('public',)):
        """A service and its endpoints (public ones by default)."""
        service = self._call('POST', '/services', {'service': {
            'type': service_type, 'name': name}})['service']['id']
        for interface in interfaces:
            self._call('POST', '/endpoints', {'endpoint': {
                'service_id': service, 'interface': interface, 'url': url,
                'region_id': 'RegionOne'}})

    def project_ids(self):
        return {p['name']: p['id']
                for p in self._call('GET', '/projects')['projects']}


def installed():
    """Whether Keystone's venv is there (tools/setup-keystone.sh ran)."""
    try:
        venv = keystone_venv()
    except KeystoneError:
        return False
    return bool(glob.glob(os.path.join(venv, 'lib', 'python*',
                                       'site-packages', 'keystone')))
