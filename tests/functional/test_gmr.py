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

"""Guru Meditation Reports: a real daemon process receiving SIGUSR2.

The daemon needs no Cinder here: its passes fail (nothing listens on the
endpoint) while it keeps running, which is all a report needs.
"""

import os
import signal
import subprocess
import sys
import time

import fixtures
from oslotest import base
import psutil

CONF = """
[DEFAULT]
enabled_backends = fake1

[backend_defaults]
reconciler_driver = fake
reconciler_interval = 3600

[fake1]
fake_array_file = {tmp}/array.yaml

[cinder]
auth_type = admin_token
endpoint = http://127.0.0.1:9/v3
token = t

[database]
connection = sqlite:///{tmp}/r.sqlite

[oslo_messaging_notifications]
driver = noop
"""


# A frame only the worker's threads have: the notification outbox's sender.
WORKER_FRAME = 'reconciler/notifier.py'


def _command(module, *args):
    return [sys.executable, '-c',
            'import sys; from reconciler.cmd.%s import main; '
            'sys.exit(main())' % module] + list(args)


class GuruMeditationTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(self.tmp, 'array.yaml'), 'w') as f:
            f.write('{}')
        self.conf = os.path.join(self.tmp, 'r.conf')
        self.log = os.path.join(self.tmp, 'daemon.log')
        self.write_conf('')
        subprocess.run(_command('manage', '--config-file', self.conf,
                                'db', 'sync'),
                       check=True, capture_output=True)

    def write_conf(self, extra):
        with open(self.conf, 'w') as f:
            f.write(CONF.format(tmp=self.tmp) + extra)

    def start_daemon(self):
        """The daemon, once it reconciles; its stderr goes to a file."""
        stderr_path = os.path.join(self.tmp, 'stderr')
        stderr = open(stderr_path, 'w')
        self.addCleanup(stderr.close)
        daemon = subprocess.Popen(
            _command('reconciler', '--config-file', self.conf,
                     '--log-file', self.log),
            stdout=subprocess.DEVNULL, stderr=stderr)
        self.addCleanup(self._stop, daemon)
        self.wait_for(lambda: 'Reconciling backends' in self.read(self.log),
                      daemon)
        return daemon, stderr_path

    def _stop(self, daemon):
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()

    @staticmethod
    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_for(self, predicate, daemon, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.assertIsNone(daemon.poll(), 'the daemon exited')
            time.sleep(0.1)
        self.fail('timed out; log: %s' % self.read(self.log)[-2000:])

    def assert_report(self, text):
        for section in ('Guru Meditation', 'Package', 'Threads',
                        'Configuration'):
            self.assertIn(section, text)
        self.assertIn('product = cinder-reconciler', text)
        # The configuration section masks secret options.
        self.assertIn('  connection = ***', text)
        self.assertNotIn('r.sqlite', text)

    def test_sigusr2_writes_a_report_to_stderr_and_the_daemon_goes_on(self):
        daemon, stderr = self.start_daemon()
        daemon.send_signal(signal.SIGUSR2)
        self.wait_for(lambda: 'Configuration' in self.read(stderr)
                      and 'Threads' in self.read(stderr), daemon)
        text = self.read(stderr)
        self.assert_report(text)
        # The worker's report, one only: the master (the pid systemd
        # knows) passes the signal on and writes none of its own.
        self.assertIn(WORKER_FRAME, text)
        time.sleep(1)
        self.assertEqual(1, self.read(stderr).count('Guru Meditation'))
        self.assertIsNone(daemon.poll())
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(30))

    def test_sigusr2_to_the_worker_writes_its_report(self):
        daemon, stderr = self.start_daemon()
        [worker] = psutil.Process(daemon.pid).children()
        os.kill(worker.pid, signal.SIGUSR2)
        self.wait_for(lambda: 'Configuration' in self.read(stderr)
                      and 'Threads' in self.read(stderr), daemon)
        self.assertIn(WORKER_FRAME, self.read(stderr))
        self.assertIsNone(daemon.poll())

    def test_report_goes_to_the_configured_log_dir(self):
        reports = os.path.join(self.tmp, 'reports')
        os.mkdir(reports)
        self.write_conf('\n[oslo_reports]\nlog_dir = %s\n' % reports)
        daemon, stderr = self.start_daemon()
        daemon.send_signal(signal.SIGUSR2)
        self.wait_for(lambda: os.listdir(reports), daemon)
        [name] = os.listdir(reports)
        self.assertTrue(name.startswith('cinder-reconciler_gurumeditation_'),
                        name)
        path = os.path.join(reports, name)
        self.wait_for(lambda: 'Configuration' in self.read(path), daemon)
        self.assert_report(self.read(path))
        self.assertNotIn('Guru Meditation', self.read(stderr))
