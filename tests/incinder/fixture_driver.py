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

"""A Cinder volume driver whose "array" is a JSON file (Cinder's venv only).

Cinder's own FakeLoggingVolumeDriver with the manageable-resources listing
of an array: ``$CINDER_RECONCILER_ARRAYS/<backend group>.json`` holds
``{"volumes": [{"name", "size", "in_use"}], "snapshots": [{"name", "size",
"source"}]}``, re-read on every call. Entries are judged the way Cinder's
LVM and RBD drivers judge theirs: the UUID in a Cinder-style name is looked
up among the service's rows by ``id`` only (so a migrated volume, named after
its name_id, shows up as not managed), an object in use is not safe.

With ``"track_volumes": true`` in the file, the driver keeps it as an array
would: a volume Cinder creates is added, a connection adds an export
(``{"volume", "host", "initiators"}``, the reconciler's fake driver reads
the same file), a disconnect removes it unless the host is in
``"busy_hosts"`` (it still holds the LUN: the array keeps the mapping), and
a delete is refused while the volume is exported ("volume is busy": Cinder
leaves it ``error_deleting``). A volume named ``hold-*`` stays in its
create while the file ``hold`` exists next to the array's, as a volume
service stopped mid-operation would leave it.
"""

import json
import os
import time

from cinder import exception
from cinder.tests import fake_driver
from cinder.volume import volume_utils


#: The CHAP password of every connection_info this driver returns.
CHAP_SECRET = 'fixture-chap-secret'


class ManageableFakeDriver(fake_driver.FakeLoggingVolumeDriver):

    def _path(self):
        return os.path.join(os.environ['CINDER_RECONCILER_ARRAYS'],
                            '%s.json' % self.configuration.config_group)

    def _array(self):
        with open(self._path()) as f:
            return json.load(f)

    def _entry(self, key, ref):
        """The array object ``ref`` names, as Cinder's drivers find it."""
        array = self._array()
        for obj in array.get(key, ()):
            if obj['name'] == ref.get('source-name'):
                return array, obj
        raise exception.ManageExistingInvalidReference(
            existing_ref=ref, reason='not on the array')

    def _rename(self, key, ref, name):
        # As Cinder's LVM driver renames the LV it manages.
        array, obj = self._entry(key, ref)
        obj['name'] = name
        self._write(array)

    def _update_volume_stats(self):
        """Cinder's fake pool, under the pool names the array file lists
        (``"pools"``), so volumes of a scenario's pools can be managed;
        multiattach, as Cinder's LVM driver reports it.
        """
        super()._update_volume_stats()
        try:
            names = self._array().get('pools')
        except OSError:
            names = None
        [pool] = self._stats['pools']
        pool = dict(pool, multiattach=True)
        self._stats['pools'] = [dict(pool, pool_name=n)
                                for n in names or [pool['pool_name']]]

    def _write(self, array):
        with open(self._path() + '.new', 'w') as f:
            json.dump(array, f)
        os.replace(self._path() + '.new', self._path())

    def _tracked(self):
        try:
            array = self._array()
        except OSError:
            return None
        return array if array.get('track_volumes') else None

    def _hold(self, volume):
        here = os.path.dirname(self._path())
        hold = os.path.join(here, 'hold')
        if not ((volume.display_name or '').startswith('hold-')
                and os.path.exists(hold)):
            return
        with open(os.path.join(here, 'holding'), 'w') as f:
            f.write(volume.id)
        deadline = time.monotonic() + 300
        while os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.2)

    def create_volume(self, volume):
        self._hold(volume)
        result = super().create_volume(volume)
        array = self._tracked()
        if array is not None:
            array['volumes'].append({'name': volume.name,
                                     'size': volume.size})
            self._write(array)
        return result

    def delete_volume(self, volume):
        self._hold(volume)
        array = self._tracked()
        if array is not None:
            hosts = [e['host'] for e in array.get('exports', ())
                     if e['volume'] == volume.name]
            if hosts:
                raise exception.VolumeBackendAPIException(
                    data='volume %s is busy: exported to %s'
                    % (volume.name, ', '.join(hosts)))
            array['volumes'] = [v for v in array['volumes']
                                if v['name'] != volume.name]
            self._write(array)
        return super().delete_volume(volume)

    def terminate_connection(self, volume, connector, **kwargs):
        array = self._tracked()
        host = (connector or {}).get('host')
        if array is not None and host not in array.get('busy_hosts', ()):
            array['exports'] = [e for e in array.get('exports', ())
                                if (e['volume'], e['host'])
                                != (volume.name, host)]
            self._write(array)
        return super().terminate_connection(volume, connector, **kwargs)

    def initialize_connection(self, volume, connector):
        """With CHAP credentials, as Cinder's LVM and iSCSI drivers
        answer: Cinder then carries them in its notifications' payloads.
        """
        info = super().initialize_connection(volume, connector)
        info['data'].update(auth_method='CHAP', auth_username='fixture',
                            auth_password=CHAP_SECRET)
        array = self._tracked()
        if array is not None and connector and connector.get('host'):
            exports = array.setdefault('exports', [])
            export = {'volume': volume.name, 'host': connector['host'],
                      'initiators': [connector.get('initiator')]}
            if export not in exports:
                exports.append(export)
                self._write(array)
        return info

    def manage_existing_get_size(self, volume, existing_ref):
        return self._entry('volumes', existing_ref)[1]['size']

    def manage_existing(self, volume, existing_ref):
        self._rename('volumes', existing_ref, volume['name'])

    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        return self._entry('snapshots', existing_ref)[1]['size']

    def manage_existing_snapshot(self, snapshot, existing_ref):
        self._rename('snapshots', existing_ref, snapshot['name'])

    def _manageable(self, rows, key, extract, page):
        ids = {row['id'] for row in rows}
        entries = []
        for obj in self._array().get(key, ()):
            entry = {'reference': {'source-name': obj['name']},
                     'size': obj['size'], 'safe_to_manage': True,
                     'reason_not_safe': None, 'cinder_id': None,
                     'extra_info': None}
            potential = extract(obj['name'])
            if potential in ids:
                entry.update(safe_to_manage=False, cinder_id=potential,
                             reason_not_safe='already managed')
            elif obj.get('in_use'):
                entry.update(safe_to_manage=False,
                             reason_not_safe='volume in use')
            if 'source' in obj:
                entry['source_reference'] = {'source-name': obj['source']}
            entries.append(entry)
        return volume_utils.paginate_entries_list(entries, *page)

    def get_manageable_volumes(self, cinder_volumes, *page):
        return self._manageable(cinder_volumes, 'volumes',
                                volume_utils.extract_id_from_volume_name,
                                page)

    def get_manageable_snapshots(self, cinder_snapshots, *page):
        return self._manageable(cinder_snapshots, 'snapshots',
                                volume_utils.extract_id_from_snapshot_name,
                                page)
