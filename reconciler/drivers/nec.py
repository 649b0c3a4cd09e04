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

"""NEC Storage M series, through iSMCLI over SSH.

One inventory command (``iSMquery -cinder -xml -all``, or the legacy
``clioutmsg xml; iSMview -all`` when ``nec_queryconfig_view`` is set, as
Cinder runs them) lists every LD, pool and LD set; point look-ups run it again
so a re-check always sees the array as it is now.

What is listed: LDs in ``nec_pools`` (volumes) and ``nec_backup_pools``
(snapshot SVs), decoded by :mod:`nec_names`; LDs of other pools belong to no
pool of this backend (another backend may share the array) and are left out,
while point look-ups search the whole array. Each (LD, LD set) pair is an
export whose host is the LD set and whose initiators are the set's IQNs or
WWPNs. When ``nec_ldset`` names one LD set for every host, an export says
nothing about which host uses a volume, so none is reported.

Only remediation writes, with the ``iSMcfg`` commands Cinder's NEC driver
sends (cinder/volume/drivers/nec/cli.py): ``delldsetld`` takes one LD out of
one LD set, ``nickname`` renames an LD (the quarantine appends ``_q``) and
``ldunbind`` deletes an LD that no LD set maps and nothing pairs.
"""

import contextlib
import os
import shlex
import time

from oslo_config import cfg
from oslo_log import log as logging

from reconciler.drivers import base
from reconciler.drivers import nec_cli
from reconciler.drivers import nec_ldsets
from reconciler.drivers import nec_names
from reconciler.drivers import nec_xml
from reconciler import exception
from reconciler import model

LOG = logging.getLogger(__name__)

R = model.ResourceType
C = model.ObjectClass
GIB = 1024 ** 3

OPTS = [
    # Cinder's names, types and defaults (cinder/volume/drivers/nec).
    cfg.IPOpt('nec_ismcli_fip',
              help='Management (FIP) address of the array\'s iSMCLI.'),
    cfg.StrOpt('nec_ismcli_user', default='',
               help='iSMCLI user name.'),
    cfg.StrOpt('nec_ismcli_password', default='', secret=True,
               help='iSMCLI password.'),
    cfg.StrOpt('nec_ismcli_privkey', default='',
               help='Private key file for iSMCLI, instead of a password.'),
    cfg.PortOpt('nec_ssh_pool_port_number', default=22,
                help='SSH port of iSMCLI.'),
    cfg.ListOpt('nec_pools', default=[],
                help='Pool numbers of the volumes (decimal, or hex with a '
                     'trailing h).'),
    cfg.ListOpt('nec_backup_pools', default=[],
                help='Pool numbers of the snapshots.'),
    cfg.StrOpt('nec_ldname_format', default=nec_names.DEFAULT_VOLUME_FORMAT,
               help='LD name format of volumes.'),
    cfg.StrOpt('nec_backup_ldname_format',
               default=nec_names.DEFAULT_SNAPSHOT_FORMAT,
               help='LD name format of snapshots.'),
    cfg.StrOpt('nec_cv_ldname_format',
               default=nec_names.DEFAULT_CONTROL_FORMAT,
               help='LD name format of control volumes.'),
    cfg.StrOpt('nec_diskarray_name', default='',
               help='Name of the array; backends with the same name (or, '
                    'unnamed, the same nec_ismcli_fip) send their commands '
                    'one at a time.'),
    cfg.BoolOpt('nec_queryconfig_view', default=False,
                help='List with the legacy iSMview command.'),
    cfg.BoolOpt('nec_ismview_alloptimize', default=False,
                help='With nec_queryconfig_view, use iSMview --alloptimize.'),
    cfg.StrOpt('nec_ldset', default='',
               help='The one LD set Cinder uses for every host; when set, '
                    'exports are not reported.'),
    # Ours.
    cfg.StrOpt('nec_ssh_known_hosts_file', default='~/.ssh/known_hosts',
               help="known_hosts file the array's SSH host key is verified "
                    'against; an unknown or changed key fails the pass.'),
    cfg.BoolOpt('nec_ssh_insecure_host_key', default=False,
                help="Accept any SSH host key. Insecure: the iSMCLI "
                     'credentials go to whoever answers; logged as a '
                     'warning.'),
    cfg.IntOpt('nec_ismcli_timeout', default=120, min=1, max=3600,
               help='Seconds allowed for connecting and for each iSMCLI '
                    'command.'),
]


def _pool_numbers(backend, option):
    """Pool numbers of a pool list option, read the way Cinder reads them."""
    numbers = set()
    for text in getattr(backend, option):
        try:
            numbers.add(int(text[:-1], 16) if text.endswith('h')
                        else int(text, 10))
        except ValueError:
            raise exception.ConfigError(
                'backend %s: %s has %r, not a pool number'
                % (backend.name, option, text))
    return frozenset(numbers)


class MStorageDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = (
        'cinder.volume.drivers.nec.volume.MStorageISCSIDriver',
        'cinder.volume.drivers.nec.volume.MStorageFCDriver',
    )
    PROTOCOLS = dict(zip(CINDER_VOLUME_DRIVERS,
                         (model.ISCSI, model.FIBRE_CHANNEL)))
    REQUIRED = ('nec_ismcli_fip', 'nec_ismcli_user', 'nec_pools')
    REMEDIATIONS = frozenset(('unexport', 'quarantine', 'delete'))
    CHANCE_NAMES = True
    UNMANAGE_KEEPS_NAME = True   # Cinder's unmanage leaves the LD as it is

    def __init__(self, backend):
        super().__init__(backend)
        if not (backend.nec_ismcli_password or backend.nec_ismcli_privkey):
            raise exception.ConfigError(
                'backend %s sets neither nec_ismcli_password nor '
                'nec_ismcli_privkey' % backend.name)
        self.volume_pools = _pool_numbers(backend, 'nec_pools')
        self.backup_pools = _pool_numbers(backend, 'nec_backup_pools')
        try:
            self.names = nec_names.LDNames(backend.nec_ldname_format,
                                           backend.nec_backup_ldname_format,
                                           backend.nec_cv_ldname_format)
        except ValueError as e:
            raise exception.ConfigError('backend %s: %s' % (backend.name, e))
        if backend.nec_queryconfig_view:
            self.command = 'clioutmsg xml; iSMview %s' % (
                '--alloptimize' if backend.nec_ismview_alloptimize else '-all')
        else:
            self.command = 'iSMquery -cinder -xml -all'
        self.cli = nec_cli.ISMCLISession(
            host=backend.nec_ismcli_fip,
            port=backend.nec_ssh_pool_port_number,
            user=backend.nec_ismcli_user,
            password=backend.nec_ismcli_password,
            privkey=backend.nec_ismcli_privkey,
            known_hosts=os.path.expanduser(backend.nec_ssh_known_hosts_file),
            insecure=backend.nec_ssh_insecure_host_key,
            timeout=backend.nec_ismcli_timeout,
            lock_key=backend.nec_diskarray_name or backend.nec_ismcli_fip)
        self._listed_lds = 0     # LDs in our pools at this pass's listing
        self._round = None       # [objects by name] inside a look-up round

    def open(self):
        self.cli.connect()

    def close(self):
        self.cli.close()

    # Name mapping.

    def volume_name(self, volume_key):
        return self.names.volume(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.names.snapshot(snapshot_id)

    def decode_name(self, name):
        """Decode a listed name, or a bare LD name typed by an operator."""
        if ':' not in name:
            for fmt in (self.names.volume_format, self.names.snapshot_format):
                os_type, colon, _ = fmt.partition(':')
                decoded = self.names.decode(os_type + colon + name)
                if colon and decoded[1] != C.FOREIGN:
                    return decoded
        return self.names.decode(name)

    # Listing.

    def _configuration(self):
        """The array's configuration, checked: for listings and look-ups.

        A point look-up reads the same document as the listing, so it
        passes the same checks: an answer that could not cover this
        backend fails the pass instead of reading as "absent".
        """
        config = nec_xml.parse(self.cli.run(self.command))
        missing = (self.volume_pools | self.backup_pools) - config.pools
        if missing:
            raise exception.ArrayResponseError(
                '%s has no pool %s of nec_pools/nec_backup_pools; refusing '
                'an answer that cannot cover this backend'
                % (self.cli.where, ', '.join(map(str, sorted(missing)))))
        return config

    def _object(self, ld):
        in_backup_only = (ld.pool in self.backup_pools
                          and ld.pool not in self.volume_pools)
        kind, cls, uuid = self.names.decode(
            ld.name, is_snapshot=ld.is_snapshot or in_backup_only)
        # _m, _d: a migration of the volume; _l: an export of the snapshot.
        held_by = (kind, uuid) if cls == C.TEMPORARY else None
        return model.ArrayObject(kind, ld.name, uuid, cls, pool=str(ld.pool),
                                 size_gib=ld.capacity / GIB, held_by=held_by)

    def _objects(self, config, pools=None):
        """ArrayObjects of the LDs in ``pools`` (all if None), then exports."""
        by_ldn = {}
        for ld in config.lds:
            if pools is None or ld.pool in pools:
                obj = self._object(ld)
                by_ldn[ld.ldn] = obj
                yield obj
        if self.backend.nec_ldset:
            return
        for ldset in config.ldsets:
            initiators = frozenset(i.lower() for i in ldset.initiators)
            for ldn in sorted(ldset.ldns):
                obj = by_ldn.get(ldn)
                # A foreign LD is reported already; its mapping is not ours.
                if obj is None or obj.object_class == C.FOREIGN:
                    continue
                yield model.ArrayObject(
                    R.EXPORT, '%s@%s' % (obj.name, ldset.name), obj.uuid,
                    obj.object_class, pool=obj.pool, initiators=initiators,
                    host_rule=nec_ldsets.host_rule(
                        ldset.protocol, initiators, self.protocol))

    def list_objects(self):
        start = time.monotonic()
        config = self._configuration()
        if self.backend.nec_ldset:
            LOG.info('Backend %s: nec_ldset = %s maps every volume to all '
                     'hosts through one LD set, so exports cannot be told '
                     'apart per host and are not reported.',
                     self.backend.name, self.backend.nec_ldset)
        objects = tuple(self._objects(
            config, self.volume_pools | self.backup_pools))
        self._listed_lds = self._our_lds(config)
        # NEC reports no pools to Cinder: the listing covers the backend.
        return model.ArrayView(objects, fetched_at=time.time(),
                               seconds=time.monotonic() - start, requests=1,
                               chance_names=self.CHANCE_NAMES)

    def _our_lds(self, config):
        pools = self.volume_pools | self.backup_pools
        return sum(1 for ld in config.lds if ld.pool in pools)

    def _check_lookup_answer(self, config):
        """A look-up's document must still hold about what the listing did.

        It is the whole configuration again: one whose LDs in this
        backend's pools shrank beyond the shrink limit since this pass's
        listing (an empty Logical Disk chapter) is a bad answer, and would
        read every object as gone.
        """
        listed = self._listed_lds
        now = self._our_lds(config)
        limit = self.backend.reconciler_max_shrink_percent
        if listed and now * 100 < listed * (100 - limit):
            raise exception.ArrayResponseError(
                '%s answered a look-up with %d LDs in the pools of this '
                'backend where its listing held %d moments before (more '
                'than reconciler_max_shrink_percent = %d%% fewer); refusing '
                'it' % (self.cli.where, now, listed, limit))

    @contextlib.contextmanager
    def lookup_round(self):
        """The round's look-ups share one whole-array read, made by the
        first of them: iSMCLI has no query of one LD's configuration
        (Cinder's driver reads the whole array too), and one read per
        look-up re-ran the whole query for each candidate.
        """
        self._round = []
        try:
            yield
        finally:
            self._round = None

    def _lookup_objects(self):
        """``{(name, is export): object}`` of the whole array for look-ups,
        from a document checked as a listing's is and against the
        listing's size; read once per round, or afresh outside one.
        """
        if self._round:
            return self._round[0]
        config = self._configuration()
        self._check_lookup_answer(config)
        found = {}
        for obj in self._objects(config):
            found.setdefault((obj.name, obj.kind == R.EXPORT), obj)
        if self._round is not None:
            self._round.append(found)
        return found

    def _find(self, name, export=False):
        """The LD (or export) named ``name`` anywhere on the array, or None.

        By name alone: whatever pool or RPL attribute the LD has now, an LD
        with that name means the object is there.
        """
        return self._lookup_objects().get((name, export))

    def find_volume(self, volume_key):
        return self._find(self.volume_name(volume_key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        return self._find(self.snapshot_name(snapshot_id))

    def refresh(self, obj):
        return self._find(obj.name, export=obj.kind == R.EXPORT)

    # Remediation: one iSMcfg command on an object just re-checked.

    def _configure(self, verb, **options):
        self.cli.run(' '.join(['iSMcfg', verb] + [
            '-%s %s' % (k, shlex.quote(v)) for k, v in options.items()]))

    def remove_export(self, obj):
        """Take the LD out of that one LD set (the set and the LD stay)."""
        ld_name, _, ldset = obj.name.rpartition('@')
        if obj.kind != R.EXPORT or not ld_name or self.backend.nec_ldset:
            raise exception.ArrayError(
                '%s: %s is not an LD-set export of this backend'
                % (self.cli.where, obj.name))
        self._configure('delldsetld', ldset=ldset, ldname=ld_name)

    def quarantine_name(self, obj):
        """``<name>_q``: unmanaged, reversible by renaming it back."""
        if (obj.kind not in (R.VOLUME, R.SNAPSHOT)
                or obj.object_class != C.CINDER or not obj.uuid):
            raise exception.ArrayError(
                '%s: %s is not a Cinder-named LD; only those are renamed'
                % (self.cli.where, obj.name))
        return self.names.quarantined(obj.name)

    def quarantine(self, obj):
        new = self.quarantine_name(obj)
        self._configure('nickname', ldname=obj.name, newname=new)
        return new

    def _ld(self, config, obj):
        ld = next((ld for ld in config.lds if ld.name == obj.name), None)
        if ld is None or obj.kind not in (R.VOLUME, R.SNAPSHOT):
            raise exception.ArrayResponseError(
                '%s: no LD %s' % (self.cli.where, obj.name))
        return ld

    @staticmethod
    def _ldsets_of(config, ld):
        return sorted(s.name for s in config.ldsets if ld.ldn in s.ldns)

    def exports_of(self, obj):
        config = self._configuration()
        return self._ldsets_of(config, self._ld(config, obj))

    def snapshots_of(self, obj):
        """The listing names no SV's base volume: a base volume (RPL
        attribute BV) has snapshot volumes, whichever they are.
        """
        ld = self._ld(self._configuration(), obj)
        if 'BV' not in ld.rpl:
            return []
        return ['its snapshot volumes (RPL attribute %s)' % ld.rpl]

    def delete_object(self, obj):
        """Unbind an LD that no LD set maps and that is in no pair.

        Cinder deletes snapshot SVs with iSMsc_delete and unpairs paired
        LDs first; neither is done here, so such LDs are refused.
        """
        config = self._configuration()
        ld = self._ld(config, obj)
        ldsets = self._ldsets_of(config, ld)
        if ldsets:
            raise exception.ArrayError(
                '%s: LD %s is in LD set %s: not deleted'
                % (self.cli.where, obj.name, ', '.join(ldsets)))
        if ld.rpl != 'IV':
            raise exception.ArrayError(
                '%s: LD %s has RPL attribute %s (a pair or snapshot): not '
                'deleted' % (self.cli.where, obj.name, ld.rpl))
        self._configure('ldunbind', ldname=ld.name)
