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

"""A real daemon killed with SIGKILL mid-pass leaves no run ``running``.

Its run stays ``running`` until a process can prove it dead: a daemon
starting on the same host (the pid is gone, or reused by another process),
or ``check`` once it holds the backend's lock.
"""

import os
import signal
import subprocess
import time

import fixtures
from oslotest import base

from reconciler import history
from tests.functional import fixtures as local_fixtures
from tests.functional import test_manage

CONF = test_manage.CONF + """
[reconciler]
periodic_fuzzy_delay = {fuzz}
"""


class AbandonedRunTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(180, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(CONF, fuzz=0))
        self.demo.manage('db', 'sync')
        self.history = history.History('sqlite:///%s/r.sqlite'
                                       % self.demo.tmp)

    def start_daemon(self):
        daemon = subprocess.Popen(
            self.demo.command('reconciler'), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(self._stop, daemon)
        return daemon

    @staticmethod
    def _stop(daemon):
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(30)

    def wait_for(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while not predicate(self.history.runs()):
            self.assertLess(time.monotonic(), deadline, self.history.runs())
            time.sleep(0.2)
        return self.history.runs()

    def kill_mid_pass(self):
        """The run of a daemon SIGKILLed (launcher and worker) mid-pass."""
        self.demo.proxy.delay(r'/volumes/detail', 60)
        daemon = self.start_daemon()
        [run] = self.wait_for(lambda runs: runs)
        self.assertEqual('running', run.status)
        self.assertEqual(os.uname().nodename, run.owner.host)
        self.assertNotEqual(daemon.pid, run.owner.pid)  # the worker's
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(30)
        self.demo.proxy.clear()
        [run] = self.history.runs()
        self.assertEqual('running', run.status)
        return run

    def test_a_starting_daemon_closes_the_dead_run(self):
        dead = self.kill_mid_pass()
        # No pass for an hour: only the start can close it.
        self.demo.write_conf(fuzz=3600)
        self.start_daemon()
        [closed] = self.wait_for(lambda runs: runs[0].finished_at)
        self.assertEqual((dead.id, 'failed'), (closed.id, closed.status))
        self.assertIn('abandoned: its process', closed.error)
        self.assertIn('pid %d' % dead.owner.pid, closed.error)

    def test_check_closes_the_dead_run_under_the_lock(self):
        dead = self.kill_mid_pass()
        self.demo.manage('check')
        closed, = [r for r in self.history.runs() if r.id == dead.id]
        self.assertEqual('failed', closed.status)
        self.assertIn('abandoned', closed.error)
        [ok] = [r for r in self.history.runs() if r.id != dead.id]
        self.assertEqual('ok', ok.status)
        self.assertLessEqual(closed.finished_at, ok.started_at)
