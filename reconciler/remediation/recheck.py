"""Ownership, re-checked right before a step acts.

Array names, IDs and LUNs get reused: a finding may be hours old. A step
acts only if, now, with fresh point look-ups on both sides, the object still
exists under the same name, that name still decodes to the same UUID, and
the engine's own re-check (``engine.confirm``: no Cinder row, no attachment,
nothing in transition) still holds.
"""

from reconciler import engine
from reconciler import model

K = model.FindingKind
R = model.ResourceType


def _object(finding):
    """The array object a finding names, as far as the record tells."""
    details = finding.details
    if finding.kind == K.ORPHAN_EXPORT:
        return model.ArrayObject(
            R.EXPORT, finding.array_name, details.get('volume_uuid'),
            model.ObjectClass.CINDER, host=details.get('array_host'))
    return model.ArrayObject(
        finding.resource_type, finding.array_name, finding.cinder_id,
        model.ObjectClass.CINDER, pool=details.get('pool'),
        parent_uuid=details.get('parent'), group_uuid=details.get('group'))


def _record(finding):
    """The Cinder record a Cinder-only finding names (its id is enough)."""
    if finding.resource_type == R.SNAPSHOT:
        return model.CinderSnapshot(
            id=finding.resource_id,
            volume_id=finding.details.get('volume_id'), status='available')
    return model.CinderVolume(id=finding.resource_id, name_id=None,
                              host=None, status='available')


def ownership(finding, driver, cinder, backend_host):
    """``(fresh array object or None, None)`` if the step may act, else
    ``(None, why not)``.
    """
    candidate = model.Candidate(
        finding.kind, finding.resource_type, finding.resource_id,
        array_name=finding.array_name, cinder_id=finding.cinder_id)
    if finding.kind == K.CINDER_ONLY:
        suspect = engine.Suspect(candidate, cinder_record=_record(finding))
        fresh = None
    else:
        fresh = driver.refresh(_object(finding))
        if fresh is None:
            return None, 'the array object %s is gone' % finding.array_name
        if fresh.uuid != _object(finding).uuid:
            return None, ('%s now decodes to %s, not %s' % (
                fresh.name, fresh.uuid, _object(finding).uuid))
        record = None
        if finding.kind == K.ORPHAN_EXPORT and fresh.uuid:
            record = cinder.volume_with_key(fresh.uuid)
        suspect = engine.Suspect(candidate, fresh, record)
    if not engine.confirm([suspect], cinder, driver, backend_host):
        return None, ('no longer an orphan: a Cinder row, an attachment or '
                      'the array object changed since it was confirmed')
    return fresh, None
