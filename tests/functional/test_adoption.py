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

"""Adoption through Cinder's manage API, by real Cinder code end to end.

cinder-api, cinder-scheduler and a cinder-volume service in one process
(tests/incinder/allinone.py): the volume service's driver manages an object
of its JSON "array" by renaming it after the new volume, as Cinder's LVM
driver does. The reconciler's fake driver reads the same file, so the next
pass sees what Cinder's manage did to the array.
"""

import json
import time

from keystoneauth1 import adapter

from reconciler import model
from reconciler.remediation import cinder_actions
from reconciler.remediation import remediator
from reconciler.simulators import scenario as scn
from tests.functional import fixtures
from tests.functional import test_manageable_pass as manageable

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
LEAK = (K.ARRAY_ONLY, R.VOLUME, uid('leak'))
LEAK_SNAP = (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap'))


def scenario():
    """The manageable scenario, in the pool Cinder's fake driver reports."""
    s = scn.planted(manageable.BACKEND, 'manageable', ['fake'],
                    host='host-m', healthy=6)
    s.snapshots = [x for x in s.snapshots if x.id != uid('s-migrated')]
    return s


class _Adoption(fixtures.DriverPassTestCase):

    BACKEND = manageable.BACKEND
    HOST = 'host-m'
    VOLUME_SERVICES = (BACKEND,)
    make_scenario = staticmethod(scenario)

    def start_array(self):
        volumes, snapshots = manageable.array_of(self.scenario)
        # The fake driver names a snapshot's parent "volume".
        snapshots = [dict(s, volume=s['source']) for s in snapshots]
        self.cloud.write_array(self.BACKEND, volumes, snapshots)
        return {'reconciler_driver': 'fake',
                'fake_array_file': self.cloud.array_path(self.BACKEND),
                'reconciler_remediation_min_age': '0'}

    def setUp(self):
        super().setUp()
        self.api = adapter.Adapter(
            self.cloud.session(), service_type='volumev3',
            endpoint_override=self.cloud.endpoint,
            default_microversion='3.45')

    def wait_available(self, path, key):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = self.api.get(path).json()[key]
            if body['status'] not in ('managing', 'creating'):
                return body
            time.sleep(0.5)
        self.fail('%s still %s' % (path, body['status']))

    def array_names(self):
        with open(self.cloud.array_path(self.BACKEND)) as f:
            array = json.load(f)
        return {o['name'] for key in ('volumes', 'snapshots')
                for o in array[key]}

    def adopt(self, *keys):
        """A pass, then the findings of ``keys`` remediated (default:
        adopted); returns the results by resource ID, and the finding IDs.
        """
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        ids = {f.resource_id: f.id for f in self.store.findings()
               if (f.kind, f.resource_type, f.resource_id) in keys}
        self.assertEqual(len(keys), len(ids))
        outcome = remediator.Remediator(
            self.conf, self.backend, self.store, self.notifier,
            'test').run(apply=True, finding_ids=set(ids.values()))
        self.assertIsNone(outcome.error)
        return {s.finding.resource_id: r for s, r in outcome.results}, ids


class AdoptionTest(_Adoption):

    def test_adopt_volume_and_snapshot(self):
        results, ids = self.adopt(LEAK, LEAK_SNAP)
        self.assertEqual({'done'}, {r[0] for r in results.values()},
                         results)

        volume_id = results[uid('leak')][1].split()[-1]
        volume = self.wait_available('/volumes/%s' % volume_id, 'volume')
        self.assertEqual('available', volume['status'])
        self.assertEqual('found-%s' % uid('leak'), volume['name'])
        self.assertEqual(
            {cinder_actions.FOUND_KEY: uid('leak'),
             cinder_actions.FINDING_KEY: str(ids[uid('leak')])},
            volume['metadata'])
        self.assertTrue(volume['os-vol-host-attr:host'].startswith(
            self.backend.cinder_host))
        snap_id = results[uid('leak-snap')][1].split()[-1]
        snapshot = self.wait_available('/snapshots/%s' % snap_id, 'snapshot')
        self.assertEqual(('available', uid('v2')),
                         (snapshot['status'], snapshot['volume_id']))
        # Cinder's driver renamed the objects after their new rows.
        names = self.array_names()
        self.assertIn('volume-%s' % volume_id, names)
        self.assertIn('snapshot-%s' % snap_id, names)
        self.assertNotIn('volume-%s' % uid('leak'), names)

        # The next pass resolves both findings; the adopted objects match.
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        findings = self.findings()
        self.assertEqual((S.RESOLVED, S.RESOLVED),
                         (findings[LEAK], findings[LEAK_SNAP]))
        self.assertNotIn(volume_id, {c.resource_id
                                     for c in report.candidates})


class AdoptionIntoProjectTest(_Adoption):
    """``reconciler_adopt_project``: the volume lands in that project.

    The test cloud's Cinder is noauth, where a request's project is the one
    its token names (``user:project``): the ``[cinder]`` credentials are
    cinderclient's ``noauth`` plugin, and the manage call is sent with them
    scoped to the configured project.
    """

    PROJECT = 'c0ffee00adopted0project0000000001'

    def setUp(self):
        super().setUp()
        self.values.load_raw_values(
            group='cinder', auth_type='noauth', user_id='admin',
            project_id='admin', endpoint=self.cloud.endpoint,
            endpoint_override=self.cloud.endpoint)
        self.values.load_raw_values(group=self.BACKEND,
                                    reconciler_adopt_project=self.PROJECT)

    def test_adopted_volume_is_in_the_configured_project(self):
        results, _ids = self.adopt(LEAK)
        self.assertEqual('done', results[uid('leak')][0], results)
        volume_id = results[uid('leak')][1].split()[-1]
        volume = self.wait_available('/volumes/%s' % volume_id, 'volume')
        self.assertEqual(('available', self.PROJECT),
                         (volume['status'],
                          volume['os-vol-tenant-attr:tenant_id']))
        # The inventory, in the [cinder] project, sees it in all projects:
        # the next pass resolves the finding.
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(S.RESOLVED, self.findings()[LEAK])
