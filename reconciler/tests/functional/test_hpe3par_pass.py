"""The real pass over a 3PAR backend: cinder-api + WSAPI simulator.

A real cinder-api seeded from scenarios/hpe3par.yaml, the loopback WSAPI
serving the same scenario to the unmodified python-3parclient, and the
daemon's own pass (manager, engine, history in SQLite, notifications on the
in-memory transport).
"""

import os

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.drivers import hpe3par_names as names
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import hpe3par as simulator
from reconciler.simulators import scenario as scn

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
BACKEND = '3par-1'
SCENARIO = os.path.join(os.path.dirname(scn.__file__), 'scenarios',
                        'hpe3par.yaml')

PLANTED = {
    (K.ARRAY_ONLY, R.VOLUME, uid('array-only')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('snap-only')),
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ORPHAN_EXPORT, R.EXPORT, names.volume_name(uid('plain')) +
     '@compute-9'),
    (K.FOREIGN, R.VOLUME, 'lun7'),
}


class HPE3PARPassTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.scenario = scn.Scenario.load(SCENARIO)
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
        tmp = self.useFixture(fixtures.TempDir()).path
        self.array = simulator.HPE3PARSimulator(
            self.scenario, BACKEND, password='s3cret-3par',
            snap_cpg='SnapCPG').start()
        self.addCleanup(self.array.stop)

        conf = cfg.ConfigOpts()
        fixture = self.useFixture(config_fixture.Config(conf))
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        fixture.load_raw_values(host='ctl', enabled_backends=BACKEND)
        fixture.load_raw_values(group='cinder', auth_type='admin_token',
                                endpoint=self.cloud.endpoint,
                                token=cinder_sim.ADMIN_TOKEN)
        fixture.load_raw_values(group='database',
                                connection='sqlite:///%s/r.sqlite' % tmp)
        fixture.load_raw_values(group='oslo_messaging_notifications',
                                driver='messagingv2', transport_url='fake:/')
        # A group as copied from cinder.conf, plus the pass policy.
        fixture.load_raw_values(
            group=BACKEND,
            volume_driver='cinder.volume.drivers.hpe.hpe_3par_iscsi.'
                          'HPE3PARISCSIDriver',
            hpe3par_api_url=self.array.url, hpe3par_username='3paradm',
            hpe3par_password='s3cret-3par', hpe3par_cpg='OpenStack,SSD',
            hpe3par_cpg_snap='SnapCPG', hpe3par_api_timeout='5',
            reconciler_sightings='1', reconciler_grace_period='0')
        self.conf = conf
        self.store = history.History.from_conf(conf)
        self.store.sync()
        self.notifier = notifier_mod.Notifier(conf)
        self.addCleanup(self.notifier.close)
        [self.backend] = backend_conf.enabled(conf)

    def run_pass(self):
        return manager.BackendReconciler(self.conf, self.backend, self.store,
                                         self.notifier).run_pass()

    def findings(self):
        return {(f.kind, f.resource_type, f.resource_id): f.state
                for f in self.store.findings()}

    def assertLoggedOut(self):
        self.assertEqual(self.array.logins, self.array.logouts)
        self.assertEqual({}, self.array.sessions)

    def test_finds_every_planted_class(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(PLANTED, {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in PLANTED}, self.findings())
        # Temporaries and unmanaged objects were classified, not compared;
        # the volume in OtherCPG was outside the listed pools.
        self.assertEqual(2, report.skipped['temporary volume'] +
                         report.skipped['temporary snapshot'])
        self.assertEqual(2, report.skipped['unmanaged volume'] +
                         report.skipped['unmanaged snapshot'])
        self.assertEqual(1, report.skipped['volume outside listed pools'])
        self.assertLoggedOut()

    def test_fault_mid_pass_fails_the_run_and_changes_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        for fault, words in (
                # The listing: the connection drops on the VLUNs.
                (simulator.Fault('GET /vluns', 'drop'), 'GET /vluns'),
                # After listing and Cinder: a re-check look-up fails.
                (simulator.Fault('GET /volumes/', status=500),
                 'HTTP 500')):
            self.array.faults[:] = [fault]
            failed = self.run_pass()
            self.assertEqual(model.RunStatus.FAILED, failed.status)
            self.assertIn(words, failed.error)
            self.assertNotIn('s3cret-3par', failed.error)
            self.assertEqual([], failed.candidates)
            self.assertEqual([], failed.transitions)
            self.assertEqual(before, self.findings())
            self.assertLoggedOut()
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)

    def test_wrong_password_fails_the_run_without_the_password(self):
        self.conf.set_override('hpe3par_password', 'not-the-password',
                               group=BACKEND)
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('wrong user name or password', failed.error)
        self.assertNotIn('not-the-password', failed.error)
        self.assertEqual({}, self.findings())
