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

"""Cinder's view of the whole cloud, and the look-ups that re-check it.

Volumes, snapshots and backups of all projects on every backend, every
attachment, and the services, every page followed; any error fails the
listing as a whole. Attachments are listed as the host view lists them
(``/attachments/detail`` pages by marker; connection_info, which can hold
CHAP secrets, is neither logged nor kept): their connector host is taken
from the volume's ``attachments`` (admins see ``host_name``).
"""

import time
import urllib.parse

from oslo_log import log as logging

from reconciler.cloud import view
from reconciler import exception
from reconciler.host import cinder as host_cinder
from reconciler.inventory import cinder as cinder_inventory

LOG = logging.getLogger(__name__)


def _attachment(item, hosts):
    return view.Attachment(
        id=item['id'], volume_id=item['volume_id'],
        instance_id=item.get('instance') or None,
        status=item.get('status') or '',
        mode=item.get('attach_mode') if item.get('attach_mode') not in (
            None, 'null') else None,
        host=hosts.get(item['id']))


def _backup(item):
    return view.Backup(id=item['id'], volume_id=item.get('volume_id'),
                       status=item['status'],
                       updated_at=item.get('updated_at'))


def _service(item):
    return view.Service(binary=item['binary'], host=item['host'],
                        state=item.get('state') or 'unknown',
                        status=item.get('status') or 'unknown',
                        cluster=item.get('cluster'))


class CloudCinderInventory(host_cinder.HostCinderInventory):
    """Listings and point look-ups against Cinder's API, cloud-wide."""

    def cloud_view(self):
        start = time.monotonic()
        requests = self.requests
        self.first_answer_time = None
        try:
            with self._listing():
                volumes = tuple(self._pages('/volumes/detail', 'volumes',
                                            cinder_inventory._volume))
                snapshots = tuple(self._pages(
                    '/snapshots/detail', 'snapshots',
                    cinder_inventory._snapshot))
                backups = tuple(self._pages('/backups/detail', 'backups',
                                            _backup))
                hosts = {a.attachment_id: a.host_name for v in volumes
                         for a in v.attachments if a.attachment_id}
                attachments = tuple(_attachment(item, hosts)
                                    for item in self._attachment_pages())
                services = self.services()
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.CinderError('Cinder listing malformed: %s'
                                        % type(e).__name__)
        if attachments and any(v.attachments for v in volumes) and not any(
                hosts.values()):
            raise exception.CinderError(
                'Cinder shows no attachment host names: the [cinder] '
                'credentials lack the admin role')
        LOG.debug('Cinder view of the cloud: %d volumes, %d snapshots, %d '
                  'backups, %d attachments', len(volumes), len(snapshots),
                  len(backups), len(attachments))
        return view.CinderCloudView(
            volumes=volumes, snapshots=snapshots, backups=backups,
            attachments=attachments, services=services,
            now=self.first_answer_time or time.time(),
            seconds=time.monotonic() - start,
            requests=self.requests - requests)

    def services(self):
        body = self._get('/os-services', missing_ok=False)
        items = body.get('services')
        if not isinstance(items, list):
            raise exception.CinderError(
                'Cinder GET /os-services returned no services list')
        return tuple(_service(item) for item in items)

    # Point look-ups for re-checks: None means "no live row".

    def volume(self, volume_id):
        """A live volume as the listing shows it (no initiators)."""
        body = self._get('/volumes/%s' % volume_id)
        return cinder_inventory._volume(body['volume']) if body else None

    def get_backup(self, backup_id):
        body = self._get('/backups/%s' % backup_id)
        return _backup(body['backup']) if body else None

    def get_attachment(self, attachment_id):
        """The attachment now (its connector host unknown), or None."""
        body = self._get('/attachments/%s' % attachment_id, log=False)
        return _attachment(body['attachment'], {}) if body else None

    def attachments_of(self, instance_id, volume_id):
        """Ids of the attachments of ``volume_id`` to ``instance_id``."""
        body = self._get('/attachments?%s' % urllib.parse.urlencode(dict(
            all_tenants=1, instance_id=instance_id, volume_id=volume_id)),
            missing_ok=False, log=False)
        items = body.get('attachments')
        if not isinstance(items, list):
            raise exception.CinderError(
                'Cinder GET /attachments returned no attachments list')
        return [a['id'] for a in items if a.get('instance') == instance_id
                and a.get('volume_id') == volume_id]
