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

"""The demo's Nova: the compute API the cloud scope reads, on 127.0.0.1.

A real Nova (``tools/setup-nova.sh``, ``tests/nova_fixtures.py``) needs a
RabbitMQ, a MariaDB, placement and four services, about 1.4 GB and a
minute: the functional tests run it, the demo runs this instead. It
answers, at microversion 2.89, the requests of
``reconciler.inventory.nova`` only: the servers' detailed listing (paged by
limit and marker, ``deleted=true`` for an admin), a server, its volume
attachments, and the compute services; tokens are checked against the
demo's real Keystone (an admin's, as ``all_tenants`` needs). Its answers
are Nova's own shapes (``nova/api/openstack/compute/views/servers.py``,
``volume_attachments.py``), and
``tests.functional.test_cloud_pass.CloudScopeTest.test_the_demos_nova_answers_as_nova_does``
holds them to a real Nova's.
"""

import http.server
import json
import re
import threading
import urllib.parse
import uuid

import requests

MICROVERSION = '2.89'
_SERVER = re.compile(r'^/v2\.1/servers/([^/]+)(/os-volume_attachments)?$')


def _server_view(server, deleted=False):
    """A server as ``GET /servers/detail`` shows it to an admin."""
    vm_state = 'deleted' if deleted else server['vm_state']
    status = {'active': 'ACTIVE', 'deleted': 'DELETED',
              'shelved_offloaded': 'SHELVED_OFFLOADED'}[vm_state]
    host = None if vm_state == 'shelved_offloaded' else server['host']
    # Nova shows progress only for these, and a deleted server's BDMs are
    # deleted with it.
    progress = {'progress': 0} if status == 'ACTIVE' else {}
    volumes = () if deleted else server['volumes']
    return dict(progress, **{
        'id': server['id'], 'name': server['name'], 'status': status,
        'tenant_id': server['project_id'], 'user_id': server['user_id'],
        'metadata': {}, 'hostId': '', 'image': {
            'id': '11111111-2222-3333-4444-555555555555', 'links': []},
        'flavor': {
            'vcpus': 1, 'ram': 512, 'disk': 1, 'ephemeral': 0, 'swap': 0,
            'original_name': 'm1.tiny', 'extra_specs': {}},
        'created': '2026-12-01T00:00:00Z', 'updated': '2026-12-01T00:00:00Z',
        'addresses': {}, 'accessIPv4': '', 'accessIPv6': '', 'links': [],
        'OS-DCF:diskConfig': 'MANUAL',
        'OS-EXT-AZ:availability_zone': 'nova', 'config_drive': '',
        'key_name': None, 'OS-SRV-USG:launched_at': '2026-12-01T00:00:00Z',
        'OS-SRV-USG:terminated_at': None, 'OS-EXT-SRV-ATTR:host': host,
        'OS-EXT-SRV-ATTR:instance_name': 'instance-%s' % server['id'][:8],
        'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
        'OS-EXT-STS:task_state': server['task_state'],
        'OS-EXT-STS:vm_state': vm_state, 'OS-EXT-STS:power_state': 1,
        'os-extended-volumes:volumes_attached': [
            {'id': volume_id, 'delete_on_termination': False}
            for volume_id in volumes],
        'locked': False, 'description': None, 'tags': [],
        'host_status': 'UP' if host and not deleted else ''})


class _Handler(http.server.BaseHTTPRequestHandler):

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('OpenStack-API-Version', 'compute ' + MICROVERSION)
        self.send_header('X-OpenStack-Nova-API-Version', MICROVERSION)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, code, kind, message):
        self._send(code, {kind: {'code': code, 'message': message}})

    def do_GET(self):
        nova = self.server.nova
        if not nova.admin_token(self.headers.get('X-Auth-Token')):
            return self._fault(401, 'error', 'The request you have made '
                               'requires authentication.')
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path.rstrip('/')
        with nova.lock:
            if path == '/v2.1/servers/detail':
                return self._servers(nova, query)
            if path == '/v2.1/os-services':
                return self._send(200, {'services': [
                    {'id': str(uuid.uuid5(uuid.NAMESPACE_DNS, host)),
                     'binary': 'nova-compute', 'host': host,
                     'zone': 'nova', 'status': 'enabled', 'state': 'up',
                     'disabled_reason': None, 'forced_down': False,
                     'updated_at': '2026-12-01T00:00:00.000000'}
                    for host in sorted(nova.compute_hosts)
                    if query.get('binary') in (None, 'nova-compute')]})
            m = _SERVER.match(path)
            server = m and nova.servers.get(m.group(1))
            if server is None:
                return self._fault(404, 'itemNotFound', 'Instance %s could '
                                   'not be found.' % (m and m.group(1)))
            if m.group(2):
                return self._send(200, {'volumeAttachments': [
                    {'volumeId': volume_id, 'serverId': server['id'],
                     'device': '/dev/vd%s' % chr(ord('b') + i), 'tag': None,
                     'delete_on_termination': False,
                     'attachment_id': attachment_id,
                     'bdm_uuid': nova.bdm_uuid(server['id'], volume_id)}
                    for i, (volume_id, attachment_id) in enumerate(
                        server['volumes'].items())]})
            return self._send(200, {'server': _server_view(server)})

    def _servers(self, nova, query):
        if query.get('deleted') == 'true':
            found = [_server_view(s, deleted=True)
                     for s in nova.deleted.values()
                     if query.get('uuid') in (None, s['id'])]
            return self._send(200, {'servers': found})
        # Newest first, as Nova sorts (created_at, then id, descending).
        ids = sorted(nova.servers, key=lambda i: -nova.servers[i]['seq'])
        marker = query.get('marker')
        if marker:
            # A deleted server is still a marker, as in Nova.
            at = (nova.servers.get(marker) or nova.deleted.get(marker) or
                  {}).get('seq')
            if at is None:
                return self._fault(400, 'badRequest', 'marker [%s] not '
                                   'found' % marker)
            ids = [i for i in ids if nova.servers[i]['seq'] < at]
        limit = int(query.get('limit') or 1000)
        page = ids[:limit]
        body = {'servers': [_server_view(nova.servers[i]) for i in page]}
        if len(page) == limit and len(ids) > limit:
            body['servers_links'] = [{'rel': 'next', 'href': (
                '%s/servers/detail?%s' % (nova.url, urllib.parse.urlencode(
                    dict(query, marker=page[-1]))))}]
        self._send(200, body)


class Nova(object):
    """Servers, their volume mappings and the compute hosts, served at
    :attr:`url` once :meth:`start` ran; tokens checked at ``keystone_url``
    (its ``/v3``).
    """

    def __init__(self, keystone_url):
        self.keystone_url = keystone_url
        self.servers = {}       # id -> server (see add_server)
        self.deleted = {}       # id -> server, as Nova keeps deleted ones
        self.compute_hosts = set()
        self.lock = threading.Lock()
        self._tokens = {}
        self._http = None

    def add_server(self, server_id, host, project_id, volumes=None,
                   vm_state='active', task_state=None, name=None):
        """A server on compute ``host`` with ``volumes`` mapped
        (``{volume id: Cinder attachment id}``).
        """
        with self.lock:
            self.compute_hosts.add(host)
            self.servers[server_id] = {
                'seq': len(self.servers) + len(self.deleted),
                'id': server_id, 'name': name or 'vm-' + server_id[:8],
                'host': host, 'project_id': project_id,
                'user_id': 'demo-user', 'vm_state': vm_state,
                'task_state': task_state, 'volumes': dict(volumes or {})}

    def delete_server(self, server_id):
        """Deleted as Nova deletes (kept as deleted until archived)."""
        with self.lock:
            self.deleted[server_id] = self.servers.pop(server_id)

    @staticmethod
    def bdm_uuid(server_id, volume_id):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, server_id + volume_id))

    def admin_token(self, token):
        """Whether Keystone says ``token`` is valid and holds ``admin``."""
        if not token:
            return False
        if token not in self._tokens:
            resp = requests.get(self.keystone_url + '/auth/tokens', headers={
                'X-Auth-Token': token, 'X-Subject-Token': token}, timeout=30)
            roles = resp.json()['token'].get('roles') or () if resp.ok else ()
            self._tokens[token] = any(r['name'] == 'admin' for r in roles)
        return self._tokens[token]

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v2.1' % self._http.server_address[1]

    def start(self):
        self._http = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     _Handler)
        self._http.daemon_threads = True
        self._http.nova = self
        threading.Thread(target=self._http.serve_forever,
                         daemon=True).start()
        return self

    def stop(self):
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
