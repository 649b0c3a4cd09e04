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

"""A file-backed array, for the demo and tests until real arrays are wired.

The array is a JSON or YAML file, re-read on every call so a test can change
the "array" between a listing and a re-check. Names follow Cinder's templates
(``volume-<uuid>``, ``snapshot-<uuid>``), like LVM and RBD. Format::

    volumes:   [{name: volume-<uuid>, pool: pool1, size: 1}]
    snapshots: [{name: snapshot-<uuid>, volume: volume-<uuid>}]
    exports:   [{volume: volume-<uuid>, host: compute-1, initiators: [...]}]
    error: "text"      # optional: every call fails with this (fault injection)

``volumes`` must be there (an empty list for an empty array): a file
without it is not an array without volumes. Every section is a list.
"""

import json
import os
import re
import time

from oslo_config import cfg
import yaml

from reconciler.drivers import base
from reconciler.drivers import bounded
from reconciler.drivers import names
from reconciler import exception
from reconciler import model

OPTS = [
    cfg.StrOpt('fake_array_file',
               help='Path of the JSON/YAML file that is the fake array.'),
]

# libyaml's safe loader where PyYAML was built with it: ~10x faster.
_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
_TEMP = re.compile(r'^clone-snap-(%s)$' % names.UUID)
_UNMANAGED = re.compile(r'^unm-(%s)$' % names.UUID)
_UNMANAGED_SNAPSHOT = re.compile(r'^ums-(%s)$' % names.UUID)


def _check_sections(data, path):
    """The file has the sections an array has, each a list."""
    if 'volumes' not in data:
        raise exception.ArrayResponseError(
            'fake array %s has no volumes section: an incomplete file, '
            'not an empty array (write "volumes: []")' % path)
    for section in ('volumes', 'snapshots', 'exports'):
        if not isinstance(data.get(section, []), list):
            raise exception.ArrayResponseError(
                'fake array %s: %s is not a list' % (path, section))


class FakeDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = (
        'cinder.tests.fake_driver.FakeLoggingVolumeDriver',)
    REQUIRED = ('fake_array_file',)
    REMEDIATIONS = frozenset(('unexport', 'quarantine', 'delete'))

    def __init__(self, backend):
        super().__init__(backend)
        self.names = names.Templates(backend.conf)

    def _read(self):
        path = self.backend.fake_array_file
        try:
            with open(path) as f:
                bounded.check_size(os.fstat(f.fileno()).st_size,
                                   'fake array %s' % path)
                text = f.read()
        except OSError as e:
            raise exception.ArrayUnreachable(
                'fake array %s unreadable: %s' % (path, e.strerror))
        try:
            # JSON is YAML, but the json module parses 25,000 volumes in
            # 0.02 s and 10 MB where even libyaml takes 4 s and 90 MB.
            data = bounded.loads(text, 'fake array %s' % path)
        except ValueError:
            try:
                data = yaml.load(text, Loader=_LOADER)
            except yaml.YAMLError as e:
                raise exception.ArrayResponseError(
                    'fake array %s malformed: %s' % (path, e))
            except RecursionError:
                raise bounded.LimitExceeded(
                    'fake array %s: nested too deeply to parse; refused'
                    % path)
        if not isinstance(data, dict):
            raise exception.ArrayResponseError(
                'fake array %s: top level is not a mapping' % path)
        if data.get('error'):
            raise exception.ArrayError('fake array: %s' % data['error'])
        _check_sections(data, path)
        return data

    def decode_name(self, name):
        return names.first_match((
            (self.names.volume, model.ResourceType.VOLUME,
             model.ObjectClass.CINDER),
            (self.names.snapshot, model.ResourceType.SNAPSHOT,
             model.ObjectClass.CINDER),
            (_TEMP, model.ResourceType.SNAPSHOT, model.ObjectClass.TEMPORARY),
            (_UNMANAGED, model.ResourceType.VOLUME,
             model.ObjectClass.UNMANAGED),
            (_UNMANAGED_SNAPSHOT, model.ResourceType.SNAPSHOT,
             model.ObjectClass.UNMANAGED),
        ), name) or (None, model.ObjectClass.FOREIGN, None)

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot_name(snapshot_id)

    def _objects(self, data):
        try:
            for v in data['volumes']:
                _, cls, uuid = self.decode_name(v['name'])
                yield model.ArrayObject(
                    model.ResourceType.VOLUME, v['name'], uuid, cls,
                    pool=v.get('pool'), size_gib=v.get('size'))
            for s in data.get('snapshots', ()):
                _, cls, uuid = self.decode_name(s['name'])
                _, _, parent = self.decode_name(s.get('volume') or '')
                yield model.ArrayObject(
                    model.ResourceType.SNAPSHOT, s['name'], uuid, cls,
                    parent_uuid=parent)
            for e in data.get('exports', ()):
                _, cls, uuid = self.decode_name(e['volume'])
                yield model.ArrayObject(
                    model.ResourceType.EXPORT,
                    '%s@%s' % (e['volume'], e['host']), uuid, cls,
                    host=e['host'],
                    initiators=frozenset(e.get('initiators') or ()))
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                'fake array %s: malformed entry (%s: %s)'
                % (self.backend.fake_array_file, type(e).__name__, e))

    def list_objects(self):
        start = time.monotonic()
        objects = tuple(self._objects(self._read()))
        return model.ArrayView(objects, fetched_at=time.time(),
                               seconds=time.monotonic() - start, requests=1)

    def _find(self, kind, name):
        for obj in self._objects(self._read()):
            if obj.kind == kind and obj.name == name:
                return obj
        return None

    def find_volume(self, volume_key):
        return self._find(model.ResourceType.VOLUME,
                          self.volume_name(volume_key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        return self._find(model.ResourceType.SNAPSHOT,
                          self.snapshot_name(snapshot_id))

    def refresh(self, obj):
        return self._find(obj.kind, obj.name)

    # Remediation: edits the file, as an array would change.

    def _write(self, data):
        path = self.backend.fake_array_file
        with open(path) as f:
            as_json = f.read().lstrip().startswith('{')
        with open(path + '.new', 'w') as f:
            if as_json:
                json.dump(data, f)
            else:
                yaml.safe_dump(data, f, sort_keys=False)
        os.replace(path + '.new', path)

    def _edit(self, obj, edit):
        data = self._read()
        key = {model.ResourceType.VOLUME: 'volumes',
               model.ResourceType.SNAPSHOT: 'snapshots',
               model.ResourceType.EXPORT: 'exports'}[obj.kind]
        entries = data.get(key) or []
        for i, entry in enumerate(entries):
            name = entry.get('name') or '%s@%s' % (entry.get('volume'),
                                                   entry.get('host'))
            if name == obj.name:
                edit(entries, i)
                data[key] = entries
                self._write(data)
                return
        raise exception.ArrayError(
            'fake array: no %s %s' % (obj.kind, obj.name))

    def remove_export(self, obj):
        self._edit(obj, lambda entries, i: entries.pop(i))

    def delete_object(self, obj):
        self._edit(obj, lambda entries, i: entries.pop(i))

    def quarantine_name(self, obj):
        return ('ums-%s' if obj.kind == model.ResourceType.SNAPSHOT
                else 'unm-%s') % obj.uuid

    def quarantine(self, obj):
        new = self.quarantine_name(obj)

        def rename(entries, i):
            entries[i] = dict(entries[i], name=new)
        self._edit(obj, rename)
        return new

    # What the remediation stage's guards read.

    def exports_of(self, obj):
        return self._related('exports', 'host', obj.name)

    def snapshots_of(self, obj):
        return self._related('snapshots', 'name', obj.name)

    def _related(self, section, field, name):
        """``field`` of the ``section`` entries whose volume is ``name``."""
        try:
            return sorted(str(e[field]) for e in self._read().get(section, ())
                          if e.get('volume') == name)
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                'fake array %s: malformed entry (%s: %s)'
                % (self.backend.fake_array_file, type(e).__name__, e))
