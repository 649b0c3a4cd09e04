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

"""The remediation stage's guards, fed by one driver's look-ups.

Mixed into each array's remediation tests (the real client against the
array's simulator, or the real tools): "exported nowhere, no dependent
snapshot, target name free" hold whatever the driver, because the stage
asks the driver and the driver answers from the array.
"""

from reconciler import model
from reconciler.remediation import plan
from reconciler.remediation import safety

R = model.ResourceType


class GuardTests(object):
    """A test case's ``guard_setup()`` returns ``(driver, objects)``;
    ``objects`` maps ``'exported'`` (a volume exported to the hosts,
    LD sets or targets ``exported_to``), ``'snapshotted'`` (a volume with
    a snapshot, exported nowhere) and ``'free'`` (a Cinder-named volume
    with neither) to fresh array objects; ``occupy(name)`` makes an
    object of that name on the array.
    """

    exported_to = ()

    def guard_setup(self):
        raise NotImplementedError()

    def occupy(self, name):
        raise NotImplementedError()

    def test_guard_refuses_deleting_or_renaming_an_exported_object(self):
        driver, objects = self.guard_setup()
        obj = objects['exported']
        self.assertEqual(sorted(self.exported_to),
                         sorted(driver.exports_of(obj)))
        for action in (plan.DELETE, plan.QUARANTINE):
            why = safety.refusal(action, obj, driver)
            self.assertIn('%s is exported to' % obj.name, why)
            for where in self.exported_to:
                self.assertIn(where, why)
        self.assertIsNone(safety.refusal(plan.UNEXPORT, obj, driver))

    def test_guard_refuses_deleting_an_object_with_snapshots(self):
        driver, objects = self.guard_setup()
        obj = objects['snapshotted']
        self.assertTrue(driver.snapshots_of(obj))
        self.assertEqual([], driver.exports_of(obj))
        why = safety.refusal(plan.DELETE, obj, driver)
        self.assertIn('%s has snapshots' % obj.name, why)
        self.assertIn('their data would go with it', why)

    def test_guard_lets_a_free_object_go_until_its_new_name_is_taken(self):
        driver, objects = self.guard_setup()
        obj = objects['free']
        self.assertEqual(([], []), (driver.exports_of(obj),
                                    driver.snapshots_of(obj)))
        for action in (plan.DELETE, plan.QUARANTINE):
            self.assertIsNone(safety.refusal(action, obj, driver))
        new = driver.quarantine_name(obj)
        self.occupy(new)
        why = safety.refusal(plan.QUARANTINE, obj, driver)
        self.assertIn('the name %s is taken on the array' % new, why)
        self.assertIsNone(safety.refusal(plan.DELETE, obj, driver))
