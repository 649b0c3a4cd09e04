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

"""``cinder-reconciler-manage remediate``: gates, actions and the audit.

The demo cloud (a real cinder-api behind a fault proxy) and its fake array;
every command is the real CLI process.
"""

import json
import os
import subprocess
import time

import fixtures
from keystoneauth1 import adapter
from oslotest import base
import yaml

from reconciler import coordination
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures
from tests.functional import test_coordination
from tests.functional import test_manage

CONF = test_manage.CONF.replace(
    'reconciler_grace_period = 0\n',
    'reconciler_grace_period = 0\nreconciler_remediation_min_age = 0\n'
).replace('driver = noop', 'driver = log')

EXPORT = 'volume-%s@compute-3' % scn.uid('scratch')


class RemediationTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(150, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(CONF))
        self.demo.manage('db', 'sync')
        self.demo.manage('check')
        self.demo.manage('check')   # sightings = 2: all confirmed
        self.cinder = adapter.Adapter(
            self.demo.cloud.session(), service_type='volumev3',
            endpoint_override=self.demo.cloud.endpoint)

    def array(self):
        with open(self.demo.array) as f:
            return yaml.safe_load(f)

    def volume(self, volume_id):
        return self.cinder.get(
            '/volumes/%s' % volume_id,
            headers={'OpenStack-API-Version': 'volume 3.45'}).json()['volume']

    def finding_id(self, kind):
        [f] = [f for f in json.loads(self.demo.manage(
            'findings', 'list', '--kind', kind, '--format', 'json').stdout)
            if f['resource_type'] in ('volume', 'export')]
        return f['id']

    def remediate(self, *args, check=True):
        result = self.demo.manage('remediate', *args, '--format', 'json',
                                  check=False)
        self.assertTrue(result.returncode == 0 or not check, result.stderr)
        self.stderr = result.stderr
        self.returncode = result.returncode
        [outcome] = json.loads(result.stdout)
        return outcome

    def actions(self):
        return json.loads(self.demo.manage('actions', 'list', '--format',
                                           'json').stdout)

    def test_dry_run_is_the_default_and_changes_nothing(self):
        array = self.array()
        lost = self.volume(scn.uid('lost-on-array'))
        outcome = self.remediate()
        self.assertFalse(outcome['applied'])
        self.assertIsNone(outcome['error'])
        self.assertEqual(sorted([
            ('adopt', 'array_only', 'snapshot'),
            ('adopt', 'array_only', 'volume'),
            ('reset', 'cinder_only', 'snapshot'),
            ('reset', 'cinder_only', 'volume'),
            ('unexport', 'orphan_export', 'export')]), sorted(
            (s['action'], s['kind'], s['resource_type'])
            for s in outcome['steps']))
        self.assertEqual({'planned'},
                         {s['result'] for s in outcome['steps']})
        self.assertIn('foreign objects are reported, never acted on',
                      [r['reason'] for r in outcome['not_eligible']])
        self.assertEqual(array, self.array())
        self.assertEqual(lost, self.volume(scn.uid('lost-on-array')))
        audit = self.actions()
        self.assertEqual(5, len(audit))
        self.assertEqual({(False, 'planned')},
                         {(a['applied'], a['result']) for a in audit})
        self.assertTrue(all('cinder-reconciler-manage' in a['actor']
                            for a in audit))
        text = self.demo.manage('remediate').stdout
        self.assertIn('plan only (dry run', text)
        self.assertIn('unexport %s' % EXPORT, text)

    def test_waits_for_a_pass_holding_the_backends_lock(self):
        """A pass and a remediation never interleave."""
        conf = test_coordination.make_conf(self)
        conf.set_override('state_path', os.path.join(self.demo.tmp, 'state'))
        daemon = coordination.Coordinator(conf, member=False)
        self.addCleanup(daemon.stop)
        array = self.array()
        with daemon.exclusive('fake1') as lease:
            self.assertTrue(lease)
            proc = subprocess.Popen(
                self.demo.command('manage', 'remediate', '--kind',
                                  'orphan_export', '--apply', '--format',
                                  'json'),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            time.sleep(5)
            self.assertIsNone(proc.poll())
            self.assertEqual(array, self.array())
            self.assertEqual([], self.actions())
        out, _ = proc.communicate(timeout=60)
        self.assertEqual(0, proc.returncode)
        [outcome] = json.loads(out)
        self.assertEqual(['done'], [s['result'] for s in outcome['steps']])

    def test_over_the_limit_nothing_is_done(self):
        array = self.array()
        outcome = self.remediate('--limit', '2', '--apply', check=False)
        self.assertIn('more than the limit of 2: nothing done',
                      outcome['error'])
        self.assertEqual(array, self.array())
        self.assertEqual([], self.actions())

    def test_unexport_then_the_next_pass_resolves(self):
        outcome = self.remediate('--kind', 'orphan_export', '--apply')
        [step] = outcome['steps']
        self.assertEqual(('unexport', 'done', 'removed %s' % EXPORT),
                         (step['action'], step['result'], step['reason']))
        exports = ['%(volume)s@%(host)s' % e for e in self.array()['exports']]
        self.assertNotIn(EXPORT, exports)
        self.assertEqual(2, len(exports))   # the live ones are untouched
        [audit] = self.actions()
        self.assertEqual((True, 'done'), (audit['applied'], audit['result']))
        # Announced (oslo.messaging's log driver writes to stderr).
        self.assertIn('reconciler.remediation.done', self.stderr)
        self.assertIn('"action": "unexport"', self.stderr)
        self.remediate('--kind', 'orphan_export')
        self.assertNotIn('reconciler.remediation', self.stderr)
        # The action does not resolve the finding: the next pass does.
        finding = self.finding_id('orphan_export')
        story = json.loads(self.demo.manage(
            'findings', 'show', str(finding), '--format', 'json').stdout)
        self.assertEqual('confirmed', story['state'])
        [report] = json.loads(self.demo.manage('check', '--format',
                                               'json').stdout)
        self.assertIn((EXPORT, 'confirmed', 'resolved'), [
            (t['resource_id'], t['old_state'], t['new_state'])
            for t in report['transitions']])

    def test_reset_sets_error_with_a_note(self):
        volume_id = scn.uid('lost-on-array')
        outcome = self.remediate('--kind', 'cinder_only', '--apply')
        self.assertEqual({'done'}, {s['result'] for s in outcome['steps']})
        volume = self.volume(volume_id)
        self.assertEqual('error', volume['status'])
        note = volume['metadata']['reconciler_note']
        when = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'
        self.assertRegex(note, r'^array object missing \(finding \d+, '
                         r'confirmed %s\); reset to error by '
                         r'cinder-reconciler at %s$' % (when, when))

    def test_changed_since_confirmed_is_skipped(self):
        # The volume of the orphan export gets attached to compute-3, and
        # the array-only volume is renamed on the array.
        self.demo.cloud.add_attachment(scn.uid('scratch'), 'compute-3')
        array = self.array()
        leftover = 'volume-%s' % scn.uid('restored-leftover')
        for v in array['volumes']:
            if v['name'] == leftover:
                v['name'] = 'renamed-by-admin'
        with open(self.demo.array, 'w') as f:
            yaml.safe_dump(array, f)
        outcome = self.remediate(
            '--finding', str(self.finding_id('orphan_export')),
            '--finding', str(self.finding_id('array_only')), '--apply',
            check=False)
        # Every step skipped: nothing applied, and the exit status says so.
        self.assertEqual(2, self.returncode, self.stderr)
        self.assertEqual(0, outcome['steps_done'])
        results = {s['resource_type']: (s['result'], s['reason'])
                   for s in outcome['steps']}
        self.assertEqual('skipped', results['export'][0])
        self.assertIn('no longer an orphan: volume %s is attached through '
                      'it' % scn.uid('scratch'), results['export'][1])
        self.assertEqual(('skipped', 'the array object %s is gone'
                          % leftover), results['volume'])
        self.assertIn(EXPORT, ['%(volume)s@%(host)s' % e
                               for e in self.array()['exports']])

    def test_export_whose_lun_was_reused_is_skipped(self):
        """Between detection and action the orphan mapping went and its
        slot (the LUN to compute-3) now maps another volume, attached
        there by Cinder: nothing is removed.
        """
        reused = scn.uid('host-attached')
        array = self.array()
        for e in array['exports']:
            if '%(volume)s@%(host)s' % e == EXPORT:
                e['volume'] = 'volume-%s' % reused
        with open(self.demo.array, 'w') as f:
            yaml.safe_dump(array, f)
        self.demo.cloud.add_attachment(reused, 'compute-3')
        outcome = self.remediate('--kind', 'orphan_export', '--apply',
                                 check=False)
        self.assertEqual(2, self.returncode, self.stderr)
        self.assertEqual([('unexport', 'skipped',
                           'already removed: the export %s is gone'
                           % EXPORT)],
                         [(s['action'], s['result'], s['reason'])
                          for s in outcome['steps']])
        self.assertEqual(array, self.array())
        [audit] = self.actions()
        self.assertEqual((True, 'skipped'), (audit['applied'],
                                             audit['result']))

    def test_a_fault_stops_the_run_and_is_recorded(self):
        self.demo.proxy.fail(r'/action', status=500)
        outcome = self.remediate('--kind', 'cinder_only', '--apply',
                                 check=False)
        results = [s['result'] for s in outcome['steps']]
        self.assertEqual(['failed', 'not attempted'], results)
        self.assertIn('failed before it', outcome['steps'][1]['reason'])
        [audit] = self.actions()
        self.assertEqual('failed', audit['result'])
        self.assertIn('500', audit['reason'])
        self.assertNotIn(cinder_sim.ADMIN_TOKEN, audit['reason'])

    def test_a_failed_pass_blocks_every_action(self):
        self.demo.proxy.fail(r'/volumes/detail', status=500)
        self.demo.manage('check', check=False)
        array = self.array()
        outcome = self.remediate('--apply', check=False)
        self.assertIn('newest pass did not succeed', outcome['error'])
        self.assertEqual(array, self.array())

    def test_ignored_findings_are_never_remediated(self):
        finding = self.finding_id('orphan_export')
        self.demo.manage('findings', 'ignore', str(finding), '--reason',
                         'kept for the DR test')
        outcome = self.remediate('--kind', 'orphan_export', '--apply')
        self.assertEqual([], outcome['steps'])
        self.assertEqual([{'finding_id': finding,
                           'reason': 'ignored: kept for the DR test'}],
                         outcome['not_eligible'])
        self.assertRegex(self.demo.manage('findings', 'list').stdout,
                         r'\| confirmed +\|[^\n]*\| kept for the DR test +\|')
        self.demo.manage('findings', 'unignore', str(finding))
        self.assertEqual(1, len(self.remediate('--kind',
                                               'orphan_export')['steps']))

    def test_delete_needs_the_finding_named(self):
        result = self.demo.manage('remediate', '--delete-data', '--apply',
                                  check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn('named one by one', result.stderr)
        finding = self.finding_id('array_only')
        outcome = self.remediate('--finding', str(finding), '--delete-data',
                                 '--apply')
        [step] = outcome['steps']
        self.assertEqual(('delete', 'done'), (step['action'],
                                              step['result']))
        self.assertNotIn('volume-%s' % scn.uid('restored-leftover'),
                         [v['name'] for v in self.array()['volumes']])

    def test_quarantine_renames_out_of_cinders_naming(self):
        finding = self.finding_id('array_only')
        outcome = self.remediate('--finding', str(finding), '--quarantine',
                                 '--apply')
        [step] = outcome['steps']
        new = 'unm-%s' % scn.uid('restored-leftover')
        self.assertEqual(('quarantine', 'done', 'renamed to %s' % new),
                         (step['action'], step['result'], step['reason']))
        self.assertIn(new, [v['name'] for v in self.array()['volumes']])
        [report] = json.loads(self.demo.manage('check', '--format',
                                               'json').stdout)
        self.assertIn(('array_only', 'confirmed', 'resolved'), [
            (t['kind'], t['old_state'], t['new_state'])
            for t in report['transitions']
            if t['resource_id'] == scn.uid('restored-leftover')])

    def test_snapshot_of_a_volume_cinder_lacks(self):
        """Never adopted: quarantined, or deleted when named."""
        leftover = scn.uid('restored-leftover')
        kept, gone = scn.uid('orphan-snap-1'), scn.uid('orphan-snap-2')
        array = self.array()
        array['snapshots'] += [{'name': 'snapshot-%s' % s,
                                'volume': 'volume-%s' % leftover}
                               for s in (kept, gone)]
        with open(self.demo.array, 'w') as f:
            yaml.safe_dump(array, f)
        self.demo.manage('check')
        self.demo.manage('check')
        ids = {f['resource_id']: f['id'] for f in json.loads(self.demo.manage(
            'findings', 'list', '--kind', 'array_only', '--state',
            'confirmed', '--format', 'json').stdout)}
        # The default plan adopts the parent; its snapshots wait for it.
        outcome = self.remediate()
        steps = {s['finding_id']: s['action'] for s in outcome['steps']}
        self.assertEqual('adopt', steps[ids[leftover]])
        self.assertNotIn(ids[kept], steps)
        refused = {r['finding_id']: r['reason']
                   for r in outcome['not_eligible']}
        self.assertIn('adopted by this plan (finding %d)' % ids[leftover],
                      refused[ids[kept]])
        # Alone, a snapshot Cinder cannot adopt is quarantined...
        outcome = self.remediate('--finding', str(ids[kept]), '--apply')
        [step] = outcome['steps']
        self.assertEqual(('quarantine', 'done', 'renamed to ums-%s' % kept),
                         (step['action'], step['result'], step['reason']))
        self.assertIn("not Cinder's: it cannot be adopted", step['why'])
        # ...or deleted, named with --delete-data.
        outcome = self.remediate('--finding', str(ids[gone]),
                                 '--delete-data', '--apply')
        [step] = outcome['steps']
        self.assertEqual(('delete', 'done'), (step['action'],
                                              step['result']))
        names = [s['name'] for s in self.array()['snapshots']]
        self.assertIn('ums-%s' % kept, names)
        self.assertNotIn('snapshot-%s' % gone, names)
        self.assertEqual(array['volumes'], self.array()['volumes'])
        [report] = json.loads(self.demo.manage('check', '--format',
                                               'json').stdout)
        self.assertEqual({kept: 'resolved', gone: 'resolved'}, {
            t['resource_id']: t['new_state'] for t in report['transitions']
            if t['resource_id'] in (kept, gone)})


class PolicyTest(base.BaseTestCase):
    """The daemon's own policy: only the actions it lists, gates and all."""

    def test_daemon_unexports_by_itself_and_nothing_else(self):
        self.useFixture(fixtures.Timeout(120, gentle=True))
        conf = CONF.replace('reconciler_sightings = 2',
                            'reconciler_sightings = 1\n'
                            'reconciler_driver = fake\n'
                            'reconciler_auto_remediate = '
                            'orphan_export:unexport') + (
            '\n[reconciler]\nperiodic_fuzzy_delay = 0\n')
        demo = self.useFixture(local_fixtures.DemoCloud(conf))
        demo.manage('db', 'sync')
        log = open(os.path.join(demo.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(demo.command('reconciler'), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        deadline = time.monotonic() + 60
        actions = []
        while not actions and time.monotonic() < deadline:
            time.sleep(0.5)
            actions = json.loads(demo.manage('actions', 'list', '--format',
                                             'json').stdout)
        [action] = actions
        self.assertEqual(('unexport', EXPORT, True, 'done'),
                         (action['action'], action['target'],
                          action['applied'], action['result']))
        self.assertIn('(policy)', action['actor'])
        with open(demo.array) as f:
            array = yaml.safe_load(f)
        self.assertNotIn(EXPORT, ['%(volume)s@%(host)s' % e
                                  for e in array['exports']])
        # Array-only objects stay: adoption is not in this policy.
        self.assertIn('volume-%s' % scn.uid('restored-leftover'),
                      [v['name'] for v in array['volumes']])
        daemon.terminate()
        self.assertEqual(0, daemon.wait(timeout=30))
