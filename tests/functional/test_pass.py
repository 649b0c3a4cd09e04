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

"""The whole pass against a real cinder-api: inventory to notifications.

One real Cinder API (noauth, SQLite) holds more than 1,000 volumes on several
hosts, backends and projects, listed in pages of 100, so pagination and host
scoping are real. The array is the file-backed fake driver; the pass, history
(SQLite) and notifications (oslo.messaging, in-memory transport, received by
a real notification listener) are the daemon's own code.
"""

import logging
import os
import threading
import zlib

import fixtures
import oslo_messaging
from oslotest import base
import yaml

from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import fake_array
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
BACKEND = 'be1'
STATUSES = ('available', 'in-use', 'available', 'creating', 'deleting',
            'error', 'available', 'in-use', 'extending', 'available')


def big_scenario(n=1100):
    """n volumes on host-a@be1 among decoys, plus one planted orphan a kind."""
    s = scn.Scenario(backends=[
        scn.Backend(BACKEND, host='host-a', pools=['pool1', 'pool2']),
        # Host-scoping decoys: the same group on another host, and a group
        # whose name starts with ours.
        scn.Backend('be1-on-b', host='host-b', group=BACKEND),
        scn.Backend('be10', host='host-a')])
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        s.volumes.append(scn.Volume(
            id=uid('v%d' % i), backend=BACKEND, status=status,
            project='project-%d' % (i % 7), pool='pool%d' % (1 + i % 2),
            name_id=uid('v%d-migrated' % i) if i % 10 == 2 else None,
            attached_to=['compute-%d' % (i % 5)] if status == 'in-use' else [],
            on_array=status not in ('creating', 'deleting', 'error')))
    for i in range(0, n, 50):
        s.snapshots.append(scn.Snapshot(id=uid('s%d' % i),
                                        volume=uid('v%d' % i)))
    for i in range(150):
        s.volumes.append(scn.Volume(id=uid('decoy%d' % i),
                                    backend=('be1-on-b', 'be10')[i % 2]))
    s.volumes.append(scn.Volume(id=uid('lost'), backend=BACKEND,
                                on_array=False))
    s.snapshots.append(scn.Snapshot(id=uid('lost-snap'), volume=uid('v0'),
                                    on_array=False))
    s.array_objects += [
        scn.ArrayObject(BACKEND, 'volume', uuid=uid('leak')),
        scn.ArrayObject(BACKEND, 'snapshot', uuid=uid('leak-snap'),
                        parent=uid('v0')),
        scn.ArrayObject(BACKEND, 'export', uuid=uid('v0'), host='compute-9'),
        scn.ArrayObject(BACKEND, 'volume', name='lun-42',
                        object_class='foreign'),
    ]
    return s


PLANTED = {
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@compute-9' % uid('v0')),
    (K.FOREIGN, R.VOLUME, 'lun-42'),
}


class PassTest(local_fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'host-a'

    @classmethod
    def make_scenario(cls):
        return big_scenario()

    def start_array(self):
        self.array = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                  'array.yaml')
        fake_array.write(self.scenario, BACKEND, self.array)
        return dict(reconciler_driver='fake', fake_array_file=self.array)

    def setUp(self):
        super().setUp()
        self.values.load_raw_values(group='cinder', page_size='100')
        self.endpoint = self.cloud.endpoint
        self.received = []
        self.arrived = threading.Condition()
        listener = oslo_messaging.get_notification_listener(
            self.notifier.transport,
            [oslo_messaging.Target(topic='notifications')], [self],
            executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)

    # oslo.messaging notification endpoint
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.arrived:
            self.received.append((event_type, payload))
            self.arrived.notify_all()

    error = info

    def confirm_after(self, sightings):
        self.values.load_raw_values(group=BACKEND,
                                    reconciler_sightings=str(sightings))

    def wait_for(self, count):
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, 30)
        return list(self.received)

    def findings(self):
        return {(f.kind, f.resource_type, f.resource_id): f.state
                for f in self.store.findings()}

    def test_lifecycle_through_history_and_notifications(self):
        self.confirm_after(2)
        first = self.run_pass()
        self.assertEqual(model.RunStatus.OK, first.status, first.error)
        self.assertEqual(PLANTED, {c.identity for c in first.candidates})
        self.assertEqual(1100 + 1, first.inventory['cinder_volumes'])
        self.assertGreater(first.inventory['cinder_requests'], 11)
        self.assertEqual({k: S.SUSPECTED for k in PLANTED}, self.findings())
        self.assertEqual([], self.wait_for(0))

        second = self.run_pass()
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        self.assertEqual(len(PLANTED), len(second.transitions))
        events = self.wait_for(len(PLANTED) - 1)
        # Foreign objects are recorded but not announced by default.
        self.assertEqual(
            {(notifier_mod.DETECTED, k, t, r) for k, t, r in PLANTED
             if k != K.FOREIGN},
            {(e, p['kind'], p['resource_type'], p['resource_id'])
             for e, p in events})
        payload = dict(events[0][1])
        self.assertEqual('1.1', payload['payload_version'])
        self.assertEqual(BACKEND, payload['backend'])
        self.assertEqual(2, payload['sightings'])

        steady = self.run_pass()
        self.assertEqual([], steady.transitions)

        # The leaked volume is cleaned up on the array: resolved, announced.
        array = yaml.safe_load(open(self.array))
        array['volumes'] = [v for v in array['volumes']
                            if uid('leak') not in v['name']]
        with open(self.array, 'w') as f:
            yaml.safe_dump(array, f)
        fixed = self.run_pass()
        self.assertEqual([(K.ARRAY_ONLY, S.CONFIRMED, S.RESOLVED)],
                         [(t.candidate.kind, t.old_state, t.new_state)
                          for t in fixed.transitions])
        events = self.wait_for(len(PLANTED))
        self.assertEqual((notifier_mod.RESOLVED, uid('leak')),
                         (events[-1][0], events[-1][1]['resource_id']))
        self.assertEqual([], self.store.pending_notifications())

    def test_fc_export_on_renamed_host_matched_by_initiator(self):
        """The array host was renamed by an admin; its WWN is the link.

        Listings carry attachment host names only, so the export is a
        suspect; the re-check reads the attachment's connection_info and
        matches the initiator. Its CHAP secret goes nowhere.
        """
        self.cloud.add_attachment(uid('v5'), 'compute-fc', connection_info={
            'driver_volume_type': 'fibre_channel',
            'data': {'initiator_target_map': {
                '10000090FAA0786B': ['2100000991020012']},
                'auth_password': 'chap-s3cret'}})
        array = yaml.safe_load(open(self.array))
        array['exports'] += [
            {'volume': 'volume-%s' % uid('v5'), 'host': 'ADMIN-NAMED-HOST',
             'initiators': ['10:00:00:90:fa:a0:78:6b']},
            {'volume': 'volume-%s' % uid('v5'), 'host': 'OTHER-HOST',
             'initiators': ['10:00:00:90:fa:a0:78:6c']}]
        with open(self.array, 'w') as f:
            yaml.safe_dump(array, f)
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        result = self.run_pass()
        self.assertEqual(model.RunStatus.OK, result.status, result.error)
        exports = {c.resource_id for c in result.candidates
                   if c.kind == K.ORPHAN_EXPORT}
        self.assertIn('volume-%s@OTHER-HOST' % uid('v5'), exports)
        self.assertNotIn('volume-%s@ADMIN-NAMED-HOST' % uid('v5'), exports)
        for f in self.store.findings():
            self.assertNotIn('chap-s3cret', repr(f))
        self.assertNotIn('chap-s3cret', logs.output)

    def test_confirmed_export_attached_since_resolves(self):
        """A confirmed orphan export of an attached volume is re-checked.

        Its listing goes on calling it an orphan: only the re-check reads
        the WWN that ties it to the attachment made since.
        """
        array = yaml.safe_load(open(self.array))
        array['exports'].append(
            {'volume': 'volume-%s' % uid('v6'), 'host': 'ADMIN-NAMED-HOST',
             'initiators': ['10:00:00:90:fa:a0:78:6b']})
        with open(self.array, 'w') as f:
            yaml.safe_dump(array, f)
        export = (K.ORPHAN_EXPORT, R.EXPORT,
                  'volume-%s@ADMIN-NAMED-HOST' % uid('v6'))
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.assertEqual(S.CONFIRMED, self.findings()[export])
        self.cloud.add_attachment(uid('v6'), 'compute-fc', connection_info={
            'driver_volume_type': 'fibre_channel',
            'data': {'initiator_target_map': {
                '10000090FAA0786B': ['2100000991020012']}}})
        self.addCleanup(self.cloud.remove_attachment, uid('v6'),
                        'compute-fc')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(S.RESOLVED, self.findings()[export])
        self.assertEqual(1, report.inventory['rechecked'])

    def test_confirmed_volume_back_in_cinder_elsewhere_resolves_in_turn(self):
        """A confirmed array-only volume's row reappears on another host.

        As after a database restore or ``cinder-manage volume update_host``:
        the host-scoped listing still shows an orphan, only a re-check
        (which searches all of Cinder) finds the row. It comes on the
        finding's turn, one ok pass in reconciler_confirmed_recheck_passes.
        """
        every = 4
        self.values.load_raw_values(
            group=BACKEND, reconciler_confirmed_recheck_passes=str(every))
        leak = (K.ARRAY_ONLY, R.VOLUME, uid('leak'))
        first = self.run_pass()     # ok pass 0 of the backend
        self.assertEqual(model.RunStatus.OK, first.status, first.error)
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        self.cloud.add_volumes([scn.Volume(id=uid('leak'),
                                           backend='be1-on-b')])
        self.addCleanup(self.cloud.soft_delete_volume, uid('leak'))
        # Its turn: the first of the next ``every`` ok passes (numbered from
        # 1) whose number is its CRC modulo ``every``; not the next one.
        turn = next(n for n in range(1, 1 + every)
                    if n % every == zlib.crc32(uid('leak').encode()) % every)
        self.assertGreater(turn, 1)
        states, rechecked = [], 0
        for _ in range(every):
            report = self.run_pass()
            self.assertEqual(model.RunStatus.OK, report.status, report.error)
            states.append(self.findings()[leak])
            rechecked += report.inventory['rechecked']
        self.assertEqual([S.CONFIRMED] * (turn - 1)
                         + [S.RESOLVED] * (every - turn + 1), states)
        expected = {k: S.CONFIRMED for k in PLANTED}
        expected[leak] = S.RESOLVED
        self.assertEqual(expected, self.findings())
        # Each finding was re-checked once in these passes; the resolved
        # one, listed but no longer confirmed, on every pass after its turn.
        self.assertEqual(len(PLANTED) + every - turn, rechecked)

    def test_http_500_mid_listing_fails_the_run_and_changes_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, before)
        proxy = self.useFixture(_Proxy(self.endpoint))
        self.values.load_raw_values(group='cinder',
                                    endpoint=proxy.url + '/v3')
        # Let two pages through, then fail the third.
        proxy.proxy.fail(r'/v3/volumes/detail', status=500, after=2)
        # Meanwhile the array lost a volume: it must not be seen either.
        array = yaml.safe_load(open(self.array))
        array['volumes'] = array['volumes'][5:]
        with open(self.array, 'w') as f:
            yaml.safe_dump(array, f)
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('500', failed.error)
        self.assertEqual([], failed.candidates)
        self.assertEqual(before, self.findings())
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)
        events = self.wait_for(len(PLANTED))
        self.assertEqual(notifier_mod.RUN_FAILED, events[-1][0])
        self.assertEqual(failed.run_id, events[-1][1]['run_id'])

    def test_listing_restarts_when_its_marker_is_deleted_meanwhile(self):
        """Cinder answers 404 for a marker deleted between two pages."""
        proxy = self.useFixture(_Proxy(self.endpoint))
        self.values.load_raw_values(group='cinder',
                                    endpoint=proxy.url + '/v3')
        gone = r'/v3/volumes/detail\?.*marker='
        proxy.proxy.fail(gone, status=404, after=3, times=1)
        result = self.run_pass()
        self.assertEqual(model.RunStatus.OK, result.status, result.error)
        self.assertEqual(PLANTED, {c.identity for c in result.candidates})
        # A listing that keeps changing fails rather than come out partial.
        proxy.proxy.clear()
        proxy.proxy.fail(gone, status=404, times=10)
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('kept changing', failed.error)

    def test_wrong_host_is_implausible_not_a_flood_of_orphans(self):
        self.values.load_raw_values(host='typo-host')
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('typo-host@be1', failed.error)
        self.assertEqual({}, self.findings())

    def test_wrong_host_after_a_good_history_says_what_to_check(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        self.values.load_raw_values(host='typo-host')
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('cinder_volumes shrank from 1101 to 0', failed.error)
        self.assertIn('check [DEFAULT] host / backend_host', failed.error)
        self.assertIn('typo-host@be1', failed.error)
        self.assertIn('[cinder] credentials have the admin role',
                      failed.error)
        self.assertEqual(before, self.findings())

    def test_sharply_shrunk_array_listing_fails(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        with open(self.array, 'w') as f:
            yaml.safe_dump({'volumes': [], 'snapshots': []}, f)
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('shrank', failed.error)
        self.assertEqual(before, self.findings())

    def test_fresh_database_and_an_empty_array_fails(self):
        """No history to compare with: Cinder's volumes must be listed.

        A well-formed answer without any volume used to give an ok pass
        with a suspect per Cinder volume, each confirmed by a look-up that
        also answered "absent".
        """
        with open(self.array, 'w') as f:
            yaml.safe_dump({'volumes': [], 'snapshots': [], 'exports': []}, f)
        settled = sum(1 for v in self.scenario.volumes
                      if v.backend == BACKEND
                      and v.status in ('available', 'in-use'))
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('the array listing lacks %d of the %d settled volumes '
                      'Cinder shows on host-a@be1' % (settled, settled),
                      failed.error)
        self.assertEqual({}, self.findings())
        self.assertEqual(model.RunStatus.FAILED,
                         self.store.runs(BACKEND)[0].status)

    def test_error_deleting_rows(self):
        """A failed delete is reported once its object is gone, not before."""
        gone, still = uid('v6'), uid('v9')
        for volume_id in (gone, still):
            self.cloud.update_volume(volume_id, status='error_deleting')
            self.addCleanup(self.cloud.update_volume, volume_id,
                            status='available')
        self.cloud.update_snapshot(uid('s0'), status='error_deleting')
        self.addCleanup(self.cloud.update_snapshot, uid('s0'),
                        status='available')
        array = yaml.safe_load(open(self.array))
        array['volumes'] = [v for v in array['volumes']
                            if gone not in v['name']]
        array['snapshots'] = [s for s in array['snapshots']
                              if uid('s0') not in s['name']]
        with open(self.array, 'w') as f:
            yaml.safe_dump(array, f)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = {c.identity: dict(c.details) for c in report.candidates}
        self.assertEqual(PLANTED | {(K.CINDER_ONLY, R.VOLUME, gone),
                                    (K.CINDER_ONLY, R.SNAPSHOT, uid('s0'))},
                         set(found))
        self.assertEqual('error_deleting',
                         found[K.CINDER_ONLY, R.VOLUME, gone]['status'])
        self.assertEqual('error_deleting',
                         found[K.CINDER_ONLY, R.SNAPSHOT, uid('s0')]['status'])
        self.assertNotIn('volume error_deleting', report.skipped)


class _Proxy(fixtures.Fixture):
    def __init__(self, endpoint):
        super().__init__()
        self.target = endpoint.rsplit('/v3', 1)[0]

    def _setUp(self):
        self.proxy = faultproxy.FaultProxy(self.target)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.url = self.proxy.url


class ThreadingOnlyTest(base.BaseTestCase):
    """Libraries import eventlet when it is installed; nothing may patch."""

    def test_threading_backend_and_nothing_monkey_patched(self):
        from oslo_service import backend
        import reconciler.cmd  # noqa: F401  (selects the backend)
        import reconciler.service  # noqa: F401
        self.assertEqual(backend.BackendType.THREADING,
                         backend.get_backend_type())
        try:
            from eventlet import patcher
        except ImportError:
            return
        for module in ('socket', 'thread', 'time', 'select', 'os'):
            self.assertFalse(patcher.is_monkey_patched(module), module)
