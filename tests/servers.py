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

"""Real servers for tests: Redis, RabbitMQ, PostgreSQL and MariaDB.

Each runs from Debian's packages on 127.0.0.1, on a free port, in a
directory of its own, so it never meets a system instance.
``tools/install-debs.sh`` installs them. A missing server skips the test
on a developer's machine and fails it in CI (``CI=true``), where a skip would
hide an install step that no longer works.
"""

import atexit
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import fixtures
import sqlalchemy as sa

from reconciler.simulators import ports
from reconciler.simulators import rabbitmq

# Taken at import, before oslotest points tempfile at a per-test directory
# that is gone when the test ends; servers may outlive a test.
_BASE = tempfile.gettempdir()


def in_ci():
    return os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


def unavailable(reason):
    if in_ci():
        raise RuntimeError('%s; CI must install it (tools/install-debs.sh)'
                           % reason)
    raise unittest.SkipTest(reason)


def find(program, *patterns):
    """The path of a server program (``patterns`` first), or skip/fail."""
    found = None
    for pattern in patterns:
        found = found or next(iter(sorted(glob.glob(pattern))[::-1]), None)
    found = found or shutil.which(program)
    if not found:
        unavailable('%s is not installed' % program)
    return found


# Not the random module's shared generator: a test may seed that one, and
# two workers would then walk the same ports.
_RANDOM = random.SystemRandom()


def _ephemeral_low():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port free now, below the kernel's ephemeral range: a server often
    binds it long after it was chosen (its configuration names it first),
    and a port from that range can meanwhile become some connection's
    local port (seen: nova-api "Address already in use").
    """
    high = _ephemeral_low()
    for _ in range(100):
        port = _RANDOM.randrange(10000, high)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server(fixtures.Fixture):
    """A server process in a directory of its own; restartable."""

    NAME = None
    START_TIMEOUT = 90

    def _setUp(self):
        self.check_installed()
        self.dir = tempfile.mkdtemp(prefix='%s-' % self.NAME, dir=_BASE)
        os.chmod(self.dir, 0o755)  # servers that drop root must reach it
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, 'server.log')
        self.prepare()
        self.start()
        self.addCleanup(self.stop)

    def check_installed(self):
        raise NotImplementedError()

    def prepare(self):
        """Create the data directory (once, before the first start)."""

    def command(self):
        raise NotImplementedError()

    def env(self):
        return None

    def user(self):
        return None

    def ready(self):
        return ports.can_connect(self.port)

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env(), user=self.user(),
                cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('%s did not start: %s'
                                   % (self.NAME, self.log_tail()))
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()[-2000:]

    def run(self, *argv):
        subprocess.run(argv, check=True, capture_output=True, env=self.env(),
                       user=self.user(), cwd=self.dir)


class Redis(Server):
    NAME = 'redis'

    def check_installed(self):
        self.binary = find('redis-server')

    def command(self):
        return [self.binary, '--port', str(self.port), '--bind', '127.0.0.1',
                '--dir', self.dir, '--save', '', '--appendonly', 'no']

    def ready(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port), 1) as s:
                s.sendall(b'PING\r\n')
                return s.recv(16).startswith(b'+PONG')
        except OSError:
            return False

    def url(self, **options):
        query = '&'.join('%s=%s' % kv for kv in sorted(options.items()))
        return 'redis://127.0.0.1:%d%s' % (self.port,
                                           query and '?' + query)


class RabbitMQ(Server):
    """A RabbitMQ node with its own name, Erlang port mapper and files:
    reconciler.simulators.rabbitmq's, which the demo starts too.
    """

    NAME = 'rabbitmq'

    def check_installed(self):
        self.binary = find('rabbitmq-server', rabbitmq.SERVER)

    def prepare(self):
        self.node = rabbitmq.RabbitMQ(self.dir, self.port, free_port(),
                                      free_port(), self.binary)
        self.url = self.node.url

    @property
    def process(self):
        return self.node.process

    def env(self):
        return self.node.env()

    def start(self):
        self.node.start()

    def stop(self):
        self.node.stop()


def _unprivileged(name):
    """The user a server that refuses root runs as, when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name).pw_name
    except KeyError:
        return 'nobody'


class PostgreSQL(Server):
    """A cluster whose superuser is oslo.db's ``openstack_citest``."""

    NAME = 'postgresql'

    def check_installed(self):
        bins = '/usr/lib/postgresql/*/bin/'
        self.initdb = find('initdb', bins + 'initdb')
        self.postgres = find('postgres', bins + 'postgres')

    def user(self):
        return _unprivileged('postgres')

    def prepare(self):
        self.data = os.path.join(self.dir, 'data')
        os.mkdir(self.data, 0o700)
        if self.user():
            shutil.chown(self.data, self.user())
        self.run(self.initdb, '-D', self.data, '-U', 'openstack_citest',
                 '--auth=trust', '-E', 'UTF8', '--no-sync')
        self.url = ('postgresql+psycopg2://openstack_citest@127.0.0.1:%d/'
                    'postgres' % self.port)

    def command(self):
        return [self.postgres, '-D', self.data, '-h', '127.0.0.1',
                '-p', str(self.port), '-k', self.data, '-F']

    def ready(self):
        return _sql_ready(self.url)


class MariaDB(Server):
    """A server with oslo.db's ``openstack_citest`` user."""

    NAME = 'mariadb'

    def check_installed(self):
        self.install_db = find('mariadb-install-db')
        self.mariadbd = find('mariadbd', '/usr/sbin/mariadbd')

    def prepare(self):
        self.data = os.path.join(self.dir, 'data')
        self.socket = os.path.join(self.dir, 'mysqld.sock')
        self.run(self.install_db, '--no-defaults', '--datadir=' + self.data,
                 '--user=' + pwd.getpwuid(os.geteuid()).pw_name,
                 '--auth-root-authentication-method=normal',
                 '--skip-test-db')
        self.url = ('mysql+pymysql://openstack_citest:openstack_citest@'
                    '127.0.0.1:%d/' % self.port)

    def command(self):
        return [self.mariadbd, '--no-defaults', '--datadir=' + self.data,
                '--socket=' + self.socket, '--port=%d' % self.port,
                '--bind-address=127.0.0.1', '--skip-log-bin',
                '--log-error=' + os.path.join(self.dir, 'error.log'),
                '--pid-file=' + os.path.join(self.dir, 'mysqld.pid'),
                '--innodb-flush-log-at-trx-commit=0',
                '--user=' + pwd.getpwuid(os.geteuid()).pw_name]

    def ready(self):
        root = 'mysql+pymysql://root@127.0.0.1:%d/' % self.port
        if not _sql_ready(root):
            return False
        engine = sa.create_engine(root)
        with engine.begin() as conn:
            for sql in ("CREATE USER IF NOT EXISTS 'openstack_citest'@'%' "
                        "IDENTIFIED BY 'openstack_citest'",
                        "GRANT ALL ON *.* TO 'openstack_citest'@'%' "
                        "WITH GRANT OPTION"):
                conn.execute(sa.text(sql))
        engine.dispose()
        return True


def _sql_ready(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


_SHARED = {}


def shared(server_class):
    """One server of that class per test process, stopped at exit."""
    if server_class not in _SHARED:
        server = server_class()
        server.setUp()
        atexit.register(server.cleanUp)
        _SHARED[server_class] = server
    return _SHARED[server_class]


def database(server_class, testcase):
    """A new empty database on the shared server; its URL."""
    server = shared(server_class)
    name = 'reconciler_%s' % os.urandom(6).hex()
    admin = sa.create_engine(server.url, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text('CREATE DATABASE %s' % name))
    admin.dispose()
    url = sa.engine.make_url(server.url).set(database=name)
    testcase.addCleanup(_drop, server.url, name)
    return url.render_as_string(hide_password=False)


def _drop(admin_url, name):
    admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
    admin.dispose()


class Relay(fixtures.Fixture):
    """A TCP relay on 127.0.0.1 in front of ``port`` that keeps every byte
    crossing it, both ways: what a client and the server said to each
    other, as the wire carried it. ``take()`` returns and forgets it;
    ``count`` is how many bytes crossed (all that is kept with
    ``keep=False``).
    """

    def __init__(self, port, keep=True):
        super().__init__()
        self.target = port
        self.keep = keep
        self.count = 0

    def _setUp(self):
        self._mutex = threading.Lock()
        self._seen = bytearray()
        self._sockets = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()
        self.addCleanup(self._stop)

    def _accept(self):
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(('127.0.0.1', self.target))
            except OSError:
                client.close()
                continue
            with self._mutex:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._mutex:
                    self.count += len(data)
                    if self.keep:
                        self._seen += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self):
        with self._mutex:
            seen, self._seen = bytes(self._seen), bytearray()
        return seen

    def _stop(self):
        self._stopping = True
        self._listener.close()
        with self._mutex:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.close()
            except OSError:
                pass
