"""The daemon's pass over a LeftHand backend: real cinder-api, simulated array.

cinder-api (noauth, SQLite) and the LeftHand simulator are seeded from one
scenario; the backend group is written as copied from cinder.conf (the driver
follows from ``volume_driver``); history and notifications are the daemon's.
"""

import os

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import lefthand as sim_lefthand
from reconciler.simulators import scenario as scn

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
BACKEND = 'lh1'
USER, PASSWORD = 'lhadmin', 'S3cret-LH-Passw0rd'

SCENARIO = {
    'backends': [
        {'name': BACKEND, 'host': 'ctl-1', 'driver': 'hpelefthand',
         'pools': ['cluster-a']},
        {'name': 'lh2', 'host': 'ctl-1', 'driver': 'hpelefthand',
         'pools': ['cluster-b']}],
    'volumes': [
        {'id': 'db', 'backend': BACKEND, 'status': 'in-use',
         'attached_to': ['compute-1.example.org']},
        {'id': 'moved', 'backend': BACKEND, 'name_id': 'moved-new',
         'status': 'in-use', 'attached_to': ['compute-2.example.org']},
        {'id': 'idle', 'backend': BACKEND},
        {'id': 'lost', 'backend': BACKEND, 'on_array': False},
        {'id': 'being-created', 'backend': BACKEND, 'status': 'creating',
         'on_array': False},
        {'id': 'elsewhere', 'backend': 'lh2'}],
    'snapshots': [
        {'id': 'db-snap', 'volume': 'db'},
        {'id': 'gs-db', 'volume': 'db', 'group_snapshot_id': 'gs'},
        {'id': 'gs-moved', 'volume': 'moved', 'group_snapshot_id': 'gs'}],
    'array_objects': [
        {'backend': BACKEND, 'kind': 'volume', 'uuid': 'leak'},
        {'backend': BACKEND, 'kind': 'snapshot', 'uuid': 'leak-snap',
         'parent': 'idle'},
        {'backend': BACKEND, 'kind': 'export', 'uuid': 'idle',
         'host': 'compute-9.example.org'},
        {'backend': BACKEND, 'kind': 'volume', 'uuid': 'handed-back',
         'class': 'unmanaged'},
        {'backend': BACKEND, 'kind': 'snapshot', 'parent': 'db',
         'class': 'replica'},
        {'backend': BACKEND, 'kind': 'volume', 'name': 'backup-lun-7',
         'class': 'foreign'}],
}

PLANTED = {
    (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.ORPHAN_EXPORT, R.EXPORT,
     'volume-%s@compute-9.example.org' % uid('idle')),
    (K.FOREIGN, R.VOLUME, 'backup-lun-7'),
}


class _PassTestBase(base.BaseTestCase):
    """One Cinder cloud per class, seeded from ``make_scenario()``; a
    fresh simulator and history per test of ``BACKEND``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.scenario = cls.make_scenario()
        cls.cloud = cinder_sim.CinderCloud(
            os.path.join(cls.workdir.path, 'cinder'), cls.scenario)
        cls.cloud.start()

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        cls.workdir.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.sim = sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, self.BACKEND, username=USER, password=PASSWORD)
        self.sim.start()
        self.addCleanup(self.sim.stop)
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = cfg.ConfigOpts()
        fixture = self.useFixture(config_fixture.Config(conf))
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        backend = self.scenario.backend(self.BACKEND)
        fixture.load_raw_values(host=backend.host,
                                enabled_backends=self.BACKEND)
        fixture.load_raw_values(
            group=self.BACKEND, hpelefthand_api_url=self.sim.url,
            hpelefthand_username=USER, hpelefthand_password=PASSWORD,
            hpelefthand_clustername=backend.pools[0], reconciler_sightings='1',
            reconciler_grace_period='0', volume_driver=(
                'cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                'HPELeftHandISCSIDriver'))
        fixture.load_raw_values(group='cinder', auth_type='admin_token',
                                endpoint=self.cloud.endpoint,
                                token=cinder_sim.ADMIN_TOKEN)
        fixture.load_raw_values(group='database',
                                connection='sqlite:///%s/r.sqlite' % tmp)
        fixture.load_raw_values(group='oslo_messaging_notifications',
                                driver='noop')
        self.store = history.History.from_conf(conf)
        self.store.sync()
        notifier = notifier_mod.Notifier(conf)
        self.addCleanup(notifier.close)
        [backend] = backend_conf.enabled(conf)
        self.reconciler = manager.BackendReconciler(conf, backend,
                                                    self.store, notifier)

    def findings(self):
        return {(f.kind, f.resource_type, f.resource_id)
                for f in self.store.findings()}


class LeftHandPassTest(_PassTestBase):

    BACKEND = BACKEND

    @staticmethod
    def make_scenario():
        return scn.Scenario.from_dict(SCENARIO)

    def test_pass_finds_the_planted_orphans_only(self):
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual(PLANTED, self.findings())
        # db, moved, idle; db-snap and the two group snapshot members; the
        # exports to compute-1 and compute-2.
        self.assertEqual({'volume': 3, 'snapshot': 3, 'export': 2},
                         report.consistent)
        self.assertEqual({'volume creating': 1, 'unmanaged volume': 1,
                          'replica snapshot': 1}, report.skipped)
        self.assertEqual(0, self.sim.open_sessions)

    def test_fault_mid_pass_fails_the_run_without_findings(self):
        self.sim.faults.append(sim_lefthand.Fault(
            'error', r'GET /lhos/volumes/\d+\?', after=2))
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('HTTP 500', report.error)
        self.assertEqual([], report.candidates)
        self.assertEqual(set(), self.findings())
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)
        self.assertEqual((1, 0), (self.sim.logouts, self.sim.open_sessions))
        # The same array without the fault: the planted orphans, found.
        self.assertEqual(PLANTED, {c.identity for c in
                                   self.reconciler.run_pass().candidates})


class DemoScenarioTest(_PassTestBase):
    """The demo's LeftHand backend finds what the demo says it plants."""

    BACKEND = 'lh1'

    @staticmethod
    def make_scenario():
        return scn.Scenario.load(os.path.join(
            os.path.dirname(scn.__file__), 'scenarios', 'demo.yaml'))

    def test_planted_orphans(self):
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual({
            (K.ARRAY_ONLY, R.VOLUME, uid('lh-restored-leftover')),
            (K.ARRAY_ONLY, R.SNAPSHOT, uid('lh-crashed-delete-snap')),
            (K.CINDER_ONLY, R.VOLUME, uid('lh-lost')),
            (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@compute-4.example.org'
             % uid('lh-migrated-new')),
            (K.FOREIGN, R.VOLUME, 'lh-scratch-lun'),
        }, {c.identity for c in report.candidates})
