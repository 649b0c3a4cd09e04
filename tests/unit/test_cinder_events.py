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

"""Cinder's notifications: what is kept, and what the engine makes of them.

Payloads have the shape Cinder 29's ``_usage_from_volume`` and
``_usage_from_snapshot`` give them (cinder/volume/volume_utils.py), with
the publisher ids of cinder/volume/manager.py (``volume.<host@backend>``)
and of the create flow (``volume.<host@backend#pool>``).
"""

import json

from oslotest import base

from reconciler import cinder_events
from reconciler.drivers import nec_names
from reconciler import engine
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit.drivers import test_nec
from tests.unit import test_engine

K = model.FindingKind
R = model.ResourceType
C = model.ObjectClass
BACKENDS = [('be1', 'h1@be1', None), ('lvm1', 'h1@lvm1', None),
            ('ha', 'h1@ha', 'cl1@ha')]
STAMP = '2026-12-01 10:00:00.250000'    # str(datetime.utcnow())
SECRET = 'chap-secret-never-stored'


def volume_payload(label, host='h1@be1#pool1', status='available',
                   attached=()):
    return {
        'tenant_id': 'p1', 'host': host, 'user_id': 'u1',
        'availability_zone': 'nova', 'volume_id': uid(label),
        'volume_type': 'vt1', 'display_name': 'secret project name',
        'launched_at': '2026-12-01T09:00:00', 'created_at':
        '2026-12-01T09:00:00', 'status': status, 'snapshot_id': None,
        'size': 1, 'replication_status': None,
        'replication_extended_status': None,
        'replication_driver_data': None, 'metadata': {'k': SECRET},
        'volume_attachment': [{
            'id': uid('att'), 'attached_host': h, 'instance_uuid': uid(h),
            'connector': {'initiator': 'iqn.x', 'host': h},
            'connection_info': {'driver_volume_type': 'iscsi', 'data': {
                'auth_method': 'CHAP', 'auth_username': 'u',
                'auth_password': SECRET}}} for h in attached]}


def snapshot_payload(label, volume, status='available'):
    return {'tenant_id': 'p1', 'user_id': 'u1', 'availability_zone': 'nova',
            'volume_id': uid(volume), 'volume_size': 1,
            'snapshot_id': uid(label), 'display_name': 'x',
            'created_at': '2026-12-01T09:00:00', 'status': status,
            'deleted': '', 'metadata': SECRET}


def parse(event_type, payload, publisher='volume.h1@be1', stamp=STAMP,
          message_id='m1'):
    return cinder_events.parse(
        publisher, event_type, payload,
        {'message_id': message_id, 'timestamp': stamp}, BACKENDS, 5.0)


def event(event_type, label, at=1.0, rtype=None, **payload):
    return model.CinderEvent(
        'be1', event_type, rtype or event_type.partition('.')[0], uid(label),
        'h1@be1', at, message_id='m-%s-%s' % (event_type, at),
        payload=tuple(sorted(payload.items())))


class ParseTest(base.BaseTestCase):

    def test_volume_event(self):
        e = parse('volume.unmanage.end', volume_payload('a'))
        self.assertEqual(model.CinderEvent(
            'be1', 'volume.unmanage.end', 'volume', uid('a'),
            'h1@be1#pool1', 1796119200.25, 'm1',
            (('size', '1'), ('status', 'available'), ('tenant_id', 'p1'),
             ('volume_type', 'vt1'))), e)

    def test_secrets_and_connection_info_never_kept(self):
        e = parse('volume.attach.end', volume_payload(
            'a', status='in-use', attached=['cmp1', 'cmp2']))
        self.assertEqual('cmp1,cmp2', dict(e.payload)['attached_hosts'])
        text = json.dumps([e.payload, e.host, e.resource_id])
        for word in (SECRET, 'connection_info', 'auth', 'connector',
                     'iqn.x', 'secret project name'):
            self.assertNotIn(word, text)

    def test_snapshot_host_is_the_publishers(self):
        e = parse('snapshot.delete.start',
                  snapshot_payload('s', 'a', status='unmanaging'),
                  publisher='snapshot.h1@lvm1')
        self.assertEqual(('lvm1', 'snapshot', uid('s'), 'h1@lvm1'),
                         (e.backend, e.resource_type, e.resource_id, e.host))
        self.assertEqual('unmanaging', dict(e.payload)['status'])
        self.assertEqual(uid('a'), dict(e.payload)['volume_id'])
        self.assertNotIn(SECRET, json.dumps(e.payload))

    def test_hosts_with_dots_and_pools(self):
        # The create flow publishes as volume.<host@backend#pool>.
        e = parse('volume.create.end',
                  dict(volume_payload('a'), host=None),
                  publisher='volume.h1.example.org@be1#p')
        self.assertIsNone(e)    # h1.example.org is not h1
        e = parse('snapshot.create.end', snapshot_payload('s', 'a'),
                  publisher='snapshot.h1@be1#p')
        self.assertEqual('be1', e.backend)

    def test_other_backends_and_events_are_not_kept(self):
        for event_type, payload in (
                ('volume.delete.end', volume_payload('a', host='h2@be1#p')),
                ('volume.delete.end', volume_payload('a', host='h1@be10#p')),
                ('volume.delete.end', volume_payload('a', host=None)),
                ('volume.usage', volume_payload('a')),
                ('volume.update.end', volume_payload('a')),
                ('backup.create.end', volume_payload('a')),
                ('volume.delete.end', dict(volume_payload('a'),
                                           volume_id=None)),
                ('volume.delete.end', ['not', 'a', 'dict'])):
            self.assertIsNone(parse(event_type, payload,
                                    publisher='volume.api'), event_type)

    def test_cluster_members_match_a_clustered_backend(self):
        # Published by another member than the one that made the volume.
        e = parse('volume.delete.end', volume_payload('a', host='h7@ha#p'),
                  publisher='volume.h2@ha')
        self.assertEqual('ha', e.backend)

    def test_publisher_and_payload_must_agree_on_the_backend(self):
        payload = volume_payload('a', host='h1@be1#pool1')
        # A volume service of another backend, ours or not: evidence for
        # neither.
        for publisher in ('volume.h1@lvm1', 'volume.h1@be2',
                          'volume.h2@be1', 'volume.h1@lvm1#pool1'):
            self.assertIsNone(parse('volume.unmanage.end', payload,
                                    publisher=publisher), publisher)
        # The create flow publishes with the pool, another one's too.
        for publisher in ('volume.h1@be1', 'volume.h1@be1#pool1',
                          'volume.h1@be1#pool2'):
            self.assertEqual('be1', parse('volume.unmanage.end', payload,
                                          publisher=publisher).backend)
        # Members of a cluster publish about each other's volumes; a
        # member of no configured cluster does not.
        payload = volume_payload('a', host='h1@ha#p')
        self.assertEqual('ha', parse('volume.unmanage.end', payload,
                                     publisher='volume.h9@ha').backend)
        self.assertIsNone(parse('volume.unmanage.end', volume_payload(
            'a', host='h1@be1#p'), publisher='volume.h9@be1'))

    def test_api_publishers_never_say_unmanaged(self):
        # cinder-api publishes volume.<its host>: attachments it completes
        # and detaches it ends count; an unmanage it never sends.
        payload = volume_payload('a', status='in-use', attached=['cmp1'])
        for event_type in ('volume.attach.end', 'volume.detach.end',
                           'volume.delete.end'):
            self.assertEqual('be1', parse(event_type, payload,
                                          publisher='volume.api-1').backend)
        for event_type in ('volume.unmanage.start', 'volume.unmanage.end'):
            self.assertIsNone(parse(event_type, payload,
                                    publisher='volume.api-1'))

    def test_bad_timestamp_falls_back_to_arrival(self):
        e = parse('volume.delete.end', volume_payload('a'), stamp='junk')
        self.assertEqual(5.0, e.emitted_at)

    def test_long_values_are_cut(self):
        e = parse('volume.delete.end', dict(volume_payload('a'),
                                            status='x' * 5000))
        self.assertEqual(255, len(dict(e.payload)['status']))


class VerdictTest(base.BaseTestCase):

    def test_volume_unmanage(self):
        self.assertEqual(cinder_events.UNMANAGED, cinder_events.verdict([
            event('volume.create.end', 'a', 1),
            event('volume.unmanage.start', 'a', 2, status='unmanaging'),
            event('volume.unmanage.end', 'a', 3)]))

    def test_volume_delete(self):
        self.assertEqual(cinder_events.DELETED, cinder_events.verdict([
            event('volume.delete.start', 'a', 2, status='deleting'),
            event('volume.delete.end', 'a', 3)]))

    def test_start_alone_says_nothing(self):
        for start in ('volume.unmanage.start', 'volume.delete.start'):
            self.assertIsNone(cinder_events.verdict([
                event(start, 'a', 2, status='unmanaging')]))

    def test_snapshot_unmanage_is_a_delete_that_said_unmanaging(self):
        self.assertEqual(cinder_events.UNMANAGED, cinder_events.verdict([
            event('snapshot.delete.start', 's', 2, status='unmanaging'),
            event('snapshot.delete.end', 's', 3, status='deleted')]))
        self.assertEqual(cinder_events.DELETED, cinder_events.verdict([
            event('snapshot.delete.start', 's', 2, status='deleting'),
            event('snapshot.delete.end', 's', 3, status='deleted')]))
        # Its start lost: a delete, never an unmanage.
        self.assertEqual(cinder_events.DELETED, cinder_events.verdict([
            event('snapshot.delete.end', 's', 3, status='deleted')]))

    def test_managed_again_since(self):
        self.assertIsNone(cinder_events.verdict([
            event('volume.unmanage.end', 'a', 3),
            event('volume.manage_existing.end', 'a', 4)]))
        self.assertIsNone(cinder_events.verdict([
            event('snapshot.delete.start', 's', 2, status='unmanaging'),
            event('snapshot.delete.end', 's', 3),
            event('snapshot.manage_existing_snapshot.start', 's', 4)]))

    def test_a_listing_after_the_event_voids_it(self):
        end = recorded('volume.unmanage.end', 'a', 7, at=100.0)
        # Listed alive by a listing begun more than the margin after the
        # event was recorded: void.
        [void] = cinder_events.contradicted([end], {uid('a')}, 161.0, 60)
        self.assertEqual((cinder_events.LISTED, uid('a'), 161.0,
                          (('voids', '7'),)),
                         (void.event_type, void.resource_id, void.emitted_at,
                          void.payload))
        self.assertEqual(cinder_events.UNMANAGED,
                         cinder_events.verdict([end]))
        self.assertIsNone(cinder_events.verdict([end, void]))
        self.assertEqual((None, None), cinder_events.decide([void, end]))
        self.assertIn('volume.unmanage.end at 1970-01-01T00:01:40Z (void: '
                      'its row was listed later)',
                      cinder_events.evidence([end, void]))
        # Within the margin, not listed, voided already, or no deletion:
        # nothing.
        self.assertEqual([], cinder_events.contradicted(
            [end], {uid('a')}, 160.0, 60))
        self.assertEqual([], cinder_events.contradicted(
            [end], {uid('b')}, 1000.0, 60))
        self.assertEqual([], cinder_events.contradicted(
            [end, void], {uid('a')}, 1000.0, 60))
        self.assertEqual([], cinder_events.contradicted(
            [recorded('volume.attach.end', 'a', 8, at=100.0)], {uid('a')},
            1000.0, 60))

    def test_a_void_snapshot_unmanage_and_a_later_real_one(self):
        start = recorded('snapshot.delete.start', 's', 1, at=100.0,
                         status='unmanaging')
        end = recorded('snapshot.delete.end', 's', 2, at=101.0)
        [void] = cinder_events.contradicted([start, end], {uid('s')}, 500.0,
                                            0)
        self.assertIsNone(cinder_events.verdict([start, end, void]))
        # Unmanaged for real since: the void voids only its own event.
        later = [recorded('snapshot.delete.start', 's', 3, at=600.0,
                          status='unmanaging'),
                 recorded('snapshot.delete.end', 's', 4, at=601.0)]
        state, by = cinder_events.decide([start, end, void] + later)
        self.assertEqual((cinder_events.UNMANAGED, 4), (state, by.id))

    def test_evidence_names_the_newest_events_once(self):
        events = [event('volume.attach.end', 'a', 1),
                  event('volume.detach.end', 'a', 2),
                  event('volume.create.end', 'a', 3),
                  event('volume.delete.start', 'a', 4),
                  event('volume.delete.end', 'a', 5),
                  event('volume.delete.end', 'a', 5)]   # delivered twice
        self.assertEqual(
            'volume.detach.end at 1970-01-01T00:00:02Z; '
            'volume.create.end at 1970-01-01T00:00:03Z; '
            'volume.delete.start at 1970-01-01T00:00:04Z; '
            'volume.delete.end at 1970-01-01T00:00:05Z',
            cinder_events.evidence(events))


def recorded(event_type, label, event_id, at, **payload):
    """An event as the history gives it back: with its id, recorded at
    ``at`` (emitted then too).
    """
    return model.CinderEvent(
        'be1', event_type, event_type.partition('.')[0], uid(label),
        'h1@be1', at, message_id='m%d' % event_id,
        payload=tuple(sorted(payload.items())), recorded_at=at, id=event_id)


def weigh(cinder, array, events):
    comparison = engine.compare(cinder, array)
    ids = engine.array_only_ids(comparison)
    return engine.weigh_events(comparison, [e for e in events
                                            if e.resource_id in ids])


class DriverNamesTest(base.BaseTestCase):
    """The drivers whose Cinder driver unmanages by doing nothing.

    Array objects as each driver decodes its array's names; the Cinder
    rows are gone after an unmanage as after a delete.
    """

    def objects(self, decode, names):
        objects = []
        for name, label in names:
            kind, cls, uuid = decode(name)
            self.assertEqual((C.CINDER, uid(label)), (cls, uuid), name)
            objects.append(model.ArrayObject(
                kind, name, uuid, cls, pool='pool1',
                parent_uuid=uid('kept') if kind == R.SNAPSHOT else None))
        return objects

    def lvm(self):
        [backend] = test_nec.make_backend(self, {'lvm1': {
            'reconciler_driver': 'lvm', 'volume_group': 'vg1'}})
        driver = backend.create_driver()
        return self.objects(
            lambda n: driver.decode_name(n, n.startswith('_')), [
                ('volume-%s' % uid('kept'), 'kept'),
                ('volume-%s' % uid('unmanaged'), 'unmanaged'),
                ('volume-%s' % uid('deleted'), 'deleted'),
                ('volume-%s' % uid('silent'), 'silent'),
                ('_snapshot-%s' % uid('s-unmanaged'), 's-unmanaged'),
                ('_snapshot-%s' % uid('s-deleted'), 's-deleted')])

    def rbd(self):
        [backend] = test_nec.make_backend(self, {'rbd1': {
            'reconciler_driver': 'rbd', 'rbd_pool': 'volumes'}})
        driver = backend.create_driver()
        parent = 'volume-%s' % uid('kept')
        return self.objects(driver.decode_name, [
            (parent, 'kept'),
            ('volume-%s' % uid('unmanaged'), 'unmanaged'),
            ('volume-%s' % uid('deleted'), 'deleted'),
            ('volume-%s' % uid('silent'), 'silent'),
            ('%s@snapshot-%s' % (parent, uid('s-unmanaged')), 's-unmanaged'),
            ('%s@snapshot-%s' % (parent, uid('s-deleted')), 's-deleted')])

    def nec(self):
        names = nec_names.LDNames()

        def decode(name):
            return names.decode(name, name in snaps)
        snaps = {names.snapshot(uid('s-unmanaged')),
                 names.snapshot(uid('s-deleted'))}
        return self.objects(decode, [
            (names.volume(uid('kept')), 'kept'),
            (names.volume(uid('unmanaged')), 'unmanaged'),
            (names.volume(uid('deleted')), 'deleted'),
            (names.volume(uid('silent')), 'silent'),
            (names.snapshot(uid('s-unmanaged')), 's-unmanaged'),
            (names.snapshot(uid('s-deleted')), 's-deleted')])

    EVENTS = [
        event('volume.unmanage.start', 'unmanaged', 1, status='unmanaging'),
        event('volume.unmanage.end', 'unmanaged', 2),
        event('volume.delete.start', 'deleted', 1, status='deleting'),
        event('volume.delete.end', 'deleted', 2),
        event('snapshot.delete.start', 's-unmanaged', 1,
              status='unmanaging'),
        event('snapshot.delete.end', 's-unmanaged', 2, status='deleted'),
        event('snapshot.delete.start', 's-deleted', 1, status='deleting'),
        event('snapshot.delete.end', 's-deleted', 2, status='deleted'),
        # Not on the array: no suspect, its events are never read.
        event('volume.unmanage.end', 'elsewhere', 2)]

    def check(self, objects):
        cinder, array = test_engine.views([test_engine.vol('kept')],
                                          objects=objects)
        c = weigh(cinder, array, self.EVENTS)
        self.assertEqual(sorted([
            (K.ARRAY_ONLY, R.VOLUME, uid('deleted')),
            (K.ARRAY_ONLY, R.VOLUME, uid('silent')),
            (K.ARRAY_ONLY, R.SNAPSHOT, uid('s-deleted'))]),
            sorted(s.candidate.identity for s in c.suspects))
        self.assertEqual(sorted([
            (K.UNMANAGED, R.VOLUME, uid('unmanaged')),
            (K.UNMANAGED, R.SNAPSHOT, uid('s-unmanaged'))]),
            sorted(s.candidate.identity for s in c.unmanaged))
        # Named with the event that says so.
        for s in c.unmanaged:
            details = dict(s.candidate.details)
            self.assertEqual('m-%s-2' % ('volume.unmanage.end'
                                         if s.candidate.resource_type
                                         == R.VOLUME else
                                         'snapshot.delete.end'),
                             details['cinder_message_id'])
            self.assertIn(' at 1970-01-01T00:00:02Z',
                          details['cinder_events'])
        self.assertEqual({}, {k: n for k, n in c.skipped.items()
                              if 'unmanaged' in k})
        details = {s.candidate.resource_id: dict(s.candidate.details)
                   for s in c.suspects}
        self.assertEqual('volume.delete.start at 1970-01-01T00:00:01Z; '
                         'volume.delete.end at 1970-01-01T00:00:02Z',
                         details[uid('deleted')]['cinder_events'])
        self.assertIn('snapshot.delete.end',
                      details[uid('s-deleted')]['cinder_events'])
        self.assertNotIn('cinder_events', details[uid('silent')])
        # Without events: exactly the listings' findings.
        plain = engine.compare(cinder, array)
        self.assertEqual(plain, weigh(cinder, array, []))
        self.assertEqual(5, len(plain.suspects))

    def test_lvm(self):
        self.check(self.lvm())

    def test_rbd(self):
        self.check(self.rbd())

    def test_nec(self):
        self.check(self.nec())


class WeighTest(base.BaseTestCase):

    def test_events_never_touch_other_kinds(self):
        cinder, array = test_engine.views(
            [test_engine.vol('gone')],
            objects=[test_engine.avol('x', cls=C.FOREIGN, name='lv-x')])
        events = [event('volume.unmanage.end', 'gone', 2),
                  event('volume.delete.end', 'gone', 3)]
        comparison = engine.compare(cinder, array)
        self.assertEqual(comparison,
                         engine.weigh_events(comparison, events))

    def test_a_row_back_makes_no_suspect_whatever_the_events(self):
        cinder, array = test_engine.views(
            [test_engine.vol('a')], objects=[test_engine.avol('a')])
        c = weigh(cinder, array, [event('volume.unmanage.end', 'a', 2)])
        self.assertEqual((), c.suspects + c.unmanaged)
