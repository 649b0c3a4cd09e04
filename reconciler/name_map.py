"""Cinder UUIDs to array names and back, through a backend's driver.

NEC writes UUIDs in base 62 and 3PAR in a 22-character base 64, so operators
cannot read array listings; these mappings use the drivers' own encoders.
"""

import uuid as uuidlib

from reconciler import model


def _is_uuid(value):
    try:
        return str(uuidlib.UUID(value)) == value.lower()
    except ValueError:
        return False


def one_value(driver, value):
    """Rows mapping a UUID to its names, or a name to what it decodes to."""
    if _is_uuid(value):
        return [{'cinder_id': value.lower(), 'type': str(rtype),
                 'array_name': name(value.lower())}
                for rtype, name in (
                    (model.ResourceType.VOLUME, driver.volume_name),
                    (model.ResourceType.SNAPSHOT, driver.snapshot_name))]
    rtype, cls, uuid = driver.decode_name(value)
    return [{'array_name': value, 'type': rtype and str(rtype),
             'class': str(cls), 'cinder_id': uuid}]


def all_objects(driver, cinder_view):
    """Every Cinder volume and snapshot of the backend and its array name.

    ``on_array`` says whether the listing holds a Cinder-named object that
    decodes to that UUID; it is what a pass compares, without the
    re-checks. (By UUID, not name: an RBD snapshot is listed as
    ``<image>@<snapshot name>``.) Members of group snapshots may be named
    after their group (3PAR, LeftHand): for them it is None, unknown.
    """
    listed = {(o.kind, o.uuid) for o in driver.list_objects().objects
              if o.object_class == model.ObjectClass.CINDER}
    rows = []
    for v in cinder_view.volumes:
        name = driver.volume_name(v.key)
        rows.append({'cinder_id': v.id, 'type': 'volume', 'name_id': v.name_id,
                     'status': v.status, 'array_name': name,
                     'on_array': (model.ResourceType.VOLUME, v.key) in listed})
    for s in cinder_view.snapshots:
        name = driver.snapshot_name(s.id)
        found = (model.ResourceType.SNAPSHOT, s.id) in listed
        rows.append({'cinder_id': s.id, 'type': 'snapshot', 'name_id': None,
                     'status': s.status, 'array_name': name,
                     'on_array': found or (None if s.group_snapshot_id
                                           else False)})
    return rows
