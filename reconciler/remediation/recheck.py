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

"""Ownership, re-checked right before a step acts.

Array names, IDs and LUNs get reused: a finding may be hours old. A step
acts only if, now, with fresh point look-ups on both sides, the object still
exists under the same name, that name still decodes to the same UUID, and
the engine's own re-check (``engine.confirm``: no Cinder row, no attachment,
nothing in transition) still holds. When it does not, the step is skipped
with what changed: the row, the attachment or the object.
"""

import dataclasses

from reconciler import engine
from reconciler import exception
from reconciler import model
from reconciler.remediation import plan as plan_mod
from reconciler.remediation import safety

K = model.FindingKind
R = model.ResourceType


class Changed(exception.ReconcilerError):
    """Found right before acting: the step no longer applies (skipped)."""


class Applied(Changed):
    """Found right before acting: what the step would do is done already
    (by an earlier step whose process died before recording it, or by
    someone else).
    """


def listed_object(finding):
    """The array object as the finding recorded it (None for a Cinder-only
    finding).
    """
    return engine.suspect_of(finding.candidate()).array_object


def ownership(finding, driver, cinder, backend_host):
    """``(fresh array object or None, None)`` if the step may act, else
    ``(None, why not)``: what changed since it was confirmed.
    """
    suspect = engine.suspect_of(finding.candidate())
    fresh = None
    if suspect.array_object is not None:
        listed = suspect.array_object
        fresh = driver.refresh(listed)
        if fresh is None:
            return None, 'the array object %s is gone' % listed.name
        if fresh.uuid != listed.uuid:
            return None, '%s now decodes to %s, not %s' % (
                fresh.name, fresh.uuid, listed.uuid)
        record = None
        if finding.kind == K.ORPHAN_EXPORT and fresh.uuid:
            record = cinder.volume_with_key(fresh.uuid)
        suspect = dataclasses.replace(suspect, array_object=fresh,
                                      cinder_record=record)
    if not engine.confirm([suspect], cinder, driver, backend_host):
        return None, 'no longer an orphan: %s' % what_changed(
            suspect, cinder, driver, backend_host)
    return fresh, None


def _row(volume):
    return 'volume %s (%s%s, host %s)' % (
        volume.id, volume.status,
        ', migration %s' % volume.migration_status
        if volume.migration_status not in engine.SETTLED_MIGRATION else '',
        volume.host or 'none')


def _attachments(volume):
    return ', '.join('%s on %s' % (a.attachment_id or 'attachment',
                                   a.host_name or 'an unnamed host')
                     for a in volume.attachments)


def _array_only_change(suspect, cinder, driver):
    obj = suspect.array_object
    if suspect.candidate.resource_type == R.VOLUME:
        volume = cinder.volume_with_key(obj.uuid)
        if volume is not None:
            return 'Cinder has a row for it now: %s' % _row(volume)
    else:
        snapshot = obj.uuid and cinder.get_snapshot(obj.uuid)
        if snapshot:
            return 'Cinder has a row for it now: snapshot %s (%s) of ' \
                'volume %s' % (snapshot.id, snapshot.status,
                               snapshot.volume_id)
    now = driver.refresh(obj)
    if now is None:
        return 'the array object %s is gone' % obj.name
    return 'the array object %s now reads as %s' % (obj.name,
                                                    now.object_class)


def _cinder_only_change(suspect, cinder, driver, backend_host):
    record = suspect.cinder_record
    volume_id = record.id
    if suspect.candidate.resource_type == R.SNAPSHOT:
        snapshot = cinder.get_snapshot(record.id)
        if snapshot is None:
            return "Cinder's row of snapshot %s is gone" % record.id
        if snapshot.status not in engine.COMPARED_SNAPSHOT:
            return 'snapshot %s is %s now' % (record.id, snapshot.status)
        volume_id = snapshot.volume_id
    volume = cinder.get_volume(volume_id)
    if volume is None:
        return "Cinder's row of volume %s is gone" % volume_id
    if not engine.compared(volume):
        return 'the row is %s now' % _row(volume)
    if not engine.on_backend(volume, backend_host):
        return 'the row moved to another backend: %s' % _row(volume)
    return 'the array object of %s %s is there now' % (
        suspect.candidate.resource_type, record.id)


def _export_change(suspect, cinder, driver):
    export = driver.refresh(suspect.array_object)
    if export is None:
        return 'the export %s is gone' % suspect.array_object.name
    volume = cinder.volume_with_key(export.uuid)
    if volume is None:
        return 'the export %s changed' % export.name
    if engine.in_transition(volume):
        return 'its volume is in transition: %s' % _row(volume)
    match = engine.export_match(volume, export)
    if match:
        return 'volume %s is attached through it: %s' % (
            volume.id, _attachments(volume))
    return ('Cinder cannot tell whether an attachment of volume %s uses '
            'it (%s)' % (volume.id, _attachments(volume) or 'none'))


def what_changed(suspect, cinder, driver, backend_host):
    """What a failed re-check of ``suspect`` found, in one line: the row,
    the attachment or the object (looked up again to say it).
    """
    kind = suspect.candidate.kind
    if kind == K.ARRAY_ONLY:
        return _array_only_change(suspect, cinder, driver)
    if kind == K.CINDER_ONLY:
        return _cinder_only_change(suspect, cinder, driver, backend_host)
    if kind == K.ORPHAN_EXPORT:
        return _export_change(suspect, cinder, driver)
    return 'the array object %s changed' % suspect.candidate.resource_id


def applied(step_action, finding, driver, writer):
    """What of the step's own effect is already there, or None: the object
    renamed to its quarantine name, the export or object gone, a row
    adopted from it, the row reset with this finding's note.
    """
    listed = listed_object(finding)
    if step_action == plan_mod.ADOPT:
        row = writer.adopted(finding)
        return row and 'adopted as %s %s' % (finding.resource_type, row)
    if step_action == plan_mod.RESET:
        return 'reset to error' if writer.was_reset(finding) else None
    if listed is None or driver.refresh(listed) is not None:
        return None
    if step_action == plan_mod.QUARANTINE:
        try:
            new = driver.quarantine_name(listed)
        except exception.ArrayError:
            return None
        renamed = safety.find_named(driver, new)
        if renamed is None or renamed.uuid not in (None, listed.uuid):
            return None
        return 'renamed to %s' % new
    return {plan_mod.UNEXPORT: 'removed: the export %s is gone',
            plan_mod.DELETE: 'deleted: %s is gone'}[step_action] % (
                listed.name)


def cinder_parent(finding, fresh, cinder):
    """The Cinder volume an array-only snapshot adopts onto, looked up now.

    Raises :class:`Changed` if Cinder has no such volume (any more), or
    if it is not settled: Cinder refuses to manage a snapshot onto a
    volume in transition (the step would fail and stop the run), and
    such a volume may be on its way out.
    """
    parent = fresh.parent_uuid and cinder.volume_with_key(fresh.parent_uuid)
    if not parent:
        raise Changed("parent volume %s is not Cinder's: remediate "
                      '--quarantine, or --delete-data --finding %d'
                      % (fresh.parent_uuid or 'unknown', finding.id))
    if not engine.volume_settled(parent):
        raise Changed('its parent is %s: not adopted now; a later '
                      'remediation adopts it once the parent is available '
                      'or in-use' % _row(parent))
    return parent
