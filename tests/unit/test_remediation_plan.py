"""The remediation plan for array-only snapshots: pure, from the history."""

from oslotest import base

from reconciler import history
from reconciler import model
from reconciler.remediation import plan
from reconciler.remediation import recheck

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
        self.assertEqual('row', recheck.cinder_parent(
            snapshot(), fresh, self.Cinder({PARENT: 'row'})))
