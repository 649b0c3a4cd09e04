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

"""Incremental steady passes against a real cinder-api.

The kept view merged with what changed (Cinder 3.60 ``updated_at`` and
``created_at`` filters, a sorted snapshot page, counts with ``with_count``)
must equal a full listing across churn; late or skewed rows must never make
a finding; and the pass must list in full whenever it should.
"""

import os
import time
from unittest import mock

import fixtures
from oslotest import base

from reconciler.conf import backend as backend_conf
from reconciler import history
from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import incremental
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import churn
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import loopback
from reconciler.simulators import scenario as scn

MARGIN = 60


def _ts(epoch):
    return cinder_sim._ts(cinder_sim.datetime.datetime.fromtimestamp(
        epoch, cinder_sim.datetime.timezone.utc).replace(tzinfo=None))


class IncrementalTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        tmp = self.useFixture(fixtures.TempDir()).path
        self.cloud = churn.start_cloud(tmp, volumes=60, drivers=('fake',))
        self.cloud.__enter__()
        self.addCleanup(self.cloud.__exit__, None, None, None)
        self.conf = loopback.load_conf(self.cloud.write_conf(
            os.path.join(tmp, 'r.conf'), os.path.join(tmp, 'r.sqlite'),
            sightings=1, reconciler_full_listing_passes=1000,
            reconciler_max_suspect_percent=100))
        self.conf.set_override('changes_margin', MARGIN, group='cinder')
        [self.backend] = backend_conf.enabled(self.conf)
        self.db = self.cloud.cinder
        self.churn = churn.Churn(self.cloud, self.conf, step_delay=0)
        self.ops = self.churn.ops[self.backend.name]

    def views(self, cache):
        """(incremental, full) views of the backend, both as sets."""
        inventory = cinder_inventory.CinderInventory(self.conf)
        merged = inventory.view(self.backend.cinder_host, cache=cache)
        full = inventory.view(self.backend.cinder_host)
        return ((set(merged.volumes), set(merged.snapshots)),
                (set(full.volumes), set(full.snapshots)))

    def test_incremental_equals_full_across_churn(self):
        deleted = set()
        cache = incremental.CinderCache(
            1000, MARGIN, lambda since: (False, frozenset(deleted)))
        self.views(cache)
        self.assertEqual(incremental.FIRST, cache.reason)
        # Every deletion is one the listener reported (as delete.end
        # events): folded in, no full listing needed.
        for name in ('soft_delete_volume', 'soft_delete_snapshot'):
            self.useFixture(fixtures.MonkeyPatch(
                'reconciler.simulators.cinder.CinderCloud.' + name,
                self._reporting(getattr(cinder_sim.CinderCloud, name),
                                deleted)))
        reasons = []
        for _ in range(12):
            for _ in range(6):
                self.churn.one_op()
            merged, full = self.views(cache)
            self.assertEqual(full, merged, cache.reason)
            reasons.append(cache.reason)
        done = self.churn.counter
        for op in ('create', 'attach', 'migrate', 'retype', 'snapshot'):
            self.assertGreater(done[op], 0, done)
        self.assertEqual([None] * 12, reasons)  # all merged changes

    @staticmethod
    def _reporting(destroy, deleted):
        def destroyed(cloud, row_id):
            deleted.add(row_id)
            return destroy(cloud, row_id)
        return destroyed

    def test_lost_deletion_forces_full_listing(self):
        cache = incremental.CinderCache(1000, MARGIN)
        self.views(cache)
        vol = self.churn._take(lambda v: not v.attached and not v.snapshots)
        self.churn.op_delete(vol)
        merged, full = self.views(cache)
        self.assertEqual(incremental.COUNTS, cache.reason)
        self.assertEqual(full, merged)
        self.views(cache)
        self.assertIsNone(cache.reason)

    def reconciler(self):
        store = history.History.from_conf(self.conf)
        store.sync()
        notifier = notifier_mod.Notifier(self.conf)
        self.addCleanup(notifier.close)
        return manager.BackendReconciler(self.conf, self.backend, store,
                                         notifier)

    def assert_clean(self, report, full):
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual([], report.candidates)
        self.assertEqual(int(full), report.inventory['cinder_full_listing'],
                         report.inventory)

    def test_late_and_skewed_rows_make_no_finding(self):
        reconciler = self.reconciler()
        self.assert_clean(reconciler.run_pass(), full=True)
        now = time.time()
        plain = [v for v in self.churn.idle.values()
                 if not v.attached and not v.snapshots]
        migrated, skewed_ahead, deleted = plain[:3]
        # A migration whose row Cinder wrote with a clock far behind (past
        # the margin): the change listing misses it.
        dest = scn.uid('incr-dest')
        self.ops.add_volume(dest)
        self.ops.remove_volume(migrated.key)
        self.db.update_volume(migrated.id, _name_id=dest,
                              updated_at=_ts(now - 10 * MARGIN))
        # A clock far ahead: the row is listed on every pass, harmlessly.
        self.db.update_volume(skewed_ahead.id, status='error',
                              updated_at=_ts(now + 86400))
        # A deletion nobody reported, hidden in the counts by a creation
        # the change listing misses (its clock far behind too).
        self.ops.remove_volume(deleted.key)
        self.db.soft_delete_volume(deleted.id)
        late = scn.uid('incr-late')
        self.db.add_volumes([scn.Volume(id=late, backend=self.backend.name)])
        self.db.update_volume(late, created_at=_ts(now - 10 * MARGIN),
                              updated_at=_ts(now - 10 * MARGIN))
        self.ops.add_volume(late)
        report = reconciler.run_pass()
        self.assert_clean(report, full=False)
        # The suspects were re-checked by point look-ups, which the kept
        # view took in: the migrated row is fresh, the deleted one gone.
        cache = reconciler.cinder_cache
        self.assertEqual(dest, cache.volumes[migrated.id].name_id)
        self.assertNotIn(deleted.id, cache.volumes)
        self.assertIn(late, cache.volumes)
        self.assertEqual('error', cache.volumes[skewed_ahead.id].status)
        self.assertGreater(report.inventory['rechecked'], 0)
        self.assert_clean(reconciler.run_pass(), full=False)
        merged, full = self.views(cache)
        self.assertEqual(full, merged)

    def test_when_passes_list_in_full(self):
        self.conf.set_override('reconciler_full_listing_passes', 3,
                               group=self.backend.name)
        reconciler = self.reconciler()
        cache = reconciler.cinder_cache
        seen = []
        for _ in range(4):
            self.assert_clean(reconciler.run_pass(), full=cache.full)
            seen.append(cache.reason)
        self.assertEqual([incremental.FIRST, None, None,
                          incremental.PERIODIC], seen)
        # A failed pass: the next lists in full.
        self.cloud.proxy.fail('/volumes/detail', times=1)
        report = reconciler.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        reconciler.run_pass()
        self.assertEqual(incremental.FAILED, cache.reason)
        # The counts disagree: listed in full in the same pass.
        vol = self.churn._take(lambda v: not v.attached and not v.snapshots)
        self.churn.op_delete(vol)
        self.assert_clean(reconciler.run_pass(), full=True)
        self.assertEqual(incremental.COUNTS, cache.reason)
        # An API older than 3.60: every pass lists in full.
        cache.invalidate()
        with mock.patch.object(cinder_inventory.CinderInventory,
                               'max_microversion', return_value=(3, 59)):
            for _ in range(2):
                self.assert_clean(reconciler.run_pass(), full=True)
            self.assertEqual(incremental.OLD_API, cache.reason)

    def test_listener_gap_lists_in_full(self):
        cache = incremental.CinderCache(
            1000, MARGIN, lambda since: (True, frozenset()))
        self.views(cache)
        self.views(cache)
        self.assertEqual(incremental.EVENT_GAP, cache.reason)

    def test_api_version_found_behind_a_project_endpoint(self):
        # Catalogs often register .../v3/<project_id>, where cinder-api
        # serves no version document: the service root still tells.
        inventory = cinder_inventory.CinderInventory(self.conf)
        self.assertGreaterEqual(inventory.max_microversion(), (3, 60))
        self.conf.set_override('endpoint', self.cloud.proxy.url + '/project-0',
                               group='cinder')
        inventory = cinder_inventory.CinderInventory(self.conf)
        self.assertEqual((3, 0), inventory._max_microversion(
            inventory._get('/')))
        self.assertGreaterEqual(inventory.max_microversion(), (3, 60))
