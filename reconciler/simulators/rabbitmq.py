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

"""A private RabbitMQ node from Debian's rabbitmq-server, on 127.0.0.1.

It runs as whoever starts it, with a node name, an Erlang port mapper
(epmd), ports and files of its own in one directory, so it never meets a
system instance. The demo sends Cinder's notifications to one; the tests
start theirs through it (tests/servers.py).
"""

import os
import shutil
import subprocess
import time

from reconciler.simulators import ports

#: Not Debian's /usr/sbin wrapper, which switches to the system user: the
#: script behind it runs as whoever starts it.
SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'


class RabbitMQError(RuntimeError):
    pass


def installed():
    """The server script's path, or None."""
    if os.access(SERVER, os.X_OK):
        return SERVER
    return shutil.which('rabbitmq-server')


class RabbitMQ(object):
    """A node in ``workdir`` (made if missing) on ``port``; its port mapper
    and distribution ports are ``epmd_port`` and ``dist_port``. ``start``
    returns once it accepts AMQP connections (``wait=False``: at once;
    ``wait_ready`` later); it can be stopped and started again.
    """

    START_TIMEOUT = 90

    def __init__(self, workdir, port, epmd_port, dist_port, binary=None):
        self.dir = workdir
        self.port = port
        self.epmd_port = epmd_port
        self.dist_port = dist_port
        self.binary = binary or installed()
        if not self.binary:
            raise RabbitMQError('rabbitmq-server is not installed (Debian: '
                                'tools/install-debs.sh, as root)')
        self.url = 'rabbit://guest:guest@127.0.0.1:%d/' % port
        self.log_path = os.path.join(workdir, 'server.log')
        self.process = None
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, 'enabled_plugins'), 'w') as f:
            f.write('[].\n')

    def env(self):
        d = self.dir
        return dict(
            os.environ, HOME=d, ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_NODENAME='test%d@localhost' % self.port,
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=os.path.join(d, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(d, 'log'),
            RABBITMQ_CONFIG_FILE=os.path.join(d, 'rabbitmq'),
            RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(d, 'advanced.config'),
            RABBITMQ_CONF_ENV_FILE=os.path.join(d, 'rabbitmq-env.conf'),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, 'enabled_plugins'),
            RABBITMQ_PID_FILE=os.path.join(d, 'rabbit.pid'))

    def ready(self):
        """Whether it accepts an AMQP connection (the port alone opens
        before the broker serves it).
        """
        import kombu
        if not ports.can_connect(self.port):
            return False
        try:
            with kombu.Connection(self.url.replace('rabbit:', 'amqp:'),
                                  connect_timeout=2) as conn:
                conn.connect()
            return True
        except Exception:
            return False

    def start(self, wait=True):
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                [self.binary], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env(), cwd=self.dir,
                start_new_session=True)
        self._deadline = time.monotonic() + self.START_TIMEOUT
        if wait:
            self.wait_ready()

    def wait_ready(self):
        while not self.ready():
            if (self.process.poll() is not None
                    or time.monotonic() > self._deadline):
                self.stop()
                raise RabbitMQError('rabbitmq did not start: %s'
                                    % self.log_tail())
            time.sleep(0.2)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # The node started its own port mapper; it is ours to end.
        subprocess.run(['epmd', '-port', str(self.epmd_port), '-kill'],
                       capture_output=True, env=self.env())

    def log_tail(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()[-2000:]
        except OSError:
            return ''
