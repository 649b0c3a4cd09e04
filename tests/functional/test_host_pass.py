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

"""Host passes against a real cinder-api holding attachments of several hosts.

Needs the venv of tools/setup-cinder.sh (or CINDER_RECONCILER_CINDER_VENV).
The Cinder side is Cinder's own API over rows the fixture writes as Cinder's
attachment_update and attachment_complete write them; the host side is a
laid-out host root, so the pass runs its production path end to end.
"""

import json
import os
import subprocess
import sys
import types

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from reconciler import conf as reconciler_conf
from reconciler import history
from reconciler.host import cinder as host_cinder
from reconciler.host import manager
from reconciler.host import view
from reconciler import model
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import scenario as scn
from tests.unit.host import fixtures as host_fixtures
from tests.unit.host import test_compare as tc

uid = scn.uid
HOST = 'compute-1'
V = {n: uid('host-pass-' + n) for n in (
    'here', 'elsewhere', 'multi', 'attaching', 'detached', 'missing',
    'rbd', 'downloading', 'idle')}
IQN = 'iqn.2010-10.org.openstack:volume-%s'
LUNS = {'here': 1, 'multi': 2, 'attaching': 3, 'detached': 4, 'missing': 5}


def lvm_info(name, secret='s3cr3t-chap'):
    return tc.iscsi_info(IQN % V[name], 1) | {
        'auth_password': secret, 'volume_id': V[name]}


class _HostCloud(testtools.TestCase):
    """A cloud with attachments on several hosts, and compute-1's root."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.cloud = cinder_sim.CinderCloud(
            os.path.join(cls.workdir.path, 'cinder'), cls.scenario(),
            page_size=2)
        cls.cloud.start()
        cls.attach()

    @classmethod
    def scenario(cls):
        volumes = [scn.Volume(vid, 'lvm', project='project-%s' % n[0])
                   for n, vid in V.items() if n != 'downloading']
        volumes.append(scn.Volume(V['downloading'], 'lvm',
                                  status='downloading'))
        return scn.Scenario(backends=[scn.Backend('lvm', 'ctl',
                                                  pools=['lvm'])],
                            volumes=volumes)

    @classmethod
    def attach(cls):
        """The attachments of the cloud, made once for the class."""
        add = cls.cloud.add_attachment
        cls.att = {
            'here': add(V['here'], HOST, lvm_info('here')),
            'elsewhere': add(V['elsewhere'], 'compute-2',
                             lvm_info('elsewhere')),
            'multi-1': add(V['multi'], HOST, lvm_info('multi')),
            'multi-2': add(V['multi'], 'compute-2', lvm_info('multi')),
            'attaching': add(V['attaching'], HOST, lvm_info('attaching'),
                             attach_status='attaching'),
            'missing': add(V['missing'], HOST, lvm_info('missing')),
            'rbd': add(V['rbd'], HOST, {
                'driver_volume_type': 'rbd', 'name': 'volumes/volume-x',
                'auth_username': 'cinder', 'secret_uuid': 'x'}),
        }
        detached = add(V['detached'], HOST, lvm_info('detached'))
        cls.cloud.remove_attachment(V['detached'], HOST)
        cls.att['detached'] = detached

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        cls.workdir.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        self.values = values = self.useFixture(
            config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])
        values.load_raw_values(host='ctl')
        values.load_raw_values(group='cinder', auth_type='admin_token',
                               endpoint=self.cloud.endpoint,
                               token=cinder_sim.ADMIN_TOKEN, page_size='2')
        values.load_raw_values(group='reconciler_database',
                               connection='sqlite:///%s/r.sqlite' % tmp)
        values.load_raw_values(group='oslo_messaging_notifications',
                               driver='messagingv2', transport_url='fake:/')
        self.host = self.useFixture(host_fixtures.HostRoot())
        values.load_raw_values(
            group='host_scan', enabled='true', connector_host=HOST,
            root_prefix=self.host.root, lock_path=tmp, sightings='1',
            grace_period='0', owned_targets='iqn.2010-10.org.openstack:')

    def host_with_devices(self):
        h = self.host
        h.add_disk('sda', '0:0:0:0', model='SAMSUNG MZ7LH480')
        h.mount('/dev/sda', '/')
        for i, name in enumerate(('here', 'multi', 'attaching', 'detached')):
            h.add_disk('sd' + 'bcde'[i], '3:0:%d:1' % i, tc.WWID[i],
                       iscsi=(tc.P1, IQN % V[name], 1))
        # A session to the idle volume's target (LUN 0 only: no disk).
        h.add_session(IQN % V['idle'], tc.P1)

    def run_manage(self, args, extra=''):
        """``cinder-reconciler-manage`` in its own process against this
        cloud and host root; ``extra`` ends its config file.
        """
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = os.path.join(tmp, 'r.conf')
        with open(conf, 'w') as f:
            f.write(_CLI_CONF.format(
                endpoint=self.cloud.endpoint, token=cinder_sim.ADMIN_TOKEN,
                database=self.conf.reconciler_database.connection,
                root=self.host.root, lock_path=self.conf.host_scan.lock_path)
                + extra)
        bin_dir = self.host.install_commands(os.path.join(tmp, 'bin'))
        env = dict(os.environ, PATH=bin_dir + os.pathsep
                   + os.environ['PATH'])
        return subprocess.run(
            [sys.executable, '-c', 'import sys; from reconciler.cmd.manage '
             'import main; sys.exit(main())', '--config-file', conf]
            + list(args), capture_output=True, text=True, env=env)


class HostPassTest(_HostCloud):

    def test_cinder_view_of_one_host_among_several(self):
        inventory = host_cinder.HostCinderInventory(self.conf)
        cinder = inventory.host_view(HOST)
        here = {a.attachment_id: a for a in cinder.here()}
        self.assertEqual(
            {self.att[n] for n in ('here', 'multi-1', 'missing', 'rbd')},
            set(here))
        a = here[self.att['here']]
        self.assertEqual(
            (V['here'], 'iscsi', 'in-use', 'project-h',
             cinder_sim.instance_uuid(V['here'], HOST),
             frozenset([view.TargetKey('iscsi', IQN % V['here'], 1)]),
             frozenset([tc.P1])),
            (a.volume_id, a.protocol, a.volume_status, a.project_id,
             a.instance_id, a.targets, a.portals))
        by_id = {a.attachment_id: a for a in cinder.attachments}
        self.assertEqual('compute-2', by_id[self.att['multi-2']].host)
        # In progress: listed with its connection_info, host not shown.
        attaching = by_id[self.att['attaching']]
        self.assertEqual(('attaching', None, 'attaching'),
                         (attaching.attach_status, attaching.host,
                          attaching.volume_status))
        self.assertEqual(1, len(attaching.targets))
        self.assertNotIn(self.att['detached'], by_id)  # deleted rows
        self.assertEqual(7, len(cinder.attachments))
        self.assertEqual('downloading', cinder.volumes[V['downloading']][0])
        # Two per page: every page of both listings was followed.
        self.assertGreaterEqual(cinder.requests, 5 + 4)
        self.assertNotIn('s3cr3t', repr(cinder))

    def test_pass_reports_each_case_and_nothing_else(self):
        self.host_with_devices()
        store = history.History.from_conf(self.conf)
        store.sync()
        from reconciler import notifier as notifier_mod
        notifier = notifier_mod.Notifier(self.conf)
        self.addCleanup(notifier.close)
        reconciler = manager.HostReconciler(self.conf, store, notifier,
                                            runner=self.host.runner)
        report = reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = sorted((str(c.kind), c.resource_id, c.cinder_id)
                       for c in report.candidates)
        self.assertEqual(sorted([
            ('leftover_device', tc.WWID[3], V['detached']),
            ('missing_device', self.att['missing'], V['missing']),
            ('stale_session', '%s,%s' % (IQN % V['idle'], tc.P1),
             V['idle'])]), found)
        self.assertEqual(1, report.skipped['attachment in progress'])
        self.assertEqual(1, report.skipped['attachment of another protocol '
                                           '(rbd)'])
        rows = store.findings(backend='host:' + HOST)
        self.assertEqual({model.FindingState.CONFIRMED},
                         {f.state for f in rows})
        self.assertNotIn('s3cr3t', json.dumps([f.details for f in rows]))
        self.assertNotIn('s3cr3t', json.dumps(report.inventory))
        [run] = store.runs(backend='host:' + HOST, limit=1)
        self.assertEqual(3, run.counts[model.FindingKind.LEFTOVER_DEVICE]
                         + run.counts[model.FindingKind.MISSING_DEVICE]
                         + run.counts[model.FindingKind.STALE_SESSION])

    def test_cinder_volume_host_copying_an_image(self):
        # The backend's own host: cinder-volume attached the downloading
        # volume locally, without any attachment record.
        self.values.load_raw_values(enabled_backends='lvm')
        self.values.load_raw_values(group='lvm', reconciler_driver='fake')
        self.values.load_raw_values(group='host_scan', connector_host='ctl')
        self.host.add_disk('sdb', '3:0:0:1', tc.WWID[0],
                           iscsi=(tc.P1, IQN % V['downloading'], 1))
        # A LUN of a target naming no volume is held too while a local
        # operation runs: it may be that volume's.
        self.host.add_disk('sdc', '3:0:1:7', tc.WWID[1],
                           iscsi=(tc.P1, 'iqn.2010-10.org.openstack:tgt', 7))
        store = history.History.from_conf(self.conf)
        store.sync()
        reconciler = manager.HostReconciler(
            self.conf, store, types.SimpleNamespace(flush=lambda h: 0),
            runner=self.host.runner)
        report = reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual([], report.candidates)
        self.assertEqual(1, report.skipped['volume downloading'])
        self.assertEqual(
            1, report.skipped['local volume operation (attaching, '
                              'downloading)'])


class HostCommandsTest(_HostCloud):
    """``check --host``, ``findings list --host`` and ``host-map``."""

    def manage(self, *args):
        return self.run_manage(args)

    def test_check_host_then_findings_list(self):
        self.host_with_devices()
        self.assertEqual(0, self.manage('db', 'sync').returncode)
        done = self.manage('check', '--host')
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertIn('Host compute-1 (host:compute-1): run 1 ok',
                      done.stdout)
        self.assertIn('leftover devices: 1', done.stdout)
        self.assertIn('attached without a device: 1', done.stdout)
        self.assertIn('sessions without devices: 1', done.stdout)
        listed = self.manage('findings', 'list', '--host', '--format',
                             'json')
        self.assertEqual(0, listed.returncode, listed.stderr)
        rows = json.loads(listed.stdout)
        self.assertEqual(
            {('leftover_device', V['detached']),
             ('missing_device', V['missing']),
             ('stale_session', V['idle'])},
            {(r['kind'], r['cinder_id']) for r in rows})
        self.assertEqual({'host:compute-1'}, {r['backend'] for r in rows})
        self.assertNotIn('s3cr3t', listed.stdout + done.stdout)

    def test_host_map_both_ways(self):
        self.host_with_devices()
        self.host.add_disk('sdf', '4:0:0:1', tc.WWID[1],
                           iscsi=(tc.P2, IQN % V['multi'], 1))
        self.host.add_map('dm-3', 'mpathc', tc.WWID[1], ['sdc', 'sdf'])
        by_device = self.manage('host-map', '/dev/sdb', '--format', 'json')
        self.assertEqual(0, by_device.returncode, by_device.stderr)
        [row] = json.loads(by_device.stdout)
        self.assertEqual(
            ('/dev/sdb', V['here'], self.att['here'],
             cinder_sim.instance_uuid(V['here'], HOST), 'yes'),
            (row['device'], row['volume_id'], row['attachment_id'],
             row['instance_id'], row['attached_here']))
        [row] = json.loads(self.manage('host-map', 'dm-3', '--format',
                                       'json').stdout)
        self.assertEqual((tc.WWID[1], V['multi']),
                         (row['wwid'], row['volume_id']))
        by_wwid = json.loads(self.manage('host-map', tc.WWID[1], '--format',
                                         'json').stdout)
        self.assertEqual({'/dev/dm-3 (mpathc)', '/dev/sdc', '/dev/sdf'},
                         {r['device'] for r in by_wwid})
        by_volume = json.loads(self.manage('host-map', V['multi'],
                                           '--format', 'json').stdout)
        self.assertEqual({'/dev/dm-3 (mpathc)', '/dev/sdc', '/dev/sdf'},
                         {r['device'] for r in by_volume})
        [missing] = json.loads(self.manage('host-map', V['missing'],
                                           '--format', 'json').stdout)
        self.assertEqual((None, 'no device', self.att['missing']),
                         (missing['device'], missing['type'],
                          missing['attachment_id']))
        table = self.manage('host-map', 'sdb')
        self.assertIn(V['here'], table.stdout)
        self.assertEqual(2, self.manage('host-map', 'sdz').returncode)


_CLI_CONF = """
[DEFAULT]
host = ctl

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}
page_size = 2

[reconciler_database]
connection = {database}

[oslo_messaging_notifications]
driver = log

[host_scan]
connector_host = compute-1
root_prefix = {root}
lock_path = {lock_path}
sightings = 1
grace_period = 0
owned_targets = iqn.2010-10.org.openstack:
"""
