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

"""Cinder's view of one host: attachments with the targets they name.

Cinder shows the connector host of an attachment only in the volume's
``attachments[].host_name`` (admins, attached ones) and its connection_info
only in ``GET /attachments/detail``; neither listing filters by host. So both
are listed, all tenants and every page, and joined on the attachment id. Any
error fails the listing as a whole, as for a backend's inventory.

connection_info can hold CHAP secrets: only target names, LUNs, portals,
NVMe namespace identifiers and WWIDs are taken from it, bodies are kept out
of the logs, and nothing else of it is kept.
"""

import re
import time
import urllib.parse
import uuid as uuid_lib

from cinderclient import exceptions as cinder_exc
from os_brick.initiator import linuxscsi
from oslo_log import log as logging

from reconciler import exception
from reconciler.host import inventory as host_inventory
from reconciler.host import view
from reconciler.inventory import cinder as cinder_inventory

LOG = logging.getLogger(__name__)

_PROTOCOLS = {'iscsi': view.ISCSI, 'fibre_channel': view.FC,
              'nvmeof': view.NVME, 'nvme': view.NVME}


def _list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _lun(value, addressing_mode=None):
    lun = int(value)
    if lun < 0:
        raise ValueError('negative LUN')
    return (linuxscsi.LinuxSCSI.lun_for_addressing(lun, addressing_mode)
            if addressing_mode else lun)


def connection_targets(info):
    """``(protocol, {TargetKey}, {portal})`` of one connection_info.

    Accepts what Cinder stores for attachments (the driver's ``data``
    merged into the top level) and the nested ``{"driver_volume_type",
    "data"}`` form. Raises ValueError when it names targets in a shape
    that cannot be read.
    """
    if not isinstance(info, dict):
        return None, frozenset(), frozenset()
    data, protocol = _data(info), _protocol(info)
    keys, portals = set(), set()
    if protocol == view.ISCSI:
        iqns = _list(data.get('target_iqns')) or _list(data.get('target_iqn'))
        found = _list(data.get('target_portals')) or _list(
            data.get('target_portal'))
        luns = _list(data.get('target_luns')) or _list(
            data.get('target_lun', 0)) * len(iqns)
        if len(luns) != len(iqns):
            raise ValueError('iSCSI target_iqns and target_luns differ in '
                             'length')
        keys = {view.TargetKey(view.ISCSI, str(iqn), _lun(lun))
                for iqn, lun in zip(iqns, luns)}
        portals = {str(p) for p in found}
    elif protocol == view.FC:
        wwns = set(_list(data.get('target_wwn')))
        for targets in (data.get('initiator_target_map') or {}).values():
            wwns.update(_list(targets))
        lun = _lun(data.get('target_lun', 0), data.get('addressing_mode'))
        keys = {view.TargetKey(view.FC, host_inventory.normalise_wwn(w),
                               lun) for w in wwns}
    elif protocol == view.NVME:
        for target in _nvme_targets(data):
            nqn = target.get('target_nqn') or target.get('nqn')
            if nqn:
                keys.add(view.TargetKey(view.NVME, str(nqn)))
            for portal in _list(target.get('portals')):
                if isinstance(portal, (list, tuple)) and portal:
                    portals.add(str(portal[0]))
            if target.get('target_portal'):
                portals.add(str(target['target_portal']))
    return protocol, frozenset(keys), frozenset(portals)


def _data(info):
    return info.get('data') if isinstance(info.get('data'), dict) else info


def _protocol(info):
    driver_type = info.get('driver_volume_type') or _data(info).get(
        'driver_volume_type')
    return _PROTOCOLS.get(str(driver_type).lower(), driver_type)


def _nvme_targets(data):
    """The target dicts of an NVMe-oF connection_info: its replicas (a
    RAID of namespaces: the top-level ``vol_uuid`` is then Cinder's id, not
    a namespace's) or itself, as os-brick's NVMeOFConnProps reads them.
    """
    replicas = data.get('volume_replicas')
    if replicas is None:
        return [data]
    if not isinstance(replicas, list) or not all(
            isinstance(r, dict) for r in replicas):
        raise ValueError('volume_replicas is not a list of targets')
    return replicas


def _uuid(value):
    """A UUID or NGUID as sysfs shows it; ValueError if it is none."""
    return str(uuid_lib.UUID(str(value)))


def connection_namespaces(info):
    """``{NamespaceId}`` of an NVMe-oF connection_info, empty for others.

    UUID: ``vol_uuid`` (os-brick's key; ``volume_uuid`` of some drivers),
    NGUID: ``volume_nguid``, nsid: ``ns_id``. A target naming none of them
    is left out: only its NQN is known (the legacy format). Raises
    ValueError for an identifier that is not one.
    """
    if not isinstance(info, dict) or _protocol(info) != view.NVME:
        return frozenset()
    found = set()
    for target in _nvme_targets(_data(info)):
        nqn = target.get('target_nqn') or target.get('nqn')
        ident = target.get('vol_uuid') or target.get('volume_uuid')
        nguid = target.get('volume_nguid')
        nsid = target.get('ns_id')
        if not nqn or not (ident or nguid or nsid not in (None, '')):
            continue
        found.add(view.NamespaceId(
            str(nqn), _uuid(ident) if ident else None,
            _uuid(nguid) if nguid else None,
            int(nsid) if nsid not in (None, '') else None))
    return frozenset(found)


# Keys under which a connection_info may name the LUN's own WWID (os-brick
# calls it scsi_wwn in device_info). Not "serial": Infinidat's is the
# array's, Nova's copy holds the volume id.
WWID_KEYS = ('scsi_wwn', 'wwid')
_WWID = re.compile(r'^[0-9a-f]{16,40}$')


def connection_wwids(info):
    """WWIDs (multipath's form, ``36...``) a connection_info names.

    Values that are no WWID are ignored: it is evidence some drivers add,
    never needed to read the attachment.
    """
    if not isinstance(info, dict):
        return frozenset()
    data = _data(info)
    found = set()
    for key in WWID_KEYS:
        for value in _list(data.get(key)):
            wwid = host_inventory.sysfs_wwid(
                str(value).lower().removeprefix('0x'))
            if wwid and _WWID.match(wwid):
                # A bare NAA 6 name (as 3PAR prints WWNs) lacks the type
                # digit multipath puts first.
                found.add('3' + wwid if len(wwid) == 32
                          and wwid[0] == '6' else wwid)
    return frozenset(found)


class HostCinderInventory(cinder_inventory.CinderInventory):
    """Cinder's attachments and volume states, seen from one host."""

    def _attachment_pages(self, path='/attachments/detail', **filters):
        """Every attachment (any host, any project), all pages; with
        ``filters``, those matching (admins filter on any column).

        The attachments listing carries no next links: pages are followed
        by marker until one comes back empty. A marker deleted meanwhile
        restarts the listing, as for volumes.
        """
        for _attempt in range(cinder_inventory.LISTING_ATTEMPTS):
            try:
                return list(self._attachment_chain(path, filters))
            except cinder_exc.NotFound:
                LOG.info('Cinder attachments: page marker deleted '
                         'meanwhile, listing again')
        raise exception.CinderError(
            'Cinder GET %s: the listing kept changing under us (%d '
            'attempts)' % (path, cinder_inventory.LISTING_ATTEMPTS))

    def _attachment_chain(self, path, filters):
        marker, seen = None, set()
        while True:
            params = dict(filters, all_tenants=1, limit=self.page_size,
                          sort='id:asc')
            if marker:
                params['marker'] = marker
            body = self._get('%s?%s' % (path, urllib.parse.urlencode(params)),
                             missing_ok=False, log=False)
            items = body.get('attachments')
            if not isinstance(items, list):
                raise exception.CinderError(
                    'Cinder GET %s returned no attachments list' % path)
            if not items:
                return
            for item in items:
                if item['id'] in seen:
                    raise exception.CinderError(
                        'Cinder GET %s: attachment %s listed twice (marker '
                        'paging ignored?)' % (path, item['id']))
                seen.add(item['id'])
                yield item
            marker = items[-1]['id']

    def host_view(self, host):
        """Attachments with their targets, and every volume's state."""
        start = time.monotonic()
        requests = self.requests
        try:
            volumes = {v.id: v for v in self._pages(
                '/volumes/detail', 'volumes', cinder_inventory._volume)}
            if any(v.attachments for v in volumes.values()) and not any(
                    a.host_name for v in volumes.values()
                    for a in v.attachments):
                raise exception.CinderError(
                    'Cinder shows no attachment host names: the [cinder] '
                    'credentials lack the admin role')
            raw = self._attachment_pages()
            attachments = tuple(self._attachment(item, volumes)
                                for item in raw)
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.CinderError('Cinder listing malformed: %s'
                                        % type(e).__name__)
        LOG.debug('Cinder view of host %s: %d attachments (%d here), %d '
                  'volumes', host, len(attachments),
                  sum(1 for a in attachments if a.host == host), len(volumes))
        return view.CinderHostView(
            host=host, attachments=attachments,
            volumes={v.id: (v.status, v.migration_status, v.host)
                     for v in volumes.values()},
            fetched_at=time.time(), seconds=time.monotonic() - start,
            requests=self.requests - requests)

    @staticmethod
    def _attachment(item, volumes):
        volume = volumes.get(item['volume_id'])
        host = None
        if volume is not None:
            for a in volume.attachments:
                if a.attachment_id == item['id']:
                    host = a.host_name
        info = item.get('connection_info')
        try:
            protocol, keys, portals = connection_targets(info)
            namespaces = connection_namespaces(info)
            wwids = connection_wwids(info)
        except (ValueError, TypeError, AttributeError) as e:
            LOG.warning('Attachment %s: unreadable connection_info (%s); '
                        'its devices are not judged', item['id'],
                        type(e).__name__)
            protocol, keys, portals = 'unreadable', frozenset(), frozenset()
            namespaces = wwids = frozenset()
        return view.Attachment(
            attachment_id=item['id'], volume_id=item['volume_id'],
            instance_id=item.get('instance'),
            attach_status=item.get('status') or '',
            host=host,
            volume_status=volume.status if volume else None,
            migration_status=volume.migration_status if volume else None,
            protocol=protocol, targets=keys, portals=portals,
            project_id=volume.project_id if volume else None,
            namespaces=namespaces, wwids=wwids)
