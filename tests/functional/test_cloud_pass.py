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

"""The cloud scope against a real Keystone, Nova and Cinder.

Needs the venvs of tools/setup-nova.sh, tools/setup-keystone.sh and
tools/setup-cinder.sh, and RabbitMQ and MariaDB from Debian's packages
(tests/nova_fixtures.py starts them all once for this class). Each
finding is produced as it happens in a cloud: a server deleted while Cinder
failed for Nova, an attachment deleted in Cinder behind Nova's back, a
volume service stopped mid-create, a project deleted in Keystone; and each
trap (a shelved-offloaded server, a live migration under way, a
multiattach volume, an attachment of another service) produces nothing.
The cloud is shared by the tests of the class: each judges only what it
made.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import fixtures
from keystoneauth1 import adapter as ks_adapter
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base
from testtools import content

from reconciler.cloud import manager
from reconciler.cloud import scope
from reconciler import conf as reconciler_conf
from reconciler import coordination
from reconciler import history
from reconciler import model
from reconciler.remediation import cloud_remediator
from reconciler.simulators import faultproxy
from reconciler.simulators import nova as nova_sim
from tests import nova_fixtures

K = model.FindingKind
R = model.ResourceType


class _Outbox(object):
    """A notifier that leaves the events in the outbox, to be read."""

    def flush(self, store, timeout=None):
        return 0


class CloudScopeTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cloud = nova_fixtures.OpenStack()
        cls.cloud.setUp()
        # A cloud always has other servers: Nova listing none while Cinder
        # shows attachments of instances fails a pass (implausible).
        cls.bystander = cls.cloud.boot('bystander')

    @classmethod
    def tearDownClass(cls):
        cls.cloud.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.addOnException(lambda exc_info: self.addDetail(
            'services', content.text_content(self.cloud.logs())))
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        self.values = values = self.useFixture(
            config_fixture.Config(self.conf))
        reconciler_conf.register(self.conf)
        self.conf([], project='x', default_config_files=[],
                  default_config_dirs=[])
        values.load_raw_values(host='ctl', state_path=tmp)
        admin = self.cloud.auth_options()
        values.load_raw_values(group='cinder', **admin)
        values.load_raw_values(group='nova', **admin)
        # Keystone's credentials are [cinder]'s.
        values.load_raw_values(group='keystone', auth_section='cinder')
        values.load_raw_values(group='reconciler_database',
                               connection='sqlite:///%s/r.sqlite' % tmp)
        values.load_raw_values(group='oslo_messaging_notifications',
                               driver='messagingv2', transport_url='fake:/')
        # Confirmed on the first sighting, re-checked on every pass.
        values.load_raw_values(group='cloud', enabled='true', sightings='1',
                               grace_period='0', remediation_min_age='0',
                               confirmed_recheck_passes='1')
        self.store = history.History.from_conf(self.conf)
        self.store.sync()

    def run_pass(self):
        report = manager.CloudReconciler(self.conf, self.store,
                                         _Outbox()).run_pass()
        return report

    def ok_pass(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        return report

    def findings(self, *ids, state=None):
        """{(kind, type, id): finding} of the cloud scope, about ``ids``
        (its resource id, volume or server).
        """
        found = {}
        for f in self.store.findings(backend=scope.NAME, state=state):
            about = {f.resource_id, f.cinder_id,
                     f.details.get('volume_id'), f.details.get('server_id'),
                     f.details.get('instance_id')}
            if not ids or about & set(ids):
                found[f.kind, f.resource_type, f.resource_id] = f
        return found

    def open_findings(self, *ids):
        return {k: f for k, f in self.findings(*ids).items()
                if f.state != model.FindingState.RESOLVED}

    def remediate(self, **kwargs):
        coordinator = coordination.Coordinator(self.conf, member=False)
        self.addCleanup(coordinator.stop)
        return cloud_remediator.CloudRemediator(
            self.conf, self.store, _Outbox(), 'test', coordinator).run(
                **kwargs)

    def events(self):
        return [(e.event_type, e.payload['kind'], e.payload['resource_id'])
                for e in self.store.pending_notifications()]

    # -- stale_attachment -------------------------------------------------

    def test_attachment_of_a_server_deleted_while_cinder_failed(self):
        cloud = self.cloud
        server = cloud.boot('stale-vm')
        volume = cloud.create_volume('stale-vol')
        attachment = cloud.attach(server, volume)
        # Nova deletes the server; its attachment delete fails (Cinder
        # answers 503) and Nova goes on, as it does.
        rule = cloud.cinder_proxy.fail('/attachments/%s' % attachment,
                                       status=503, times=None)
        try:
            cloud.delete_server(server)
        finally:
            cloud.cinder_proxy.clear()
        self.assertGreater(rule.fired, 0)
        self.assertEqual('in-use', cloud.volume_status(volume))
        self.ok_pass()
        found = self.findings(volume)
        key = (K.STALE_ATTACHMENT, R.ATTACHMENT, attachment)
        self.assertEqual([key], list(found))
        self.assertEqual(model.FindingState.CONFIRMED, found[key].state)
        self.assertEqual('instance deleted in Nova',
                         found[key].details['reason'])
        self.assertEqual(server, found[key].details['instance_id'])
        self.assertIn(('reconciler.orphan.detected', 'stale_attachment',
                       attachment), self.events())
        # Nova archives its deleted servers: it knows nothing of this one
        # any more, but the attachment is on one of its compute hosts.
        cloud.archive_deleted_rows()
        self.ok_pass()
        self.assertIn('instance unknown to Nova (deleted and archived, or '
                      'never made) though attached on Nova compute host '
                      'fakehost', self.findings(volume)[key].details['reason'])
        # Remediation: a plan, then the attachment deleted through Cinder's
        # API (Cinder asks Nova itself first), and the next pass resolves.
        plan = self.remediate(kinds={'stale_attachment'})
        self.assertEqual(['detach'], [s.action for s in plan.plan.steps
                                      if s.finding.resource_id == attachment])
        outcome = self.remediate(apply=True, finding_ids={found[key].id})
        self.assertIsNone(outcome.error)
        self.assertEqual([('done', "deleted attachment %s (Cinder's "
                           'attachments API)' % attachment)],
                         [r for _s, r in outcome.results])
        cloud.wait('volume available',
                   lambda: cloud.volume_status(volume) == 'available')
        self.ok_pass()
        self.assertEqual(model.FindingState.RESOLVED,
                         self.findings(volume)[key].state)

    # -- dangling_bdm ---------------------------------------------------

    def test_mapping_whose_attachment_went_behind_novas_back(self):
        cloud = self.cloud
        server = cloud.boot('dangling-vm')
        volume = cloud.create_volume('dangling-vol')
        attachment = cloud.attach(server, volume)
        # Another service deletes the attachment in Cinder (its service
        # token lets it); Nova keeps its mapping.
        cloud.cinder.delete('/attachments/%s' % attachment, headers={
            'X-Service-Token': cloud.service_token()})
        cloud.wait('volume available',
                   lambda: cloud.volume_status(volume) == 'available')
        self.ok_pass()
        key = (K.DANGLING_BDM, R.BDM, '%s/%s' % (server, volume))
        found = self.open_findings(volume)
        self.assertEqual([key], list(found))
        self.assertEqual({'reason': 'no Cinder attachment of the volume to '
                                    'the server', 'attachment_id': attachment,
                          'server_id': server, 'volume_id': volume},
                         found[key].details)
        # Then the volume is deleted too.
        cloud.cinder.delete('/volumes/%s' % volume)
        cloud.wait('volume gone',
                   lambda: cloud.volume_status(volume) is None)
        self.ok_pass()
        self.assertEqual('volume not in Cinder',
                         self.open_findings(volume)[key].details['reason'])
        # Nova owns it: the plan says what to run, and acts on nothing.
        plan = self.remediate(finding_ids={found[key].id}, apply=True)
        self.assertEqual((), plan.plan.steps)
        [refusal] = plan.plan.refused
        self.assertIn('nova-manage volume_attachment show %s %s'
                      % (server, volume), refusal.reason)
        # The server goes (Nova ignores the attachment Cinder no longer
        # has): the mapping with it, and the finding resolves.
        cloud.delete_server(server)
        self.ok_pass()
        self.assertEqual({}, self.open_findings(volume))

    # -- stuck_status -----------------------------------------------------

    def test_delete_stuck_while_the_volume_service_is_down(self):
        cloud = self.cloud
        self.values.load_raw_values(group='cloud', checks='stuck_status',
                                    stuck_after='deleting:1')
        volume = cloud.create_volume('hold-stuck')
        arrays = os.path.join(cloud.dir, 'arrays')
        hold = os.path.join(arrays, 'hold')
        open(hold, 'w').close()
        self.addCleanup(cloud.start_volume_service)
        self.addCleanup(os.unlink, hold)
        cloud.cinder.delete('/volumes/%s' % volume)
        cloud.wait('the delete in the volume service', lambda: os.path.exists(
            os.path.join(arrays, 'holding')))
        os.unlink(os.path.join(arrays, 'holding'))
        cloud.stop_volume_service()
        self.assertEqual('deleting', cloud.volume_status(volume))
        self.ok_pass()
        key = (K.STUCK_STATUS, R.VOLUME, volume)
        found = self.open_findings(volume)
        self.assertEqual([key], list(found))
        self.assertEqual('deleting', found[key].details['status'])
        self.assertEqual('cinder-volume %s@%s: down' % (
            nova_fixtures.CINDER_HOST, nova_fixtures.BACKEND),
            found[key].details['service'])
        # A reset only when named: a plan of the kind does nothing.
        plan = self.remediate(kinds={'stuck_status'}, apply=True)
        self.assertEqual((), plan.plan.steps)
        self.assertIn('only for a finding named with --finding %d'
                      % found[key].id, plan.plan.refused[0].reason)
        outcome = self.remediate(finding_ids={found[key].id}, apply=True)
        self.assertEqual([('done', 'reset from deleting to error')],
                         [r for _s, r in outcome.results])
        self.assertEqual('error', cloud.volume_status(volume))
        self.ok_pass()
        self.assertEqual({}, self.open_findings(volume))

    # -- orphan_project ---------------------------------------------------

    def test_resources_of_a_deleted_project(self):
        cloud = self.cloud
        self.values.load_raw_values(group='cloud', checks='orphan_project')
        name = 'doomed-%d' % os.getpid()
        project = cloud.create_project(name)
        in_project = cloud.project_cinder(name)
        volume = cloud.create_volume('orphan-vol', cinder=in_project)
        snapshot = in_project.post('/snapshots', json={'snapshot': {
            'volume_id': volume, 'name': 'orphan-snap'}}).json()[
            'snapshot']['id']
        cloud.wait('snapshot available', lambda: cloud.cinder.get(
            '/snapshots/%s' % snapshot).json()['snapshot']['status']
            == 'available')
        self.ok_pass()
        self.assertEqual({}, self.open_findings(volume, snapshot))
        cloud.delete_project(project)
        self.ok_pass()
        found = self.open_findings(volume, snapshot)
        self.assertEqual({(K.ORPHAN_PROJECT, R.VOLUME, volume),
                          (K.ORPHAN_PROJECT, R.SNAPSHOT, snapshot)},
                         set(found))
        self.assertEqual({project}, {f.project_id for f in found.values()})
        plan = self.remediate(apply=True, kinds={'orphan_project'})
        self.assertEqual((), plan.plan.steps)
        self.assertEqual({'report only: its project is gone from Keystone'},
                         {r.reason for r in plan.plan.refused})

    # -- answers that cannot be trusted -----------------------------------

    def test_empty_or_failing_answers_fail_the_pass(self):
        cloud = self.cloud
        volume = cloud.create_volume('trust-vol')
        cloud.attach(self.bystander, volume)
        self.ok_pass()
        before = self.store.findings(backend=scope.NAME)
        proxy = faultproxy.FaultProxy(cloud.url('nova')).start()
        self.addCleanup(proxy.stop)
        self.values.load_raw_values(group='nova',
                                    endpoint_override=proxy.url)
        proxy.payload(r'^/v2\.1/servers/detail',
                      b'{"servers": [], "servers_links": []}', times=None)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('Nova lists no server while Cinder shows', report.error)
        proxy.clear()
        proxy.fail(r'^/v2\.1/servers/detail', status=500, times=None)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('Nova GET /servers/detail failed: HTTP 500',
                      report.error)
        proxy.clear()
        keystone_proxy = faultproxy.FaultProxy(cloud.identity_url).start()
        self.addCleanup(keystone_proxy.stop)
        self.values.load_raw_values(group='nova', endpoint_override='')
        self.values.load_raw_values(group='keystone',
                                    endpoint_override=keystone_proxy.url)
        keystone_proxy.payload('/projects', b'{"projects": []}', times=None)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('Keystone lists no project', report.error)
        self.assertEqual(before, self.store.findings(backend=scope.NAME))
        self.assertEqual(['reconciler.run.failed'] * 3, [
            e.event_type for e in self.store.pending_notifications()
            if e.payload.get('backend') == scope.NAME][-3:])

    # -- Cinder's [nova] group, the commands ----------------------------

    def test_check_reads_cinders_own_nova_group(self):
        """The daemon's files as deployed: cinder.conf first, with the
        [nova] group cinder-volume uses for Nova (Nova's service user,
        Cinder's own interface and token_auth_url options), then ours,
        which has no [nova] at all.
        """
        cloud = self.cloud
        tmp = self.useFixture(fixtures.TempDir()).path
        cinder_conf = os.path.join(tmp, 'cinder.conf')
        with open(cinder_conf, 'w') as f:
            f.write('[DEFAULT]\nhost = cinderhost\n\n[nova]\n' + ''.join(
                '%s = %s\n' % kv for kv in dict(
                    cloud.service_auth('nova'), region_name='RegionOne',
                    interface='public',
                    token_auth_url=cloud.identity_url).items()))
        ours = os.path.join(tmp, 'cinder-reconciler.conf')
        with open(ours, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n\n[cinder]\n' % tmp
                    + ''.join('%s = %s\n' % kv
                              for kv in cloud.auth_options().items())
                    + '\n[keystone]\nauth_section = cinder\n\n[cloud]\n'
                    'enabled = true\n\n'
                    '[reconciler_database]\nconnection = sqlite:///%s/r.db\n'
                    '\n[oslo_messaging_notifications]\ndriver = noop\n'
                    % tmp)

        def manage(*args):
            return subprocess.run(
                [sys.executable, '-c', 'import sys; from reconciler.cmd.'
                 'manage import main; sys.exit(main())', '--config-file',
                 cinder_conf, '--config-file', ours] + list(args),
                capture_output=True, text=True)
        self.assertEqual(0, manage('db', 'sync').returncode)
        checked = manage('check', '--cloud', '--format', 'json')
        self.assertEqual(0, checked.returncode, checked.stderr)
        [report] = json.loads(checked.stdout)
        self.assertEqual(('cloud', 'ok'), (report['backend'],
                                           report['status']))
        self.assertGreater(report['inventory']['nova_servers'], 0)
        self.assertGreater(report['inventory']['keystone_projects'], 0)
        listed = manage('findings', 'list', '--cloud')
        self.assertEqual(0, listed.returncode, listed.stderr)

    # -- the traps ------------------------------------------------------

    def test_shelved_migrating_multiattach_and_foreign_make_nothing(self):
        cloud = self.cloud
        # Every transitional status is "stuck" after a second.
        self.values.load_raw_values(group='cloud', stuck_after=','.join(
            '%s:1' % s for s in ('attaching', 'detaching', 'reserved',
                                 'creating', 'migrating')))
        shelved, migrating, multi_1, multi_2 = (
            cloud.boot('trap-%s' % n)
            for n in ('shelved', 'migrating', 'multi-1', 'multi-2'))
        vol_shelved = cloud.create_volume('trap-shelved')
        vol_migrating = cloud.create_volume('trap-migrating')
        multi_type = cloud.cinder.post('/types', json={'volume_type': {
            'name': 'multiattach-%d' % os.getpid(), 'extra_specs': {
                'multiattach': '<is> True'}}}).json()['volume_type']['id']
        vol_multi = cloud.create_volume('trap-multi', volume_type=multi_type)
        vol_foreign = cloud.create_volume('trap-foreign')
        cloud.attach(shelved, vol_shelved)
        cloud.attach(migrating, vol_migrating)
        cloud.attach(multi_1, vol_multi)
        cloud.nova.post('/servers/%s/os-volume_attachments' % multi_2,
                        json={'volumeAttachment': {'volumeId': vol_multi}})
        cloud.wait('both attachments of the multiattach volume',
                   lambda: len(cloud.attachments(vol_multi)) == 2 and all(
                       a['status'] == 'attached' for a in cloud.cinder.get(
                           '/attachments?all_tenants=1&volume_id=%s'
                           % vol_multi).json()['attachments']))
        # Shelved and offloaded: Nova keeps the mapping, Cinder a reserved
        # attachment (the volume reserved).
        cloud.nova.post('/servers/%s/action' % shelved, json={'shelve': None})
        cloud.wait('shelved and offloaded', lambda: cloud.server_status(
            shelved) == 'SHELVED_OFFLOADED')
        self.assertEqual('reserved', cloud.volume_status(vol_shelved))
        # An attachment of another service, as Glance's cinder store makes
        # them: no instance, its own connector host, completed.
        foreign = cloud.cinder.post('/attachments', json={'attachment': {
            'volume_uuid': vol_foreign, 'mode': 'ro', 'connector': {
                'host': 'glance-api-1', 'initiator': 'iqn.glance',
                'ip': '127.0.0.1', 'platform': 'x86_64',
                'os_type': 'linux', 'multipath': False}}}).json()[
            'attachment']['id']
        cloud.cinder.post('/attachments/%s/action' % foreign,
                          json={'os-complete': None})
        # A live migration held where the memory is copied: the
        # destination's attachment made, the source's still in use.
        open(cloud.hold_file, 'w').close()
        self.addCleanup(self._release_migration, migrating)
        cloud.nova.post('/servers/%s/action' % migrating, json={
            'os-migrateLive': {'host': None, 'block_migration': 'auto'}})
        cloud.wait('attachments on both hosts', lambda: len(
            cloud.attachments(vol_migrating)) == 2)
        time.sleep(2)       # every status past its second
        report = self.ok_pass()
        mine = (shelved, migrating, multi_1, multi_2, vol_shelved,
                vol_migrating, vol_multi, vol_foreign, foreign)
        self.assertEqual({}, self.findings(*mine), report.skipped)
        self.assertEqual('MIGRATING', cloud.server_status(migrating))
        # Seen and judged consistent (the multiattach pairs, the shelved
        # server's), or left alone, and said so.
        self.assertGreaterEqual(report.consistent.get('attachment', 0), 3)
        self.assertGreaterEqual(report.skipped[
            "attachment without an instance (not Nova's)"], 1)
        self.assertGreaterEqual(report.skipped[
            'attachment of a server Nova is busy with or cannot read'], 2)

    # -- the demo's Nova -------------------------------------------------

    def test_the_demos_nova_answers_as_nova_does(self):
        """reconciler/simulators/nova.py against this real Nova: every
        request the cloud scope makes gets the same status, and every key
        of its answers is one of Nova's, with a value of the same type.
        """
        cloud = self.cloud
        server = cloud.boot('demo-contract')
        volume = cloud.create_volume('demo-contract')
        attachment = cloud.attach(server, volume)
        gone = cloud.boot('demo-contract-gone')
        cloud.delete_server(gone)
        shelved = cloud.boot('demo-contract-shelved')
        cloud.nova.post('/servers/%s/action' % shelved, json={'shelve': None})
        cloud.wait('shelved and offloaded', lambda: cloud.server_status(
            shelved) == 'SHELVED_OFFLOADED')
        seen = cloud.nova.get('/servers/%s' % server).json()['server']
        demo = nova_sim.Nova(cloud.identity_url).start()
        self.addCleanup(demo.stop)
        demo.add_server(server, seen['OS-EXT-SRV-ATTR:host'],
                        seen['tenant_id'], {volume: attachment})
        demo.add_server(gone, seen['OS-EXT-SRV-ATTR:host'],
                        seen['tenant_id'])
        demo.delete_server(gone)
        demo.add_server(shelved, seen['OS-EXT-SRV-ATTR:host'],
                        seen['tenant_id'], vm_state='shelved_offloaded')
        demos = ks_adapter.Adapter(
            cloud.session(), service_type='compute',
            endpoint_override=demo.url,
            default_microversion=nova_fixtures.COMPUTE_VERSION)
        self.assertEqual(nova_sim.MICROVERSION,
                         nova_fixtures.COMPUTE_VERSION)
        for path in (
                '/servers/detail?all_tenants=1&limit=1000',
                '/servers/%s' % server,
                '/servers/%s' % shelved,
                '/servers/%s/os-volume_attachments' % server,
                '/servers/%s' % gone,
                '/servers/%s/os-volume_attachments' % gone,
                '/servers/detail?all_tenants=1&deleted=true&uuid=%s' % gone,
                '/os-services?binary=nova-compute',
                '/servers/detail?all_tenants=1&limit=1&marker=%s' % gone,
                '/servers/detail?all_tenants=1&limit=1&marker=%s'
                % uuid.uuid4()):
            real = cloud.nova.get(path, raise_exc=False)
            ours = demos.get(path, raise_exc=False)
            self.assertEqual(real.status_code, ours.status_code, path)
            self._shaped_like(real.json(), ours.json(), path)
        # Without a valid token, nothing.
        self.assertEqual(401, demos.get('/servers/detail', raise_exc=False,
                                        headers={'X-Auth-Token': 'x'},
                                        authenticated=False).status_code)

    def _shaped_like(self, real, ours, where):
        """Every key of ``ours`` is in ``real``, values of one type (None
        matches anything); list items are matched by id (servers) or host
        (services) where they have one, else the first of each.
        """
        if isinstance(ours, dict):
            self.assertIsInstance(real, dict, where)
            for key, value in ours.items():
                self.assertIn(key, real, where)
                self._shaped_like(real[key], value, '%s.%s' % (where, key))
        elif isinstance(ours, list):
            self.assertIsInstance(real, list, where)
            for item in ours[:1] if ours and not isinstance(
                    ours[0], dict) else ours:
                key = isinstance(item, dict) and (
                    'host' if 'binary' in item else 'id')
                if key and key in item:
                    match = [r for r in real if r.get(key) == item[key]]
                    self.assertTrue(match, '%s: %s' % (where, item[key]))
                    self._shaped_like(match[0], item, where + '[]')
                elif real:
                    self._shaped_like(real[0], item, where + '[]')
        elif ours is not None and real is not None:
            self.assertIsInstance(ours, type(real), where)

    def _release_migration(self, server):
        if os.path.exists(self.cloud.hold_file):
            os.unlink(self.cloud.hold_file)
        self.cloud.wait('migration done', lambda: self.cloud.server_status(
            server) == 'ACTIVE')
