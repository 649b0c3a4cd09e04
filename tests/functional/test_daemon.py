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

"""The real ``cinder-reconciler`` process: timers, isolation, signals.

Three backends: one healthy, one whose Cinder listing a proxy slows down, one
whose array is unreachable. The healthy one must not wait for the others;
SIGHUP must reload configuration; SIGTERM must stop the daemon cleanly.
"""

import os
import re
import signal
import subprocess
import time

import fixtures
from oslotest import base

from reconciler import history
from tests.functional import fixtures as local_fixtures

SLOW_SECONDS = 6

CONF = """
[DEFAULT]
host = demo-host
enabled_backends = fake1,slow,broken

[reconciler]
periodic_fuzzy_delay = 0

[backend_defaults]
reconciler_driver = fake
reconciler_interval = 3600

[fake1]
fake_array_file = {tmp}/array.yaml

[slow]
fake_array_file = {tmp}/empty.yaml

[broken]
fake_array_file = {tmp}/{broken}

[oslo_messaging_notifications]
driver = log
"""


class DaemonTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.demo = self.useFixture(
            local_fixtures.DemoCloud(CONF, broken='missing.yaml'))
        self.tmp = self.demo.tmp
        self.demo.proxy.delay(r'host=demo-host%40slow', SLOW_SECONDS)
        with open(os.path.join(self.tmp, 'empty.yaml'), 'w') as f:
            f.write('{"volumes": []}')
        self.demo.manage('db', 'sync')
        self.history = history.History('sqlite:///%s/r.sqlite' % self.tmp)

    def runs(self):
        return self.history.runs(limit=100)[::-1]

    def wait_for(self, predicate, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            if predicate(runs):
                return runs
            time.sleep(0.2)
        self.fail('timed out; runs: %s' % (self.runs(),))

    def test_backends_are_independent_and_signals_work(self):
        log = open(os.path.join(self.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(self.demo.command('reconciler'), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())

        def done(runs, backend):
            return [r for r in runs if r.backend == backend
                    and r.status != 'running']

        runs = self.wait_for(lambda rs: done(rs, 'slow'))
        [fake1] = done(runs, 'fake1')
        [slow] = done(runs, 'slow')
        [broken] = done(runs, 'broken')
        self.assertEqual(('ok', 'ok', 'failed'),
                         (fake1.status, slow.status, broken.status))
        self.assertIn('missing.yaml', broken.error)
        # The slow backend held up nobody: the others finished while it was
        # still waiting for its Cinder listing.
        self.assertLess(fake1.finished_at, slow.finished_at)
        self.assertLess(broken.finished_at, slow.finished_at)
        self.assertGreaterEqual(
            slow.finished_at - slow.started_at, SLOW_SECONDS)

        # SIGHUP: the configuration is read again.
        self.demo.write_conf(broken='empty.yaml')
        daemon.send_signal(signal.SIGHUP)
        runs = self.wait_for(lambda rs: len(done(rs, 'broken')) == 2)
        self.assertEqual('ok', done(runs, 'broken')[-1].status)
        self.assertIsNone(daemon.poll())

        # SIGTERM, with the slow backend's second pass under way.
        self.wait_for(lambda rs: any(r.backend == 'slow' and
                                     r.status == 'running' for r in rs))
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))
        self.assertLess(time.monotonic() - started, SLOW_SECONDS + 10)
        self.assertEqual([], [r for r in self.runs() if r.status == 'running'])


RELOAD_CONF = """
[DEFAULT]
host = demo-host
enabled_backends = {backends}

[reconciler]
periodic_fuzzy_delay = 0

[backend_defaults]
reconciler_driver = fake
reconciler_interval = 3600
fake_array_file = {tmp}/array.yaml

[fake1]
reconciler_sightings = {sightings}

[fake2]
reconciler_interval = {fake2_interval}

[oslo_messaging_notifications]
driver = noop
"""


class ReloadTest(base.BaseTestCase):
    """SIGHUP applies a valid configuration and only a valid one."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            RELOAD_CONF, backends='fake1', sightings=2,
            fake2_interval=3600))
        self.tmp = self.demo.tmp
        self.log_path = os.path.join(self.tmp, 'daemon.log')
        self.history = history.History('sqlite:///%s/r.sqlite' % self.tmp)

    def start(self):
        out = open(os.path.join(self.tmp, 'out.log'), 'w')
        self.addCleanup(out.close)
        daemon = subprocess.Popen(
            self.demo.command('reconciler', '--log-file', self.log_path),
            stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        return daemon

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def ok_runs(self, backend):
        return [r for r in self.runs(backend) if r.status == 'ok']

    def runs(self, backend):
        return [r for r in self.history.runs(limit=100)
                if r.backend == backend and r.status != 'running']

    def wait_for(self, predicate, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        self.fail('timed out; runs: %s' % (self.history.runs(),))

    def test_invalid_file_is_not_applied_and_a_valid_one_is(self):
        self.demo.manage('db', 'sync')
        daemon = self.start()
        self.wait_for(lambda: len(self.ok_runs('fake1')) == 1)

        # Parses, but is invalid: logged in one line, the old one runs on.
        self.demo.write_conf(backends='fake1,fake2', sightings='many')
        daemon.send_signal(signal.SIGHUP)
        self.wait_for(lambda: 'not reloaded' in self.log())
        [line] = [entry for entry in self.log().splitlines()
                  if 'not reloaded' in entry]
        self.assertIn('ERROR', line)
        self.assertIn('still running on the previous one: [fake1] '
                      'reconciler_sightings = many: invalid value', line)
        # The worker restarted on the old configuration: fake1 passes
        # again, fake2 (only in the rejected file) never does.
        self.wait_for(lambda: len(self.ok_runs('fake1')) == 2)
        time.sleep(2)
        self.assertIsNone(daemon.poll())
        self.assertEqual([], self.runs('fake2'))
        self.assertNotIn('Traceback', self.log())

        # A valid file: the new backend is reconciled (Cinder has no
        # volume there, so its pass fails as implausible: it ran).
        self.demo.write_conf(backends='fake1,fake2', sightings=3)
        daemon.send_signal(signal.SIGHUP)
        self.wait_for(lambda: self.runs('fake2'))
        self.assertIsNone(daemon.poll())
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))

    def test_a_worker_that_cannot_start_ends_the_daemon(self):
        # No "db sync": the worker cannot start. The daemon must exit
        # non-zero (systemd restarts it) rather than respawn it forever.
        daemon = self.start()
        self.assertNotEqual(0, daemon.wait(timeout=60))
        lines = [entry for entry in self.log().splitlines()
                 if 'Cannot start' in entry]
        self.assertEqual(1, len(lines), self.log())
        self.assertIn('CRITICAL', lines[0])
        self.assertIn('db sync', lines[0])

    def test_one_backend_out_of_bounds_never_stops_the_others(self):
        # This interval once crash-looped the worker, every backend with it.
        self.demo.manage('db', 'sync')
        self.demo.write_conf(backends='fake1,fake2',
                             fake2_interval='99999999999999999999')
        daemon = self.start()
        self.wait_for(lambda: len(self.ok_runs('fake1')) == 1)
        self.assertIsNone(daemon.poll())
        self.assertEqual([], self.runs('fake2'))
        lines = [entry for entry in self.log().splitlines()
                 if 'fake2' in entry]
        self.assertEqual(1, len(lines), self.log())
        self.assertIn('ERROR', lines[0])
        self.assertTrue(lines[0].endswith(
            'Backend fake2 is left out: [fake2] reconciler_interval = '
            '99999999999999999999: invalid value (Should be less than or '
            'equal to 86400)'), lines[0])
        self.assertNotIn('Traceback', self.log())
        # Whatever reads every option reads the left-out one too: a Guru
        # Meditation Report, written by the worker.
        out = os.path.join(self.tmp, 'out.log')
        daemon.send_signal(signal.SIGUSR2)
        fake2 = re.compile(r'^fake2: $.*?^  reconciler_interval = None$',
                           re.M | re.S)
        self.wait_for(lambda: fake2.search(open(out).read()))
        self.assertIsNone(daemon.poll())
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))
