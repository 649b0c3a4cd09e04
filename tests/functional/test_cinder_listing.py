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

"""Cinder's listings against a real cinder-api that misbehaves.

A fault proxy in front of cinder-api cuts pages short (an empty page without
a next link, as a cinder-api behind a broken proxy answered) and skews the
``Date`` header. A listing that does not add up to Cinder's own counts must
fail the pass and never become the baseline of the plausibility checks; a
skewed cinder-api clock must make passes list in full, logged once.
"""

import json
import logging
import os

import fixtures
from oslotest import base

from reconciler.conf import backend as backend_conf
from reconciler import history
from reconciler.inventory import incremental
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import churn
from reconciler.simulators import loopback

VOLUMES = 60        # 3 pages of 25
EMPTY_VOLUMES = b'{"volumes": []}'


class CinderListingTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.cloud = churn.start_cloud(cls.workdir.path, volumes=VOLUMES,
                                      drivers=('fake',))
        try:
            cls.cloud.__enter__()
        except BaseException:
            cls.workdir.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.cloud.__exit__(None, None, None)
        finally:
            cls.workdir.cleanUp()
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(self.cloud.proxy.clear)

    def reconciler(self, **options):
        conf = loopback.load_conf(self.cloud.write_conf(
            os.path.join(self.tmp, 'r.conf'),
            os.path.join(self.tmp, 'r.sqlite'), sightings=1, **options))
        [backend] = backend_conf.enabled(conf)
        self.store = history.History.from_conf(conf)
        self.store.sync()
        notifier = notifier_mod.Notifier(conf)
        self.addCleanup(notifier.close)
        return manager.BackendReconciler(conf, backend, self.store, notifier)

    def assert_ok(self, report):
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual([], report.candidates)
        return report

    def assert_refused(self, reconciler, baseline, what):
        """The pass fails in one line naming the counts; the last ok run
        (the baseline of the next plausibility checks) stays ``baseline``.
        """
        report = reconciler.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('Cinder listed ', report.error)
        self.assertIn(what, report.error)
        self.assertNotIn('\n', report.error)
        self.assertEqual(baseline.run_id,
                         self.store.last_ok_run(baseline.backend).id)

    def test_page_cut_short_fails_the_pass(self):
        reconciler = self.reconciler(reconciler_full_listing_passes=1)
        baseline = self.assert_ok(reconciler.run_pass())
        counts = (baseline.inventory['cinder_volumes'],
                  baseline.inventory['cinder_snapshots'])
        self.assertEqual(VOLUMES, counts[0])
        self.assertGreater(counts[1], 0)
        # Page 3 comes back empty without a next link: 50 of 60 volumes,
        # a shrink the plausibility check lets through.
        self.cloud.proxy.payload(r'/volumes/detail\?.*marker=',
                                 EMPTY_VOLUMES, times=None, after=1)
        self.assert_refused(reconciler, baseline, 'but counts %d and %d'
                            % counts)
        self.cloud.proxy.clear()
        # Snapshots: one page, empty, with the right count.
        self.cloud.proxy.payload(
            r'/snapshots/detail\?', json.dumps(
                {'snapshots': [], 'count': counts[1]}).encode(), times=None)
        self.assert_refused(reconciler, baseline, '%d volumes and 0 '
                            'snapshots' % VOLUMES)
        self.cloud.proxy.clear()
        report = self.assert_ok(reconciler.run_pass())
        self.assertEqual(counts, (report.inventory['cinder_volumes'],
                                  report.inventory['cinder_snapshots']))

    def test_windowed_listing_cut_short(self):
        reconciler = self.reconciler(reconciler_full_listing_passes=1)
        reconciler.conf.set_override('listing_workers', 2, group='cinder')
        baseline = self.assert_ok(reconciler.run_pass())
        # Once: the listing is made again and adds up.
        cut = self.cloud.proxy.payload(
            r'/volumes/detail\?.*marker=', EMPTY_VOLUMES, times=1,
            after=1)
        report = self.assert_ok(reconciler.run_pass())
        self.assertEqual(1, cut.fired)
        self.assertEqual(VOLUMES, report.inventory['cinder_volumes'])
        # Every time: the pass fails.
        self.cloud.proxy.payload(r'/volumes/detail\?.*marker=',
                                 EMPTY_VOLUMES, times=None, after=1)
        self.assert_refused(reconciler, report, 'but counts %d and '
                            % VOLUMES)
        self.assertNotEqual(baseline.run_id, report.run_id)

    @staticmethod
    def clock_lines(log):
        """What was said of the clocks (not the reason of each pass)."""
        return [entry for entry in log.output.splitlines()
                if "cinder-api's clock" in entry
                and 'listed in full (' not in entry]

    def test_skewed_cinder_clock_lists_in_full_logged_once(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='reconciler.inventory.incremental', level=logging.INFO))
        reconciler = self.reconciler(reconciler_full_listing_passes=1000)
        cache = reconciler.cinder_cache
        for reason in (incremental.FIRST, None):
            self.assert_ok(reconciler.run_pass())
            self.assertEqual(reason, cache.reason)
        volume = min((v for v in cache.volumes.values()
                      if v.status == 'available'), key=lambda v: v.id)
        self.addCleanup(self.cloud.cinder.update_volume, volume.id,
                        status='available')
        # cinder-api's Date an hour ahead: from this pass on, change
        # listings would ask for changes since an hour from now.
        self.addCleanup(self.cloud.proxy.shift_date, 0)
        self.cloud.proxy.shift_date(3600)
        reasons = []
        self.assert_ok(reconciler.run_pass())
        reasons.append(cache.reason)
        self.cloud.cinder.update_volume(volume.id, status='error')
        self.assert_ok(reconciler.run_pass())
        reasons.append(cache.reason)
        # The change was seen at once (it used to wait for the periodic
        # full listing).
        self.assertEqual('error', cache.volumes[volume.id].status)
        self.assert_ok(reconciler.run_pass())
        reasons.append(cache.reason)
        self.assertEqual([incremental.SKEW] * 3, reasons)
        [line] = self.clock_lines(log)
        self.assertRegex(line, r"cinder-api's clock \(its Date header\) is "
                         r'\+3[56]\d\d s off ours')
        self.assertIn('more than [cinder] changes_margin (300 s)', line)
        # The clocks agree again: said once, and changes are listed again.
        self.cloud.proxy.shift_date(0)
        for full in (True, False, False):
            self.assert_ok(reconciler.run_pass())
            self.assertEqual(full, cache.full, cache.reason)
        lines = self.clock_lines(log)
        self.assertEqual(2, len(lines), lines)
        self.assertIn('within [cinder] changes_margin of ours again',
                      lines[1])
