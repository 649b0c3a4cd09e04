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

"""Cinder's recorded events: the interface the engine and incremental
passes read, and their retention.
"""

from oslotest import base

from reconciler import cinder_events
from reconciler import model
from tests.unit.history import fixtures

T0 = 1_800_000_000.0
DAY = 86400


def event(resource_id, event_type='volume.delete.end', backend='be1',
          at=T0, **payload):
    return model.CinderEvent(
        backend, event_type, event_type.partition('.')[0], resource_id,
        'h1@%s#p' % backend, at, message_id='m-%s-%s' % (resource_id, at),
        payload=tuple(sorted(payload.items())))


class EventsTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(fixtures.History()).history

    def test_events_for_oldest_first_by_cinders_time(self):
        # Arrival order is not Cinder's order.
        self.history.record_events([
            event('a', 'volume.unmanage.end', at=T0 + 2),
            event('b', at=T0 + 1, backend='be2')], T0 + 10)
        self.history.record_events([
            event('a', 'volume.unmanage.start', at=T0 + 1,
                  status='unmanaging'),
            event('c', at=T0)], T0 + 11)
        found = self.history.events_for('be1', ['a', 'b', 'x'])
        self.assertEqual(['volume.unmanage.start', 'volume.unmanage.end'],
                         [e.event_type for e in found])
        [start, end] = found
        self.assertEqual((('status', 'unmanaging'),), start.payload)
        self.assertEqual(('be1', 'volume', 'a', 'h1@be1#p', T0 + 1, T0 + 11),
                         (start.backend, start.resource_type,
                          start.resource_id, start.host, start.emitted_at,
                          start.recorded_at))
        self.assertEqual(cinder_events.UNMANAGED,
                         cinder_events.verdict(found))
        self.assertEqual([], self.history.events_for('be1', []))

    def test_many_ids_and_odd_ones(self):
        ids = ['v%d' % i for i in range(1200)] + ['nul\x00x', 'x' * 400]
        self.history.record_events([event(i) for i in ids], T0)
        self.assertEqual(len(ids), len(self.history.events_for('be1', ids)))

    def test_events_since_by_arrival_without_markers(self):
        self.history.record_events([event('a', at=T0 - 500)], T0)
        self.history.record_events(
            [event('b', at=T0 - 900), cinder_events.started('be1', 'h', T0),
             event('c', backend='be2')], T0 + 60)
        self.assertEqual(['b'], [e.resource_id for e in
                                 self.history.events_since('be1', T0 + 30)])
        self.assertEqual(['a', 'b'], [e.resource_id for e in
                                      self.history.events_since('be1', T0)])

    def test_listener_started_since(self):
        self.assertFalse(self.history.listener_started_since(None, 0))
        self.history.record_events(
            [cinder_events.started('be1', 'h', T0)], T0)
        self.assertTrue(self.history.listener_started_since('be1', T0))
        self.assertTrue(self.history.listener_started_since(None, T0 - 1))
        self.assertFalse(self.history.listener_started_since('be1', T0 + 1))
        self.assertFalse(self.history.listener_started_since('be2', 0))

    def test_purge_keeps_each_backends_newest_start(self):
        self.history.record_events([
            event('old'), cinder_events.started('be1', 'h', T0),
            cinder_events.started('be2', 'h', T0)], T0)
        self.history.record_events([
            event('new'), cinder_events.started('be1', 'h', T0 + DAY)],
            T0 + DAY)
        self.assertEqual(2, self.history.purge_events(T0 + DAY / 2))
        self.assertEqual(['new'], [e.resource_id for e in
                                   self.history.events_since('be1', 0)])
        self.assertTrue(self.history.listener_started_since('be1', T0 + DAY))
        self.assertTrue(self.history.listener_started_since('be2', T0))
        self.assertFalse(self.history.listener_started_since('be1', T0 + 1 +
                                                             DAY))

    def test_db_purge_purges_events_as_old(self):
        self.history.record_events([event('old')], T0)
        self.history.record_events([event('new')], T0 + 2 * DAY)
        self.assertEqual({'runs': 0, 'findings': 0, 'events': 1},
                         self.history.purge(T0 + DAY))
        self.assertEqual(['new'], [e.resource_id for e in
                                   self.history.events_since('be1', 0)])
