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

"""Nova's view of the cloud: servers and their block device mappings.

One listing, ``GET /servers/detail?all_tenants=1``, every page: each server
carries its volumes (``os-extended-volumes:volumes_attached``, Nova's block
device mappings of volumes), its states and its host, shelved-offloaded
servers included. Point look-ups for re-checks: a server
(``GET /servers/{id}``: 404 for a deleted one, even to an admin), its
volume attachments (``GET /servers/{id}/os-volume_attachments``, with the
Cinder attachment each uses from microversion 2.89), whether Nova has it
as deleted (``GET /servers/detail?deleted=true&uuid=``, admins only, until
``nova-manage db archive_deleted_rows`` archives it), and Nova's compute
hosts (``GET /os-services?binary=nova-compute``).

Microversion 2.89 (Xena): from 2.69 a server of a cell that does not
answer is shown as a partial record (status ``UNKNOWN``) rather than left
out; such a server is never judged. A listing that pages (limit and marker)
leaves those out, so a server missing from it is only ever judged after
its point look-up.
"""

import dataclasses
import time
import urllib.parse

from oslo_log import log as logging

from reconciler import exception
from reconciler.inventory import api

LOG = logging.getLogger(__name__)

MICROVERSION = '2.89'
LISTING_ATTEMPTS = 3
#: A server of a cell Nova cannot reach (microversion 2.69).
UNKNOWN = 'UNKNOWN'


@dataclasses.dataclass(frozen=True, slots=True)
class Server:
    id: str
    status: str
    vm_state: str | None
    task_state: str | None
    host: str | None
    project_id: str | None
    volumes: frozenset[str]

    @property
    def partial(self):
        """A down cell's record: Nova could not read the server."""
        return self.status == UNKNOWN

    @property
    def shelved_offloaded(self):
        return self.vm_state == 'shelved_offloaded'


@dataclasses.dataclass(frozen=True, slots=True)
class NovaView:
    servers: dict               # id -> Server
    compute_hosts: frozenset    # hosts of nova-compute services
    seconds: float = 0.0
    requests: int = 0


def _server(item):
    return Server(
        id=item['id'], status=item.get('status') or UNKNOWN,
        vm_state=item.get('OS-EXT-STS:vm_state'),
        task_state=item.get('OS-EXT-STS:task_state'),
        host=item.get('OS-EXT-SRV-ATTR:host'),
        project_id=item.get('tenant_id'),
        volumes=frozenset(v['id'] for v in
                          item.get('os-extended-volumes:volumes_attached')
                          or ()))


class NovaInventory(api.ApiReader):
    """Listings and point look-ups against Nova's API for one pass."""

    SERVICE = 'Nova'
    ERROR = exception.NovaError

    def __init__(self, conf):
        super().__init__(api.load_adapter(conf, 'nova'), MICROVERSION)
        self.page_size = conf.nova.page_size

    def view(self):
        """Every server of every project, and the compute hosts."""
        start = time.monotonic()
        requests = self.requests
        try:
            servers = self._servers()
            hosts = self.compute_hosts()
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.NovaError('Nova listing malformed: %s'
                                      % type(e).__name__)
        LOG.debug('Nova view: %d servers, %d compute hosts', len(servers),
                  len(hosts))
        return NovaView(servers, hosts, seconds=time.monotonic() - start,
                        requests=self.requests - requests)

    def _servers(self):
        """All pages; a marker deleted meanwhile (Nova answers 400) starts
        the listing over, a few times at most.
        """
        for _attempt in range(LISTING_ATTEMPTS):
            try:
                return self._chain()
            except _MarkerGone:
                LOG.info('Nova servers: page marker deleted meanwhile, '
                         'listing again')
        raise exception.NovaError(
            'Nova GET /servers/detail: the listing kept changing under us '
            '(%d attempts)' % LISTING_ATTEMPTS)

    def _chain(self):
        servers, marker = {}, None
        while True:
            params = dict(all_tenants=1, limit=self.page_size)
            if marker:
                params['marker'] = marker
            path = '/servers/detail?%s' % urllib.parse.urlencode(params)
            try:
                body = self.get(path, missing_ok=False)
            except exception.NovaError as e:
                if marker and 'HTTP 400' in str(e):
                    raise _MarkerGone()
                raise
            items = body.get('servers')
            if not isinstance(items, list):
                raise exception.NovaError(
                    'Nova GET /servers/detail returned no servers list')
            for item in items:
                if item['id'] in servers:
                    raise exception.NovaError(
                        'Nova GET /servers/detail: server %s listed twice '
                        '(marker paging ignored?)' % item['id'])
                servers[item['id']] = _server(item)
            if not items or not any(link.get('rel') == 'next' for link in
                                    body.get('servers_links') or ()):
                return servers
            marker = items[-1]['id']

    def compute_hosts(self):
        body = self.get('/os-services?binary=nova-compute', missing_ok=False)
        services = body.get('services')
        if not isinstance(services, list):
            raise exception.NovaError(
                'Nova GET /os-services returned no services list')
        return frozenset(s['host'] for s in services if s.get('host'))

    # Point look-ups for re-checks: None means "Nova has no such thing".

    def server(self, server_id):
        body = self.get('/servers/%s' % urllib.parse.quote(server_id))
        return _server(body['server']) if body else None

    def volume_attachments(self, server_id):
        """``{volume id: Cinder attachment id or None}`` of the server's
        volume block device mappings, or None if Nova has no such server.
        """
        body = self.get('/servers/%s/os-volume_attachments'
                        % urllib.parse.quote(server_id))
        if body is None:
            return None
        found = body.get('volumeAttachments')
        if not isinstance(found, list):
            raise exception.NovaError(
                'Nova GET /servers/{id}/os-volume_attachments returned no '
                'volumeAttachments list')
        return {a['volumeId']: a.get('attachment_id') for a in found}

    def deleted(self, server_id):
        """True if Nova keeps ``server_id`` as a deleted server."""
        body = self.get('/servers/detail?%s' % urllib.parse.urlencode(dict(
            all_tenants=1, deleted='true', uuid=server_id)),
            missing_ok=False)
        found = body.get('servers')
        if not isinstance(found, list):
            raise exception.NovaError(
                'Nova GET /servers/detail?deleted=true returned no servers '
                'list')
        return any(s.get('id') == server_id for s in found)


class _MarkerGone(Exception):
    pass
