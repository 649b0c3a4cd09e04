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

"""Stale temporaries are reported, never remediated: whatever is asked."""

from oslotest import base

from reconciler import history
from reconciler import model
from reconciler.remediation import plan

NOW = 10000.0
EVERY_ACTION = {'adopt', 'reset', 'unexport', 'quarantine', 'delete'}


def stale(fid=7):
    return history.FindingRecord(
        fid, 'b1', model.FindingKind.STALE_TEMPORARY,
        model.ResourceType.VOLUME, 'LX:3o1mTzvHdFhTXpOS1jRm4F_m',
        'LX:3o1mTzvHdFhTXpOS1jRm4F_m', None, None,
        model.FindingState.CONFIRMED, 0.0, NOW - 3 * 86400, 9, 0.0, None,
        {'holder_type': 'volume', 'holder_state': 'no Cinder row',
         'ownership_evidence': 'name'})


class StaleTemporaryPlanTest(base.BaseTestCase):

    def test_never_a_step(self):
        for options in ({}, {'quarantine': True}, {'finding_ids': [7]},
                        {'kinds': {'stale_temporary'}},
                        {'delete_ids': {7}, 'finding_ids': [7]}):
            result = plan.plan([stale()], NOW, 0, 5, EVERY_ACTION, **options)
            self.assertEqual((), result.steps, options)
            [refusal] = result.refused
            self.assertEqual(7, refusal.finding.id)
            self.assertTrue(('never acted on' in refusal.reason
                             or 'only array-only' in refusal.reason),
                            refusal.reason)
        [refusal] = plan.plan([stale()], NOW, 0, 5, EVERY_ACTION).refused
        self.assertIn('a temporary Cinder made for an operation',
                      refusal.reason)

    def test_no_automatic_action_can_name_it(self):
        from reconciler.conf import remediation
        [opt] = [o for o in remediation.OPTS
                 if o.name == 'reconciler_auto_remediate']
        self.assertFalse([c for c in opt.type.item_type.choices
                          if c.startswith('stale_temporary')])
