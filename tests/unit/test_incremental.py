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

"""The kept Cinder view: when it lists in full and what it merges.

Against a scripted inventory; tests/functional/test_incremental.py runs the
same against a real cinder-api.
"""

import types

from oslotest import base

from reconciler import cinder_events
from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import incremental
from reconciler import model

SCOPE = {'host': 'ctl@be1'}


def vol(vid, status='available', host='ctl@be1#p'):
    return model.CinderVolume(vid, None, host, status)


def snap(sid, volume):
    return model.CinderSnapshot(sid, volume, 'available')


class _Inventory(object):
    """Cinder as lists: ``volumes``/``snapshots`` now, ``changed`` since."""

    def __init__(self, volumes, snapshots=()):
        self.volumes = list(volumes)
        self.snapshots = list(snapshots)
        self.changed_volumes = []
        self.changed_snapshots = []
        self.version = (3, 71)
        self.calls = []
        self.first_answer_time = None
        self.first_answer_skew = None
        self.skew = 0.0     # of cinder-api's clock, as its answers show

    def restart_clock(self):
        self.first_answer_time = self.first_answer_skew = None

    def _answer(self, call):
        self.calls.append(call)
        if self.first_answer_time is None:
            self.first_answer_time = 1000.0 + len(self.calls)
            self.first_answer_skew = self.skew

    def listing(self, scope):
        self._answer('full')
        return tuple(self.volumes), tuple(self.snapshots)

    def snapshot_listing(self, scope):
        self._answer('snapshots')
        return tuple(self.snapshots)

    def max_microversion(self):
        self._answer('version')
        return self.version

    def volumes_changed(self, scope, since):
        self._answer('volumes since %d' % since)
        return tuple(self.changed_volumes)

    def snapshots_changed(self, scope, since):
        self._answer('snapshots since')
        return self.changed_snapshots

    def counts(self, scope):
        self._answer('counts')
        return len(self.volumes), len(self.snapshots)


class CacheTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.events = (False, frozenset())
        self.cache = incremental.CinderCache(5, 60, lambda since: self.events)
        self.inventory = _Inventory([vol('a'), vol('b')], [snap('s', 'a')])
        self.cache.refresh(self.inventory, SCOPE)

    def refresh(self):
        self.inventory.calls = []
        volumes, snapshots = self.cache.refresh(self.inventory, SCOPE)
        return {v.id: v for v in volumes}, {s.id for s in snapshots}

    def test_first_pass_lists_in_full_then_changes_merge(self):
        self.assertEqual(incremental.FIRST, self.cache.reason)
        self.inventory.volumes[1] = changed = vol('b', 'error')
        self.inventory.volumes.append(vol('c'))
        self.inventory.changed_volumes = [changed, vol('c')]
        volumes, _ = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual('error', volumes['b'].status)
        self.assertEqual({'a', 'b', 'c'}, set(volumes))
        # Listed since the previous listing's start by Cinder's clock,
        # minus the margin.
        self.assertIn('volumes since %d' % (1001 - 60), self.inventory.calls)
        self.assertNotIn('full', self.inventory.calls)

    def test_a_skewed_cinder_clock_lists_in_full_while_it_lasts(self):
        reasons = []
        for skew in (0.0, 61.0, -3600.0, 61.0, 60.0, 0.0):
            self.inventory.skew = skew
            self.refresh()
            reasons.append(self.cache.reason)
        # Found by the change listing's first answer: in full at once, and
        # on every pass until a listing finds the clocks within the margin.
        self.assertEqual([None, incremental.SKEW, incremental.SKEW,
                          incremental.SKEW, incremental.SKEW, None], reasons)

    def test_clock_skew(self):
        skew = cinder_inventory.clock_skew
        self.assertIsNone(skew(None, 100.0, 101.0))
        # Dates are truncated to the second.
        for date in (100.0, 101.0):
            self.assertEqual(0, skew(date, 100.5, 101.0))
        self.assertEqual(-0.5, skew(99.0, 100.5, 101.0))
        self.assertEqual(3599.0, skew(3700.0, 100.5, 101.0))
        self.assertEqual(-10.5, skew(89.0, 100.5, 101.0))

    def test_counts_that_disagree_list_in_full_at_once(self):
        del self.inventory.volumes[0]          # a deletion nobody reported
        volumes, _ = self.refresh()
        self.assertEqual(incremental.COUNTS, self.cache.reason)
        self.assertEqual({'b'}, set(volumes))
        self.assertEqual('full', self.inventory.calls[-1])

    def test_reported_deletions_are_folded_in(self):
        del self.inventory.volumes[1]
        self.events = (False, frozenset({'b'}))
        volumes, _ = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual({'a'}, set(volumes))

    def test_a_deletion_recorded_while_the_changes_were_listed(self):
        """The listener records in batches: read again once counts differ."""
        del self.inventory.volumes[1]
        answers = iter([(False, frozenset()), (False, frozenset({'b'}))])
        self.cache.evidence = lambda since: next(answers)
        volumes, _ = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual({'a'}, set(volumes))
        self.assertNotIn('full', self.inventory.calls)

    def test_a_changed_row_deleted_afterwards_stays_out(self):
        # Listed as changed, then deleted before the counts were taken.
        self.inventory.changed_volumes = [vol('b', 'deleting')]
        del self.inventory.volumes[1]
        self.events = (False, frozenset({'b'}))
        volumes, _ = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual({'a'}, set(volumes))

    def test_a_reported_volume_deletion_takes_its_snapshots(self):
        del self.inventory.volumes[0]
        del self.inventory.snapshots[0]
        self.events = (False, frozenset({'a'}))
        volumes, snapshots = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual(({'b'}, set()), (set(volumes), snapshots))

    def test_listener_gap_failure_old_api_and_period_list_in_full(self):
        self.events = (True, frozenset())
        self.refresh()
        self.assertEqual(incremental.EVENT_GAP, self.cache.reason)
        self.events = (False, frozenset())
        self.cache.invalidate()
        self.refresh()
        self.assertEqual(incremental.FAILED, self.cache.reason)
        reasons = [(self.refresh(), self.cache.reason)[1] for _ in range(5)]
        self.assertEqual([None] * 4 + [incremental.PERIODIC], reasons)
        self.cache.invalidate()
        self.inventory.version = (3, 59)
        self.refresh()
        self.refresh()
        self.assertEqual(incremental.OLD_API, self.cache.reason)

    def test_one_means_every_pass_in_full(self):
        cache = incremental.CinderCache(1, 60)
        for _ in range(2):
            cache.refresh(self.inventory, SCOPE)
            self.assertEqual(incremental.DISABLED, cache.reason)

    def test_too_many_changed_snapshots_list_the_snapshots_in_full(self):
        self.inventory.snapshots.append(snap('t', 'b'))
        self.inventory.changed_snapshots = None
        _, snapshots = self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual({'s', 't'}, snapshots)
        self.assertIn('snapshots', self.inventory.calls)
        self.assertNotIn('full', self.inventory.calls)

    def test_point_lookups_refresh_and_drop_kept_rows(self):
        attached = model.CinderVolume(
            'b', 'nb', 'ctl@be1#p', 'in-use', attachments=(
                model.CinderAttachment('compute-1', initiators=frozenset(
                    {'iqn.x'})),))
        self.cache.take_lookups({
            'a': None,                        # 404: gone
            'b': attached,                    # fresher than the view
            'c': vol('c'),                    # missed by the listings
            'd': vol('d', host='ctl@be2#p'),  # not ours
            's': None,
        }, 'ctl@be1')
        self.assertEqual({'b', 'c'}, set(self.cache.volumes))
        self.assertEqual('nb', self.cache.volumes['b'].name_id)
        self.assertEqual(frozenset(),
                         self.cache.volumes['b'].attachments[0].initiators)
        self.assertEqual({}, self.cache.snapshots)

    def test_event_evidence(self):
        def recorded(event_type, resource_id, event_id, **payload):
            return model.CinderEvent(
                'be1', event_type, 'volume', resource_id, None, 1.0,
                payload=tuple(payload.items()), recorded_at=1.0, id=event_id)
        history = types.SimpleNamespace(
            listener_started_since=lambda backend, since: False,
            events_since=lambda backend, since: [
                recorded('volume.delete.end', 'a', 1),
                recorded('volume.attach.end', 'b', 2),
                # A listing showed c after this one: it says nothing.
                recorded('volume.unmanage.end', 'c', 3),
                recorded(cinder_events.LISTED, 'c', 4, voids='3')])
        self.assertEqual((False, frozenset({'a'})),
                         incremental.event_evidence(history, 'be1', 0))
        history.listener_started_since = lambda backend, since: True
        self.assertEqual((True, frozenset()),
                         incremental.event_evidence(history, 'be1', 0))

    def test_keys_the_array_reads_again(self):
        """Rows of the last change listing and the events since name the
        volumes whose array objects a steady array listing reads afresh:
        by id, and by the name_id the object carries.
        """
        self.assertEqual(frozenset(), self.cache.keys_named(()))
        migrated = model.CinderVolume('b', 'nb', 'ctl@be1#p', 'available')
        self.inventory.changed_volumes = [migrated]
        self.inventory.changed_snapshots = [snap('s2', 'a')]
        self.inventory.volumes[1] = migrated
        self.inventory.snapshots.append(snap('s2', 'a'))
        self.refresh()
        self.assertIsNone(self.cache.reason)
        self.assertEqual({'a', 'b', 'nb'}, self.cache.keys_named(()))
        event = model.CinderEvent
        self.assertEqual({'a', 'b', 'nb', 'gone', 'c'}, self.cache.keys_named((
            event('be1', 'volume.delete.end', 'volume', 'gone', None, 0.0),
            event('be1', 'snapshot.create.end', 'snapshot', 's3', None, 0.0,
                  payload=(('volume_id', 'c'),)))))
        # A full listing names nothing.
        self.cache.invalidate()
        self.refresh()
        self.assertEqual(frozenset(), self.cache.keys_named(()))


class ArrayCacheTest(base.BaseTestCase):
    """The array side's schedule: CinderCache's."""

    def test_schedule(self):
        cache = incremental.ArrayCache(3)
        reasons = []
        for n in range(7):
            reason = cache.full_reason()
            reasons.append(reason)
            if n == 4:
                cache.invalidate()
                continue
            cache.listed({'kept': n}, reason, float(n))
        self.assertEqual([incremental.FIRST, None, None,
                          incremental.PERIODIC, None, incremental.FAILED,
                          None], reasons)
        self.assertEqual(6.0, cache.listed_at)
        cache.full_every = 1
        self.assertEqual(incremental.DISABLED, cache.full_reason())
        cache.listed(None, incremental.DISABLED, 7.0)
        cache.full_every = 3
        self.assertEqual(incremental.FIRST, cache.full_reason())
