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

"""A loopback 3PAR WSAPI serving one backend of a Scenario.

Enough of the API for the unmodified python-3parclient to log in, list and
look up: ``/api``, ``/api/v1/credentials``, ``/cpgs``, ``/volumes`` (with
``query="<field> EQ <value>"``), ``/vluns`` (same), ``/hosts`` and
``/wsapiconfiguration``; and for remediation the client's ``deleteVLUN``
(``DELETE /vluns/<VV>,<LUN>,<host>[,<n:s:p>]``), ``modifyVolume`` with
``newName`` (``PUT /volumes/<VV>``) and ``deleteVolume``
(``DELETE /volumes/<VV>``), with the array's JSON shapes and its error format
(``{"code": n, "desc": text}``; a refused login and an invalid session key
are both 403). The scenario's abstract objects are rendered in Cinder's 3PAR
naming; Cinder attachment hosts become array hosts whose initiators derive
from the Cinder host name, so a test can rename a host on the "array" while
its initiators stay those of the compute node.

Faults are injected per request (:class:`Fault`) and sessions can be made to
expire; logins, logouts and requests are counted for tests to assert on.
"""

import collections
import dataclasses
import hashlib
import http.server
import itertools
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse

from reconciler.drivers import hpe3par_hosts
from reconciler.drivers import hpe3par_names as names
from reconciler import model
from reconciler.simulators import scenario as scn

API = '/api/v1'
C = model.ObjectClass

# WSAPI error codes (HTTP status, code, text).
INV_USER_PASS = (403, 5, 'invalid username or password')
INV_SESS_KEY = (403, 6, 'invalid session key')
URI_RES_NOT_FOUND = (404, 11, 'resource does not exist')
INV_INPUT = (400, 12, 'invalid input')
NON_EXISTENT_CPG = (404, 15, 'CPG does not exist')
NON_EXISTENT_HOST = (404, 17, 'host does not exist')
NON_EXISTENT_VOL = (404, 23, 'volume does not exist')
NON_EXISTENT_VLUN = (404, 19, 'VLUN does not exist')
EXISTENT_VOL = (409, 22, 'volume name already exists')
IN_USE = (409, 34, 'volume is exported (has VLUNs)')
HAS_CHILD = (409, 32, 'volume has a child volume')
INT_SERV_ERR = (500, 1, 'internal server error')

_QUERY = re.compile(r'^"?(\w+) EQ ([^"]+)"?$')


@dataclasses.dataclass
class Fault:
    """Misbehave on requests whose ``"METHOD /path"`` starts with ``match``.

    ``action``: ``error`` (answer ``status`` with a WSAPI error body),
    ``slow`` (wait ``delay`` seconds, then answer normally), ``drop`` (close
    the connection without answering), ``empty`` (200 with no body) or
    ``payload`` (200 with the bytes ``payload`` as the body).
    ``times`` limits how often it fires; None means every time.
    """

    match: str
    action: str = 'error'
    status: int = 500
    delay: float = 0.0
    times: int | None = None
    payload: bytes = b''


def iqn_of(host):
    """The compute node's IQN, as simulators.cinder's connector has it."""
    return scn.initiator(host)


def wwn_of(host):
    return '10' + hashlib.sha256(host.encode()).hexdigest()[:14].upper()


class HPE3PARSimulator(object):
    """The array of one scenario backend, served on 127.0.0.1.

    ``host_names`` maps a Cinder attachment host to the name the array
    gives it (default: Cinder's ``_safe_hostname``); ``protocol`` is
    ``iscsi`` or ``fc`` and decides the hosts' initiators; ``snap_cpg`` is
    the snapshots' CPG (default: their volume's CPG).
    """

    def __init__(self, scenario, backend, username='3paradm',
                 password='3pardata', protocol='iscsi', host_names=None,
                 snap_cpg=None):
        self.username = username
        self.password = password
        self.protocol = protocol
        self.host_names = dict(host_names or {})
        self.snap_cpg = snap_cpg
        self.lock = threading.Lock()
        self.faults = []
        self.session_lifetime = None     # requests a session may make
        self.expired_status = 403
        self.sessions = {}               # key -> requests made
        self.issued = []                 # every session key handed out
        self.logouts = 0
        self.requests = []               # "METHOD /path" of every request
        self.cpgs = {}
        self.volumes = {}
        self.vluns = []
        self.hosts = {}
        self._ids = itertools.count(1)
        self._render(scenario, backend)
        self._server = None
        self._thread = None
        self._stopping = threading.Event()

    @property
    def logins(self):
        return len(self.issued)

    # Rendering the scenario

    def add_cpg(self, name):
        self.cpgs.setdefault(name, {'id': len(self.cpgs), 'name': name,
                                    'domain': None})

    def add_volume(self, name, cpg, size_gib=1, copy_of=None, comment=None):
        """A base VV in ``cpg``, or a virtual copy of VV ``copy_of``.

        Members carry the fields a WSAPI 1.6 array sends (about 1.3 KB of
        JSON each), so listings have a real array's size.
        """
        self.add_cpg(cpg)
        now = int(time.time())
        size = size_gib * 1024
        vv_id = next(self._ids)

        def space(reserved):
            return {'reservedMiB': reserved, 'rawReservedMiB': 3 * reserved,
                    'usedMiB': reserved // 4, 'freeMiB': reserved // 4 * 3}
        vv = {'id': vv_id, 'name': name, 'deduplicationState': 2,
              'compressionState': 2, 'provisioningType': 2, 'copyType': 1,
              'readOnly': False, 'state': 1, 'failedStates': [],
              'degradedStates': [], 'additionalStates': [],
              'adminSpace': space(256), 'snapshotSpace': space(512),
              'userSpace': space(size), 'totalReservedMiB': size + 768,
              'totalSpaceMiB': size, 'sizeMiB': size, 'hostWriteMiB': 0,
              'wwn': hashlib.md5(name.encode()).hexdigest().upper(),
              'creationTimeSec': now,
              'creationTime8601': time.strftime('%Y-%m-%dT%H:%M:%S+00:00',
                                                time.gmtime(now)),
              'usrSpcAllocWarningPct': 0, 'usrSpcAllocLimitPct': 0,
              'ssSpcAllocWarningPct': 0, 'ssSpcAllocLimitPct': 0,
              'policies': {'staleSS': True, 'oneHost': False,
                           'zeroDetect': True, 'system': False,
                           'caching': True, 'fsvc': False, 'hostDIF': 3},
              'uuid': scn.uid('3par-vv-%s' % name), 'udid': vv_id,
              'capacityEfficiency': {'compaction': 1.0},
              'links': [{'href': 'https://127.0.0.1:8080/api/v1/%s/%s'
                         % (kind, name), 'rel': rel} for kind, rel in (
                  ('volumes', 'self'),
                  ('volumespacedistribution', 'volumeSpaceDistribution'))]}
        if copy_of is None:
            vv.update(userCPG=cpg, snapCPG=self.snap_cpg or cpg,
                      baseId=vv['id'])
        else:
            parent = self.volumes.get(copy_of)
            if parent is None:
                raise ValueError('a 3PAR snapshot needs its parent VV on the '
                                 'array: %s copies missing %s'
                                 % (name, copy_of))
            vv.update(copyOf=copy_of, copyType=3, provisioningType=3,
                      readOnly=True, baseId=parent['baseId'],
                      snapCPG=parent['snapCPG'])
        if comment is not None:
            vv['comment'] = json.dumps(comment)
        self.volumes[name] = vv
        return vv

    def add_host(self, cinder_host):
        """The array host of a Cinder attachment host; its name."""
        name = self.host_names.get(
            cinder_host, hpe3par_hosts.safe_hostname(cinder_host))
        if name not in self.hosts:
            fc = self.protocol == 'fc'
            self.hosts[name] = {
                'id': len(self.hosts), 'name': name, 'persona': 2,
                'FCPaths': [{'wwn': wwn_of(cinder_host)}] if fc else [],
                'iSCSIPaths': [] if fc else [{'name': iqn_of(cinder_host)}],
                'initiatorChapEnabled': False}
        return name

    def define_host(self, name, wwns=(), iqns=()):
        """A host an administrator made, holding these initiators."""
        self.hosts[name] = {
            'id': len(self.hosts), 'name': name, 'persona': 2,
            'FCPaths': [{'wwn': w} for w in wwns],
            'iSCSIPaths': [{'name': i} for i in iqns],
            'initiatorChapEnabled': False}
        return name

    def add_vlun(self, volume_name, hostname, paths=2, lun=None):
        """A template VLUN plus one active VLUN per path, as 3PAR shows;
        the host's next LUN unless ``lun`` is given.
        """
        if lun is None:
            lun = 1 + sum(1 for v in self.vluns
                          if v['hostname'] == hostname and not v['active'])
        common = {'volumeName': volume_name, 'hostname': hostname,
                  'lun': lun, 'volumeWWN': self.volumes[volume_name]['wwn']}
        self.vluns.append(dict(common, active=False, type=3))
        for slot in range(paths):
            self.vluns.append(dict(
                common, active=True, type=4,
                portPos={'node': slot, 'slot': 2, 'cardPort': 1}))

    def _render(self, scenario, backend):
        for pool in scenario.backend(backend).pools:
            self.add_cpg(pool)
        objects = scenario.array_contents(backend)
        volumes = {o.uuid: o for o in objects if o.kind == 'volume'}
        names_of = {}
        members = collections.Counter()

        def volume_vv(key, user):
            if key not in volumes:
                raise ValueError('3PAR cannot hold %s %s: volume %s is not '
                                 'on the array' % (user.kind, user.uuid, key))
            return names_of[key]

        # Parents first: a snapshot needs its base VV, a VLUN its VV.
        for o in sorted(objects, key=lambda o: ('volume', 'snapshot',
                                                'export').index(o.kind)):
            if o.kind == 'export':
                self.add_vlun(volume_vv(o.uuid, o), self.add_host(o.host))
                continue
            name = self._vv_name(o, members[o.group])
            if o.kind == 'volume':
                names_of[o.uuid] = name
                self.add_volume(name, o.pool, o.size, comment=self._comment(o))
            else:
                members[o.group] += 1
                self.add_volume(name, o.pool, o.size, volume_vv(o.parent, o),
                                comment=self._comment(o))

    @staticmethod
    def _vv_name(obj, member_index):
        """The 3PAR name of an abstract scenario volume or snapshot."""
        if obj.name:
            return obj.name
        prefix = {
            (C.CINDER, 'volume'): 'osv-', (C.CINDER, 'snapshot'): 'oss-',
            (C.TEMPORARY, 'volume'): 'tsv-', (C.TEMPORARY, 'snapshot'): 'tss-',
            (C.UNMANAGED, 'volume'): 'unm-', (C.UNMANAGED, 'snapshot'): 'ums-',
        }.get((obj.object_class, obj.kind))
        if prefix is None:
            raise ValueError('no 3PAR name for a %s %s without a name'
                             % (obj.object_class, obj.kind))
        if obj.group and obj.kind == 'snapshot':
            # createSnapshotOfVolumeSet(..., '<name>-@count@')
            return '%s-%d' % (names.name(prefix, obj.group), member_index)
        return names.name(prefix, obj.uuid)

    @staticmethod
    def _comment(obj):
        if obj.object_class != C.CINDER or not obj.uuid:
            return None
        if obj.kind == 'volume':
            return {'volume_id': obj.uuid, 'name': 'volume-%s' % obj.uuid,
                    'display_name': '', 'type': 'OpenStack',
                    'volume_type_name': '__DEFAULT__',
                    'volume_type_id': scn.uid('volume-type'), 'qos': {}}
        return {'volume_id': obj.parent, 'description': ''}

    # Serving

    def start(self):
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,),
            name='3par-simulator', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()     # wakes handlers sleeping in a slow fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d%s' % (self._server.server_address[1], API)

    # Request handling, under the lock

    def fault_for(self, request):
        with self.lock:
            for fault in self.faults:
                if request.startswith(fault.match) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def login(self, body):
        with self.lock:
            if (body.get('user'), body.get('password')) != (self.username,
                                                            self.password):
                return INV_USER_PASS
            key = secrets.token_hex(16)
            self.issued.append(key)
            self.sessions[key] = 0
            return 201, {'key': key}

    def logout(self, key):
        with self.lock:
            if self.sessions.pop(key, None) is None:
                return INV_SESS_KEY
            self.logouts += 1
            return 200, None

    def authorise(self, key):
        """None if ``key`` may make one more request, else the error."""
        with self.lock:
            if key not in self.sessions:
                return INV_SESS_KEY
            self.sessions[key] += 1
            if (self.session_lifetime is not None
                    and self.sessions[key] > self.session_lifetime):
                del self.sessions[key]
                return (self.expired_status,) + INV_SESS_KEY[1:]
            return None

    def get(self, path, query):
        """Answer an authorised GET of ``path`` (below /api/v1)."""
        parts = path.strip('/').split('/')
        collections = {'cpgs': self.cpgs, 'volumes': self.volumes,
                       'hosts': self.hosts}
        missing = {'cpgs': NON_EXISTENT_CPG, 'volumes': NON_EXISTENT_VOL,
                   'hosts': NON_EXISTENT_HOST}
        with self.lock:
            if parts == ['wsapiconfiguration']:
                return 200, {'httpState': 2, 'httpsState': 1,
                             'httpsPort': 8080, 'sessionsTimeout': 15,
                             'version': '1.6.5'}
            if len(parts) == 2 and parts[0] in collections:
                item = collections[parts[0]].get(parts[1])
                return (200, item) if item else missing[parts[0]]
            if len(parts) != 1 or parts[0] not in ('cpgs', 'volumes',
                                                   'hosts', 'vluns'):
                return URI_RES_NOT_FOUND
            members = (self.vluns if parts[0] == 'vluns'
                       else list(collections[parts[0]].values()))
            if 'query' in query:
                m = _QUERY.match(query['query'][0])
                if not m or parts[0] not in ('volumes', 'vluns'):
                    return INV_INPUT
                members = [x for x in members
                           if str(x.get(m.group(1))) == m.group(2)]
            return 200, {'total': len(members),
                         'members': json.loads(json.dumps(members))}

    # Writes, as the array does them

    def delete_vlun(self, ident):
        """Remove a template VLUN, and with it its active VLUNs.

        ``ident`` is the client's ``<VV>,<LUN>,<host>[,<node:slot:port>]``
        (the host empty for a port-presented VLUN). An active VLUN is never
        removed by itself: only through its template.
        """
        parts = ident.split(',')
        if len(parts) not in (3, 4) or not parts[1].isdigit():
            return INV_INPUT
        volume, lun, host = parts[0], int(parts[1]), parts[2] or None
        port = None
        if len(parts) == 4:
            try:
                node, slot, card = map(int, parts[3].split(':'))
            except ValueError:
                return INV_INPUT
            port = {'node': node, 'slot': slot, 'cardPort': card}

        def same(v):
            return (v['volumeName'], v['lun'], v.get('hostname')) == (
                volume, lun, host) and (port is None
                                        or v.get('portPos') == port)
        with self.lock:
            if not any(same(v) and not v['active'] and (
                    port is not None or 'portPos' not in v)
                    for v in self.vluns):
                return NON_EXISTENT_VLUN
            self.vluns = [v for v in self.vluns if not same(v)]
            return 200, None

    def modify_volume(self, name, body):
        """Rename a VV (``newName``): its VLUNs and copies follow."""
        new = body.get('newName') if isinstance(body, dict) else None
        if not isinstance(new, str) or not 0 < len(new) <= 31 or set(
                body) - {'newName'}:
            return INV_INPUT
        with self.lock:
            if name not in self.volumes:
                return NON_EXISTENT_VOL
            if new in self.volumes:
                return EXISTENT_VOL
            vv = self.volumes.pop(name)
            vv['name'] = new
            self.volumes[new] = vv
            for other in self.volumes.values():
                if other.get('copyOf') == name:
                    other['copyOf'] = new
            for vlun in self.vluns:
                if vlun['volumeName'] == name:
                    vlun['volumeName'] = new
            return 200, None

    def delete_volume(self, name):
        with self.lock:
            if name not in self.volumes:
                return NON_EXISTENT_VOL
            if any(v['volumeName'] == name for v in self.vluns):
                return IN_USE
            if any(v.get('copyOf') == name for v in self.volumes.values()):
                return HAS_CHILD
            del self.volumes[name]
            return 200, None

    def write(self, method, path, body):
        parts = path.strip('/').split('/')
        if len(parts) == 2 and parts[0] == 'vluns' and method == 'DELETE':
            return self.delete_vlun(parts[1])
        if len(parts) == 2 and parts[0] == 'volumes':
            if method == 'PUT':
                return self.modify_volume(parts[1], body)
            if method == 'DELETE':
                return self.delete_volume(parts[1])
        return (501, 9, 'operation not supported')


class _Handler(http.server.BaseHTTPRequestHandler):
    simulator = None
    server_version = '3PAR-WSAPI-simulator'

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body=None, raw=b''):
        data = raw if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error):
        status, code, desc = error
        self._send(status, {'code': code, 'desc': desc})

    def _handle(self, method):
        sim = self.simulator
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        with sim.lock:
            sim.requests.append('%s %s' % (method, path[len(API):] or path))
        fault = sim.fault_for('%s %s' % (method, path[len(API):]))
        if fault is not None:
            if fault.action == 'drop':
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.action == 'slow':
                sim._stopping.wait(fault.delay)
            elif fault.action == 'empty':
                return self._send(200)
            elif fault.action == 'payload':
                return self._send(200, raw=fault.payload)
            else:
                return self._error((fault.status,) + INT_SERV_ERR[1:])
        if method == 'GET' and path == '/api':
            return self._send(200, {'major': 1, 'minor': 6, 'revision': 5,
                                    'build': 30301460})
        if not path.startswith(API):
            return self._error(URI_RES_NOT_FOUND)
        path = path[len(API):]
        if method == 'POST' and path == '/credentials':
            length = int(self.headers.get('Content-Length') or 0)
            try:
                body = json.loads(self.rfile.read(length) or b'{}')
            except ValueError:
                return self._error(INV_INPUT)
            return self._answer(sim.login(body))
        if method == 'DELETE' and path.startswith('/credentials/'):
            return self._answer(sim.logout(path.rsplit('/', 1)[1]))
        denied = sim.authorise(self.headers.get('X-HP3PAR-WSAPI-SessionKey'))
        if denied:
            return self._error(denied)
        if method != 'GET':
            length = int(self.headers.get('Content-Length') or 0)
            try:
                body = json.loads(self.rfile.read(length) or b'{}')
            except ValueError:
                return self._error(INV_INPUT)
            return self._answer(sim.write(
                method, urllib.parse.unquote(path), body))
        return self._answer(sim.get(path, urllib.parse.parse_qs(url.query)))

    def _answer(self, result):
        if len(result) == 3:
            return self._error(result)
        return self._send(*result)

    def do_GET(self):
        self._handle('GET')

    def do_POST(self):
        self._handle('POST')

    def do_DELETE(self):
        self._handle('DELETE')

    def do_PUT(self):
        self._handle('PUT')
