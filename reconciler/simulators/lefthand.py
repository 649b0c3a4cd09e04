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

"""A LeftHand / StoreVirtual REST API on 127.0.0.1 for tests and the demo.

It answers what the unmodified python-lefthandclient 2.1.0 sends
under ``/lhos``: ``POST /credentials`` (the session key comes back as
``authToken`` and must then be sent as the ``Authorization`` header),
``DELETE /credentials/<key>``, and ``GET`` of ``clusters``, ``volumes``,
``snapshots`` and ``servers``, each by id, by ``?name=`` or as a collection
(``{"members": [...], "total": n}``); and the client's remediation writes:
``removeServerAccess`` (``POST /volumes/<id>`` with that action),
``modifyVolume`` / ``modifySnapshot`` of a name (``PUT``), ``deleteVolume``
and ``deleteSnapshot`` (``DELETE``). ``fields=`` selects members' fields
and expands links such as ``snapshots[resource[members[name]]]``; like the
real API it ignores the documented ``clusterName`` filter. Errors are
``{"messageID": ..., "message": ...}`` with the HTTP status.

Tests change the array through Python methods, inject :class:`Fault` s and
read the counters (``logins``, ``logouts``, ``open_sessions``, ``requests``).
"""

import collections
import copy
import dataclasses
import http.server
import itertools
import json
import re
import secrets
import socket
import ssl
import threading
import urllib.parse

from reconciler import model
from reconciler.simulators import scenario as scn

GIB = 1024 ** 3
API_VERSION = '1.2'
# Every simulated array also holds this cluster, with a Cinder-named volume,
# a snapshot and an export: a driver that lists them scopes wrongly.
OTHER_CLUSTER = 'other-cluster'
OTHER_VOLUME = scn.uid('lefthand:other-cluster:volume')
OTHER_SNAPSHOT = scn.uid('lefthand:other-cluster:snapshot')
OTHER_HOST = 'other-compute.example.org'

C = model.ObjectClass


class _Reply(Exception):
    """Ends a request with an HTTP status and a LeftHand error document."""

    def __init__(self, status, message_id, message):
        super().__init__(message)
        self.status = status
        self.doc = {'messageID': message_id, 'message': message}


@dataclasses.dataclass
class Fault:
    """Acts on requests whose unquoted ``"METHOD /lhos/path?query"``
    ``re.search``es ``pattern``: lets the first ``after`` through, then acts
    on ``times`` of them (None: all). Actions: ``error`` (answer
    ``status`` and ``message``), ``delay`` (answer ``seconds`` late),
    ``drop`` (close the connection unanswered), ``expire`` (the request's
    session has expired: HTTP 401; with ``lock_out`` every later login
    fails too), ``edit`` (answer ``edit(document)`` instead: a wrong shape),
    ``payload`` (answer 200 with the bytes ``payload``).
    """

    action: str
    pattern: str = '.'
    after: int = 0
    times: int | None = 1
    status: int = 500
    message: str = 'Injected fault.'
    seconds: float = 0.0
    lock_out: bool = False
    edit: object = None
    payload: bytes = b''
    seen: int = 0
    fired: int = 0

    def claims(self, target):
        """Count a request; True if this fault acts on it. Call locked."""
        if not re.search(self.pattern, target):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None
                                       and self.fired >= self.times):
            return False
        self.fired += 1
        return True


def _parse_fields(text):
    """``a,b[c[d]]`` -> ``{'a': {'*': {}}, 'b': {'c': {'d': {'*': {}}}}}``.

    ``'*'`` selects every field of a value; other keys select (and for
    links, expand) one field each.
    """
    def items(i, node):
        while True:
            j = i
            while j < len(text) and text[j] not in ',[]':
                j += 1
            child = node.setdefault(text[i:j], {})
            if j < len(text) and text[j] == '[':
                j = items(j + 1, child)
            else:
                child['*'] = {}
            if j < len(text) and text[j] == ',':
                i = j + 1
                continue
            return j + 1 if j < len(text) and text[j] == ']' else j
    tree = {}
    items(0, tree)
    return tree


_ALL = {'*': {}}


def _project(value, node):
    """``value`` cut down to the fields ``node`` selects. A link's
    ``resource`` is filled only when selected by name, as in the API.
    """
    if isinstance(value, list):
        return [_project(v, node) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in node:
            out[key] = _project(item, node[key])
        elif '*' in node:
            out[key] = None if key == 'resource' else _project(item, _ALL)
    return out


class LeftHandSimulator:

    def __init__(self, username='admin', password='lefthand-secret',
                 tls=None):
        """``tls``: ``(certfile, keyfile)`` to serve HTTPS."""
        self.username = username
        self.password = password
        self.tls = tls
        self.faults = []
        self.requests = []            # "METHOD /lhos/..." of every request
        self.logins = 0
        self.logouts = 0
        self.locked_out = False
        self._sessions = set()
        self.issued = []              # every session key handed out
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._clusters = {}           # name -> cluster
        self._volumes = {}            # name -> volume
        self._snapshots = {}          # name -> snapshot
        self._parents = {}            # snapshot name -> volume name
        self._servers = {}            # name -> server
        self._httpd = None
        self._thread = None

    # The array's contents.

    def _entity(self, kind, collection, name, **fields):
        ident = next(self._ids)
        return dict(id=ident, name=name, type=kind,
                    uri='/lhos/%s/%d' % (collection, ident),
                    created='2019-06-01T12:00:00Z', description='', **fields)

    def add_cluster(self, name):
        with self._lock:
            if name not in self._clusters:
                self._clusters[name] = self._entity(
                    'cluster', 'clusters', name, spaceTotal=100 * GIB,
                    spaceAvailable=60 * GIB, virtualIPAddresses=[
                        {'ipV4Address': '127.0.0.1',
                         'ipV4NetMask': '255.0.0.0'}])
            return self._clusters[name]

    def add_volume(self, name, cluster, size_gib=1, primary=True):
        with self._lock:
            c = self.add_cluster(cluster)
            volume = self._entity(
                'volume', 'volumes', name, clusterName=c['name'],
                clusterId=c['id'], size=size_gib * GIB, isPrimary=primary,
                isThinProvisioned=True, iscsiSessions=None, volumeACL=None)
            volume['iscsiIqn'] = ('iqn.2003-10.com.lefthandnetworks:sim:%d:%s'
                                  % (volume['id'], name))
            self._volumes[name] = volume
            return volume

    def add_snapshot(self, name, volume_name):
        with self._lock:
            volume = self._volumes[volume_name]
            self._snapshots[name] = self._entity(
                'snapshot', 'snapshots', name,
                clusterName=volume['clusterName'],
                clusterId=volume['clusterId'], size=volume['size'],
                isPrimary=True, isAutomatic=False, snapshotACL=None)
            self._parents[name] = volume_name
            return self._snapshots[name]

    def add_server(self, name, iqn=None):
        with self._lock:
            if name not in self._servers:
                self._servers[name] = self._entity(
                    'server', 'servers', name, iscsiEnabled=True,
                    iscsiIQN=iqn or scn.initiator(name),
                    chapName=None, chapAuthenticationRequired=False,
                    chapTargetSecret=None)
            return self._servers[name]

    def grant(self, volume_name, server_name):
        """Give ``server_name`` access to the volume (Cinder's attach)."""
        with self._lock:
            server = self.add_server(server_name)
            volume = self._volumes[volume_name]
            volume['volumeACL'] = (volume['volumeACL'] or []) + [
                {'server': {'name': server['name'], 'uri': server['uri']}}]

    def revoke(self, volume_name, server_name):
        with self._lock:
            volume = self._volumes[volume_name]
            acl = [e for e in volume['volumeACL'] or ()
                   if e['server']['name'] != server_name]
            volume['volumeACL'] = acl or None

    def remove(self, name):
        """Delete a volume (and its snapshots) or a snapshot."""
        with self._lock:
            if self._snapshots.pop(name, None) is not None:
                del self._parents[name]
                return
            del self._volumes[name]
            for snap in [s for s, v in self._parents.items() if v == name]:
                self.remove(snap)

    @classmethod
    def from_scenario(cls, scenario, backend,
                      volume_name_template='volume-%s',
                      snapshot_name_template='snapshot-%s', **kwargs):
        """The array behind ``backend``, plus :data:`OTHER_CLUSTER`.

        Each object goes to the cluster named by its pool (the backend's
        first pool unless set). A snapshot needs its parent volume on the
        array: a LeftHand snapshot cannot outlive its volume.
        """
        sim = cls(**kwargs)
        objects = collections.defaultdict(list)
        for o in scenario.array_contents(backend):
            objects[o.kind].append(o)
        foreign = itertools.count(1)
        volumes = {}
        for o in objects['volume']:
            name = {C.CINDER: volume_name_template % o.uuid,
                    C.REPLICA: volume_name_template % o.uuid,
                    C.UNMANAGED: 'unm-%s' % o.uuid,
                    C.FOREIGN: o.name or 'lun-%d' % next(foreign),
                    }.get(o.object_class)
            if name is None:
                raise ValueError('LeftHand has no %s volumes' % o.object_class)
            sim.add_volume(name, o.pool, o.size,
                           primary=o.object_class != C.REPLICA)
            volumes.setdefault(o.uuid, name)
        members = collections.defaultdict(itertools.count)
        for o in objects['snapshot']:
            parent = volumes.get(o.parent)
            if parent is None:
                raise ValueError('snapshot %s: parent volume %s is not on the '
                                 'array' % (o.uuid or o.name, o.parent))
            if o.object_class == C.CINDER and o.group:
                name = 'snapshot-%s-%d' % (o.group, next(members[o.group]))
            else:
                name = {C.CINDER: snapshot_name_template % o.uuid,
                        C.REPLICA: '%s_SS' % parent,
                        C.UNMANAGED: 'ums-%s' % o.uuid,
                        C.FOREIGN: o.name or 'snap-%d' % next(foreign),
                        }.get(o.object_class)
            if name is None:
                raise ValueError('LeftHand has no %s snapshots'
                                 % o.object_class)
            sim.add_snapshot(name, parent)
        for o in objects['export']:
            if o.uuid not in volumes:
                raise ValueError('export to %s: volume %s is not on the array'
                                 % (o.host, o.uuid))
            sim.grant(volumes[o.uuid], o.host)
        other = volume_name_template % OTHER_VOLUME
        sim.add_volume(other, OTHER_CLUSTER)
        sim.add_snapshot(snapshot_name_template % OTHER_SNAPSHOT, other)
        sim.grant(other, OTHER_HOST)
        return sim

    # Documents as the API shows them.

    def _doc(self, kind, entity):
        if kind != 'volume':
            return entity
        snaps = [self._snapshots[s] for s, v in self._parents.items()
                 if v == entity['name']]
        return dict(entity, snapshots={
            'name': 'snapshots', 'type': 'snapshot',
            'uri': '/lhos/snapshots?volumeName=%s'
                   % urllib.parse.quote(entity['name']),
            'resource': self._collection('snapshot', snaps) if snaps
            else None})

    @staticmethod
    def _collection(kind, members):
        return {'name': '%ss' % kind.capitalize(), 'type': kind,
                'uri': '/lhos/%ss' % kind, 'total': len(members),
                'members': members}

    def _get(self, kind, ident, query):
        table = {'cluster': self._clusters, 'volume': self._volumes,
                 'snapshot': self._snapshots, 'server': self._servers}[kind]
        fields = query.get('fields', [''])[0]
        node = _parse_fields(fields) if fields else _ALL
        if ident is None and 'name' not in query:
            docs = [self._doc(kind, e) for e in table.values()]
            doc = self._collection(kind, docs)
            doc['members'] = _project(docs, node.get('members', _ALL))
            return doc
        if ident is None:
            found = table.get(query['name'][0])
        else:
            found = next((e for e in table.values()
                          if str(e['id']) == ident), None)
        if found is not None:
            return _project(self._doc(kind, found), node)
        raise _Reply(404, 'NON_EXISTENT_%s' % kind.upper(),
                     'The %s does not exist.' % kind)

    # Writes, by id as the client sends them.

    def _by_id(self, kind, ident):
        table = self._volumes if kind == 'volume' else self._snapshots
        found = next((e for e in table.values() if str(e['id']) == ident),
                     None)
        if found is None:
            raise _Reply(404, 'NON_EXISTENT_%s' % kind.upper(),
                         'The %s does not exist.' % kind)
        return found

    def _remove_server_access(self, volume, body):
        try:
            server_id = body['parameters']['serverID']
        except (KeyError, TypeError):
            raise _Reply(400, 'INVALID_INPUT', 'Expected serverID.')
        server = next((s for s in self._servers.values()
                       if s['id'] == server_id), None)
        if server is None:
            raise _Reply(404, 'NON_EXISTENT_SERVER',
                         'The server does not exist.')
        acl = volume['volumeACL'] or []
        kept = [e for e in acl if e['server']['name'] != server['name']]
        if len(kept) == len(acl):
            raise _Reply(400, 'SERVER_HAS_NO_ACCESS',
                         'The server has no access to the volume.')
        volume['volumeACL'] = kept or None
        return 200, None, {}

    def _rename(self, kind, entity, body):
        table = self._volumes if kind == 'volume' else self._snapshots
        new = body.get('name')
        if not isinstance(new, str) or not new:
            raise _Reply(400, 'INVALID_INPUT', 'Expected a name.')
        old = entity['name']
        if new != old and (new in self._volumes or new in self._snapshots):
            raise _Reply(400, 'NAME_IN_USE', 'The name is already in use.')
        del table[old]
        entity['name'] = new
        table[new] = entity
        if kind == 'snapshot':
            self._parents[new] = self._parents.pop(old)
        else:
            for snap, parent in self._parents.items():
                if parent == old:
                    self._parents[snap] = new
        return 200, entity, {}

    def _write(self, method, path, body):
        kind = {'volumes': 'volume', 'snapshots': 'snapshot'}.get(path[0])
        if kind is None or len(path) != 2:
            raise _Reply(405, 'UNSUPPORTED', 'The simulator does not serve '
                         '%s /%s.' % (method, '/'.join(path)))
        entity = self._by_id(kind, path[1])
        try:
            body = json.loads(body or b'{}')
        except ValueError:
            raise _Reply(400, 'INVALID_INPUT', 'The body is not JSON.')
        if method == 'DELETE':
            self.remove(entity['name'])
            return 200, None, {}
        if method == 'PUT':
            return self._rename(kind, entity, body)
        if kind == 'volume' and body.get('action') == 'removeServerAccess':
            return self._remove_server_access(entity, body)
        raise _Reply(405, 'UNSUPPORTED', 'The simulator does not serve that '
                     'action.')

    # HTTP.

    def handle(self, method, target, session, body):
        """``(status, document, headers)`` for one request, or None to drop
        the connection. Runs in the server's request threads.
        """
        shown = '%s %s' % (method, urllib.parse.unquote(target))
        with self._lock:
            self.requests.append(shown)
            fault = next((f for f in self.faults if f.claims(shown)), None)
        if fault and fault.action == 'drop':
            return None
        if fault and fault.action == 'delay':
            self._stopping.wait(fault.seconds)
        if fault and fault.action == 'payload':
            return 200, fault.payload, {}
        url = urllib.parse.urlsplit(target)
        path = url.path.split('/')[2:] if url.path.startswith('/lhos/') else []
        with self._lock:
            try:
                if fault and fault.action == 'error':
                    raise _Reply(fault.status, 'SERVER_ERROR', fault.message)
                if fault and fault.action == 'expire':
                    self._sessions.discard(session)
                    self.locked_out = self.locked_out or fault.lock_out
                    raise _Reply(401, 'SESSION_EXPIRED',
                                 'The session has expired.')
                if method == 'POST' and path == ['credentials']:
                    return self._login(body)
                if session not in self._sessions:
                    raise _Reply(401, 'INVALID_SESSION',
                                 'Not logged in or the session has expired.')
                if method == 'DELETE' and path[:1] == ['credentials']:
                    return self._logout(path[1:])
                kinds = {'clusters': 'cluster', 'volumes': 'volume',
                         'snapshots': 'snapshot', 'servers': 'server'}
                if method in ('POST', 'PUT', 'DELETE') and path:
                    return self._write(method, path, body)
                if method != 'GET' or not 1 <= len(path) <= 2 or (
                        path[0] not in kinds):
                    raise _Reply(405, 'UNSUPPORTED',
                                 'The simulator does not serve %s %s.'
                                 % (method, url.path))
                query = urllib.parse.parse_qs(url.query)
                ident = path[1] if len(path) == 2 else None
                doc = self._get(kinds[path[0]], ident, query)
                if fault and fault.action == 'edit':
                    doc = fault.edit(copy.deepcopy(doc))
                return 200, doc, {}
            except _Reply as reply:
                return reply.status, reply.doc, {}

    def _login(self, body):
        try:
            creds = json.loads(body)
            ok = (creds['user'], creds['password']) == (self.username,
                                                        self.password)
        except (ValueError, KeyError, TypeError):
            raise _Reply(400, 'INVALID_INPUT', 'Expected user and password.')
        if not ok or self.locked_out:
            raise _Reply(401, 'AUTHENTICATION_FAILED',
                         'Invalid user name or password.')
        key = secrets.token_hex(16)
        self._sessions.add(key)
        self.issued.append(key)
        self.logins += 1
        return 201, {'authToken': key}, {
            'Location': '/lhos/credentials/%s' % key,
            'x-api-version': API_VERSION}

    def _logout(self, rest):
        if rest and rest[0] in self._sessions:
            self._sessions.remove(rest[0])
            self.logouts += 1
            return 200, None, {}
        raise _Reply(404, 'NON_EXISTENT_SESSION', 'No such session.')

    @property
    def open_sessions(self):
        with self._lock:
            return len(self._sessions)

    @property
    def url(self):
        scheme = 'https' if self.tls else 'http'
        port = self._httpd.server_address[1]
        return '%s://127.0.0.1:%d/lhos' % (scheme, port)

    def start(self):
        self._httpd = _Server(('127.0.0.1', 0), _Handler)
        self._httpd.simulator = self
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._httpd.ssl_context = context
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05},
            name='lefthand-simulator')
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._stopping.set()
            self._httpd.shutdown()
            self._httpd.hang_up()
            self._httpd.server_close()   # joins the request threads
            self._thread.join()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False    # server_close() waits for every request
    ssl_context = None

    def __init__(self, *args):
        super().__init__(*args)
        self._connections = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def hang_up(self):
        """End idle keep-alive connections, so no request thread waits."""
        with self._connections_lock:
            for sock in self._connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        """Clients hanging up or refusing our certificate are expected."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = 10

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, *args):
        pass

    def do_GET(self):
        length = int(self.headers.get('Content-Length') or 0)
        reply = self.server.simulator.handle(
            self.command, self.path, self.headers.get('Authorization'),
            self.rfile.read(length))
        if reply is None:
            self.close_connection = True
            return
        status, doc, headers = reply
        data = b'' if doc is None else doc if isinstance(
            doc, bytes) else json.dumps(doc).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_GET
