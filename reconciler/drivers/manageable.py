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

"""Any backend, as Cinder's manageable-resources API shows it.

``GET /manageable_volumes/detail`` and ``/manageable_snapshots/detail``
(``host=host@backend``) make cinder-volume ask its own driver what the
array holds; this driver then decodes the names itself. Upstream drivers
judge "already managed" by ``id`` only (reference/backends.md 0.3), so a
migrated volume, named after its ``name_id``, comes back "safe to manage"
or "in use": ``safe_to_manage`` is never trusted. Instead:

* a name that follows Cinder's templates is Cinder-named, its UUID decoded
  (the engine compares it with ``name_id`` and ``id``), whatever the entry
  says: an unsafe one may be an attached migrated volume, or a leak in use;
* a name Cinder does not recognise, but an entry Cinder says it manages
  (``cinder_id``), is Cinder-named after that id (array-specific names such
  as 3PAR's ``osv-``);
* anything else is foreign: adoptable with ``cinder manage``.

Drivers list what they choose to (one pool, one CPG): unless the operator
says the listing is complete, Cinder's volumes are never judged missing.
"""

import time
import uuid as uuidlib

from oslo_config import cfg

from reconciler.drivers import base
from reconciler.drivers import bounded
from reconciler.drivers import names
from reconciler import exception
from reconciler.inventory import cinder as cinder_inventory
from reconciler import model

R = model.ResourceType
C = model.ObjectClass

OPTS = [
    cfg.BoolOpt('reconciler_manageable_complete', default=False,
                help="Whether Cinder's manageable listing of this backend "
                     'shows every volume and snapshot of its pools. Only '
                     'then can a Cinder volume missing from it be reported '
                     'as Cinder-only.'),
]


def _name(reference):
    """The array name in a reference; one that names nothing is malformed."""
    if not isinstance(reference, dict) or not any(reference.values()):
        raise TypeError('reference %r' % (reference,))
    return str(reference.get('source-name') or reference.get('source-id')
               or sorted(reference.items()))


def _as_uuid(text):
    try:
        return str(uuidlib.UUID(text))
    except (TypeError, ValueError):
        return None


class ManageableDriver(base.ArrayDriver):

    OPTS = OPTS

    def __init__(self, backend):
        super().__init__(backend)
        self.names = names.Templates(backend.conf)
        # LVM lists snapshots under their escaped LV name.
        self.snapshot_re = names.pattern(self.names.snapshot_template,
                                         prefix='_?')
        self.inventory = None

    def open(self):
        self.inventory = cinder_inventory.CinderInventory(self.backend.conf)

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot_name(snapshot_id)

    def decode_name(self, name):
        return names.first_match((
            (self.names.volume, R.VOLUME, C.CINDER),
            (self.snapshot_re, R.SNAPSHOT, C.CINDER),
        ), name) or (None, C.FOREIGN, None)

    def _object(self, kind, entry):
        name = _name(entry['reference'])
        pattern = self.names.volume if kind == R.VOLUME else self.snapshot_re
        uuid = self.names.uuid(pattern, name)
        if uuid is None:
            uuid = _as_uuid(entry.get('cinder_id'))
        parent = None
        if kind == R.SNAPSHOT and entry.get('source_reference'):
            source = _name(entry['source_reference'])
            parent = (self.names.uuid(self.names.volume, source)
                      or _as_uuid(source))
        size = entry.get('size')
        return model.ArrayObject(
            kind, name, uuid, C.CINDER if uuid else C.FOREIGN,
            size_gib=size if isinstance(size, (int, float)) else None,
            parent_uuid=parent)

    def _list(self, kind):
        resource = 'volumes' if kind == R.VOLUME else 'snapshots'
        try:
            entries = self.inventory.manageable(self.backend.cinder_host,
                                                resource)
        except RecursionError:
            # cinderclient's JSON parse of a hostile answer.
            raise bounded.LimitExceeded(
                'manageable %s of %s: answer nested too deeply to parse; '
                'refused' % (resource, self.backend.cinder_host))
        try:
            return [self._object(kind, e) for e in entries]
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                'manageable %s of %s: malformed entry (%s: %s)'
                % (resource, self.backend.cinder_host, type(e).__name__, e))

    def list_objects(self):
        start = time.monotonic()
        requests = self.inventory.requests
        objects = tuple(self._list(R.VOLUME) + self._list(R.SNAPSHOT))
        complete = self.backend.reconciler_manageable_complete
        return model.ArrayView(
            objects, fetched_at=time.time(), seconds=time.monotonic() - start,
            requests=self.inventory.requests - requests,
            pools=None if complete else frozenset())

    def _find(self, kind, test):
        return next((o for o in self._list(kind) if test(o)), None)

    def find_volume(self, volume_key):
        return self._find(R.VOLUME, lambda o: o.uuid == volume_key)

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        return self._find(R.SNAPSHOT, lambda o: o.uuid == snapshot_id)

    def refresh(self, obj):
        return self._find(obj.kind, lambda o: o.name == obj.name)
