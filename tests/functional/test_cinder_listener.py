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

"""Cinder's notifications through a real RabbitMQ, from real Cinder code.

cinder-api, cinder-scheduler and a cinder-volume service whose driver is
Cinder's FakeLoggingVolumeDriver (tests/incinder), which, like Cinder's
LVM, NEC and RBD drivers, unmanages by doing nothing, and here deletes by
doing nothing too: after either, the object stays on the "array" under its
Cinder name and only Cinder's notifications tell the two apart. Cinder
sends them (messagingv2) to the test broker; RPC stays in-process.

The reconciler's own notifications go to ``fake:/`` while the listener
hears Cinder's broker: two groups, two transports.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import fixtures as fixtures_lib
from keystoneauth1 import adapter
from oslo_config import cfg
import oslo_messaging
from oslotest import base

from reconciler import cinder_events
from reconciler.cmd import report as report_mod
from reconciler import history
from reconciler.history import views
from reconciler import listener as listener_mod
from reconciler import model
from tests.functional import fixtures
from tests.functional import test_adoption
from tests import servers

K = model.FindingKind
R = model.ResourceType
S = model.FindingState
# What tests/incinder/fixture_driver.py puts in every connection_info.
CHAP_SECRET = 'fixture-chap-secret'
POOL = 'cinder-reconciler'


class _OtherConsumer(object):
    """Another consumer of Cinder's topic, as Ceilometer is: no pool."""

    def __init__(self, url):
        self.messages = []
        self._lock = threading.Lock()
        self.transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=url)
        self.listener = oslo_messaging.get_notification_listener(
            self.transport, [oslo_messaging.Target(topic='notifications')],
            [self], executor='threading')

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            self.messages.append((event_type, payload, metadata))

    def ids_of(self, resource_ids):
        """Message ids of the volume events about ``resource_ids``."""
        with self._lock:
            return {m['message_id'] for t, p, m in self.messages
                    if t.startswith('volume.') and isinstance(p, dict)
                    and p.get('volume_id') in resource_ids}

    def raw(self):
        with self._lock:
            return json.dumps([p for _, p, _ in self.messages], default=str)


class CinderListenerTest(fixtures.DriverPassTestCase):

    BACKEND = test_adoption.AdoptionTest.BACKEND
    HOST = 'host-m'
    VOLUME_SERVICES = (BACKEND,)
    make_scenario = staticmethod(test_adoption.scenario)

    @classmethod
    def setUpClass(cls):
        cls.broker = servers.RabbitMQ()
        cls.broker.setUp()
        cls.CINDER_NOTIFICATIONS = cls.broker.url
        try:
            super().setUpClass()
        except BaseException:
            cls.broker.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.broker.cleanUp()

    start_array = test_adoption.AdoptionTest.start_array

    def setUp(self):
        super().setUp()
        if self.broker.process.poll() is not None:
            self.broker.start()
        self.api = adapter.Adapter(
            self.cloud.session(), service_type='volumev3',
            endpoint_override=self.cloud.endpoint,
            default_microversion='3.45')
        self.values.load_raw_values(group='cinder_notifications',
                                    transport_url=self.broker.url)
        self.values.load_raw_values(group='oslo_messaging_rabbit',
                                    rabbit_retry_interval='1',
                                    rabbit_retry_backoff='1',
                                    kombu_reconnect_delay='0.5')
        self.other = _OtherConsumer(self.broker.url)
        self.other.listener.start()
        self.addCleanup(self._stop_other)
        self.listener = self.start_listener()

    def _stop_other(self):
        self.other.listener.stop()
        self.other.listener.wait()
        self.other.transport.cleanup()

    def start_listener(self):
        since = time.time()
        listener = listener_mod.CinderListener(self.conf, self.store,
                                               [self.backend])
        listener.start()
        self.addCleanup(listener.stop)
        self.wait_for(lambda: self.store.listener_started_since(
            self.BACKEND, since), 'listener not started')
        return listener

    def wait_for(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not condition():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.2)

    def add_objects(self, *names):
        with open(self.cloud.array_path(self.BACKEND)) as f:
            array = json.load(f)
        array['volumes'] += [{'name': n, 'size': 1, 'in_use': False}
                             for n in names]
        with open(self.cloud.array_path(self.BACKEND) + '.new', 'w') as f:
            json.dump(array, f)
        os.replace(self.cloud.array_path(self.BACKEND) + '.new',
                   self.cloud.array_path(self.BACKEND))

    def manage(self, name):
        """Cinder's manage of the object ``name``: the new volume's id."""
        self.add_objects(name)
        volume = self.api.post('/manageable_volumes', json={'volume': {
            'host': self.backend.cinder_host, 'ref': {'source-name': name},
            'name': name}}).json()['volume']
        self.wait_for(lambda: self.status(volume['id']) == 'available',
                      'manage of %s' % name)
        return volume['id']

    def manage_snapshot(self, name, volume_id):
        """Cinder's manage of the snapshot object ``name`` of the managed
        volume ``volume_id``: the new snapshot's id.
        """
        path = self.cloud.array_path(self.BACKEND)
        with open(path) as f:
            array = json.load(f)
        parent = 'volume-%s' % volume_id
        array['snapshots'].append({'name': name, 'size': 1, 'source': parent,
                                   'volume': parent})
        with open(path + '.new', 'w') as f:
            json.dump(array, f)
        os.replace(path + '.new', path)
        snapshot = self.api.post('/manageable_snapshots', json={'snapshot': {
            'volume_id': volume_id, 'ref': {'source-name': name},
            'name': name}}).json()['snapshot']
        self.wait_for(lambda: self.status(snapshot['id'], 'snapshots')
                      == 'available', 'manage of %s' % name)
        return snapshot['id']

    def status(self, resource_id, collection='volumes'):
        response = self.api.get('/%s/%s' % (collection, resource_id),
                                raise_exc=False)
        if response.status_code == 404:
            return None
        return response.json()[collection[:-1]]['status']

    def unmanage(self, resource_id, collection='volumes'):
        self.api.post('/%s/%s/action' % (collection, resource_id),
                      json={'os-unmanage': None})
        self.wait_for(lambda: self.status(resource_id, collection) is None,
                      'unmanage')

    def delete(self, resource_id, collection='volumes'):
        self.api.delete('/%s/%s' % (collection, resource_id))
        self.wait_for(lambda: self.status(resource_id, collection) is None,
                      'delete')

    def attach(self, volume_id):
        """A new-style attachment to compute ``cmp1``, completed."""
        attachment = self.api.post('/attachments', json={'attachment': {
            'volume_uuid': volume_id,
            'instance_uuid': '9b3b2a6e-7f0d-4c52-8f4e-2f1f3f1a0b01',
            'connector': {'host': 'cmp1', 'initiator': 'iqn.1994-05.com.'
                          'redhat:cmp1', 'ip': '127.0.0.1',
                          'platform': 'x86_64', 'os_type': 'linux',
                          'multipath': False}}}).json()['attachment']
        self.api.post('/attachments/%s/action' % attachment['id'],
                      json={'os-complete': None})

    def recorded(self, volume_id):
        return [e.event_type for e in
                self.store.events_for(self.BACKEND, [volume_id])]

    def wait_recorded(self, volume_id, event_type):
        self.wait_for(lambda: event_type in self.recorded(volume_id),
                      '%s of %s not recorded: %s' % (
                          event_type, volume_id, self.recorded(volume_id)))

    def findings_of(self, report, *volume_ids):
        return {c.resource_id: c for c in report.candidates
                if c.resource_id in volume_ids}

    def assert_unmanaged(self, report, resource_id, rtype=R.VOLUME):
        """An object Cinder's events alone call unmanaged is a finding of
        its own kind, in the pass report, naming the event it rests on.
        """
        [candidate] = self.findings_of(report, resource_id).values()
        self.assertEqual((K.UNMANAGED, rtype),
                         (candidate.kind, candidate.resource_type))
        said = [e for e in self.store.events_for(self.BACKEND,
                                                 [resource_id])
                if e.event_type.endswith(('unmanage.end', 'delete.end'))][-1]
        details = dict(candidate.details)
        self.assertEqual((str(said.id), said.message_id),
                         (details['cinder_event_id'],
                          details['cinder_message_id']))
        [line] = [entry for entry in report_mod.pass_text(report).splitlines()
                  if entry.split()[1:2] == [resource_id]]
        self.assertTrue(line.endswith('  Cinder message %s'
                                      % said.message_id), line)
        return said

    def manage_command(self, *args):
        """``cinder-reconciler-manage`` on this test's history."""
        path = os.path.join(self.useFixture(fixtures_lib.TempDir()).path,
                            'r.conf')
        with open(path, 'w') as f:
            f.write('[reconciler_database]\nconnection = %s\n'
                    % self.conf.reconciler_database.connection)
        return subprocess.run(
            [sys.executable, '-c', 'import sys; from reconciler.cmd.manage '
             'import main; sys.exit(main())', '--config-file', path]
            + list(args), capture_output=True, text=True, check=True).stdout

    def notify(self, event_type, payload, publisher):
        """A notification as Cinder's would be, from anyone on the bus."""
        transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=self.broker.url)
        try:
            oslo_messaging.Notifier(
                transport, publisher_id=publisher, driver='messagingv2',
                topics=['notifications']).info({}, event_type, payload)
        finally:
            transport.cleanup()

    def volume_usage(self, volume_id, status='deleted'):
        """The payload Cinder's _usage_from_volume sends of a volume."""
        volume = self.api.get('/volumes/%s' % volume_id).json()['volume']
        return {'tenant_id': volume['os-vol-tenant-attr:tenant_id'],
                'host': volume['os-vol-host-attr:host'], 'user_id': 'u1',
                'availability_zone': 'nova', 'volume_id': volume_id,
                'volume_type': None, 'display_name': volume['name'],
                'launched_at': volume['created_at'],
                'created_at': volume['created_at'], 'status': status,
                'snapshot_id': None, 'size': volume['size'],
                'replication_status': None,
                'replication_extended_status': None,
                'replication_driver_data': None, 'metadata': {},
                'volume_attachment': []}

    def test_unmanage_and_delete_told_apart(self):
        unmanaged = self.manage('lv-unmanaged')
        deleted = self.manage('lv-deleted')
        kept = self.manage('lv-kept')
        self.unmanage(unmanaged)
        self.delete(deleted)
        self.wait_recorded(unmanaged, 'volume.unmanage.end')
        self.wait_recorded(deleted, 'volume.delete.end')
        self.assertEqual(['volume.manage_existing.start',
                          'volume.manage_existing.end',
                          'volume.unmanage.start', 'volume.unmanage.end'],
                         self.recorded(unmanaged))
        # Both objects are still there, under their Cinder names.
        names = {o['name'] for o in json.load(open(
            self.cloud.array_path(self.BACKEND)))['volumes']}
        self.assertLessEqual({'volume-%s' % unmanaged,
                              'volume-%s' % deleted}, names)

        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = self.findings_of(report, unmanaged, deleted, kept)
        self.assertEqual({deleted, unmanaged}, set(found))
        self.assertEqual(K.ARRAY_ONLY, found[deleted].kind)
        evidence = dict(found[deleted].details)['cinder_events']
        self.assertIn('volume.delete.end at ', evidence)
        [finding] = [f for f in self.store.findings()
                     if f.resource_id == deleted]
        self.assertEqual(S.CONFIRMED, finding.state)
        self.assertEqual(evidence, finding.details['cinder_events'])
        # As "cinder-reconciler-manage findings show" prints it.
        self.assertEqual(evidence, views.finding_story(
            self.store, finding)['details']['cinder_events'])
        # The unmanaged one is not an orphan, but it stays in sight, with
        # the event it rests on ...
        said = self.assert_unmanaged(report, unmanaged)
        # ... in "findings list" too.
        [row] = json.loads(self.manage_command(
            'findings', 'list', '--kind', 'unmanaged', '--format', 'json'))
        self.assertEqual((unmanaged, str(said.id), said.message_id),
                         (row['resource_id'],
                          row['details']['cinder_event_id'],
                          row['details']['cinder_message_id']))
        table = self.manage_command('findings', 'list', '--kind',
                                    'unmanaged', '-c', 'details')
        self.assertIn(said.message_id, table)

        # Another consumer of the topic got every event we recorded.
        ours = {e.message_id for e in self.store.events_for(
            self.BACKEND, [unmanaged, deleted, kept])}
        self.assertEqual(10, len(ours))     # 3 manages, unmanage, delete
        self.wait_for(lambda: ours <= self.other.ids_of(
            {unmanaged, deleted, kept}), 'the other consumer missed some')
        self.assertEqual(ours, self.other.ids_of({unmanaged, deleted, kept}))

    def test_a_false_unmanage_is_void_once_a_listing_shows_the_row(self):
        # Cinder destroys a row before it says unmanage.end: a row listed
        # after the event was recorded makes it a lie.
        self.values.load_raw_values(group='cinder', changes_margin='0')
        volume_id = self.manage('lv-lied-about')
        usage = self.volume_usage(volume_id)
        self.notify('volume.unmanage.end', usage,
                    'volume.%s' % usage['host'].partition('#')[0])
        self.wait_recorded(volume_id, 'volume.unmanage.end')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual({}, self.findings_of(report, volume_id))
        [lie] = [e for e in self.store.events_for(self.BACKEND, [volume_id])
                 if e.event_type == 'volume.unmanage.end']
        [void] = [e for e in self.store.events_for(self.BACKEND, [volume_id])
                  if e.event_type == cinder_events.LISTED]
        self.assertEqual(str(lie.id), dict(void.payload)['voids'])
        # The row goes (a delete that crashed half-way, manual surgery),
        # its object stays: an orphan, the lie in its evidence.
        self.cloud.soft_delete_volume(volume_id)
        for _ in range(2):
            report = self.run_pass()
            self.assertEqual(model.RunStatus.OK, report.status, report.error)
            [found] = self.findings_of(report, volume_id).values()
            self.assertEqual(K.ARRAY_ONLY, found.kind)
            self.assertIn('volume.unmanage.end at %s (void: its row was '
                          'listed later)' % views.when(
                              lie.emitted_at).replace(' ', 'T'),
                          dict(found.details)['cinder_events'])
        self.assertEqual(1, len([e for e in self.store.events_for(
            self.BACKEND, [volume_id])
            if e.event_type == cinder_events.LISTED]))

    def test_an_event_of_another_backend_is_evidence_for_neither(self):
        # A delete that left its object: an orphan, whatever says
        # otherwise from another backend's volume service.
        misrouted = self.manage('lv-misrouted')
        usage = self.volume_usage(misrouted)
        backend_host = usage['host'].partition('#')[0]
        self.delete(misrouted)
        # Cinder says delete.end just after the row is gone: heard first.
        self.wait_recorded(misrouted, 'volume.delete.end')
        self.notify('volume.unmanage.end', usage,
                    'volume.%s@other' % self.HOST)
        self.notify('volume.unmanage.end', dict(usage, host='%s@other#p'
                                                % self.HOST),
                    'volume.' + backend_host)
        # Sent after them, on the same queue, by the volume's own service:
        # recorded once those two were dropped.
        control = self.manage('lv-control')
        control_usage = self.volume_usage(control)
        self.delete(control)
        self.wait_recorded(control, 'volume.delete.end')
        self.notify('volume.unmanage.end', control_usage,
                    'volume.' + backend_host)
        self.wait_recorded(control, 'volume.unmanage.end')
        self.assertEqual(['volume.manage_existing.start',
                          'volume.manage_existing.end',
                          'volume.delete.start', 'volume.delete.end'],
                         self.recorded(misrouted))
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = self.findings_of(report, misrouted, control)
        self.assertEqual(K.ARRAY_ONLY, found[misrouted].kind)
        self.assertIn('volume.delete.end at ',
                      dict(found[misrouted].details)['cinder_events'])
        # What the volume's own service says counts (no one can vouch for
        # it, so it stays a finding, in sight).
        self.assert_unmanaged(report, control)

    def test_snapshot_unmanage_and_delete_told_apart(self):
        # Cinder announces both as snapshot.delete.*: the start's status
        # tells them apart.
        parent = self.manage('lv-parent')
        unmanaged = self.manage_snapshot('ls-unmanaged', parent)
        deleted = self.manage_snapshot('ls-deleted', parent)
        self.unmanage(unmanaged, 'snapshots')
        self.delete(deleted, 'snapshots')
        for snapshot_id in (unmanaged, deleted):
            self.wait_recorded(snapshot_id, 'snapshot.delete.end')
        self.assertEqual(
            ['snapshot.manage_existing_snapshot.start',
             'snapshot.manage_existing_snapshot.end',
             'snapshot.delete.start', 'snapshot.delete.end'],
            self.recorded(unmanaged))
        statuses = [dict(e.payload).get('status') for e in
                    self.store.events_for(self.BACKEND, [unmanaged])]
        self.assertEqual('unmanaging', statuses[2])

        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = self.findings_of(report, parent, unmanaged, deleted)
        self.assertEqual({deleted, unmanaged}, set(found))
        self.assertEqual((K.ARRAY_ONLY, R.SNAPSHOT),
                         (found[deleted].kind, found[deleted].resource_type))
        self.assertIn('snapshot.delete.end',
                      dict(found[deleted].details)['cinder_events'])
        self.assert_unmanaged(report, unmanaged, R.SNAPSHOT)

    def test_connection_info_never_stored(self):
        volume_id = self.manage('lv-attached')
        self.attach(volume_id)
        self.wait_recorded(volume_id, 'volume.attach.end')
        [end] = [e for e in self.store.events_for(self.BACKEND, [volume_id])
                 if e.event_type == 'volume.attach.end']
        self.assertEqual('cmp1', dict(end.payload)['attached_hosts'])
        # Cinder did send the secret (the attachment's connection_info) ...
        self.wait_for(lambda: CHAP_SECRET in self.other.raw(),
                      'no connection_info on the wire')
        # ... and not one row of the history holds it.
        db = sqlite3.connect(self.conf.reconciler_database.connection[
            len('sqlite:///'):])
        self.addCleanup(db.close)
        tables = [t for (t,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")]
        dump = json.dumps([db.execute('SELECT * FROM %s' % t).fetchall()
                           for t in tables], default=str)
        self.assertIn(volume_id, dump)
        for word in (CHAP_SECRET, 'connection_info', 'auth_password'):
            self.assertNotIn(word, dump)

    def has_pool_queue(self):
        result = subprocess.run(
            ['/usr/lib/rabbitmq/bin/rabbitmqctl', 'list_queues', 'name',
             '--quiet'], capture_output=True, text=True,
            env=self.broker.env())
        return POOL in result.stdout

    def test_lost_events_neither_create_nor_hide_findings(self):
        quiet = self.manage('lv-quiet-unmanage')
        gone = self.manage('lv-quiet-delete')
        healthy = self.manage('lv-healthy')
        self.wait_recorded(healthy, 'volume.manage_existing.end')
        self.broker.stop()
        # Cinder's notifications of these fail: nobody hears of them.
        self.unmanage(quiet)
        self.delete(gone)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = self.findings_of(report, quiet, gone, healthy)
        # The listings show both objects as orphans: so does the pass.
        self.assertEqual({quiet, gone}, set(found))
        for candidate in found.values():
            self.assertEqual(K.ARRAY_ONLY, candidate.kind)
            self.assertNotIn('delete', dict(candidate.details).get(
                'cinder_events', ''))

        # The broker is back (its queues are new): the listener
        # reconnects, and what Cinder says from then on counts again.
        self.broker.start()
        self.wait_for(self.has_pool_queue, 'listener not back', 120)
        later = self.manage('lv-later')
        self.unmanage(later)
        self.wait_recorded(later, 'volume.unmanage.end')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = self.findings_of(report, quiet, gone, healthy, later)
        self.assertEqual({quiet: K.ARRAY_ONLY, gone: K.ARRAY_ONLY,
                          later: K.UNMANAGED},
                         {k: c.kind for k, c in found.items()})

    def test_stopped_listener_records_nothing_and_restarts_marked(self):
        self.listener.stop()
        volume_id = self.manage('lv-unheard')
        self.unmanage(volume_id)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual([volume_id], list(self.findings_of(report,
                                                            volume_id)))
        # The pool's queue kept Cinder's events for the next listener,
        # which marks its start.
        self.start_listener()
        self.wait_recorded(volume_id, 'volume.unmanage.end')
        self.assertTrue(self.store.listener_started_since(
            self.BACKEND, time.time() - 60))
        report = self.run_pass()
        self.assertEqual([K.UNMANAGED], [
            c.kind for c in self.findings_of(report, volume_id).values()])
        # The array-only finding the listings showed resolves: Cinder
        # unmanaged it, as the unmanaged finding says.
        self.assertEqual({K.ARRAY_ONLY: S.RESOLVED, K.UNMANAGED: S.CONFIRMED},
                         {f.kind: f.state for f in self.store.findings()
                          if f.resource_id == volume_id})
        self.assertEqual(cinder_events.UNMANAGED, cinder_events.verdict(
            self.store.events_for(self.BACKEND, [volume_id])))


DAEMON_CONF = """
[DEFAULT]
host = demo-host
enabled_backends = fake1

[reconciler]
periodic_fuzzy_delay = 0

[fake1]
reconciler_driver = fake
reconciler_interval = 3600
fake_array_file = {tmp}/array.yaml

[oslo_messaging_notifications]
driver = log

[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
kombu_reconnect_delay = 0.5

[cinder_notifications]
transport_url = {broker}
restart_interval = 1
"""


class DaemonListenerTest(base.BaseTestCase):
    """The listener inside the real daemon: it records, a SIGHUP restarts
    it (a new start marker), SIGTERM stops it with the daemon.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures_lib.Timeout(180, gentle=True))
        self.broker = self.useFixture(servers.RabbitMQ())
        self.demo = self.useFixture(fixtures.DemoCloud(
            DAEMON_CONF, broker=self.broker.url))
        self.demo.manage('db', 'sync')
        self.history = history.History('sqlite:///%s/r.sqlite'
                                       % self.demo.tmp)
        self.transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=self.broker.url)
        self.addCleanup(self.transport.cleanup)

    def notify(self, event_type, volume_id):
        """What Cinder's volume service of fake1 would send."""
        oslo_messaging.Notifier(
            self.transport, 'volume.demo-host@fake1', driver='messagingv2',
            topics=['notifications']).info(
                {}, event_type, {'volume_id': volume_id, 'status': 'deleted',
                                 'host': 'demo-host@fake1#pool'})

    def wait_for(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not condition():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.2)

    def starts(self, since):
        return self.history.listener_started_since('fake1', since)

    def test_records_reloads_and_stops(self):
        begin = time.time()
        log = open(os.path.join(self.demo.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(self.demo.command('reconciler'),
                                  stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        self.wait_for(lambda: self.starts(begin), 'listener not started')
        self.notify('volume.unmanage.end', 'v-1')
        self.wait_for(lambda: self.history.events_for('fake1', ['v-1']),
                      'event not recorded')

        reloaded = time.time()
        daemon.send_signal(signal.SIGHUP)
        self.wait_for(lambda: self.starts(reloaded), 'listener not back')
        self.notify('volume.delete.end', 'v-2')
        self.wait_for(lambda: self.history.events_for('fake1', ['v-2']),
                      'event not recorded after SIGHUP')
        self.assertEqual(['volume.unmanage.end', 'volume.delete.end'],
                         [e.event_type for e in
                          self.history.events_since('fake1', begin)])

        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))
        self.assertLess(time.monotonic() - stopping, 10)
