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

"""Several real ``cinder-reconciler`` daemons sharing backends through Redis.

Each daemon has its own ``[DEFAULT] host`` (every backend sets Cinder's
``backend_host``), so the history tells which member ran which pass. One
member is killed with SIGKILL in the middle of a pass; its backends must be
reconciled again within one interval plus the tooz timeout of its death,
every other backend keeps its interval, and no two passes of one backend
may ever overlap.
"""

import os
import signal
import subprocess
import time

import fixtures
from oslotest import base

from reconciler import history
from tests.functional import fixtures as local_fixtures
from tests import servers

INTERVAL = 10       # reconciler_interval's minimum
TOOZ_TIMEOUT = 3    # membership and lock expiry, seconds
PASS_SECONDS = 1    # the proxy slows each Cinder listing down this much
BACKENDS = ['b%d' % i for i in range(1, 7)]
# Heartbeat, scheduling and pass start-up, beyond interval + tooz timeout,
# on a loaded 2-core machine. Well under INTERVAL: a backend skipped for a
# whole interval still fails the test.
SLACK = 5

CONF = """
[DEFAULT]
host = {member}
enabled_backends = %s

[reconciler]
periodic_fuzzy_delay = 0

[coordination]
backend_url = {redis}

[backend_defaults]
reconciler_driver = fake
reconciler_interval = %d
backend_host = demo-host
fake_array_file = {tmp}/empty.yaml

[oslo_messaging_notifications]
driver = noop
""" % (','.join(BACKENDS), INTERVAL)


class HATest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(360, gentle=True))
        self.redis = self.useFixture(servers.Redis())
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            CONF, member='m0', redis=self.redis.url(timeout=TOOZ_TIMEOUT)))
        with open(os.path.join(self.demo.tmp, 'empty.yaml'), 'w') as f:
            f.write('{"volumes": []}')
        self.demo.manage('db', 'sync')
        self.demo.proxy.delay(r'/volumes/detail', PASS_SECONDS)
        self.history = history.History(
            'sqlite:///%s/r.sqlite' % self.demo.tmp)

    def start_member(self, name):
        self.demo.write_conf(member=name)
        conf = os.path.join(self.demo.tmp, '%s.conf' % name)
        os.rename(self.demo.conf_path, conf)
        argv = self.demo.command('reconciler')
        argv[argv.index(self.demo.conf_path)] = conf
        log = open(os.path.join(self.demo.tmp, '%s.log' % name), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.addCleanup(self._kill, daemon)
        return daemon

    @staticmethod
    def _kill(daemon):
        if daemon.poll() is None:
            # The launcher and its worker: the whole process group.
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(30)

    def runs(self):
        return self.history.runs(limit=1000)[::-1]

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            if predicate(runs):
                return runs
            time.sleep(0.2)
        self.fail('timed out; runs: %s' % (self.runs(),))

    def _failover(self, members):
        daemons = {m: self.start_member(m) for m in members}
        # Steady state: every backend has run twice. Member ids are random,
        # so the ring may leave a member without a backend: that is fine,
        # as long as it is alive.
        self.wait_for(lambda runs: (
            {r.host for r in runs} <= set(members)
            and all(sum(r.backend == b for r in runs) >= 2
                    for b in BACKENDS)), timeout=120)
        self.assertEqual({m: None for m in members},
                         {m: d.poll() for m, d in daemons.items()})
        # Kill the member of the next pass that starts, mid-pass.
        seen = {r.id for r in self.runs()}
        runs = self.wait_for(lambda runs: any(
            r.id not in seen and r.status == 'running' for r in runs),
            timeout=INTERVAL + 30)
        victim = next(r for r in runs
                      if r.id not in seen and r.status == 'running')
        os.killpg(daemons[victim.host].pid, signal.SIGKILL)
        killed_at = time.time()
        daemons[victim.host].wait()
        # Its passes under way (the victim's and any other).
        dead = {r.id for r in self.runs()
                if r.host == victim.host and r.status == 'running'}
        orphaned = {victim.backend} | {
            r.backend for r in runs if r.host == victim.host}
        # Every backend the victim had runs again, on the survivors, and
        # every backend has one more pass after that.
        runs = self.wait_for(lambda runs: all(
            any(r.backend == b and r.started_at > killed_at
                and r.status == 'ok' for r in runs) for b in BACKENDS),
            timeout=INTERVAL + TOOZ_TIMEOUT + 60)
        failover = {b: min(r.started_at for r in runs if r.backend == b
                           and r.started_at > killed_at) - killed_at
                    for b in orphaned}
        print('HA %d members: victim %s had %s; failover %s s'
              % (len(members), victim.host, sorted(orphaned),
                 ', '.join('%s=%.1f' % (b, s)
                           for b, s in sorted(failover.items()))))
        self._assert_no_overlap_no_gap(runs, killed_at, dead)
        # The survivors that took the backends' locks closed the dead
        # passes.
        closed = [r for r in runs if r.id in dead]
        self.assertIn(victim.id, dead)
        self.assertEqual([('failed', True)] * len(dead),
                         [(r.status, 'abandoned' in r.error) for r in closed])
        return failover

    def _assert_no_overlap_no_gap(self, runs, killed_at, dead):
        for backend in BACKENDS:
            mine = sorted((r for r in runs if r.backend == backend),
                          key=lambda r: r.started_at)
            for before, after in zip(mine, mine[1:]):
                # The killed pass ended when its process did.
                end = before.finished_at or killed_at
                self.assertLessEqual(
                    end, after.started_at,
                    'passes %d and %d of %s overlap'
                    % (before.id, after.id, backend))
                if end <= killed_at < after.started_at:
                    # Its owner may have died: a survivor takes over.
                    late = after.started_at - killed_at
                    bound = INTERVAL + TOOZ_TIMEOUT + SLACK
                else:
                    late = after.started_at - end
                    bound = INTERVAL + SLACK
                self.assertLessEqual(
                    late, bound, 'backend %s not reconciled between runs %d '
                    'and %d' % (backend, before.id, after.id))
            self.assertEqual({'ok'}, {str(r.status) for r in mine
                                      if r.finished_at is not None
                                      and r.id not in dead})

    def test_two_members_one_killed(self):
        self._failover(['m1', 'm2'])

    def test_three_members_one_killed(self):
        self._failover(['m1', 'm2', 'm3'])
