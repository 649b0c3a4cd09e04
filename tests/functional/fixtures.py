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

"""Real cinder-api set-ups: the demo cloud and the pass over a driver."""

import os
import subprocess
import sys

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
from reconciler.remediation import remediator
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import fake_array
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn
import tests

SCENARIO = os.path.join(os.path.dirname(scn.__file__), 'scenarios',
                        'demo.yaml')


_COMMON = """
[DEFAULT]
state_path = {tmp}/state

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}

[reconciler_database]
connection = {database}
"""


class DemoCloud(fixtures.Fixture):
    """The demo scenario behind a fault proxy, and commands to run on it.

    ``conf_text`` is a template formatted with ``tmp`` (a work directory),
    ``endpoint`` (Cinder through the proxy), ``token`` and ``values``; it
    follows the ``[cinder]`` and ``[reconciler_database]`` groups every test
    needs (``database`` among ``values`` replaces the SQLite default).
    """

    def __init__(self, conf_text, **values):
        super().__init__()
        self.conf_text = conf_text
        self.values = values

    def _setUp(self):
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.scenario = scn.Scenario.load(SCENARIO)
        self.cloud = cinder_sim.CinderCloud(
            os.path.join(self.tmp, 'cinder'), self.scenario)
        self.cloud.start()
        self.addCleanup(self.cloud.stop)
        self.proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(self.proxy.stop)
        self.array = os.path.join(self.tmp, 'array.yaml')
        fake_array.write(self.scenario, 'fake1', self.array)
        self.conf_path = os.path.join(self.tmp, 'r.conf')
        self.write_conf()

    def write_conf(self, **values):
        self.values.update(values)
        with open(self.conf_path, 'w') as f:
            f.write((_COMMON + self.conf_text).format(**dict(
                dict(tmp=self.tmp, endpoint=self.proxy.url,
                     token=cinder_sim.ADMIN_TOKEN,
                     database='sqlite:///%s/r.sqlite' % self.tmp),
                **self.values)))

    def command(self, module, *args):
        """argv running ``reconciler.cmd.<module>:main`` on our config."""
        return [sys.executable, '-c',
                'import sys; from reconciler.cmd.%s import main; '
                'sys.exit(main())' % module,
                '--config-file', self.conf_path] + list(args)

    def manage(self, *args, check=True):
        return subprocess.run(self.command('manage', *args), check=check,
                              capture_output=True, text=True)


class DriverPassTestCase(base.BaseTestCase):
    """The daemon's pass over one array backend, with a real cinder-api.

    The cloud is started once per class from ``make_scenario()``; each test
    gets a fresh array from ``start_array()`` (which returns the backend
    group's options as raw config values), a fresh history and notifier,
    and a policy that confirms findings on their first sighting. A test may
    change configuration with ``self.values.load_raw_values``: it is read
    afresh by every pass.
    """

    BACKEND = None      # the backend group's name
    HOST = None         # [DEFAULT] host
    VOLUME_SERVICES = ()    # backends with a cinder-volume service
    CINDER_NOTIFICATIONS = None     # a broker URL Cinder notifies to

    @classmethod
    def make_scenario(cls):
        raise NotImplementedError()

    def start_array(self):
        raise NotImplementedError()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.scenario = cls.make_scenario()
        cls.cloud = cinder_sim.CinderCloud(
            os.path.join(cls.workdir.path, 'cinder'), cls.scenario,
            volume_services=cls.VOLUME_SERVICES,
            allinone=os.path.join(tests.ROOT, 'tests', 'incinder',
                                  'allinone.py'),
            notifications_url=cls.CINDER_NOTIFICATIONS)
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
        options = self.start_array()
        self.conf = cfg.ConfigOpts()
        self.values = values = self.useFixture(
            config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])
        values.load_raw_values(host=self.HOST, enabled_backends=self.BACKEND)
        values.load_raw_values(group='cinder', auth_type='admin_token',
                               endpoint=self.cloud.endpoint,
                               token=cinder_sim.ADMIN_TOKEN)
        values.load_raw_values(group='reconciler_database',
                               connection='sqlite:///%s/r.sqlite' % tmp)
        values.load_raw_values(group='oslo_messaging_notifications',
                               driver='messagingv2', transport_url='fake:/')
        values.load_raw_values(group=self.BACKEND, reconciler_sightings='1',
                               reconciler_grace_period='0', **options)
        self.store = history.History.from_conf(self.conf)
        self.store.sync()
        self.notifier = notifier_mod.Notifier(self.conf)
        self.addCleanup(self.notifier.close)
        [self.backend] = backend_conf.enabled(self.conf)

    def run_pass(self):
        """A pass, then its events sent, as the daemon's flusher does."""
        report = manager.BackendReconciler(
            self.conf, self.backend, self.store, self.notifier).run_pass()
        self.notifier.flush(self.store)
        return report

    def findings(self):
        return {(f.kind, f.resource_type, f.resource_id): f.state
                for f in self.store.findings()}

    def remediate(self, **kwargs):
        """Apply remediation as ``remediate --apply`` does, no minimum age."""
        self.values.load_raw_values(group=self.BACKEND,
                                    reconciler_remediation_min_age='0')
        return remediator.Remediator(self.conf, self.backend, self.store,
                                     self.notifier, 'test').run(
            apply=True, **kwargs)

    def check_array_side_remediation(self):
        """Unexport the orphan export and quarantine the array-only objects
        through the driver; the next pass resolves exactly those findings.

        Where Cinder's unmanage leaves the name (LVM, NEC, RBD), an
        array-only object may have been handed back on purpose; where a
        name can decode by chance (NEC, 3PAR), it may be an operator's:
        refused unless its finding is named, so they are named.
        """
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        before = self.findings()
        kinds = {'orphan_export', 'array_only'}
        outcome = self.remediate(kinds=kinds, quarantine=True)
        self.assertIsNone(outcome.error)
        results = outcome.results
        driver = self.backend.driver_cls
        refused = [r for r in outcome.plan.refused
                   if r.finding.kind == model.FindingKind.ARRAY_ONLY]
        self.assertEqual(driver.UNMANAGE_KEEPS_NAME or driver.CHANCE_NAMES,
                         bool(refused))
        for r in refused:
            self.assertTrue('it may have been unmanaged' in r.reason or (
                "its only evidence of being Cinder's is its name"
                in r.reason), r.reason)
        if refused:
            self.assertEqual({model.FindingKind.ORPHAN_EXPORT}, {
                s.finding.kind for s, _r in results})
            outcome = self.remediate(kinds=kinds, quarantine=True,
                                     finding_ids={r.finding.id
                                                  for r in refused})
            self.assertIsNone(outcome.error)
            results += outcome.results
        action = {model.FindingKind.ARRAY_ONLY: 'quarantine',
                  model.FindingKind.ORPHAN_EXPORT: 'unexport'}
        self.assertEqual(
            sorted(('done', action[k[0]]) for k in before if k[0] in action),
            sorted((result, step.action)
                   for step, (result, _why) in results), results)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        acted = {k for k in before
                 if k[0] in (model.FindingKind.ORPHAN_EXPORT,
                             model.FindingKind.ARRAY_ONLY)}
        self.assertEqual(
            {k: model.FindingState.RESOLVED if k in acted else state
             for k, state in before.items()}, self.findings())
