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

"""The remediation plan: pure, from the history."""

import dataclasses

from oslotest import base

from reconciler import exception
from reconciler import history
from reconciler import model
from reconciler.remediation import plan
from reconciler.remediation import recheck
from reconciler.remediation import remediator

NOW = 10000.0
PARENT = '1c3f0b2e-8d4c-4b5e-9f0a-000000000001'
SNAP = '1c3f0b2e-8d4c-4b5e-9f0a-000000000002'
ARRAY = {'unexport', 'quarantine', 'delete'}


def finding(fid, rtype, resource_id, **details):
    return history.FindingRecord(
        fid, 'b1', model.FindingKind.ARRAY_ONLY, rtype, resource_id,
        '%s-%s' % (rtype, resource_id), resource_id, None,
        model.FindingState.CONFIRMED, 0.0, NOW, 2, 0.0, None, details)


def volume(fid=1):
    return finding(fid, model.ResourceType.VOLUME, PARENT, pool='p')


def snapshot(fid=2, parent=PARENT):
    return finding(fid, model.ResourceType.SNAPSHOT, SNAP, parent=parent)


class SnapshotPlanTest(base.BaseTestCase):

    def plan(self, findings, supported=ARRAY | {'adopt', 'reset'},
             orphans=frozenset({PARENT}), **kwargs):
        return plan.plan(findings, NOW, 0, 5, supported,
                         orphan_volumes=orphans, **kwargs)

    def steps(self, result):
        return [(s.finding.id, s.action) for s in result.steps]

    def test_snapshot_of_a_cinder_volume_is_adopted(self):
        result = self.plan([snapshot()], orphans=frozenset())
        self.assertEqual([(2, 'adopt')], self.steps(result))

    def test_snapshot_of_an_array_only_volume_is_quarantined(self):
        result = self.plan([snapshot()])
        self.assertEqual([(2, 'quarantine')], self.steps(result))
        self.assertIn("%s, not Cinder's: it cannot be adopted" % PARENT,
                      result.steps[0].why)

    def test_snapshot_of_no_known_volume_is_quarantined(self):
        result = self.plan([snapshot(parent=None)], orphans=frozenset())
        self.assertEqual([(2, 'quarantine')], self.steps(result))

    def test_without_quarantine_only_an_explicit_delete(self):
        supported = {'adopt', 'reset', 'delete'}
        result = self.plan([snapshot()], supported=supported)
        self.assertEqual([], self.steps(result))
        [refusal] = result.refused
        self.assertIn('only --delete-data --finding 2 removes it',
                      refusal.reason)
        result = self.plan([snapshot()], supported=supported,
                           delete_ids={2})
        self.assertEqual([(2, 'delete')], self.steps(result))

    def test_waits_for_its_parent_adopted_by_the_same_plan(self):
        result = self.plan([volume(), snapshot()])
        self.assertEqual([(1, 'adopt')], self.steps(result))
        [refusal] = result.refused
        self.assertIn('adopted by this plan (finding 1)', refusal.reason)
        # Asked for, both are quarantined.
        result = self.plan([volume(), snapshot()], quarantine=True)
        self.assertEqual([(1, 'quarantine'), (2, 'quarantine')],
                         self.steps(result))


class UnmanagedTest(base.BaseTestCase):

    def test_never_acted_on_even_named(self):
        # What Cinder's events alone call unmanaged: shown, never touched,
        # whatever the operator asks.
        unmanaged = dataclasses.replace(
            volume(7), kind=model.FindingKind.UNMANAGED,
            details={'cinder_message_id': 'm1'})
        for kwargs in ({}, {'quarantine': True}, {'finding_ids': {7}},
                       {'finding_ids': {7}, 'delete_ids': {7}}):
            result = plan.plan([unmanaged], NOW, 0, 5,
                               ARRAY | {'adopt', 'reset'}, **kwargs)
            self.assertEqual((), result.steps, kwargs)
            [refusal] = result.refused
            self.assertIn(refusal.reason, (
                'unmanaged objects are reported, never acted on',
                'only array-only objects can be deleted'))


class CinderParentTest(base.BaseTestCase):

    class Cinder(object):
        def __init__(self, volumes):
            self.volumes = volumes

        def volume_with_key(self, key):
            return self.volumes.get(key)

    def test_parent_gone_since_the_plan_is_a_skip(self):
        fresh = model.ArrayObject(model.ResourceType.SNAPSHOT, 's', SNAP,
                                  model.ObjectClass.CINDER,
                                  parent_uuid=PARENT)
        e = self.assertRaises(recheck.Changed, recheck.cinder_parent,
                              snapshot(), fresh, self.Cinder({}))
        self.assertIn("parent volume %s is not Cinder's" % PARENT, str(e))
        row = model.CinderVolume(PARENT, None, 'h@b#p', 'in-use')
        self.assertEqual(row, recheck.cinder_parent(
            snapshot(), fresh, self.Cinder({PARENT: row})))

    def test_parent_in_transition_is_a_skip(self):
        """Cinder would refuse the manage call (a failed step, the run
        stopped); the parent is re-checked and the step skipped.
        """
        fresh = model.ArrayObject(model.ResourceType.SNAPSHOT, 's', SNAP,
                                  model.ObjectClass.CINDER,
                                  parent_uuid=PARENT)
        for status, migration in (('extending', None), ('available',
                                                        'migrating')):
            row = model.CinderVolume(PARENT, None, 'h@b#p', status,
                                     migration_status=migration)
            e = self.assertRaises(recheck.Changed, recheck.cinder_parent,
                                  snapshot(), fresh,
                                  self.Cinder({PARENT: row}))
            self.assertNotIsInstance(e, recheck.Applied)
            self.assertIn('its parent is volume %s (%s' % (PARENT, status),
                          str(e))
            self.assertIn('once the parent is available or in-use', str(e))


class UncertainOwnershipTest(base.BaseTestCase):
    """Objects that may not be Cinder's are acted on only when named."""

    def plan(self, findings, evidence=None, keeps_name=False, **kwargs):
        return plan.plan(findings, NOW, 0, 5, ARRAY | {'adopt', 'reset'},
                         evidence=evidence, keeps_name=keeps_name, **kwargs)

    def named_by_chance(self, fid=1):
        return finding(fid, model.ResourceType.VOLUME, PARENT,
                       ownership_evidence='name')

    def test_name_only_evidence_is_refused_unless_corroborated(self):
        result = self.plan([self.named_by_chance()])
        self.assertEqual((), result.steps)
        [refusal] = result.refused
        self.assertIn("its only evidence of being Cinder's is its name",
                      refusal.reason)
        self.assertIn('no recorded event of Cinder\'s names %s' % PARENT,
                      refusal.reason)
        self.assertIn('name it (--finding 1) to adopt it', refusal.reason)
        for why in (plan.Evidence(events='volume.create.end at T'),
                    plan.Evidence(matched=NOW - 3600)):
            result = self.plan([self.named_by_chance()], {1: why})
            self.assertEqual([(1, 'adopt')], [
                (s.finding.id, s.action) for s in result.steps])
            self.assertNotIn('named by the operator', result.steps[0].why)

    def test_name_only_evidence_named_by_the_operator(self):
        for kwargs, action in (({}, 'adopt'), ({'quarantine': True},
                                               'quarantine'),
                               ({'delete_ids': {1}}, 'delete')):
            result = self.plan([self.named_by_chance()], finding_ids={1},
                               **kwargs)
            [step] = result.steps
            self.assertEqual(action, step.action)
            self.assertIn('named by the operator, although its only '
                          'evidence', step.why)

    def test_name_only_evidence_holds_for_quarantine_and_delete(self):
        for kwargs in ({'quarantine': True}, {'delete_ids': {1}}):
            result = self.plan([self.named_by_chance()], **kwargs)
            self.assertEqual((), result.steps)

    def test_may_have_been_unmanaged_is_never_adopted_by_default(self):
        """LVM, NEC, RBD: Cinder's unmanage leaves the name."""
        found = volume()
        result = self.plan([found], keeps_name=True)
        self.assertEqual((), result.steps)
        [refusal] = result.refused
        self.assertIn('it may have been unmanaged', refusal.reason)
        result = self.plan([found], keeps_name=True, quarantine=True)
        self.assertEqual((), result.steps)
        # Cinder's events show a delete: a leak, adopted as anywhere.
        deleted = plan.Evidence(events='volume.delete.end at T',
                                deleted=True)
        result = self.plan([found], {1: deleted}, keeps_name=True)
        self.assertEqual(['adopt'], [s.action for s in result.steps])
        # Events that do not end in a delete, or a match, prove nothing
        # about an unmanage.
        for why in (plan.Evidence(events='volume.create.end at T'),
                    plan.Evidence(matched=NOW)):
            self.assertEqual((), self.plan([found], {1: why},
                                           keeps_name=True).steps)
        # Named, it is adopted (or deleted, named for deletion).
        result = self.plan([found], keeps_name=True, finding_ids={1},
                           delete_ids={1})
        self.assertEqual(['delete'], [s.action for s in result.steps])
        self.assertIn('may have been unmanaged', result.steps[0].why)

    def test_other_kinds_are_not_weighed(self):
        export = history.FindingRecord(
            3, 'b1', model.FindingKind.ORPHAN_EXPORT,
            model.ResourceType.EXPORT, 'volume-x@h', 'volume-x@h', PARENT,
            None, model.FindingState.CONFIRMED, 0.0, NOW, 2, 0.0, None,
            {'volume_uuid': PARENT})
        result = self.plan([export], keeps_name=True)
        self.assertEqual(['unexport'], [s.action for s in result.steps])

    def test_exports_are_removed_first(self):
        export = history.FindingRecord(
            9, 'b1', model.FindingKind.ORPHAN_EXPORT,
            model.ResourceType.EXPORT, 'volume-x@h', 'volume-x@h', PARENT,
            None, model.FindingState.CONFIRMED, 0.0, NOW, 2, 0.0, None,
            {'volume_uuid': PARENT})
        result = self.plan([volume(), export], quarantine=True)
        self.assertEqual([(9, 'unexport'), (1, 'quarantine')], [
            (s.finding.id, s.action) for s in result.steps])


class LimitTest(base.BaseTestCase):

    def test_zero_lets_nothing_be_done(self):
        self.assertEqual(0, remediator.effective_limit(0, 5))
        self.assertEqual(5, remediator.effective_limit(None, 5))
        self.assertEqual(5, remediator.effective_limit(9, 5))
        self.assertRaises(exception.ConfigError, remediator.effective_limit,
                          -1, 5)
        result = plan.plan([volume()], NOW, 0, 0, ARRAY | {'adopt'})
        self.assertTrue(result.over_limit)
        result = plan.plan([], NOW, 0, 0, ARRAY | {'adopt'})
        self.assertFalse(result.over_limit)
