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

"""Ownership and locks of ``reconciler.coordination`` on a real Redis."""

import os
import subprocess
import threading
import time

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler.conf import coordination as coordination_conf
from reconciler.conf import default as default_conf
from reconciler import coordination
from reconciler import history
from reconciler import ownership
from tests.functional import fixtures as local_fixtures
from tests.functional import test_manage
from tests import servers

BACKENDS = ['backend-%d' % i for i in range(20)]


def make_conf(test, **coordination_values):
    conf = cfg.ConfigOpts()
    values = test.useFixture(config_fixture.Config(conf))
    coordination_conf.register_opts(conf)
    default_conf.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    values.config(state_path=test.useFixture(fixtures.TempDir()).path)
    values.config(group='coordination', **coordination_values)
    return conf


class CoordinatorTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        self.redis = self.useFixture(servers.Redis())

    def coordinator(self, member=True):
        c = coordination.Coordinator(
            make_conf(self, backend_url=self.redis.url(timeout=3)),
            member=member)
        c.start()
        self.addCleanup(c.stop)
        return c

    @staticmethod
    def owns(c, backend):
        with c.exclusive(backend) as lease:
            return bool(lease)

    def test_by_default_every_backend_is_ours_under_a_lock_file(self):
        log = self.useFixture(fixtures.FakeLogger())
        conf = make_conf(self)
        self.assertEqual('file://' + conf.state_path,
                         conf.coordination.backend_url)
        c = coordination.Coordinator(conf)
        c.start()
        self.addCleanup(c.stop)
        self.assertIn('reconciles every backend', log.output)
        self.assertTrue(all(self.owns(c, b) for b in BACKENDS))
        # A check (a process of its own, here a coordinator of its own)
        # is kept out of a pass by the lock file.
        check = coordination.Coordinator(conf, member=False)
        check.start()
        self.addCleanup(check.stop)
        with c.exclusive('b1') as lease:
            self.assertTrue(lease)
            self.assertEqual(ownership.HOST_LOCK, lease.scope)
            self.assertFalse(lease.is_set())
            self.assertFalse(self.owns(check, 'b1'))
            self.assertTrue(self.owns(check, 'b2'))
        self.assertTrue(self.owns(check, 'b1'))
        self.assertTrue(os.path.exists(os.path.join(
            conf.state_path, coordination.lock_name('b1').decode())))

    def test_an_empty_backend_url_still_locks(self):
        conf = make_conf(self, backend_url='')
        a, b = (coordination.Coordinator(conf), coordination.Coordinator(conf))
        with a.exclusive('b1') as lease:
            self.assertTrue(lease)
            self.assertFalse(self.owns(b, 'b1'))
        a.stop()
        b.stop()

    def test_members_split_the_backends(self):
        a, b = self.coordinator(), self.coordinator()
        owners = {name: (self.owns(a, name), self.owns(b, name))
                  for name in BACKENDS}
        self.assertEqual({(True, False), (False, True)}, set(owners.values()))
        # A third member takes a share from both, and nothing overlaps.
        c = self.coordinator()
        owners = [(self.owns(a, n), self.owns(b, n), self.owns(c, n))
                  for n in BACKENDS]
        self.assertEqual([1] * len(BACKENDS), [sum(o) for o in owners])
        self.assertEqual([True] * 3, [any(o[i] for o in owners)
                                      for i in range(3)])
        # Leaving hands the share back.
        c.stop()
        self.assertEqual([1] * len(BACKENDS), [
            self.owns(a, n) + self.owns(b, n) for n in BACKENDS])

    def test_any_member_records_a_host_one_at_a_time(self):
        # An agent's report goes to any controller: ring=False takes the
        # host scope's lock whatever the ring says, and only one at once.
        a, b = self.coordinator(), self.coordinator()
        scopes = ['host:compute-%d' % i for i in range(10)]
        for scope in scopes:
            with a.exclusive(scope, ring=False) as lease:
                self.assertTrue(lease)
                self.assertEqual(ownership.GLOBAL_LOCK, lease.scope)
                with b.exclusive(scope, ring=False) as other:
                    self.assertFalse(other)
            with b.exclusive(scope, blocking=5, ring=False) as lease:
                self.assertTrue(lease)
        # The ring would have given each scope to one member only.
        self.assertEqual({1}, {self.owns(a, s) + self.owns(b, s)
                               for s in scopes})

    def test_a_pass_holds_the_backend_lock(self):
        member = self.coordinator()
        check = self.coordinator(member=False)
        with member.exclusive('b1') as lease:
            self.assertTrue(lease)
            self.assertFalse(self.owns(check, 'b1'))
        self.assertTrue(self.owns(check, 'b1'))

    def test_a_blocking_check_waits_for_the_pass(self):
        member = self.coordinator()
        check = self.coordinator(member=False)
        order = []
        with member.exclusive('b1') as lease:
            self.assertTrue(lease)

            def run_check():
                with check.exclusive('b1', blocking=True) as lease:
                    order.append(('check', bool(lease)))
            thread = threading.Thread(target=run_check)
            thread.start()
            thread.join(1)
            order.append(('pass done', True))
        thread.join(10)
        self.assertEqual([('pass done', True), ('check', True)], order)

    def test_a_lost_lock_stops_the_pass(self):
        member = self.coordinator()
        other = self.coordinator(member=False)
        stop = threading.Event()
        with member.exclusive('b1', stop=stop) as lease:
            self.assertFalse(lease.is_set())
            stop.set()
            self.assertTrue(lease.is_set())
            stop.clear()
            other._connect().get_lock(coordination.lock_name('b1')).break_()
            self.assertTrue(lease.is_set())

    def test_while_redis_is_down_nothing_is_owned(self):
        c = self.coordinator()
        self.assertTrue(self.owns(c, 'b1'))
        self.redis.stop()
        self.assertFalse(self.owns(c, 'b1'))
        # Back, empty: the member joins again.
        self.redis.start()
        self.assertTrue(self.owns(c, 'b1'))


class ManageCheckLockTest(base.BaseTestCase):
    """``manage check`` never runs beside a daemon's pass of its backend."""

    def test_check_waits_for_the_lock(self):
        self.useFixture(fixtures.Timeout(120, gentle=True))
        redis = self.useFixture(servers.Redis())
        conf = test_manage.CONF + '[coordination]\nbackend_url = {redis}\n'
        demo = self.useFixture(local_fixtures.DemoCloud(
            conf, redis=redis.url(timeout=3)))
        self._check_waits(demo, make_conf(
            self, backend_url=redis.url(timeout=3)))

    def test_check_waits_for_the_lock_file_by_default(self):
        """No [coordination] at all: the lock file under state_path."""
        self.useFixture(fixtures.Timeout(120, gentle=True))
        demo = self.useFixture(local_fixtures.DemoCloud(test_manage.CONF))
        conf = make_conf(self)
        conf.set_override('state_path', os.path.join(demo.tmp, 'state'))
        self._check_waits(demo, conf)

    def _check_waits(self, demo, daemon_conf):
        demo.manage('db', 'sync')
        store = history.History('sqlite:///%s/r.sqlite' % demo.tmp)
        daemon = coordination.Coordinator(daemon_conf, member=False)
        self.addCleanup(daemon.stop)
        with daemon.exclusive('fake1') as lease:
            self.assertTrue(lease)
            check = subprocess.Popen(demo.command('manage', 'check'),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
            self.addCleanup(lambda: check.poll() is None and check.kill())
            time.sleep(5)
            self.assertIsNone(check.poll())
            self.assertEqual([], store.runs())
        out, _ = check.communicate(timeout=60)
        self.assertEqual(0, check.returncode)
        self.assertIn('run 1 ok', out)
