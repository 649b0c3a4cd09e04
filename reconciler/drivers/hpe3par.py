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

"""HPE 3PAR / Primera / Alletra 9k: VVs, virtual copies and VLUNs.

Read-only use of the WSAPI through python-3parclient, as Cinder's driver
talks to the array (only remediation writes: one VLUN, or a rename or delete
of one VV, with Cinder's calls); only the two big listings (VVs, VLUNs) are
streamed past it, on its session (see :meth:`HPE3PARDriver._stream`). Names are
decoded by :mod:`.hpe3par_names`; VV comments are only a hint (logged when
they disagree), never an identity.

The client has traps a daemon must avoid (backends.md section 8): its retry
counter never resets and, once spent, every call silently returns None. So
each pass gets a fresh client making one attempt per request (the next pass
is the retry), a None answer is an error, and the session is always logged
out, with the counter reset first so the logout is really sent.
"""

import ast
import collections
import json
import logging as py_logging
import time
import types
import typing
import warnings

import ijson
from oslo_config import cfg
from oslo_log import log as logging
import requests

from reconciler.drivers import base
from reconciler.drivers import bounded
from reconciler.drivers import hpe3par_hosts
from reconciler.drivers import hpe3par_names as names
from reconciler.drivers import tls
from reconciler import exception
from reconciler import log_masking
from reconciler import model

with warnings.catch_warnings():
    # The client's ssh module imports eventlet.greenthread (it never
    # monkey-patches); eventlet then warns on stderr at every start.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    try:
        from hpe3parclient import client as hpe_client  # noqa: E402
        from hpe3parclient import exceptions as hpe_exc  # noqa: E402
    except ImportError:     # the hpe3par extra is not installed
        hpe_client = hpe_exc = None

LOG = logging.getLogger(__name__)


# The client logs session keys at DEBUG ("Session Key in ..."), so its DEBUG
# never gets through; the logout URL holds the key and is logged by the
# client on errors and by urllib3 at DEBUG: reconciler.log_masking masks it.
py_logging.getLogger('hpe3parclient').setLevel(py_logging.INFO)

R = model.ResourceType
C = model.ObjectClass

VIRTUAL_COPY = 3
INV_USER_PASS = 5     # WSAPI error code of a refused login
_CHUNK = 256 * 1024   # bytes read from a streamed listing at a time

OPTS = [
    cfg.StrOpt('hpe3par_api_url', default='',
               help='WSAPI URL, e.g. https://<3par ip>:8080/api/v1.'),
    cfg.StrOpt('hpe3par_username', default='',
               help='WSAPI user; a read-only ("browse") user is enough '
                    'to list, remediation needs the edit role.'),
    cfg.StrOpt('hpe3par_password', default='', secret=True,
               help='Password of hpe3par_username.'),
    cfg.ListOpt('hpe3par_cpg', default=['OpenStack'],
                help="CPGs of this backend; each is one of Cinder's pools."),
    cfg.StrOpt('hpe3par_cpg_snap', default='',
               help="Cinder's snapshot CPG; accepted, not needed: a snapshot "
                    "belongs to its base volume's CPG whatever CPG its "
                    'space comes from.'),
    cfg.StrOpt('hpe3par_snapshot_expiration', default='',
               help='Hours after which the array deletes Cinder snapshots '
                    'by itself; such snapshots are expected to vanish.'),
    cfg.BoolOpt('hpe3par_debug', default=False,
                help='Log every WSAPI call with its duration. The client '
                     "library's own HTTP debugging is never enabled: it "
                     'logs the login password in clear text.'),
    cfg.ListOpt('hpe3par_iscsi_ips', default=[],
                help="Cinder's iSCSI target addresses; accepted, not used."),
    cfg.StrOpt('san_ip', default='',
               help="Cinder's SSH address of the array; accepted, not used "
                    '(the reconciler only reads the WSAPI).'),
    cfg.StrOpt('san_login', default='admin',
               help="Cinder's SSH user; accepted, not used."),
    cfg.StrOpt('san_password', default='', secret=True,
               help="Cinder's SSH password; accepted, not used."),
    cfg.PortOpt('san_ssh_port', default=22,
                help="Cinder's SSH port; accepted, not used."),
    cfg.BoolOpt('unique_fqdn_network', default=True,
                help="Cinder's option: false when compute nodes may share "
                     'an FQDN, so that Cinder names 3PAR hosts after the '
                     "connector's reversed IQN; the reconciler then ties an "
                     'export to an attachment by initiator only.'),
    cfg.IntOpt('hpe3par_api_timeout', default=60, min=1, max=3600,
               help='Seconds to wait for one WSAPI response (a reconciler '
                    'option; Cinder has none).'),
] + tls.OPTS


def _lower(values):
    return frozenset(v.lower() for v in values if v)


def _json_or_none(data):
    try:
        return bounded.loads(data, 'error answer')
    except (ValueError, bounded.LimitExceeded):
        return None


def comment_of(vv):
    """A VV comment as a dict: Cinder writes JSON, older code Python repr."""
    text = vv.get('comment')
    if not text:
        return {}
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, RecursionError,
                MemoryError):
            continue
        return value if isinstance(value, dict) else {}
    return {}


class _VV(typing.NamedTuple):
    """What a listing keeps of a VV; the WSAPI sends some forty fields."""

    name: str
    decoded: names.Decoded
    id: object
    base_id: object
    copy_type: object
    copy_of: str | None
    user_cpg: str | None
    size_mib: object


class HPE3PARDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = (
        'cinder.volume.drivers.hpe.hpe_3par_fc.HPE3PARFCDriver',
        'cinder.volume.drivers.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver',
    )
    PROTOCOLS = dict(zip(CINDER_VOLUME_DRIVERS,
                         (model.FIBRE_CHANNEL, model.ISCSI)))
    REQUIRED = ('hpe3par_api_url', 'hpe3par_username', 'hpe3par_password')
    MISSING_CLIENT = (None if hpe_client else
                      ('python-3parclient', 'hpe3par'))
    REMEDIATIONS = frozenset(('unexport', 'quarantine', 'delete'))
    CHANCE_NAMES = True

    def __init__(self, backend):
        super().__init__(backend)
        self.cpgs = [c.strip() for c in backend.hpe3par_cpg if c.strip()]
        if not self.cpgs:
            raise exception.ConfigError(
                'backend %s: hpe3par_cpg is empty' % backend.name)
        # Cinder keeps the hours in a string option.
        expiration = (backend.hpe3par_snapshot_expiration or '').strip()
        if expiration and not (expiration.isdigit() and int(expiration)):
            raise exception.ConfigError(
                'backend %s: hpe3par_snapshot_expiration must be a whole '
                'number of hours, not %r' % (backend.name, expiration))
        #: Hours after which the array deletes snapshots; None: never.
        self.snapshot_expiration = int(expiration) if expiration else None
        self._client = None
        self._streamed = 0      # requests sent outside the client

    # Session

    def _where(self):
        return '3PAR backend %s (%s)' % (self.backend.name,
                                         self.backend.hpe3par_api_url)

    def open(self):
        self._client = hpe_client.HPE3ParClient(
            self.backend.hpe3par_api_url,
            secure=tls.verify_setting(self.backend),
            timeout=self.backend.hpe3par_api_timeout)
        self._client.http.tries = 1
        bounded.guard_client(self._client.http, self._where())
        self._request('login', self._client.login,
                      self.backend.hpe3par_username,
                      self.backend.hpe3par_password)
        if not self._client.get_session_key():
            raise exception.ArrayAuthError(
                '%s: login returned no session key' % self._where())

    def close(self):
        cl, self._client = self._client, None
        if cl is None or not cl.get_session_key():
            return
        # Logging out an expired session makes the client log in again and
        # retry the old key's logout, which fails too: log out the new one.
        for _attempt in range(2):
            key = cl.get_session_key()
            # An earlier failure may have spent the retry counter (the
            # request would be skipped silently) and left a delay.
            cl.http.tries, cl.http.delay = 1, 0
            try:
                cl.logout()
                return
            except Exception as e:
                failure = type(e).__name__
                if cl.get_session_key() not in (None, key):
                    continue
            # Logged past the except block, so that no formatter appends
            # the exception (its text holds the logout URL and the key).
            LOG.warning('%s: logout failed (%s); the WSAPI session will '
                        'expire on the array.', self._where(), failure)
            return

    def _client_or_fail(self):
        if self._client is None:
            raise exception.ArrayError('%s: driver used while not open'
                                       % self._where())
        return self._client

    def _describe(self, error):
        """An error's text with no session key or password in it."""
        if isinstance(error, hpe_exc.ClientException):
            # str() of several client exceptions raises AttributeError.
            details = [
                '%s %s' % (label, value) for label, value in (
                    ('HTTP', getattr(error, 'http_status', None)),
                    ('code', error.get_code()),
                    ('', error.get_description())) if value]
            text = '%s (%s)' % (type(error).__name__,
                                ', '.join(d.strip() for d in details))
        else:
            text = '%s: %s' % (type(error).__name__, error)
        key = self._client and self._client.get_session_key()
        if key:
            text = text.replace(key, '***')
        return log_masking.mask(text)

    def _request(self, what, method, *args):
        """Call the client, turning every failure into an ArrayError.

        Returns the client's answer (None for a missing object is left to
        :meth:`_get`); HTTPNotFound propagates for callers that expect it.
        """
        start = time.monotonic()
        try:
            return method(*args)
        except hpe_exc.HTTPNotFound:
            raise
        except (hpe_exc.HTTPUnauthorized, hpe_exc.HTTPForbidden) as e:
            if what == 'login' and e.get_code() == INV_USER_PASS:
                raise exception.ArrayAuthError(
                    '%s: login as %s refused: wrong user name or password '
                    '(%s)' % (self._where(), self.backend.hpe3par_username,
                              self._describe(e)))
            raise exception.ArrayAuthError(
                '%s: %s refused: %s (session expired and re-login failed, '
                'or the user lacks the browse role)'
                % (self._where(), what, self._describe(e)))
        except hpe_exc.SSLCertFailed as e:
            if tls.protocol_mismatch(e):
                raise exception.ArrayUnreachable(tls.mismatch_message(
                    self._where(), 'hpe3par_api_url'))
            raise exception.ArrayUnreachable(
                '%s: TLS certificate verification failed; set '
                'driver_ssl_cert_path to the CA bundle that signed the '
                'WSAPI certificate' % self._where())
        except (hpe_exc.Timeout, requests.exceptions.Timeout) as e:
            raise exception.ArrayUnreachable(
                '%s: %s timed out after %ss (hpe3par_api_timeout): %s'
                % (self._where(), what, self.backend.hpe3par_api_timeout,
                   self._describe(e)))
        except (hpe_exc.RequestException, hpe_exc.ConnectionError,
                hpe_exc.HTTPError, requests.exceptions.RequestException) as e:
            raise exception.ArrayUnreachable(
                '%s: %s failed, array unreachable or connection dropped: %s'
                % (self._where(), what, self._describe(e)))
        except hpe_exc.ClientException as e:
            raise exception.ArrayResponseError(
                '%s: %s failed: %s' % (self._where(), what,
                                       self._describe(e)))
        except (AttributeError, TypeError, KeyError, ValueError) as e:
            # The client indexes bodies without checking them.
            raise exception.ArrayResponseError(
                '%s: %s: unusable answer (%s)'
                % (self._where(), what, self._describe(e)))
        finally:
            if self.backend.hpe3par_debug:
                LOG.debug('%s: %s took %.3fs', self._where(), what,
                          time.monotonic() - start)

    def _get(self, what, method, *args, missing_ok=False):
        """A body from the array; None only for a missing object."""
        cl = self._client_or_fail()
        try:
            body = self._request(what, method, *args)
        except hpe_exc.HTTPNotFound as e:
            if missing_ok:
                return None
            raise exception.ArrayResponseError(
                '%s: %s: not found (%s)' % (self._where(), what,
                                            self._describe(e)))
        if body is None:
            raise exception.ArrayResponseError(
                '%s: %s returned nothing%s' % (
                    self._where(), what,
                    ' (the client gave up after an earlier connection '
                    'error)' if cl.http.tries < 1 else ''))
        return body

    def _members(self, what, method):
        body = self._get(what, method)
        members = body.get('members') if isinstance(body, dict) else None
        if not isinstance(members, list) or not all(
                isinstance(m, dict) for m in members):
            raise exception.ArrayResponseError(
                '%s: %s: answer has no members list' % (self._where(), what))
        return members

    def _stream(self, path, keep):
        """``keep(member)`` of each member of a collection, as it arrives.

        python-3parclient holds a whole answer three times at once (bytes,
        text, parsed JSON): for the VV and VLUN listings of a big array that
        is hundreds of MB. This sends the same GET with the client's session,
        TLS and timeout settings and parses members one by one (ijson), so a
        listing costs what ``keep`` returns. The answer's ``total`` must
        match the members read: a cut or odd document is an error, never a
        shorter listing. An expired session is renewed once, as the client
        does.
        """
        return self._request('GET ' + path, self._read_renewing,
                             self._client_or_fail(), path, keep)

    def _read_renewing(self, cl, path, keep):
        try:
            return self._read_members(cl, path, keep)
        except (hpe_exc.HTTPUnauthorized, hpe_exc.HTTPForbidden):
            cl.login(self.backend.hpe3par_username,
                     self.backend.hpe3par_password)
        return self._read_members(cl, path, keep)

    def _read_members(self, cl, path, keep):
        self._streamed += 1
        headers = {'Accept': 'application/json',
                   'User-Agent': cl.http.USER_AGENT,
                   cl.http.SESSION_COOKIE_NAME: cl.get_session_key()}
        with requests.get(cl.http.api_url + path, headers=headers,
                          stream=True, verify=cl.http.secure,
                          timeout=cl.http.timeout) as resp:
            if resp.status_code >= 400:
                raise hpe_exc.from_response(
                    types.SimpleNamespace(status=resp.status_code),
                    _json_or_none(resp.content))
            members, totals = ijson.sendable_list(), ijson.sendable_list()
            parser = ijson.items_coro(members, 'members.item',
                                      use_float=True)
            # WSAPI sends "total" first: its parser stops once it has it.
            total_parser = ijson.items_coro(totals, 'total')
            kept = []
            # Before ijson's path-tracking parser, whose cost grows with
            # the square of the depth.
            guard = bounded.JSONGuard('%s: GET %s' % (self._where(), path),
                                      max_bytes=bounded.MAX_STREAM_BYTES)
            try:
                for chunk in resp.iter_content(_CHUNK):
                    guard.feed(chunk)
                    parser.send(chunk)
                    if not totals:
                        total_parser.send(chunk)
                    kept.extend(keep(m) for m in members)
                    del members[:]
                guard.close()
                parser.close()
            except (ijson.JSONError, ValueError) as e:
                raise exception.ArrayResponseError(
                    '%s: GET %s: cut or malformed answer (%s)'
                    % (self._where(), path, e))
        kept.extend(keep(m) for m in members)
        if totals != [len(kept)]:
            raise exception.ArrayResponseError(
                '%s: GET %s: answer has %d members, its total says %s'
                % (self._where(), path, len(kept),
                   totals[0] if totals else 'nothing'))
        return kept

    # Decoding

    def decode_name(self, name):
        d = names.parse(name)
        return d.resource_type, d.object_class, d.uuid

    def volume_name(self, volume_key):
        return names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return names.snapshot_name(snapshot_id)

    def _hint(self, vv, decoded):
        """Log what the comment says when it disagrees with the name."""
        comment = comment_of(vv)
        claimed = {comment.get(k) for k in ('volume_id', '_name_id')} - {None}
        if decoded.object_class == C.FOREIGN and claimed:
            LOG.info('%s: VV %s is not Cinder-named but its comment names '
                     'Cinder volume %s (renamed on the array?)',
                     self._where(), vv.get('name'),
                     ', '.join(sorted(map(str, claimed))))
        elif (decoded.resource_type == R.VOLUME and decoded.uuid and claimed
              and decoded.uuid not in claimed):
            LOG.debug('%s: VV %s decodes to %s, its comment says %s '
                      '(stale after a migration?)', self._where(),
                      vv.get('name'), decoded.uuid, sorted(map(str, claimed)))

    def _vv(self, vv):
        """The :class:`_VV` of one WSAPI volume member; hints logged."""
        try:
            name = vv['name']
            record = _VV(name, names.parse(name), vv.get('id'),
                         vv.get('baseId'), vv.get('copyType'),
                         vv.get('copyOf'), vv.get('userCPG'),
                         vv.get('sizeMiB'))
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                '%s: malformed volume entry (%s)' % (self._where(),
                                                     self._describe(e)))
        self._hint(vv, record.decoded)
        return record

    def _vv_object(self, vv, pool):
        decoded, size = vv.decoded, vv.size_mib
        kind = decoded.resource_type or (
            R.SNAPSHOT if vv.copy_type == VIRTUAL_COPY else R.VOLUME)
        try:
            parent = names.parse(vv.copy_of).uuid if vv.copy_of else None
        except (TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                '%s: malformed copyOf of VV %s (%s)'
                % (self._where(), vv.name, self._describe(e)))
        held_by = None
        if decoded.object_class == C.TEMPORARY:
            held_by = names.held_by(vv.name, decoded.uuid, parent)
        return model.ArrayObject(
            kind, vv.name, decoded.uuid, decoded.object_class, pool=pool,
            size_gib=size / 1024 if isinstance(size, (int, float)) else None,
            parent_uuid=parent, group_uuid=decoded.group_uuid,
            held_by=held_by)

    @staticmethod
    def _pools_of(vvs):
        """CPG of each VV: its own userCPG, or its base volume's for copies.

        Virtual copies take their space from the base volume's snapshot
        space, and the snapshot CPG may be shared with other backends, so
        a copy belongs to the backend of its base volume (``baseId``, or the
        end of its ``copyOf`` chain).
        """
        by_id = {vv.id: vv for vv in vvs}
        by_name = {vv.name: vv for vv in vvs}

        def base_of(vv):
            base = by_id.get(vv.base_id)
            if base is not None and base.copy_type != VIRTUAL_COPY:
                return base
            seen = set()
            while vv is not None and vv.copy_type == VIRTUAL_COPY:
                if vv.name in seen:
                    return None
                seen.add(vv.name)
                vv = by_name.get(vv.copy_of)
            return vv

        pools = {}
        for vv in vvs:
            base = base_of(vv)
            pools[vv.name] = base.user_cpg if base else None
        return pools

    # Listing

    def _vlun(self, vlun):
        """(VV name, host name, LUN) of a VLUN: all an export needs."""
        if not isinstance(vlun, dict):
            raise exception.ArrayResponseError(
                '%s: malformed VLUN entry %r' % (self._where(), vlun))
        return vlun.get('volumeName'), vlun.get('hostname'), vlun.get('lun')

    def list_objects(self):
        cl = self._client_or_fail()
        start = time.monotonic()
        sent = len(cl.http.get_timings()) + self._streamed
        cpgs = {c.get('name') for c in self._members('GET /cpgs',
                                                     cl.getCPGs)}
        missing = [c for c in self.cpgs if c not in cpgs]
        if missing:
            raise exception.ArrayError(
                '%s: hpe3par_cpg names CPGs the array does not have: %s'
                % (self._where(), ', '.join(missing)))
        vvs = self._stream('/volumes', self._vv)
        # Templates and active paths of one (VV, host) collapse here.
        vluns = set(self._stream('/vluns', self._vlun))
        hosts = self._members('GET /hosts', cl.getHosts)

        objects = []
        ours = {}
        pools = self._pools_of(vvs)
        for vv in vvs:
            pool = pools[vv.name]
            if pool in self.cpgs:
                obj = self._vv_object(vv, pool)
                ours[obj.name] = obj
                objects.append(obj)
            elif pool is None:
                LOG.warning('%s: VV %s has no resolvable CPG; skipped',
                            self._where(), vv.name)
        objects.extend(self._exports(vluns, hosts, ours))
        LOG.debug('%s: %d objects in CPGs %s', self._where(), len(objects),
                  ', '.join(self.cpgs))
        return model.ArrayView(
            tuple(objects), fetched_at=time.time(),
            seconds=time.monotonic() - start,
            requests=len(cl.http.get_timings()) + self._streamed - sent,
            pools=frozenset(self.cpgs),
            snapshot_lifetime=self.snapshot_expiration and
            self.snapshot_expiration * 3600, chance_names=self.CHANCE_NAMES)

    def _initiators(self, host):
        try:
            return _lower([p.get('wwn') for p in host.get('FCPaths') or ()]
                          + [p.get('name')
                             for p in host.get('iSCSIPaths') or ()])
        except AttributeError as e:
            raise exception.ArrayResponseError(
                '%s: malformed host %s (%s)' % (self._where(),
                                                host.get('name'),
                                                self._describe(e)))

    def _export(self, volume, hostname, host, luns):
        """One EXPORT object: a VV mapped to a host with ``luns``.

        Exports take their volume's class (an unmanaged or temporary VV's
        mapping is not Cinder's); a VLUN with no host (port-presented) is
        never made by Cinder, so it is foreign.
        """
        cls = volume.object_class if hostname else C.FOREIGN
        initiators = self._initiators(host) if host else frozenset()
        return model.ArrayObject(
            R.EXPORT, '%s@%s' % (volume.name, hostname or '*'),
            volume.uuid, cls, pool=volume.pool, host=hostname,
            initiators=initiators, host_rule=hpe3par_hosts.host_rule(
                hostname, initiators if host else None,
                self.backend.unique_fqdn_network, self.protocol)
            if hostname else None,
            luns=frozenset(n for n in luns if isinstance(n, int)))

    def _exports(self, vluns, hosts, volumes):
        """One export per (VV name, host name) pair of ``vluns``."""
        by_name = {h.get('name'): h for h in hosts}
        luns = collections.defaultdict(set)
        for volume_name, hostname, lun in vluns:
            luns[volume_name, hostname].add(lun)
        for volume_name, hostname in sorted(luns, key=str):
            volume = volumes.get(volume_name)
            if volume is not None:
                yield self._export(volume, hostname, by_name.get(hostname),
                                   luns[volume_name, hostname])

    # Point look-ups for re-checks

    def _lookup(self, vv_name, pool=None):
        cl = self._client_or_fail()
        vv = self._get('GET /volumes/%s' % vv_name, cl.getVolume, vv_name,
                       missing_ok=True)
        if vv is None:
            return None
        if not isinstance(vv, dict):
            raise exception.ArrayResponseError(
                '%s: GET /volumes/%s: not an object' % (self._where(),
                                                        vv_name))
        vv = self._vv(vv)
        return self._vv_object(vv, vv.user_cpg or pool)

    def find_volume(self, volume_key):
        """The volume under its Cinder name, or mid-migration/convert.

        A volume renamed aside (``tsv-``) or being converted (``omv-``) is
        still there, so it is never reported missing.
        """
        for prefix in ('osv-', 'tsv-', 'omv-'):
            obj = self._lookup(names.name(prefix, volume_key))
            if obj is not None:
                return obj
        return None

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        obj = self._lookup(names.snapshot_name(snapshot_id))
        if obj is not None or not group_snapshot_id:
            return obj
        # Group members are oss-<group snapshot>-<i>, i chosen by the array:
        # look among the parent's virtual copies.
        for member in self._copies_of(names.volume_name(volume_key)):
            if names.parse(member).group_uuid == group_snapshot_id:
                return self._lookup(member)
        return None

    def _copies_of(self, vv_name):
        """Names of the virtual copies of the VV ``vv_name``."""
        cl = self._client_or_fail()
        copies = self._get('GET /volumes?query="copyOf EQ %s"' % vv_name,
                           cl.getVolumeSnapshots, vv_name)
        if not isinstance(copies, list) or not all(
                isinstance(m, str) for m in copies):
            raise exception.ArrayResponseError(
                '%s: virtual copies of %s: not a list of names'
                % (self._where(), vv_name))
        return copies

    def refresh(self, obj):
        if obj.kind != R.EXPORT:
            return self._lookup(obj.name, obj.pool)
        exports = self._exports_now(obj, only=obj.host)
        return exports[0] if exports else None

    def volume_exports(self, export):
        return self._exports_now(export)

    def _exports_now(self, export, only=()):
        """Exports of ``export``'s VV now (to host ``only`` if given).

        Only this VV's VLUNs: its LUN on a host, reused by another VV, is
        not its export.
        """
        volume_name = export.name.rpartition('@')[0]
        volume = self._lookup(volume_name, export.pool)
        if volume is None:
            return []
        luns = collections.defaultdict(set)
        for vlun in self._vluns_of(volume_name):
            if only == () or vlun.get('hostname') == only:
                luns[vlun.get('hostname')].add(vlun.get('lun'))
        exports = []
        for hostname in sorted(luns, key=str):
            host = None
            if hostname:
                host = self._get('GET /hosts/%s' % hostname,
                                 self._client_or_fail().getHost, hostname,
                                 missing_ok=True)
            exports.append(self._export(volume, hostname, host,
                                        luns[hostname]))
        return exports

    # Remediation: each acts on one object just re-checked, with the calls
    # Cinder's driver makes; the remediation user needs the edit role.

    def _write(self, what, method, *args):
        """A write through the client; a spent client is an error.

        The client skips every request silently once its retry counter is
        spent, so a write it would not send must not pass for done.
        """
        cl = self._client_or_fail()
        if cl.http.tries < 1:
            raise exception.ArrayError(
                '%s: %s not sent: the client gave up after an earlier '
                'connection error' % (self._where(), what))
        try:
            return self._request(what, method, *args)
        except hpe_exc.HTTPNotFound as e:
            raise exception.ArrayResponseError(
                '%s: %s: not found (%s)' % (self._where(), what,
                                            self._describe(e)))

    def _vluns_of(self, volume_name):
        vluns = self._get('GET /vluns?query=volumeName', self._client.getVLUN,
                          volume_name, True)
        if not isinstance(vluns, list) or not all(
                isinstance(v, dict) for v in vluns):
            raise exception.ArrayResponseError(
                '%s: VLUN query for %s: not a list' % (self._where(),
                                                       volume_name))
        return [v for v in vluns if v.get('volumeName') == volume_name]

    def remove_export(self, obj):
        """Remove the VV's template VLUNs to ``obj.host``.

        As Cinder's ``_delete_vlun``: only templates (``active`` false) are
        removed, with their port for a matched set; the array drops their
        active VLUNs itself. Unlike it, the host is never deleted or
        modified, and names are compared exactly.
        """
        if obj.kind != R.EXPORT or not obj.host:
            raise exception.ArrayError(
                '%s: %s is not a VLUN to a host; only those are removed'
                % (self._where(), obj.name))
        volume_name = obj.name.rpartition('@')[0]
        templates = [v for v in self._vluns_of(volume_name)
                     if v.get('hostname') == obj.host and not v.get('active')]
        if not templates:
            raise exception.ArrayResponseError(
                '%s: no template VLUN of %s to host %s to remove'
                % (self._where(), volume_name, obj.host))
        cl = self._client_or_fail()
        for vlun in templates:
            port = vlun.get('portPos')
            self._write('DELETE /vluns/%s,%s,%s' % (
                volume_name, vlun.get('lun'), obj.host), cl.deleteVLUN,
                volume_name, vlun.get('lun'), obj.host, port)

    def quarantine_name(self, obj):
        """As Cinder's unmanage renames a VV: ``unm-``/``ums-`` and the
        same encoded UUID.
        """
        prefix = {R.VOLUME: 'unm-', R.SNAPSHOT: 'ums-'}.get(obj.kind)
        if prefix is None or obj.object_class != C.CINDER or not obj.uuid:
            raise exception.ArrayError(
                '%s: %s is not a Cinder-named VV; only those are renamed'
                % (self._where(), obj.name))
        return names.name(prefix, obj.uuid)

    def quarantine(self, obj):
        new = self.quarantine_name(obj)
        self._write('PUT /volumes/%s' % obj.name,
                    self._client_or_fail().modifyVolume, obj.name,
                    {'newName': new})
        return new

    def exports_of(self, obj):
        return sorted({str(v.get('hostname') or '*')
                       for v in self._vluns_of(obj.name)})

    def snapshots_of(self, obj):
        """The VV's virtual copies (a volume's snapshots, or copies made
        of a snapshot).
        """
        return self._copies_of(obj.name)

    def delete_object(self, obj):
        """Delete a VV that no VLUN exports (the array refuses one with
        virtual copies).
        """
        if obj.kind not in (R.VOLUME, R.SNAPSHOT):
            raise exception.ArrayError('%s: %s is not a VV'
                                       % (self._where(), obj.name))
        vluns = self._vluns_of(obj.name)
        if vluns:
            raise exception.ArrayError(
                '%s: VV %s is exported (%d VLUNs to %s): not deleted'
                % (self._where(), obj.name, len(vluns), ', '.join(sorted(
                    {str(v.get('hostname') or '*') for v in vluns}))))
        self._write('DELETE /volumes/%s' % obj.name,
                    self._client_or_fail().deleteVolume, obj.name)
