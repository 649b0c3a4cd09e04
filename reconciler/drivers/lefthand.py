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

"""HPE LeftHand / StoreVirtual: one cluster, listed through its REST API.

Cinder's LeftHand driver (removed in Ussuri) named everything after Cinder
(backends.md section 2): volumes ``volume_name_template % name_id``, snapshots
``snapshot-<id>``, group-snapshot members ``snapshot-<group snapshot id>-<i>``,
unmanaged objects ``unm-<volume id>`` / ``ums-<snapshot id>``, remote-copy
objects ``<volume name>_SS`` / ``<volume name>_SCHED...`` and non-primary
(remote-copy target) volumes. An export is a server in a volume's access list
(``volumeACL``); Cinder named the server after the connector's host.

Besides logging in and out, a pass makes 3 + N requests for N volumes in the
cluster: the cluster, all volumes, all servers, then each volume's snapshot
names. The snapshot resource
does not name its parent volume (Cinder asked the array over SSH for that), so
snapshots are listed through their volume, as Cinder's migration code did.
Only remediation writes: one server's access, or a rename or delete of one
volume or snapshot, with the client calls Cinder's driver made.

python-lefthandclient traps handled here (backends.md section 8): ``login()``
re-raises every failure as "unsupported version" with the real error as its
``__context__``; ``str()`` of its connection errors raises; it logs in again
by itself on HTTP 401/403; its debug trace prints the password.
"""

import functools
import re
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import importutils
from oslo_utils import units
import requests

from reconciler.drivers import base
from reconciler.drivers import bounded
from reconciler.drivers import names
from reconciler.drivers import tls
from reconciler import exception
from reconciler import model

# The hpelefthand extra; without it the driver refuses its backends.
lh_client = importutils.try_import('hpelefthandclient.client')
lh_exc = importutils.try_import('hpelefthandclient.exceptions')

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.URIOpt('hpelefthand_api_url', schemes=['http', 'https'],
               help='LeftHand REST API URL, like '
                    'https://<management group VIP>:8081/lhos.'),
    cfg.StrOpt('hpelefthand_username', help='LeftHand user name.'),
    cfg.StrOpt('hpelefthand_password', secret=True,
               help='LeftHand password.'),
    cfg.StrOpt('hpelefthand_clustername',
               help='The LeftHand cluster whose volumes this backend owns.'),
    cfg.PortOpt('hpelefthand_ssh_port', default=16022,
                help="Cinder's SSH port option; ignored: the reconciler "
                     'uses REST only.'),
    cfg.BoolOpt('hpelefthand_iscsi_chap_enabled', default=False,
                help="Cinder's CHAP option; ignored: it does not change "
                     'what is on the array.'),
    cfg.BoolOpt('hpelefthand_debug', default=False,
                help='Log every LeftHand REST call and its duration at DEBUG '
                     "level. The client library's own HTTP trace is never "
                     'enabled: it prints the password and session key.'),
    cfg.FloatOpt('hpelefthand_api_timeout', default=60.0, min=0.1, max=3600,
                 help='Seconds to wait for each LeftHand REST answer.'),
] + tls.OPTS

_GROUP_MEMBER = re.compile(r'^snapshot-(%s)-\d+$' % names.UUID)
_LOGIN = 'log in'
_VOLUME_FIELDS = ['members[id]', 'members[name]', 'members[clusterName]',
                  'members[size]', 'members[isPrimary]', 'members[volumeACL]']
_SNAPSHOT_NAMES = 'fields=snapshots,snapshots[resource[members[name]]]'

R = model.ResourceType
C = model.ObjectClass


def _chain(exc):
    """``exc`` and the exceptions it was raised while handling, outermost
    first.
    """
    chain = []
    while exc is not None and exc not in chain and len(chain) < 20:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _describe(exc):
    # str() of the client's RequestException, Timeout and friends raises.
    if isinstance(exc, lh_exc.ClientException):
        return exc.get_description() or type(exc).__name__
    return str(exc) or type(exc).__name__


def _field(entity, key, what):
    try:
        return entity[key]
    except (KeyError, TypeError):
        raise exception.ArrayResponseError(
            'the LeftHand API returned %s without %r' % (what, key))


def _serves(server, iqn, attachment):
    """Whether Cinder's LeftHand driver used ``server`` for ``attachment``.

    It looked the server up by the connector's full host name
    (``getServerByName(connector['host'])``) and created it under that name
    otherwise: ``compute-7.a.example`` and ``compute-7.b.example`` are two
    servers. It never reused a server by IQN, so a name that differs rules
    the attachment out, unless Cinder shows its initiator. Names compare
    case-insensitively, as host names do.
    """
    if iqn and iqn in {i.lower() for i in attachment.initiators}:
        return True
    return (attachment.host_name or '').lower() == server.lower()


class LeftHandDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = (
        'cinder.volume.drivers.hpe.hpe_lefthand_iscsi.HPELeftHandISCSIDriver',)
    REQUIRED = ('hpelefthand_api_url', 'hpelefthand_username',
                'hpelefthand_password', 'hpelefthand_clustername')
    MISSING_CLIENT = (None if lh_client else
                      ('python-lefthandclient', 'hpelefthand'))
    REMEDIATIONS = frozenset(('unexport', 'quarantine', 'delete'))

    def __init__(self, backend):
        super().__init__(backend)
        self._url = backend.hpelefthand_api_url
        self.names = names.Templates(backend.conf)
        self._rules = (
            (self.names.volume, R.VOLUME, C.CINDER),
            (self.names.snapshot, R.SNAPSHOT, C.CINDER),
            (names.pattern(self.names.volume_template,
                           suffix='(?:_SS|_SCHED.*)'), R.SNAPSHOT, C.REPLICA),
            (names.pattern('unm-%s'), R.VOLUME, C.UNMANAGED),
            (names.pattern('ums-%s'), R.SNAPSHOT, C.UNMANAGED),
        )
        self._client = None
        self._cluster = None

    # Session.

    def open(self):
        b = self.backend
        client = lh_client.HPELeftHandClient(
            self._url, secure=tls.verify_setting(b),
            timeout=b.hpelefthand_api_timeout)
        bounded.guard_client(client.http, 'the LeftHand API at %s'
                             % self._url)
        self._call(_LOGIN, client.login, b.hpelefthand_username,
                   b.hpelefthand_password)
        self._client = client
        try:
            self._cluster = self._find_cluster(b.hpelefthand_clustername)
        except Exception:
            self.close()
            raise

    def close(self):
        client, self._client = self._client, None
        # A session that expired makes logout() log in again and then fail
        # on the old key: the new session needs a logout of its own.
        for _attempt in range(2):
            key = client and client.http.session_key
            if not key:
                return
            try:
                client.logout()
                return
            except Exception as e:
                LOG.warning('Backend %s: %s', self.backend.name,
                            self._error('log out', e))
                if client.http.session_key == key:
                    return

    def _find_cluster(self, name):
        cluster = self._call('find cluster %s' % name,
                             self._client.getClusterByName, name,
                             missing_ok=True)
        if cluster is None:
            raise exception.ConfigError(
                'backend %s: hpelefthand_clustername %s names no cluster of '
                'the LeftHand management group at %s'
                % (self.backend.name, name, self._url))
        found = _field(cluster, 'name', 'a cluster')
        if found.lower() != name.lower():
            raise exception.ArrayResponseError(
                'the LeftHand API at %s answered cluster %s when asked for %s'
                % (self._url, found, name))
        return found   # the array's spelling: volumes carry that one

    # Errors.

    def _call(self, action, method, *args, missing_ok=False):
        """``method(*args)``; any failure becomes an ArrayError naming
        ``action``, except HTTP 404 which is None when ``missing_ok``.
        """
        start = time.monotonic()
        try:
            return method(*args)
        except lh_exc.HTTPNotFound as e:
            if missing_ok:
                return None
            error = self._error(action, e)
        except Exception as e:
            error = self._error(action, e)
        finally:
            if self.backend.hpelefthand_debug:
                LOG.debug('Backend %s: LeftHand %s took %.3f s',
                          self.backend.name, action,
                          time.monotonic() - start)
        # Raised outside the handler: as its __context__, the client's
        # exception would keep the failed response's connection open.
        raise error

    def _error(self, action, exc):
        """The ArrayError telling the operator what went wrong, never
        showing the password.
        """
        chain = _chain(exc)

        def first(*types):
            return next((e for e in chain if isinstance(e, types)), None)

        if first(bounded.LimitExceeded):
            return first(bounded.LimitExceeded)

        where = 'the LeftHand API at %s' % self._url
        http = first(lh_exc.ClientException)
        status = getattr(http, 'http_status', None)
        detail = http and 'HTTP %s%s: %s' % (
            status, ' %s' % http.get_code() if http.get_code() else '',
            _describe(http))
        if tls.protocol_mismatch(exc):
            cls, msg = exception.ArrayUnreachable, '%s while trying to %s' % (
                tls.mismatch_message(where, 'hpelefthand_api_url'), action)
        elif first(requests.exceptions.SSLError, lh_exc.SSLCertFailed):
            cls, msg = exception.ArrayUnreachable, (
                'TLS certificate verification of %s failed while trying to '
                '%s (%s); set driver_ssl_cert_path to the CA bundle that '
                "signed the array's certificate" % (
                    where, action, _describe(chain[-1])))
        elif first(requests.exceptions.ConnectionError):
            cls, msg = exception.ArrayUnreachable, (
                'connection to %s failed while trying to %s: %s'
                % (where, action, _describe(chain[-1])))
        elif first(requests.exceptions.Timeout):
            cls, msg = exception.ArrayUnreachable, (
                '%s did not answer within %s s while trying to %s'
                % (where, self.backend.hpelefthand_api_timeout, action))
        elif status in (401, 403) and action == _LOGIN:
            cls, msg = exception.ArrayAuthError, (
                '%s rejected the login of user %s: bad username or password '
                '(%s)' % (where, self.backend.hpelefthand_username, detail))
        elif status in (401, 403):
            cls, msg = exception.ArrayAuthError, (
                '%s refused to %s and logging in again failed (%s): the '
                'session expired and the credentials of user %s no longer '
                'work' % (where, action, detail,
                          self.backend.hpelefthand_username))
        elif status:
            cls, msg = exception.ArrayResponseError, (
                '%s failed to %s: %s' % (where, action, detail))
        else:
            root = chain[-1]
            cls, msg = exception.ArrayResponseError, (
                '%s gave an unusable answer when asked to %s: %s: %s'
                % (where, action, type(root).__name__, _describe(root)))
        password = self.backend.hpelefthand_password
        return cls(msg.replace(password, '***') if password else msg)

    # Names.

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot_name(snapshot_id)

    def decode_name(self, name):
        decoded = names.first_match(self._rules, name)
        if decoded:
            return decoded
        if _GROUP_MEMBER.match(name):
            return R.SNAPSHOT, C.CINDER, None
        return None, C.FOREIGN, None

    def _object(self, kind, name, primary=True, **fields):
        """An ArrayObject for ``name`` listed as ``kind``."""
        rtype, cls, uuid = self.decode_name(name)
        if rtype != kind:
            cls, uuid = C.FOREIGN, None
        elif not primary:
            cls = C.REPLICA       # the target of a remote copy
        group = _GROUP_MEMBER.match(name) if kind == R.SNAPSHOT else None
        return model.ArrayObject(
            kind, name, uuid, cls, pool=self._cluster,
            group_uuid=group.group(1) if group else None, **fields)

    def _volume(self, entity):
        size = entity.get('size')
        return self._object(
            R.VOLUME, _field(entity, 'name', 'a volume'),
            primary=entity.get('isPrimary') is not False,
            size_gib=size / units.Gi if isinstance(size, int) else None)

    def _export(self, volume, server, iqn):
        return model.ArrayObject(
            R.EXPORT, '%s@%s' % (volume.name, server), volume.uuid,
            volume.object_class, pool=self._cluster, host=server,
            initiators=frozenset([iqn.lower()] if iqn else []),
            host_rule=functools.partial(_serves, server,
                                        iqn.lower() if iqn else None))

    @staticmethod
    def _acl_servers(entity, key='volumeACL'):
        """The servers on a volume's (or snapshot's) access list."""
        return [_field(_field(entry, 'server', 'an access entry'), 'name',
                       'an access entry')
                for entry in entity.get(key) or ()]

    # Listing.

    def _members(self, body, what, selected=False):
        """The members of a collection whose ``total`` says they are all.

        A collection without ``members`` is not an empty list, and one
        without ``total`` cannot show it is complete; only a collection
        whose fields were ``selected`` (expanded in a volume, members only)
        may lack ``total``.
        """
        members = _field(body, 'members', 'the %s' % what)
        if not isinstance(members, list):
            raise exception.ArrayResponseError(
                'the LeftHand API returned %s that are not a list' % what)
        if selected and 'total' not in body:
            return members
        total = _field(body, 'total', 'the %s' % what)
        if isinstance(total, bool) or total != len(members):
            raise exception.ArrayResponseError(
                'the LeftHand API listed %d of %r %s'
                % (len(members), total, what))
        return members

    @staticmethod
    def _cluster_of(entity, what):
        """The cluster a volume or snapshot belongs to: always named."""
        cluster = _field(entity, 'clusterName', what)
        if not isinstance(cluster, str) or not cluster:
            raise exception.ArrayResponseError(
                'the LeftHand API returned %s in no known cluster '
                '(clusterName %r)' % (what, cluster))
        return cluster

    def list_objects(self):
        start = time.monotonic()
        http = self._client.http
        http.reset_timings()
        # The cluster filter is documented but ignored: filter here.
        volumes = self._members(self._call(
            'list the volumes', self._client.getVolumes, None,
            _VOLUME_FIELDS), 'volumes')
        servers = self._members(self._call(
            'list the servers', self._client.getServers), 'servers')
        iqns = {_field(s, 'name', 'a server'): s.get('iscsiIQN')
                for s in servers}
        objects = []
        for entity in volumes:
            if self._cluster_of(entity, 'a volume') != self._cluster:
                continue
            snapshots = self._snapshot_names(entity)
            if snapshots is None:
                continue          # deleted since the volumes were listed
            volume = self._volume(entity)
            objects.append(volume)
            objects.extend(self._object(R.SNAPSHOT, name,
                                        parent_uuid=volume.uuid)
                           for name in snapshots)
            objects.extend(self._export(volume, server, iqns.get(server))
                           for server in self._acl_servers(entity))
        return model.ArrayView(
            tuple(objects), fetched_at=time.time(),
            seconds=time.monotonic() - start,
            requests=len(http.get_timings()), pools=None)

    def _snapshot_names(self, volume):
        """Names of the volume's snapshots; None if the volume is gone."""
        name = _field(volume, 'name', 'a volume')
        body = self._call('list the snapshots of %s' % name,
                          self._client.getVolume,
                          _field(volume, 'id', 'a volume'), _SNAPSHOT_NAMES,
                          missing_ok=True)
        if body is None:
            return None
        link = _field(body, 'snapshots', 'volume %s' % name)
        resource = _field(link, 'resource', 'the snapshots of %s' % name)
        if resource is None:
            return []
        return [_field(s, 'name', 'a snapshot of %s' % name)
                for s in self._members(resource, 'snapshots of %s' % name,
                                       selected=True)]

    # Point look-ups: objects outside our cluster are not ours.

    def _look_up(self, kind, name):
        if kind == R.VOLUME:
            method = self._client.getVolumeByName
        else:
            method = self._client.getSnapshotByName
        entity = self._call('look up %s %s' % (kind, name), method, name,
                            missing_ok=True)
        if entity is None:
            return None
        if _field(entity, 'name', 'a %s' % kind) != name:
            raise exception.ArrayResponseError(
                'the LeftHand API answered %s when asked for %s %s'
                % (entity['name'], kind, name))
        if self._cluster_of(entity, 'a %s' % kind) != self._cluster:
            return None
        return entity

    def _volume_named(self, name):
        entity = self._look_up(R.VOLUME, name)
        return None if entity is None else self._volume(entity)

    def find_volume(self, volume_key):
        return self._volume_named(self.volume_name(volume_key))

    def _snapshot_named(self, name, parent_uuid=None):
        if self._look_up(R.SNAPSHOT, name) is None:
            return None
        return self._object(R.SNAPSHOT, name, parent_uuid=parent_uuid)

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        # The parent of snapshot-<id> is not checked: that takes SSH.
        found = self._snapshot_named(self.snapshot_name(snapshot_id))
        if found is not None or not group_snapshot_id:
            return found
        # A group member is snapshot-<group snapshot id>-<i> of its volume.
        volume = self._look_up(R.VOLUME, self.volume_name(volume_key))
        members = None if volume is None else self._snapshot_names(volume)
        for name in members or ():
            member = _GROUP_MEMBER.match(name)
            if member and member.group(1) == group_snapshot_id:
                return self._object(R.SNAPSHOT, name, parent_uuid=volume_key)
        return None

    def refresh(self, obj):
        if obj.kind == R.SNAPSHOT:
            # A snapshot never changes parent: keep the listed one.
            return self._snapshot_named(obj.name, obj.parent_uuid)
        if obj.kind == R.VOLUME:
            return self._volume_named(obj.name)
        volume_name, _, server = obj.name.rpartition('@')
        entity = self._look_up(R.VOLUME, volume_name)
        if entity is None or server not in self._acl_servers(entity):
            return None
        found = self._call('look up server %s' % server,
                           self._client.getServerByName, server,
                           missing_ok=True)
        return self._export(self._volume(entity), server,
                            found and found.get('iscsiIQN'))

    # Remediation: one object just re-checked, with Cinder's calls.

    def _entity_of(self, obj):
        """The array's current entity of a volume or snapshot ``obj``."""
        entity = self._look_up(obj.kind, obj.name)
        if entity is None:
            raise exception.ArrayResponseError(
                'the LeftHand API at %s no longer has %s %s in cluster %s'
                % (self._url, obj.kind, obj.name, self._cluster))
        _field(entity, 'id', 'a %s' % obj.kind)
        return entity

    def remove_export(self, obj):
        """Take that one server off the volume's access list.

        As Cinder's ``terminate_connection`` (``removeServerAccess``); the
        server itself is never deleted, whatever else it still sees.
        """
        volume_name, _, server = obj.name.rpartition('@')
        if obj.kind != R.EXPORT or not volume_name:
            raise exception.ArrayError('%s is not a LeftHand export'
                                       % obj.name)
        volume = self._entity_of(model.ArrayObject(
            R.VOLUME, volume_name, obj.uuid, obj.object_class))
        found = self._call('look up server %s' % server,
                           self._client.getServerByName, server,
                           missing_ok=True)
        if found is None or server not in self._acl_servers(volume):
            raise exception.ArrayResponseError(
                'the LeftHand API at %s: server %s no longer has access to '
                '%s' % (self._url, server, volume_name))
        self._call('remove the access of server %s to %s'
                   % (server, volume_name), self._client.removeServerAccess,
                   volume['id'], _field(found, 'id', 'a server'))

    def quarantine_name(self, obj):
        """As Cinder's unmanage renames: ``unm-<uuid>``/``ums-<uuid>``."""
        prefix = {R.VOLUME: 'unm-', R.SNAPSHOT: 'ums-'}.get(obj.kind)
        if prefix is None or obj.object_class != C.CINDER or not obj.uuid:
            raise exception.ArrayError(
                '%s is not a Cinder-named LeftHand volume or snapshot; only '
                'those are renamed' % obj.name)
        return prefix + obj.uuid

    def quarantine(self, obj):
        new = self.quarantine_name(obj)
        entity = self._entity_of(obj)
        method = (self._client.modifyVolume if obj.kind == R.VOLUME
                  else self._client.modifySnapshot)
        self._call('rename %s %s to %s' % (obj.kind, obj.name, new), method,
                   entity['id'], {'name': new})
        return new

    def exports_of(self, obj):
        return self._acl_servers(self._entity_of(obj), 'volumeACL'
                                 if obj.kind == R.VOLUME else 'snapshotACL')

    def snapshots_of(self, obj):
        if obj.kind != R.VOLUME:
            return []
        return self._snapshot_names(self._entity_of(obj)) or []

    def delete_object(self, obj):
        """Delete a volume no server sees and with no snapshots (their
        data would go with it), or a snapshot no server sees.
        """
        if obj.kind not in (R.VOLUME, R.SNAPSHOT):
            raise exception.ArrayError('%s is not a LeftHand volume or '
                                       'snapshot' % obj.name)
        entity = self._entity_of(obj)
        acl = entity.get('volumeACL' if obj.kind == R.VOLUME
                         else 'snapshotACL')
        if acl:
            raise exception.ArrayError(
                '%s %s is exported to %d servers: not deleted'
                % (obj.kind, obj.name, len(acl)))
        if obj.kind == R.VOLUME:
            snapshots = self._snapshot_names(entity)
            if snapshots:
                raise exception.ArrayError(
                    'volume %s has %d snapshots: not deleted; delete or '
                    'adopt them first' % (obj.name, len(snapshots)))
            method = self._client.deleteVolume
        else:
            method = self._client.deleteSnapshot
        self._call('delete %s %s' % (obj.kind, obj.name), method,
                   entity['id'])
