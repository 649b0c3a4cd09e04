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

"""An undeletable volume (stuck_deleting) and its runbook, end to end.

A real cinder-api with its volume service (tests/incinder/allinone.py),
whose fixture driver keeps its array file as an array would
(``track_volumes``): compute-9 is attached through Cinder's attachments
API, the detach leaves the export (compute-9 still holds the LUN, as its
host root shows), and the delete fails on the array ("volume is busy"):
Cinder leaves the volume ``error_deleting``. The backend pass reports the
export, the host pass the device, the cloud pass the volume with both;
``remediate --cloud`` runs the runbook: os-brick's disconnect on the host
root, the export removed through the driver, then reset-state and delete
through Cinder's API, which now deletes it on the array.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from reconciler.cloud import manager as cloud_manager
from reconciler.cloud import scope
from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import coordination
from reconciler import history
from reconciler.host import manager as host_manager
from reconciler import manager
from reconciler import model
from reconciler.remediation import cloud_remediator
from reconciler.remediation import host_remediator
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import scenario as scn
import tests
from tests import servers
from tests.unit.host import fixtures as host_fixtures
from tests.unit.host import test_compare as tc

K = model.FindingKind
HOST = 'compute-9'
IQN = 'iqn.2010-10.org.openstack:volume-%s'

DAEMON_CONF = """
[DEFAULT]
host = ctl
enabled_backends = fake1
state_path = {tmp}

[reconciler]
periodic_fuzzy_delay = 0

[fake1]
reconciler_driver = fake
fake_array_file = {array}
reconciler_interval = 3600

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}

[cloud]
enabled = true
checks = stuck_status,stuck_deleting
interval = 60

[metrics]
port = {port}

[reconciler_database]
connection = sqlite:///{tmp}/r.sqlite

[oslo_messaging_notifications]
driver = log
"""


class _Outbox(object):
    def flush(self, store, timeout=None):
        return 0


class UndeletableVolumeTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.cloud = cinder_sim.CinderCloud(
            os.path.join(cls.workdir.path, 'cinder'), scn.Scenario(
                backends=[scn.Backend('fake1', 'ctl', pools=['pool1'])]),
            volume_services=('fake1',), allinone=os.path.join(
                tests.ROOT, 'tests', 'incinder', 'allinone.py'))
        os.makedirs(cls.cloud.arrays_dir)
        with open(cls.cloud.array_path('fake1'), 'w') as f:
            json.dump({'volumes': [], 'snapshots': [], 'exports': [],
                       'pools': ['pool1'], 'track_volumes': True,
                       'busy_hosts': [HOST]}, f)
        cls.cloud.start()

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        cls.workdir.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        tmp = self.useFixture(fixtures.TempDir()).path
        self.host = self.useFixture(host_fixtures.HostRoot())
        self.conf = cfg.ConfigOpts()
        values = self.useFixture(config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])
        values.load_raw_values(host='ctl', enabled_backends='fake1',
                               state_path=tmp)
        values.load_raw_values(group='cinder', auth_type='admin_token',
                               endpoint=self.cloud.endpoint,
                               token=cinder_sim.ADMIN_TOKEN)
        values.load_raw_values(group='reconciler_database',
                               connection='sqlite:///%s/r.sqlite' % tmp)
        values.load_raw_values(group='oslo_messaging_notifications',
                               driver='messagingv2', transport_url='fake:/')
        values.load_raw_values(
            group='fake1', reconciler_driver='fake',
            fake_array_file=self.cloud.array_path('fake1'),
            reconciler_sightings='1', reconciler_grace_period='0',
            reconciler_remediation_min_age='0')
        values.load_raw_values(
            group='host_scan', enabled='true', connector_host=HOST,
            root_prefix=self.host.root, lock_path=tmp, sightings='1',
            grace_period='0', remediation_min_age='0',
            owned_targets='iqn.2010-10.org.openstack:')
        values.load_raw_values(
            group='cloud', enabled='true', checks='stuck_deleting',
            sightings='1', grace_period='0', remediation_min_age='0',
            confirmed_recheck_passes='1')
        self.store = history.History.from_conf(self.conf)
        self.store.sync()
        self.session = self.cloud.session()
        self.host.add_disk('sda', '0:0:0:0', model='SAMSUNG MZ7LH480')
        self.host.mount('/dev/sda', '/')

    def api(self, method, path, **body):
        resp = self.session.request(
            self.cloud.endpoint + path, method, json=body or None,
            headers={'OpenStack-API-Version': 'volume 3.54'})
        return resp.json() if resp.content else None

    def volume_status(self, volume):
        resp = self.session.get('%s/volumes/%s' % (self.cloud.endpoint,
                                                   volume), raise_exc=False)
        return resp.json()['volume']['status'] if resp.ok else None

    def wait(self, what, check, timeout=90):
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail('timed out waiting for %s:\n%s'
                          % (what, self.cloud.log_tail()))
            time.sleep(0.3)

    def array(self):
        with open(self.cloud.array_path('fake1')) as f:
            return json.load(f)

    def undeletable(self):
        """A volume attached to compute-9, detached leaving its export and
        the host's LUN, then deleted: the array refuses.
        """
        volume = self.api('POST', '/volumes', volume={
            'size': 1, 'name': 'undeletable'})['volume']['id']
        self.wait('available', lambda: self.volume_status(volume)
                  == 'available')
        attachment = self.api('POST', '/attachments', attachment={
            'volume_uuid': volume, 'mode': 'rw', 'connector': dict(
                cinder_sim.connector(HOST))})['attachment']['id']
        self.api('POST', '/attachments/%s/action' % attachment,
                 **{'os-complete': None})
        self.wait('in-use', lambda: self.volume_status(volume) == 'in-use')
        self.host.add_disk('sdc', '3:0:0:1', tc.WWID[2],
                           iscsi=(tc.P1, IQN % volume, 1))
        self.api('DELETE', '/attachments/%s' % attachment)
        self.wait('available', lambda: self.volume_status(volume)
                  == 'available')
        self.api('DELETE', '/volumes/%s' % volume)
        self.wait('error_deleting', lambda: self.volume_status(volume)
                  == 'error_deleting')
        self.assertIn('volume-%s' % volume,
                      [e['volume'] for e in self.array()['exports']])
        return volume

    def unit(self):
        return host_manager.HostReconciler(self.conf, self.store, _Outbox(),
                                           runner=self.host.runner)

    def passes(self, volume):
        """Every scope's pass; the open findings about ``volume`` (the
        cloud is shared by the tests of the class).
        """
        [backend] = backend_conf.enabled(self.conf)
        reports = [
            manager.BackendReconciler(self.conf, backend, self.store,
                                      _Outbox()).run_pass(),
            self.unit().run_pass(),
            cloud_manager.CloudReconciler(self.conf, self.store,
                                          _Outbox()).run_pass()]
        for report in reports:
            self.assertEqual(model.RunStatus.OK, report.status, report.error)
        return {(f.backend, f.kind): f for f in self.store.findings()
                if f.state != model.FindingState.RESOLVED and volume in (
                    f.resource_id, f.cinder_id,
                    f.details.get('volume_uuid'))}

    def remediate(self, **kwargs):
        unit = self.unit()
        coordinator = coordination.Coordinator(self.conf, member=False)
        self.addCleanup(coordinator.stop)
        return cloud_remediator.CloudRemediator(
            self.conf, self.store, _Outbox(), 'test', coordinator,
            host_remediator=lambda conf, store, notifier, actor, _host: (
                host_remediator.HostRemediator(
                    conf, store, notifier, actor, unit=unit,
                    execute=self.host.execute))).run(**kwargs)

    def test_the_runbook_clears_what_holds_it_then_deletes(self):
        volume = self.undeletable()
        found = self.passes(volume)
        export = found['fake1', K.ORPHAN_EXPORT]
        device = found['host:%s' % HOST, K.LEFTOVER_DEVICE]
        stuck = found[scope.NAME, K.STUCK_DELETING]
        self.assertEqual(volume, stuck.resource_id)
        self.assertEqual({
            'array_name': 'volume-%s' % volume, 'backend': 'fake1',
            'exports': '%d:volume-%s@%s' % (export.id, volume, HOST),
            'host_findings': '%d:host:%s /dev/sdc' % (device.id, HOST),
            'status': 'error_deleting'},
            {k: v for k, v in stuck.details.items() if k in (
                'array_name', 'backend', 'exports', 'host_findings',
                'status')})
        plan = self.remediate(finding_ids={stuck.id})
        self.assertEqual([('runbook', 'planned')], [
            (s.action, r[0]) for s, r in plan.results])
        outcome = self.remediate(apply=True, finding_ids={stuck.id})
        self.assertIsNone(outcome.error)
        self.assertEqual(
            [('done', "reset to error and deleted through Cinder's API (the "
                      'delete runs in cinder-volume now)')],
            [r for _s, r in outcome.results])
        # Each side did its step, audited on its own finding, in order.
        self.assertEqual(
            [('host:%s' % HOST, 'disconnect', 'done', device.id),
             ('fake1', 'unexport', 'done', export.id),
             (scope.NAME, 'runbook', 'done', stuck.id)],
            [(a.backend, a.action, a.result, a.finding_id) for a in sorted(
                self.store.actions(), key=lambda a: a.finished_at)
             if a.applied])
        self.wait('the volume deleted', lambda: self.volume_status(volume)
                  is None)
        self.assertNotIn('volume-%s' % volume,
                         [v['name'] for v in self.array()['volumes']])
        self.assertEqual({}, self.passes(volume))

    def test_nothing_is_deleted_while_the_host_still_holds_it(self):
        volume = self.undeletable()
        stuck = self.passes(volume)[scope.NAME, K.STUCK_DELETING]
        # The device is in use on compute-9: its disconnect is skipped,
        # and the runbook stops there.
        self.host.mount('/dev/sdc', '/mnt/data')
        outcome = self.remediate(apply=True, finding_ids={stuck.id})
        [(step, (result, why))] = outcome.results
        self.assertEqual(('runbook', 'skipped'), (step.action, result))
        self.assertIn('in use', why)
        self.assertEqual('error_deleting', self.volume_status(volume))
        self.assertIn('volume-%s' % volume,
                      [e['volume'] for e in self.array()['exports']])

    def test_the_daemon_runs_the_scope_on_its_timer(self):
        """The daemon's cloud timer: a pass under the scope's lock, in the
        history and the metrics; the commands read and run it too.
        """
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = os.path.join(tmp, 'r.conf')
        port = servers.free_port()
        with open(conf, 'w') as f:
            f.write(DAEMON_CONF.format(
                tmp=tmp, array=self.cloud.array_path('fake1'),
                endpoint=self.cloud.endpoint, token=cinder_sim.ADMIN_TOKEN,
                port=port))

        def command(module, *args):
            return [sys.executable, '-c', 'import sys; from reconciler.cmd.'
                    '%s import main; sys.exit(main())' % module,
                    '--config-file', conf] + list(args)
        subprocess.run(command('manage', 'db', 'sync'), check=True,
                       capture_output=True)
        store = history.History('sqlite:///%s/r.sqlite' % tmp)
        with open(os.path.join(tmp, 'daemon.log'), 'w') as log:
            daemon = subprocess.Popen(command('reconciler'), stdout=log,
                                      stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        self.wait('a cloud pass of the daemon', lambda: any(
            r.status == model.RunStatus.OK
            for r in store.runs(backend=scope.NAME)))
        metrics = urllib.request.build_opener(urllib.request.ProxyHandler(
            {})).open('http://127.0.0.1:%d/metrics' % port).read().decode()
        self.assertIn('cinder_reconciler_passes_total{backend="cloud",'
                      'status="ok"}', metrics)
        # check --cloud takes the same lock, and records a pass too.
        checked = subprocess.run(command('manage', 'check', '--cloud'),
                                 capture_output=True, text=True)
        self.assertEqual(0, checked.returncode, checked.stderr)
        self.assertIn('Cloud (cloud): run', checked.stdout)
        dry = subprocess.run(command('manage', 'check', '--cloud',
                                     '--dry-run'),
                             capture_output=True, text=True)
        self.assertEqual(0, dry.returncode, dry.stderr)
        self.assertIn('Cloud (cloud): dry run ok', dry.stdout)
        listed = subprocess.run(command('manage', 'findings', 'list',
                                        '--cloud', '--format', 'json'),
                                capture_output=True, text=True, check=True)
        self.assertEqual([scope.NAME] * len(json.loads(listed.stdout)),
                         [f['backend'] for f in json.loads(listed.stdout)])
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(60))
        self.assertGreaterEqual(len(store.runs(backend=scope.NAME)), 2)
