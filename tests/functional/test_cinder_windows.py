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

"""A listing in ``created_at`` windows equals one cursor's, on cinder-api.

A real cinder-api with two workers, behind the fault proxy, pages of 4:
the windowed view of a backend (``[cinder] listing_workers`` > 1) must hold
exactly the rows a single cursor lists, whatever the timestamps (shared at
the window edges, a microsecond apart, all equal), while rows come and go,
and fail as a whole when one window fails.
"""

import datetime
import logging
import shutil
import tempfile
import time

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.inventory import cinder as inventory
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn

BACKEND_HOST = 'hostA@be1'
VOLUMES = 41
SNAPSHOTS = 23
PAGE = 4
BASE = datetime.datetime(2026, 1, 2, 3, 4, 5)


def _scenario():
    volumes = [scn.Volume(scn.uid('v-%d' % i), 'be1') for i in range(VOLUMES)]
    # Another backend's rows are outside every window of be1.
    volumes += [scn.Volume(scn.uid('other-%d' % i), 'be2') for i in range(5)]
    return scn.Scenario(
        backends=[scn.Backend('be1', 'hostA'), scn.Backend('be2', 'hostA')],
        volumes=volumes,
        snapshots=[scn.Snapshot(scn.uid('s-%d' % i), volumes[i % 9].id)
                   for i in range(SNAPSHOTS)])


class WindowedListingTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        # Each test starts from the scenario's rows and timestamps.
        workdir = tempfile.mkdtemp(prefix='cinder-windows-')
        self.addCleanup(shutil.rmtree, workdir)
        self.cloud = cinder_sim.CinderCloud(workdir, _scenario(),
                                            page_size=PAGE, api_workers=2)
        self.cloud.start()
        self.addCleanup(self.cloud.stop)
        self.proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(self.proxy.stop)

    def inventory(self, workers, **cinder):
        conf = cfg.ConfigOpts()
        values = self.useFixture(config_fixture.Config(conf))
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values.load_raw_values(
            group='cinder', auth_type='admin_token', endpoint=self.proxy.url,
            token=cinder_sim.ADMIN_TOKEN, page_size=str(PAGE),
            listing_workers=str(workers),
            **{k: str(v) for k, v in cinder.items()})
        return inventory.CinderInventory(conf)

    def assertSameView(self, workers=(2, 3, 4)):
        """Windowed views equal the single cursor's; returns that one."""
        single = self.inventory(1).view(BACKEND_HOST)
        for n in workers:
            self.proxy.reset_stats()
            # Windows, not the fallback to one cursor, made this view.
            log = self.useFixture(fixtures.FakeLogger(
                name='reconciler.inventory.windows', level=logging.INFO))
            windowed = self.inventory(n).view(BACKEND_HOST)
            self.assertNotIn('one cursor', log.output)
            self.assertEqual(single.volumes, windowed.volumes)
            self.assertEqual(single.snapshots, windowed.snapshots)
            # The counter counts every request, from every thread.
            self.assertProxyCounted(windowed.requests)
        return single

    def assertProxyCounted(self, requests):
        # The proxy counts a request once its answer is written: the
        # client may have read it a moment before.
        deadline = time.monotonic() + 5
        while (self.proxy.stats('/v3/').requests != requests
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(requests, self.proxy.stats('/v3/').requests)

    def stamp(self, table, row_id, moment):
        update = (self.cloud.update_volume if table == 'volumes'
                  else self.cloud.update_snapshot)
        update(row_id, created_at=cinder_sim._ts(moment))

    def volume_ids(self):
        return [scn.uid('v-%d' % i) for i in range(VOLUMES)]

    def snapshot_ids(self):
        return [scn.uid('s-%d' % i) for i in range(SNAPSHOTS)]

    def test_union_equals_single_cursor(self):
        view = self.assertSameView()
        self.assertEqual(VOLUMES, len(view.volumes))
        self.assertEqual(SNAPSHOTS, len(view.snapshots))
        # Windows really were used: the probes and filters were sent.
        inv = self.inventory(4)
        self.proxy.reset_stats()
        seen = []
        real = inv._get

        def spy(url, *args, **kwargs):
            seen.append(url)
            return real(url, *args, **kwargs)
        inv._get = spy
        inv.view(BACKEND_HOST)
        self.assertTrue(any('created_at=gt' in u for u in seen))
        self.assertTrue(any('offset=' in u and 'snapshots' in u
                            for u in seen))

    def test_rows_sharing_created_at_at_window_edges(self):
        """Runs of 7 rows with one timestamp: every bound falls in a run."""
        for i, vid in enumerate(self.volume_ids()):
            self.stamp('volumes', vid, BASE + datetime.timedelta(
                seconds=i // 7))
        for i, sid in enumerate(self.snapshot_ids()):
            self.stamp('snapshots', sid, BASE + datetime.timedelta(
                seconds=i // 7))
        self.assertEqual(VOLUMES, len(self.assertSameView().volumes))

    def test_sub_second_timestamps(self):
        """A microsecond apart, and a whole second (rendered without
        fraction) among them.
        """
        for i, vid in enumerate(self.volume_ids()):
            self.stamp('volumes', vid, BASE + datetime.timedelta(
                microseconds=i - 20))
        for i, sid in enumerate(self.snapshot_ids()):
            self.stamp('snapshots', sid, BASE + datetime.timedelta(
                microseconds=i - 10))
        self.assertEqual(VOLUMES, len(self.assertSameView().volumes))

    def test_all_rows_one_timestamp(self):
        """Every bound equal: one window (the others are empty)."""
        for vid in self.volume_ids():
            self.stamp('volumes', vid, BASE)
        for sid in self.snapshot_ids():
            self.stamp('snapshots', sid, BASE)
        self.assertEqual(VOLUMES, len(self.assertSameView().volumes))

    def test_empty_backend(self):
        inv = self.inventory(4)
        view = inv.view('hostB@none')
        self.assertEqual((), view.volumes)
        self.assertEqual((), view.snapshots)

    def test_rows_created_and_deleted_during_the_listing(self):
        """Rows alive throughout are listed once; new and deleted rows at
        most once. A deleted page marker restarts its window.
        """
        ids = self.volume_ids()
        single = self.inventory(1).view(BACKEND_HOST)
        # The marker of the second page of the first window: deleted just
        # before that page is asked for.
        marker = sorted(single.volumes,
                        key=lambda v: (v.created_at, v.id))[PAGE - 1].id
        inv = self.inventory(4)
        real = inv._get
        created, gone = [], set()

        def churn(url, *args, **kwargs):
            if 'marker=%s' % marker in url and marker not in gone:
                self.cloud.soft_delete_volume(marker)
                gone.add(marker)
            if 'offset=' not in url and 'with_count' not in url \
                    and len(created) < 6:
                new = scn.Volume(scn.uid('new-%d' % len(created)), 'be1')
                created.append(new.id)
                self.cloud.add_volumes([new])
                if len(created) == 3:
                    for vid in (ids[1], ids[30]):
                        self.cloud.soft_delete_volume(vid)
                        gone.add(vid)
            return real(url, *args, **kwargs)
        inv._get = churn
        view = inv.view(BACKEND_HOST)
        listed = [v.id for v in view.volumes]
        self.assertEqual(len(listed), len(set(listed)))
        self.assertLessEqual(set(ids) - gone, set(listed))
        self.assertLessEqual(set(listed), set(ids) | set(created))
        self.assertNotIn(marker, listed)
        self.assertEqual(6, len(created))

    def test_migration_ending_during_the_listing(self):
        """Cinder swaps created_at between source and target rows: each is
        listed at most once, every other row once.
        """
        ids = self.volume_ids()
        source = ids[2]
        dest = scn.Volume(scn.uid('dest'), 'be1', status='creating',
                          migration_status='target:%s' % source)
        self.cloud.update_volume(source, migration_status='migrating')
        self.cloud.add_volumes([dest])
        inv = self.inventory(4)
        real = inv._get
        done = []

        def migrate(url, *args, **kwargs):
            if 'created_at=gt' in url and not done:
                self.cloud.finish_migration(source, dest.id)
                done.append(url)
            return real(url, *args, **kwargs)
        inv._get = migrate
        listed = [v.id for v in inv.view(BACKEND_HOST).volumes]
        self.assertTrue(done)
        self.assertEqual(len(listed), len(set(listed)))
        self.assertLessEqual(set(ids) - {source}, set(listed))
        # Missed or not, the point look-up of a re-check finds it.
        self.assertIsNotNone(inv.get_volume(source))

    def test_deleted_snapshot_bound_plans_again(self):
        inv = self.inventory(4)
        real = inv._get
        gone = []

        def delete_bound(url, *args, **kwargs):
            body = real(url, *args, **kwargs)
            if 'snapshots' in url and 'offset=' in url and not gone:
                gone.append(body['snapshots'][0]['id'])
                self.cloud.soft_delete_snapshot(gone[0])
            return body
        inv._get = delete_bound
        view = inv.view(BACKEND_HOST)
        self.assertEqual(sorted(set(self.snapshot_ids()) - set(gone)),
                         [s.id for s in view.snapshots])
        self.assertEqual(1, len(gone))

    def test_failing_window_fails_the_listing(self):
        inv = self.inventory(4)
        rule = self.proxy.fail(r'created_at=gt', status=500, times=1,
                               after=1)
        self.assertRaises(exception.CinderError, inv.view, BACKEND_HOST)
        self.assertEqual(1, rule.fired)
        self.assertProxyCounted(inv.requests)
        # A failed probe too.
        self.proxy.clear()
        self.proxy.fail(r'snapshots/detail.*offset=', status=503, times=1)
        self.assertRaises(exception.CinderError, inv.view, BACKEND_HOST)
        # A probe names no marker: its 404 is a failure, not a restart.
        self.proxy.fail(r'volumes/detail.*offset=', status=404, times=1)
        self.assertRaises(exception.CinderError, inv.view, BACKEND_HOST)

    def test_deadline_holds_across_windows(self):
        inv = self.inventory(4, listing_timeout=2)
        self.proxy.delay(r'created_at=gt', 10)
        start = time.monotonic()
        self.assertRaises(exception.CinderError, inv.view, BACKEND_HOST)
        self.assertLess(time.monotonic() - start, 6)

    def test_older_api_lists_volumes_with_one_cursor(self):
        """No 3.60 (the version refused: 406): volumes by one cursor."""
        # The windows' count and pages ask for 3.60, one cursor does not.
        self.proxy.fail(r'^/v3/volumes/detail\?.*(limit=0|sort=created_at)',
                        status=406, times=None)
        inv = self.inventory(4)
        single = self.inventory(1).view(BACKEND_HOST)
        view = inv.view(BACKEND_HOST)
        self.assertEqual(single.volumes, view.volumes)
        self.assertEqual(single.snapshots, view.snapshots)
        self.assertFalse(inv._windows.time_filters)
