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

"""Cinder UUIDs to array names and back, through a backend's driver.

NEC writes UUIDs in base 62 and 3PAR in a 22-character base 64, so operators
cannot read array listings; these mappings use the drivers' own encoders.
"""

import uuid as uuidlib

from reconciler import model


#: What a name computed without Cinder cannot know, in one line.
OFFLINE_NOTE = ("Computed from the id alone ([cinder] is not configured): "
                "a migrated volume's object is named after its name_id, "
                'not its id; map the name_id instead.')


def _is_uuid(value):
    try:
        return str(uuidlib.UUID(value)) == value.lower()
    except ValueError:
        return False


def _volume_row(driver, volume_id, cinder):
    """The array name of volume ``volume_id``, after Cinder's row.

    A migrated volume's object is named after its ``name_id``; a UUID that
    is another volume's ``name_id`` names that volume's object.
    """
    volume = cinder.volume_with_key(volume_id) if cinder else None
    if volume is None:
        note = 'no live Cinder volume' if cinder else None
        key = volume_id
    elif volume.id != volume_id:
        note = 'name_id of migrated volume %s' % volume.id
        key = volume_id
    elif volume.name_id and volume.name_id != volume.id:
        note = 'migrated: named after name_id %s' % volume.name_id
        key = volume.name_id
    else:
        note, key = None, volume.id
    return {'cinder_id': volume_id, 'type': str(model.ResourceType.VOLUME),
            'array_name': driver.volume_name(key), 'note': note}


def one_value(driver, value, cinder=None):
    """Rows mapping a UUID to its names, or a name to what it decodes to.

    ``cinder`` (a :class:`reconciler.inventory.cinder.CinderInventory`)
    tells whether the volume was migrated: its object is then named after
    ``name_id``, not after the id.
    """
    if _is_uuid(value):
        value = value.lower()
        return [_volume_row(driver, value, cinder),
                {'cinder_id': value,
                 'type': str(model.ResourceType.SNAPSHOT),
                 'array_name': driver.snapshot_name(value), 'note': None}]
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
