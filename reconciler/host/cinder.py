"""Cinder's view of one host: attachments with the targets they name.

Cinder shows the connector host of an attachment only in the volume's
``attachments[].host_name`` (admins, attached ones) and its connection_info
only in ``GET /attachments/detail``; neither listing filters by host. So both
are listed, all tenants and every page, and joined on the attachment id. Any
error fails the listing as a whole, as for a backend's inventory.

connection_info can hold CHAP secrets: only target names, LUNs and portals
are taken from it, bodies are kept out of the logs, and nothing else of it
is kept.
"""

import time
import urllib.parse

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
    data = info.get('data') if isinstance(info.get('data'), dict) else info
    driver_type = info.get('driver_volume_type') or data.get(
        'driver_volume_type')
    protocol = _PROTOCOLS.get(str(driver_type).lower(), driver_type)
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
        nqn = data.get('target_nqn') or data.get('nqn')
        if nqn:
            keys = {view.TargetKey(view.NVME, str(nqn))}
        for portal in _list(data.get('portals')):
            if isinstance(portal, (list, tuple)) and portal:
                portals.add(str(portal[0]))
    return protocol, frozenset(keys), frozenset(portals)


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
        try:
            protocol, keys, portals = connection_targets(
                item.get('connection_info'))
        except (ValueError, TypeError) as e:
            LOG.warning('Attachment %s: unreadable connection_info (%s); '
                        'its devices are not judged', item['id'],
                        type(e).__name__)
            protocol, keys, portals = 'unreadable', frozenset(), frozenset()
        return view.Attachment(
            attachment_id=item['id'], volume_id=item['volume_id'],
            instance_id=item.get('instance'),
            attach_status=item.get('status') or '',
            host=host,
            volume_status=volume.status if volume else None,
            migration_status=volume.migration_status if volume else None,
            protocol=protocol, targets=keys, portals=portals,
            project_id=volume.project_id if volume else None)
