"""Ownership, re-checked right before a step acts.

Array names, IDs and LUNs get reused: a finding may be hours old. A step
acts only if, now, with fresh point look-ups on both sides, the object still
exists under the same name, that name still decodes to the same UUID, and
the engine's own re-check (``engine.confirm``: no Cinder row, no attachment,
nothing in transition) still holds.
"""

import dataclasses

from reconciler import engine
from reconciler import exception
from reconciler import model


class Changed(exception.ReconcilerError):
    """Found right before acting: the step no longer applies (skipped)."""


def ownership(finding, driver, cinder, backend_host):
    """``(fresh array object or None, None)`` if the step may act, else
    ``(None, why not)``.
    """
    suspect = engine.suspect_of(model.Candidate(
        finding.kind, finding.resource_type, finding.resource_id,
        array_name=finding.array_name, cinder_id=finding.cinder_id,
        project_id=finding.project_id,
        details=tuple(sorted(finding.details.items()))))
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
        if finding.kind == model.FindingKind.ORPHAN_EXPORT and fresh.uuid:
            record = cinder.volume_with_key(fresh.uuid)
        suspect = dataclasses.replace(suspect, array_object=fresh,
                                      cinder_record=record)
    if not engine.confirm([suspect], cinder, driver, backend_host):
        return None, ('no longer an orphan: a Cinder row, an attachment or '
                      'the array object changed since it was confirmed')
    return fresh, None


def cinder_parent(finding, fresh, cinder):
    """The Cinder volume an array-only snapshot adopts onto, looked up now.

    Raises :class:`Changed` if Cinder has no such volume (any more).
    """
    parent = fresh.parent_uuid and cinder.volume_with_key(fresh.parent_uuid)
    if not parent:
        raise Changed("parent volume %s is not Cinder's: remediate "
                      '--quarantine, or --delete-data --finding %d'
                      % (fresh.parent_uuid or 'unknown', finding.id))
    return parent
