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

"""cinder.conf as devstack, kolla and RDO write it, then our own file.

Each file carries what the reconciler must cope with on a real controller:
``$state_path``/``$my_ip`` interpolations (its ``[coordination] backend_url``
is ``file://$state_path/...``, used for real through tooz), a backend it has
no driver for (NetApp), and Cinder's ``[database]`` with endless retries and
a replica, on ports that accept nothing or that count connections. The
upgrade check warns about the NetApp backend within a bounded time,
``check`` and the daemon reconcile the other one, and nothing ever connects
to Cinder's databases.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import fixtures
from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import history
from reconciler.simulators import cinder as cinder_sim
from tests.functional import fixtures as local_fixtures

NETAPP = 'cinder.volume.drivers.netapp.common.NetAppDriver'
FAKE = 'cinder.tests.fake_driver.FakeLoggingVolumeDriver'
LVM = 'cinder.volume.drivers.lvm.LVMVolumeDriver'

# Upgrade check and one-shot commands: well under what endless retries or
# an unanswered connect would take.
BOUND = 30

OURS = """
[DEFAULT]
log_file = {tmp}/reconciler.log

[reconciler]
periodic_fuzzy_delay = 0

[fake1]
fake_array_file = {tmp}/array.yaml
reconciler_sightings = 2
reconciler_grace_period = 0

[oslo_messaging_notifications]
driver = noop
"""

DEVSTACK = """
[DEFAULT]
debug = True
host = demo-host
my_ip = 127.0.0.1
state_path = {tmp}/state
osapi_volume_listen = $my_ip
glance_api_servers = http://$my_ip/image
transport_url = rabbit://stackrabbit:s3cret@127.0.0.1:{closed}/
default_volume_type = fake1
enabled_backends = fake1,netapp-1
target_helper = lioadm

[database]
connection = mysql+pymysql://root:pw@127.0.0.1:{counted}/cinder?charset=utf8

[oslo_concurrency]
lock_path = $state_path

[coordination]
backend_url = file://$state_path/coordination

[key_manager]
fixed_key = bae3516cc1c0eb18b05440eba8012a4a880a2ee04d584a9c1579445e675b12b3

[fake1]
volume_driver = {fake}
volume_backend_name = fake1

[netapp-1]
volume_driver = {netapp}
volume_backend_name = netapp-1
netapp_storage_family = ontap_cluster
netapp_storage_protocol = iscsi
netapp_server_hostname = $my_ip
netapp_login = admin
netapp_password = s3cret
"""

KOLLA = """
[DEFAULT]
debug = False
log_dir = {tmp}/kolla-log
use_forwarded_for = true
use_stderr = False
host = demo-host
my_ip = 127.0.0.1
state_path = {tmp}/state
osapi_volume_workers = 2
volume_name_template = volume-%s
transport_url = rabbit://openstack:s3cret@127.0.0.1:{closed}//
enabled_backends = netapp-1,fake1

[oslo_messaging_notifications]
transport_url = rabbit://openstack:s3cret@127.0.0.1:{closed}//
topics = notifications

[database]
connection = mysql+pymysql://cinder:s3cret@127.0.0.1:{stalled}/cinder
connection_recycle_time = 10
max_pool_size = 1
max_retries = -1
slave_connection = mysql+pymysql://cinder:s3cret@127.0.0.1:{counted}/cinder

[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:{closed}
auth_url = http://127.0.0.1:{closed}
auth_type = password
username = cinder
password = s3cret

[oslo_concurrency]
lock_path = $state_path/tmp

[coordination]
backend_url = file://$state_path/coordination

[privsep_entrypoint]
helper_command = sudo cinder-rootwrap /etc/cinder/rootwrap.conf privsep-helper

[netapp-1]
volume_driver = {netapp}
volume_backend_name = netapp
netapp_storage_family = ontap_cluster
netapp_storage_protocol = nfs
netapp_login = admin
netapp_password = s3cret

[fake1]
volume_driver = {fake}
volume_backend_name = fake
"""

# Not shown: kolla's "driver = messagingv2" (with ceilometer): driver is a
# multi-valued option, so ours cannot take it back, and the events would
# wait here for a broker that is not there.

# RDO's units read /usr/share/cinder/cinder-dist.conf, then cinder.conf.
RDO_DIST = """
[DEFAULT]
logdir = {tmp}/rdo-log
state_path = {tmp}/state
lock_path = {tmp}/state/tmp
volumes_dir = /etc/cinder/volumes
target_helper = lioadm
rootwrap_config = /etc/cinder/rootwrap.conf
auth_strategy = keystone

[database]
connection = mysql://cinder:cinder@127.0.0.1:{stalled}/cinder

[keystone_authtoken]
auth_host = 127.0.0.1
auth_port = {closed}
auth_protocol = http
"""

RDO = """
[DEFAULT]
host = demo-host
my_ip = 127.0.0.1
enabled_backends = fake1,netapp-1
transport_url = rabbit://guest:guest@127.0.0.1:{closed}/

[database]
connection = mysql+pymysql://cinder:s3cret@127.0.0.1:{counted}/cinder
max_retries = -1

[coordination]
backend_url = file://$state_path

[fake1]
volume_driver = {fake}

[netapp-1]
volume_driver = {netapp}

[lvm-1]
volume_driver = {lvm}
volume_group = cinder-volumes
"""


def _closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class _CountingPort(fixtures.Fixture):
    """A port that accepts connections, counts them and says nothing."""

    def _setUp(self):
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addCleanup(self.sock.close)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


class _StalledPort(fixtures.Fixture):
    """A port whose connects never complete: its accept queue is full."""

    def _setUp(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.addCleanup(self.sock.close)
        for _ in range(3):
            filler = socket.socket()
            self.addCleanup(filler.close)
            filler.setblocking(False)
            try:
                filler.connect(('127.0.0.1', self.port))
            except BlockingIOError:
                pass
        time.sleep(0.2)


class ControllerConfTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(OURS))
        self.tmp = self.demo.tmp
        os.chmod(self.demo.conf_path, 0o600)  # it holds the token
        os.makedirs(os.path.join(self.tmp, 'state', 'tmp'))
        for log_dir in ('kolla-log', 'rdo-log'):
            os.makedirs(os.path.join(self.tmp, log_dir))
        self.counted = self.useFixture(_CountingPort())
        self.stalled = self.useFixture(_StalledPort())
        self.values = dict(tmp=self.tmp, closed=_closed_port(),
                           counted=self.counted.port,
                           stalled=self.stalled.port, fake=FAKE,
                           netapp=NETAPP, lvm=LVM)

    def write(self, name, template):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(template).format(**self.values))
        os.chmod(path, 0o600)
        return path

    def run_cmd(self, files, module, *args, check=True):
        """``reconciler.cmd.<module>`` on ``files`` then ours; its time."""
        argv = [sys.executable, '-c',
                'import sys; from reconciler.cmd.%s import main; '
                'sys.exit(main())' % module]
        for path in files + [self.demo.conf_path]:
            argv += ['--config-file', path]
        started = time.monotonic()
        result = subprocess.run(argv + list(args), capture_output=True,
                                text=True, timeout=BOUND * 2)
        elapsed = time.monotonic() - started
        if check:
            self.assertEqual(0, result.returncode, result.stderr)
        return result, elapsed

    def log_lines(self, word):
        path = os.path.join(self.tmp, 'reconciler.log')
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [line for line in f if word in line]

    def assertUpgradeCheckWarns(self, files):
        result, elapsed = self.run_cmd(files, 'status', 'upgrade', 'check',
                                       '--json', check=False)
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        self.assertLess(elapsed, BOUND)
        checks = {c['check']: c for c in json.loads(result.stdout)['checks']}
        self.assertEqual(0, checks['History database at head']['result'])
        self.assertEqual(0, checks['Files holding secrets']['result'],
                         checks['Files holding secrets']['details'])
        backends = checks['Backend drivers and options']
        self.assertEqual(1, backends['result'])
        self.assertIn('backend netapp-1', backends['details'])
        self.assertIn('NetAppDriver; skipped', backends['details'])
        self.assertNotIn('fake1', backends['details'])

    def assertChecks(self, files):
        warnings = len(self.log_lines('backend netapp-1'))
        result, elapsed = self.run_cmd(files, 'manage', 'check')
        self.assertLess(elapsed, BOUND)
        self.assertRegex(result.stdout,
                         r'Backend fake1 \(demo-host@fake1\): run \d+ ok')
        self.assertNotIn('netapp', result.stdout)
        # One warning for the skipped backend.
        self.assertEqual(warnings + 1,
                         len(self.log_lines('backend netapp-1')))

    def assertNothingReachedCinderDatabases(self):
        self.assertEqual(0, self.counted.connections)

    def sync(self, files):
        _result, elapsed = self.run_cmd(files, 'manage', 'db', 'sync')
        self.assertLess(elapsed, BOUND)

    def test_devstack(self):
        files = [self.write('cinder.conf', DEVSTACK)]
        self.sync(files)
        self.assertUpgradeCheckWarns(files)
        self.assertChecks(files)
        self.assertNothingReachedCinderDatabases()
        # The tooz lock of the pass lived under $state_path.
        self.assertTrue(os.path.isdir(
            os.path.join(self.tmp, 'state', 'coordination')))

    def test_kolla_daemon_starts_and_reconciles(self):
        files = [self.write('cinder.conf', KOLLA)]
        self.sync(files)
        self.assertUpgradeCheckWarns(files)
        argv = [sys.executable, '-c',
                'import sys; from reconciler.cmd.reconciler import main; '
                'sys.exit(main())']
        for path in files + [self.demo.conf_path]:
            argv += ['--config-file', path]
        daemon = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        store = history.History('sqlite:///%s/r.sqlite' % self.tmp)
        deadline = time.monotonic() + 60
        while not [r for r in store.runs() if r.status != 'running']:
            self.assertIsNone(daemon.poll(), 'the daemon exited')
            self.assertLess(time.monotonic(), deadline, 'no pass')
            time.sleep(0.2)
        [run] = store.runs()
        self.assertEqual(('fake1', 'ok'), (run.backend, str(run.status)))
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))
        # One warning for the skipped backend, from the worker's start.
        self.assertEqual(1, len(self.log_lines('backend netapp-1')))
        self.assertChecks(files)
        self.assertNothingReachedCinderDatabases()

    def test_rdo_with_cinder_dist_conf_underneath(self):
        files = [self.write('cinder-dist.conf', RDO_DIST),
                 self.write('cinder.conf', RDO)]
        self.sync(files)
        self.assertUpgradeCheckWarns(files)
        self.assertChecks(files)
        self.assertNothingReachedCinderDatabases()
        self.assertEqual(self.cinder_target_helper(files),
                         self.our_target_helper(files))

    def our_target_helper(self, files):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf(['--config-file=%s' % f for f in files], project='x',
             default_config_files=[], default_config_dirs=[])
        return backend_conf.BackendConf(conf, 'lvm-1').target_helper

    def cinder_target_helper(self, files):
        """What Cinder's own configuration gives its LVM group."""
        code = textwrap.dedent("""
            import sys
            from oslo_config import cfg
            from cinder.common import config  # noqa
            from cinder.volume import configuration, driver
            cfg.CONF(sys.argv[1:], project='cinder',
                     default_config_files=[], default_config_dirs=[])
            group = configuration.Configuration(driver.volume_opts,
                                                config_group='lvm-1')
            print(group.target_helper)
            """)
        python = os.path.join(cinder_sim.cinder_venv(), 'bin', 'python')
        result = subprocess.run(
            [python, '-W', 'ignore', '-c', code]
            + ['--config-file=%s' % f for f in files],
            capture_output=True, text=True, check=True, timeout=120)
        return result.stdout.strip().splitlines()[-1]

    def test_unreachable_database_fails_within_bounded_time(self):
        files = [self.write('cinder.conf', KOLLA)]
        ours = self.write('unreachable.conf', """
            [reconciler_database]
            connection = mysql+pymysql://r:s3cret@127.0.0.1:{stalled}/r
            max_retries = 2
            retry_interval = 1
            connect_timeout = 2
            """)
        files_then_db = files + [self.demo.conf_path, ours]
        argv = ['--config-file=%s' % f for f in files_then_db]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, '-c', 'import sys; '
             'from reconciler.cmd.status import main; sys.exit(main())']
            + argv + ['upgrade', 'check', '--json'],
            capture_output=True, text=True, timeout=BOUND * 2)
        self.assertLess(time.monotonic() - started, BOUND)
        self.assertEqual(2, result.returncode, result.stderr)
        [db] = [c for c in json.loads(result.stdout)['checks']
                if c['check'] == 'History database at head']
        self.assertIn('[reconciler_database] connection', db['details'])
        self.assertNotIn('s3cret', result.stdout + result.stderr)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, '-c', 'import sys; '
             'from reconciler.cmd.manage import main; sys.exit(main())']
            + argv + ['check'], capture_output=True, text=True,
            timeout=BOUND * 2)
        self.assertLess(time.monotonic() - started, BOUND)
        self.assertNotEqual(0, result.returncode)
        self.assertNothingReachedCinderDatabases()
