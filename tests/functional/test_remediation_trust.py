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

"""Remediation that cannot be misled: guards every array obeys, evidence of
ownership, a killed run's audit, what a pass accounts for, what the
operator reads.

A real cinder-api per class (DriverPassTestCase); each test gets a fresh
fake array (or LeftHand simulator, behind a fault proxy) and history.
Steps run in-process as ``remediate --apply`` runs them, or through the
real CLI where its output or a process's death is the point.
"""

import json
import os
import signal
import subprocess
import sys
import time

import fixtures
from keystoneauth1 import adapter
import sqlalchemy as sa

from reconciler.cmd import report as report_mod
from reconciler.history import api as history_api
from reconciler import model
from reconciler.remediation import cinder_actions
from reconciler.remediation import remediator
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures
from tests.functional import test_lefthand_pass

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
BACKEND, OTHER = 'fk1', 'fk2'

SCENARIO = {
    'backends': [
        {'name': BACKEND, 'host': 'ctl-9', 'driver': 'fake',
         'pools': ['p1']},
        {'name': OTHER, 'host': 'ctl-8', 'driver': 'fake', 'pools': ['p1']}],
    'volumes': [
        {'id': 'parent', 'backend': BACKEND},
        {'id': 'idle', 'backend': BACKEND},
        {'id': 'elsewhere', 'backend': OTHER}],
}

_CLI_CONF = """
[DEFAULT]
host = ctl-9
enabled_backends = {backends}
state_path = {tmp}/state

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}

[reconciler_database]
connection = {database}

[oslo_messaging_notifications]
driver = noop
"""


def volume(label):
    return {'name': 'volume-%s' % uid(label)}


def fake_array():
    """fk1's array: Cinder's two volumes, and what no row explains."""
    return {
        'volumes': [volume(v) for v in (
            'parent', 'idle', 'mapped', 'with-snap', 'leak', 'elsewhere')]
        + [{'name': 'unm-%s' % uid('leak')}],
        'snapshots': [
            {'name': 'snapshot-%s' % uid('orphan-snap'),
             'volume': 'volume-%s' % uid('parent')},
            {'name': 'snapshot-%s' % uid('with-snap-s'),
             'volume': 'volume-%s' % uid('with-snap')}],
        'exports': [{'volume': 'volume-%s' % uid('mapped'),
                     'host': 'compute-5'}]}


class _CliMixin(object):
    """The real CLI on this test's configuration."""

    def write_cli_conf(self, groups, backends):
        path = os.path.join(self.tmp, 'cli.conf')
        text = _CLI_CONF.format(
            backends=','.join(backends), tmp=self.tmp,
            endpoint=self.cloud.endpoint, token=cinder_sim.ADMIN_TOKEN,
            database=self.conf.reconciler_database.connection)
        for name, options in groups.items():
            text += '\n[%s]\n' % name + ''.join(
                '%s = %s\n' % kv for kv in sorted(options.items()))
        with open(path, 'w') as f:
            f.write(text)
        return path

    def command(self, *args):
        return [sys.executable, '-c', 'import sys; from reconciler.cmd.'
                'manage import main; sys.exit(main())', '--config-file',
                self.cli_conf] + list(args)

    def cli(self, *args):
        return subprocess.run(self.command(*args), capture_output=True,
                              text=True, timeout=120)


class FakeArrayTrustTest(_CliMixin, local_fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'ctl-9'

    @staticmethod
    def make_scenario():
        return scn.Scenario.from_dict(SCENARIO)

    def start_array(self):
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.array_path = os.path.join(self.tmp, 'fk1.json')
        self.write_array(fake_array())
        self.other_array = os.path.join(self.tmp, 'fk2.json')
        with open(self.other_array, 'w') as f:
            json.dump({'volumes': [volume('elsewhere')]}, f)
        return {'reconciler_driver': 'fake',
                'fake_array_file': self.array_path}

    def setUp(self):
        super().setUp()
        self.api = adapter.Adapter(
            self.cloud.session(), service_type='volumev3',
            endpoint_override=self.cloud.endpoint,
            default_microversion='3.45')
        self.cli_conf = self.write_cli_conf({
            BACKEND: {'reconciler_driver': 'fake',
                      'fake_array_file': self.array_path,
                      'reconciler_sightings': 1,
                      'reconciler_grace_period': 0,
                      'reconciler_remediation_min_age': 0},
            OTHER: {'reconciler_driver': 'fake', 'backend_host': 'ctl-8',
                    'fake_array_file': self.other_array}},
            (BACKEND, OTHER))

    def write_array(self, array):
        with open(self.array_path, 'w') as f:
            json.dump(array, f)

    def read_array(self):
        with open(self.array_path) as f:
            return json.load(f)

    def confirmed(self):
        """A pass (findings confirmed at once); finding ids by resource."""
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        return report, {f.resource_id: f.id for f in self.store.findings()}

    def forget_row(self, volume_id):
        """The class's cloud as the next test expects it: without the row
        a test added (if it is still there).
        """
        try:
            self.cloud.soft_delete_volume(volume_id)
        except KeyError:
            pass

    def results(self, outcome):
        return {s.finding.resource_id: r for s, r in outcome.results}

    def set_details(self, finding_id, **details):
        """What trust-arrays' drivers record (``ownership_evidence``)."""
        finding = self.store.finding(finding_id)
        engine = sa.create_engine(self.conf.reconciler_database.connection)
        self.addCleanup(engine.dispose)
        with engine.begin() as conn:
            conn.execute(sa.update(history_api.FINDINGS).where(
                history_api.FINDINGS.c.id == finding_id).values(
                    details=json.dumps(dict(finding.details, **details),
                                       sort_keys=True)))

    # Issue 23 item 10

    def test_every_listed_object_is_accounted_for(self):
        """``elsewhere``'s row is on fk2: not compared, and counted so."""
        report, _ids = self.confirmed()
        self.assertEqual(1, report.skipped.get(
            'volume with a row on another backend'), report.skipped)
        self.assertNotIn(uid('elsewhere'),
                         [c.resource_id for c in report.candidates])
        listed = sum(len(v) for v in self.read_array().values())
        self.assertEqual(listed, sum(report.consistent.values())
                         + len(report.candidates)
                         + sum(report.skipped.values()))
        self.assertIn('volume with a row on another backend=1',
                      report_mod.pass_text(report))

    # Issue 23 item 7: the fake array has no guard of its own.

    def test_the_stage_guards_the_fake_array(self):
        _report, ids = self.confirmed()
        before = self.read_array()
        named = {ids[uid('mapped')], ids[uid('with-snap')]}
        outcome = self.remediate(finding_ids=named, delete_ids=named)
        self.assertEqual({
            uid('mapped'): ('skipped', 'volume volume-%s is exported to '
                            'compute-5: unexport it first' % uid('mapped')),
            uid('with-snap'): ('skipped', 'volume volume-%s has snapshots '
                               '(snapshot-%s): their data would go with '
                               'it; remediate them first' % (
                                   uid('with-snap'), uid('with-snap-s')))},
            self.results(outcome))
        # unm-<leak> is there already: never a second one.
        outcome = self.remediate(finding_ids={ids[uid('leak')]},
                                 quarantine=True)
        [(result, why)] = self.results(outcome).values()
        self.assertEqual('skipped', result)
        self.assertIn('the name unm-%s is taken on the array' % uid('leak'),
                      why)
        self.assertEqual(before, self.read_array())
        # The export's removal comes first in a plan: then the volume is
        # free to be quarantined, in the same run.
        export = 'volume-%s@compute-5' % uid('mapped')
        outcome = self.remediate(finding_ids={ids[uid('mapped')],
                                              ids[export]}, quarantine=True)
        self.assertEqual([('unexport', 'done'), ('quarantine', 'done')],
                         [(s.action, r[0]) for s, r in outcome.results])
        self.assertEqual([], self.read_array()['exports'])

    # Issue 23 item 11

    def test_a_parent_in_transition_is_a_skip_and_the_run_goes_on(self):
        _report, ids = self.confirmed()
        parent = uid('parent')
        self.api.post('/volumes/%s/action' % parent,
                      json={'os-reset_status': {'status': 'maintenance'}})
        self.addCleanup(self.api.post, '/volumes/%s/action' % parent,
                        json={'os-reset_status': {'status': 'available'}})
        snap, other = ids[uid('orphan-snap')], ids[uid('with-snap-s')]
        self.assertLess(snap, other)
        outcome = self.remediate(finding_ids={snap, other},
                                 delete_ids={other})
        self.assertEqual([('adopt', 'skipped'), ('delete', 'done')],
                         [(s.action, r[0]) for s, r in outcome.results])
        why = self.results(outcome)[uid('orphan-snap')][1]
        self.assertIn('its parent is volume %s (maintenance' % parent, why)
        self.assertIn('once the parent is available or in-use', why)

    # Issue 23 item 12: a skip says what changed.

    def test_a_skip_names_what_changed(self):
        _report, ids = self.confirmed()
        export = 'volume-%s@compute-5' % uid('mapped')
        # The export's volume now has a row, attached through it; the
        # leak got a row too.
        self.cloud.add_volumes([scn.Volume(
            uid('mapped'), BACKEND, status='in-use', pool='p1',
            attached_to=['compute-5'])])
        self.cloud.add_volumes([scn.Volume(uid('leak'), OTHER, pool='p1')])
        self.addCleanup(self.forget_row, uid('mapped'))
        self.addCleanup(self.forget_row, uid('leak'))
        outcome = self.remediate(finding_ids={ids[export], ids[uid('leak')]},
                                 quarantine=True)
        results = self.results(outcome)
        result, why = results[export]
        self.assertEqual('skipped', result)
        self.assertIn('no longer an orphan: volume %s is attached through '
                      'it:' % uid('mapped'), why)
        self.assertIn('on compute-5', why)
        result, why = results[uid('leak')]
        self.assertEqual('skipped', result)
        self.assertIn('no longer an orphan: Cinder has a row for it now: '
                      'volume %s (available, host ctl-8@fk2#p1)'
                      % uid('leak'), why)
        text = report_mod.outcome_text(outcome)
        self.assertIn('nothing applied, 2 step(s)', text)
        self.assertNotIn(' applied', text.replace('nothing applied', ''))

    # Issue 23 item 8, for adoption: the object keeps its name until
    # Cinder's volume service managed it; only Cinder's rows tell.

    def test_an_earlier_adoption_is_found_in_cinders_rows(self):
        _report, ids = self.confirmed()
        adopted = uid('adopted-earlier')
        self.cloud.add_volumes([scn.Volume(adopted, BACKEND, pool='p1',
                                           status='error_managing')])
        self.addCleanup(self.forget_row, adopted)
        self.cloud.set_volume_metadata(adopted, {
            cinder_actions.FOUND_KEY: uid('with-snap'),
            cinder_actions.FINDING_KEY: str(ids[uid('with-snap')])})
        outcome = self.remediate(finding_ids={ids[uid('with-snap')]})
        self.assertEqual({uid('with-snap'): (
            'skipped', 'already adopted as volume %s' % adopted)},
            self.results(outcome))

    # Issue 22 item 1, remediation's half

    def test_name_only_evidence_needs_corroboration_or_the_operator(self):
        gone = uid('gone-row')
        self.cloud.add_volumes([scn.Volume(gone, BACKEND, pool='p1')])
        self.addCleanup(self.forget_row, gone)
        array = fake_array()
        array['volumes'].append(volume('gone-row'))
        self.write_array(array)
        self.confirmed()            # gone-row matched to its row
        self.cloud.soft_delete_volume(gone)
        _report, ids = self.confirmed()
        chance, evented = ids[uid('with-snap')], ids[uid('mapped')]
        for finding_id in (ids[gone], chance, evented):
            self.set_details(finding_id, ownership_evidence='name')
        self.store.record_events([model.CinderEvent(
            BACKEND, 'volume.create.end', 'volume', uid('mapped'),
            'ctl-9@fk1#p1', time.time() - 86400)])

        def plan(**kwargs):
            outcome = remediator.Remediator(
                self.conf, self.backend, self.store, self.notifier,
                'test').run(**kwargs)
            return ({s.finding.id: s.action for s in outcome.plan.steps},
                    {r.finding.id: r.reason for r in outcome.plan.refused
                     if r.finding})

        self.values.load_raw_values(group=BACKEND,
                                    reconciler_remediation_min_age='0')
        steps, refused = plan()
        # Matched to a row by an earlier pass, or named by Cinder's events:
        # Cinder's. The other one could be any operator's name.
        self.assertEqual('adopt', steps[ids[gone]])
        self.assertEqual('adopt', steps[evented])
        self.assertNotIn(chance, steps)
        self.assertIn("its only evidence of being Cinder's is its name",
                      refused[chance])
        self.assertIn('name it (--finding %d) to adopt it' % chance,
                      refused[chance])
        # Named by the operator, it is acted on, and the plan says why.
        steps, refused = plan(finding_ids={chance}, quarantine=True)
        self.assertEqual({chance: 'quarantine'}, steps)
        outcome = remediator.Remediator(
            self.conf, self.backend, self.store, self.notifier,
            'test').run(finding_ids={chance}, quarantine=True)
        self.assertIn('named by the operator, although its only evidence',
                      outcome.plan.steps[0].why)

    # Issue 23 items 6 and 12, through the CLI

    def test_operator_commands(self):
        _report, ids = self.confirmed()
        before = self.read_array()
        # --limit 0: nothing is done.
        result = self.cli('remediate', '--backend', BACKEND, '--apply',
                          '--limit', '0', '--kind', 'orphan_export')
        self.assertEqual(1, result.returncode)
        self.assertIn('1 steps planned, more than the limit of 0: nothing '
                      'done', result.stdout)
        result = self.cli('remediate', '--limit', '-1')
        self.assertEqual(1, result.returncode)
        self.assertIn('--limit must be 0 or more', result.stderr)
        self.assertEqual(before, self.read_array())
        # A finding no enabled backend has, said once; fk2 is not planned.
        result = self.cli('remediate', '--finding', '999', '--format',
                          'json')
        self.assertEqual(1, result.returncode)
        # (Log lines may hold 999 in a pid or a time: the finding's words.)
        self.assertEqual(['No enabled backend has finding 999'],
                         [line for line in result.stderr.splitlines()
                          if 'finding 999' in line])
        self.assertEqual([], json.loads(result.stdout))
        export = ids['volume-%s@compute-5' % uid('mapped')]
        result = self.cli('remediate', '--finding', str(export),
                          '--finding', '999')
        self.assertEqual(1, result.returncode)
        self.assertIn('Backend fk1: plan only', result.stdout)
        self.assertNotIn('fk2', result.stdout)
        self.assertEqual(1, result.stderr.count('finding 999'))
        # Every step skipped: nothing applied, and the exit status says so.
        array = self.read_array()
        array['exports'] = []
        self.write_array(array)
        result = self.cli('remediate', '--finding', str(export), '--apply')
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn('Backend fk1: nothing applied, 1 step(s)',
                      result.stdout)
        self.assertIn('-> skipped: already removed: the export '
                      'volume-%s@compute-5 is gone' % uid('mapped'),
                      result.stdout)
        # And something applied says so.
        result = self.cli('remediate', '--finding', str(ids[uid('leak')]),
                          '--finding', str(ids[uid('with-snap-s')]),
                          '--delete-data', '--apply')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('Backend fk1: applied 2 of 2 step(s), limit 5',
                      result.stdout)
        # findings ignore --until a past time is refused.
        result = self.cli('findings', 'ignore', str(export), '--reason',
                          'x', '--until', '2020-01-01T00:00:00')
        self.assertEqual(1, result.returncode)
        self.assertIn('--until 2020-01-01T00:00:00 is in the past',
                      result.stderr)
        self.assertIsNone(self.store.finding(export).ignored_reason)


class KilledRemediationTest(_CliMixin, test_lefthand_pass._LeftHandPassTest):
    """Issue 23 item 8: SIGKILL after the array applied a rename."""

    BACKEND = test_lefthand_pass.BACKEND
    HOST = 'ctl-1'

    @staticmethod
    def make_scenario():
        return scn.Scenario.from_dict(test_lefthand_pass.SCENARIO)

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.proxy = faultproxy.FaultProxy(self.sim.url).start()
        self.addCleanup(self.proxy.stop)
        backend = self.scenario.backend(self.BACKEND)
        self.cli_conf = self.write_cli_conf({self.BACKEND: {
            'volume_driver': 'cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                             'HPELeftHandISCSIDriver',
            'hpelefthand_api_url': self.proxy.url,
            'hpelefthand_username': test_lefthand_pass.USER,
            'hpelefthand_password': test_lefthand_pass.PASSWORD,
            'hpelefthand_clustername': backend.pools[0],
            'reconciler_remediation_min_age': 0}}, (self.BACKEND,))

    def actions(self):
        return {a.id: (a.result, a.reason)
                for a in self.store.actions(backend=self.BACKEND)}

    def test_the_rerun_records_what_the_dead_step_did(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        [finding] = [f for f in self.store.findings()
                     if f.resource_id == uid('leak')]
        renamed = 'unm-%s' % uid('leak')
        # The rename (PUT /lhos/volumes/<id>; look-ups carry a query).
        hold = self.proxy.hold(r'^/lhos/volumes/\d+$', 120)
        proc = subprocess.Popen(
            self.command('remediate', '--finding', str(finding.id),
                         '--quarantine', '--apply'),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(hold.forwarded.wait(90))
        os.kill(proc.pid, signal.SIGKILL)
        self.assertEqual(-signal.SIGKILL, proc.wait(30))
        # The array renamed it; the audit still says running.
        self.assertIn(renamed, self.sim._volumes)
        [(first, (result, _why))] = self.actions().items()
        self.assertEqual('running', result)
        # The next remediation closes it as abandoned, then finds the
        # object renamed: that is the dead step's outcome.
        outcome = self.remediate(finding_ids={finding.id}, quarantine=True)
        [(step, (result, why))] = outcome.results
        self.assertEqual('skipped', result)
        self.assertEqual('already renamed to %s by action %d, whose process '
                         'died before recording it' % (renamed, first), why)
        actions = self.actions()
        self.assertEqual('done', actions[first][0])
        self.assertIn('applied, though its process died before recording '
                      'it: action %d found it renamed to %s'
                      % (max(actions), renamed), actions[first][1])
        self.assertEqual('skipped', actions[max(actions)][0])
