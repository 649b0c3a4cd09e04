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

"""The rules every array-side step obeys, whatever the array.

Checked by the remediation stage right before the driver acts, from the
driver's own look-ups (``exports_of``, ``snapshots_of``, ``refresh``), so
no driver can skip them (``ArrayDriver`` refuses a driver class that
offers the actions without the look-ups):

- delete: the object is exported nowhere (a host would lose a disk and
  keep a dead mapping) and no snapshot depends on it (its data would go
  with it);
- quarantine: exported nowhere (renamed, its export would stop reading as
  Cinder's, which hides an orphan export rather than removing it), and
  the name it gets is free (two objects under one name: the next rename or
  delete of that name could reach the other).

A driver's own refusals (an open LV, an NEC LD in a pair, what the array
itself refuses) stay in its action, as a second line.
"""

from reconciler import model
from reconciler.remediation import plan as plan_mod


def refusal(action, obj, driver):
    """Why ``action`` may not touch the array object ``obj`` now, or None.
    """
    if action not in (plan_mod.DELETE, plan_mod.QUARANTINE):
        return None
    exports = driver.exports_of(obj)
    if exports:
        return '%s %s is exported to %s: unexport it first' % (
            obj.kind, obj.name, ', '.join(exports))
    if action == plan_mod.DELETE:
        snapshots = driver.snapshots_of(obj)
        if snapshots:
            return ('%s %s has snapshots (%s): their data would go with it; '
                    'remediate them first' % (obj.kind, obj.name,
                                              ', '.join(snapshots)))
        return None
    new = driver.quarantine_name(obj)
    taken = find_named(driver, new)
    if taken is not None:
        return ('the name %s is taken on the array (a %s): %s is not '
                'renamed onto it' % (new, taken.kind, obj.name))
    return None


def find_named(driver, name):
    """The array's volume or snapshot named ``name`` now, or None."""
    for kind in (model.ResourceType.VOLUME, model.ResourceType.SNAPSHOT):
        found = driver.refresh(model.ArrayObject(kind, name, None,
                                                 model.ObjectClass.FOREIGN))
        if found is not None:
            return found
    return None
