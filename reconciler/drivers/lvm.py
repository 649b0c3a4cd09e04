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

"""Cinder's LVM driver: logical volumes of one volume group, and iSCSI targets.

``lvs`` (JSON report) lists the group through the same command prefix
Cinder uses (``sudo cinder-rootwrap <rootwrap_config>``). Cinder's filters
allow ``env LC_ALL=C [LVM_SYSTEM_DIR=...] [LVM_SUPPRESS_FD_WARNINGS=...]
lvs`` but not the target listings: etc/cinder-reconciler/rootwrap.d holds
filters for exactly the commands below.
Names (reference/backends.md section 4): volumes ``volume-<name_id>``,
snapshots ``_snapshot-<id>`` (Cinder escapes names LVM reserves), clone
temporaries ``clone-snap-<id>`` and the thin pool ``<vg>-pool``. A thin
snapshot's lv_attr says "thin volume", so snapshots are told by name first
and by their ``origin`` column otherwise.

Exports are the target helper's iSCSI targets whose IQN is ``target_prefix``
+ a Cinder volume name, with the initiators logged in. A target names no
host (its ACL is open): one of a volume attached nowhere is an orphan, one
of an attached volume is never reported (the engine's rule for exports
without a host).

Only remediation writes, through the same root helper: a target is deleted
(``tgtadm --op delete`` by tid, never forced, then Cinder's persistence file
in ``volumes_dir``; or ``cinder-rtstool delete`` and ``save``), an LV renamed
(``lvrename`` to ``unm-<uuid>``/``ums-<uuid>``, read back as unmanaged) or
removed (``lvremove``, only if no target exports it, no snapshot has it as
origin and it is not open).
"""

import os
import re
import time

from oslo_config import cfg
from oslo_log import log as logging

from reconciler.drivers import base
from reconciler.drivers import bounded
from reconciler.drivers import command
from reconciler.drivers import names
from reconciler import exception
from reconciler import model

LOG = logging.getLogger(__name__)
R = model.ResourceType
C = model.ObjectClass

OPTS = [
    cfg.StrOpt('volume_group', default='cinder-volumes',
               help="Cinder's volume group of this backend."),
    cfg.StrOpt('lvm_type', default='auto',
               choices=['default', 'thin', 'auto'],
               help="Cinder's LVM type; with 'thin' a missing thin pool "
                    '<volume_group>-pool fails the pass.'),
    cfg.StrOpt('lvm_conf_file', default='/etc/cinder/lvm.conf',
               help="Cinder's LVM configuration file: used (as "
                    'LVM_SYSTEM_DIR) when it exists; None to never use one.'),
    cfg.BoolOpt('lvm_suppress_fd_warnings', default=False,
                help='Suppress leaked file descriptor warnings of LVM.'),
    cfg.StrOpt('target_helper', default='tgtadm',
               choices=['tgtadm', 'lioadm', 'scstadmin', 'iscsictl', 'nvmet',
                        'spdk-nvmeof', 'fake'],
               help="Cinder's target helper. Exports are listed for tgtadm "
                    '(tgtadm --op show) and lioadm (cinder-rtstool); with '
                    'other helpers they are not listed.'),
    cfg.StrOpt('target_prefix', default='iqn.2010-10.org.openstack:',
               help="Cinder's prefix of target names."),
    cfg.StrOpt('root_helper',
               help='Prefix of every LVM and target command. Unset: '
                    "'sudo cinder-rootwrap <[DEFAULT] rootwrap_config>', "
                    "as Cinder runs them (Cinder's filters must include "
                    "cinder-reconciler.filters); e.g. 'sudo "
                    'cinder-reconciler-rootwrap '
                    "/etc/cinder-reconciler/rootwrap.conf' for the "
                    "reconciler's own; empty to run them directly."),
    cfg.StrOpt('volumes_dir', default='/var/lib/cinder/volumes',
               help="Cinder's directory of tgt target files "
                    '($state_path/volumes); a removed export\'s file is '
                    'deleted there so tgtd does not bring it back.'),
    command.TIMEOUT_OPT,
]

_FIELDS = 'lv_name,lv_attr,origin,pool_lv,lv_size'
_CLONE_SNAP = re.compile(r'^clone-snap-(%s)$' % names.UUID)
_TGT_TARGET = re.compile(r'^Target (\d+): (\S+)$')
_UNMANAGED = re.compile(r'^unm-(%s)$' % names.UUID)
_UNMANAGED_SNAPSHOT = re.compile(r'^ums-(%s)$' % names.UUID)
_QUARANTINE = {R.VOLUME: 'unm-%s', R.SNAPSHOT: 'ums-%s'}
_TGT_INITIATOR = re.compile(r'^\s+Initiator: (\S+)')


def tgtadm_tids(text):
    """``tgtadm --lld iscsi --op show --mode target``: {iqn: tid}."""
    return {m.group(2): m.group(1) for m in map(
        _TGT_TARGET.match, text.splitlines()) if m}


def parse_tgtadm(text):
    """``tgtadm --lld iscsi --op show --mode target``: {iqn: initiators}."""
    targets, current = {}, None
    for line in text.splitlines():
        m = _TGT_TARGET.match(line)
        if m:
            current = targets.setdefault(m.group(2), set())
        elif line.strip() and current is None:
            raise exception.ArrayResponseError(
                'tgtadm: unexpected output before the first target: %r'
                % line[:80])
        else:
            m = _TGT_INITIATOR.match(line)
            if m:
                current.add(m.group(1).lower())
    return {iqn: frozenset(i) for iqn, i in targets.items()}


def parse_lvs_report(text, vg):
    """The rows of ``lvs --reportformat json``: ``{"report": [{"lv": []}]}``.

    The shape is checked, not only the syntax: a report without its ``lv``
    list, or with rows that are not objects, is an error, never a volume
    group without volumes.
    """
    try:
        [report] = bounded.loads(text, 'lvs %s' % vg)['report']
        rows = report['lv']
        if not isinstance(rows, list) or not all(
                isinstance(row, dict) for row in rows):
            raise TypeError('"lv" is not a list of rows')
    except (ValueError, KeyError, TypeError) as e:
        raise exception.ArrayResponseError(
            'lvs %s: malformed report (%s: %s)' % (vg, type(e).__name__, e))
    return rows


def parse_rtstool(text):
    """``cinder-rtstool get-targets``: one target name a line."""
    targets = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if ' ' in line:
            raise exception.ArrayResponseError(
                'cinder-rtstool: unexpected line %r' % line[:80])
        targets[line] = frozenset()
    return targets


_TARGET_LISTERS = {
    'tgtadm': (['tgtadm', '--lld', 'iscsi', '--op', 'show', '--mode',
                'target'], parse_tgtadm),
    'lioadm': (['cinder-rtstool', 'get-targets'], parse_rtstool),
}


class LVMDriver(base.ArrayDriver):

    OPTS = OPTS
    CINDER_VOLUME_DRIVERS = (
        'cinder.volume.drivers.lvm.LVMVolumeDriver',
        'cinder.volume.drivers.lvm.LVMISCSIDriver')
    REMEDIATIONS = frozenset(('unexport', 'quarantine', 'delete'))
    UNMANAGE_KEEPS_NAME = True   # Cinder's LVM driver has no unmanage

    def __init__(self, backend):
        super().__init__(backend)
        self.names = names.Templates(backend.conf)
        snap = self.names.snapshot_template
        # Cinder's _escape_snapshot: LVM reserves names starting 'snapshot'.
        self.snapshot_escape = '_' if snap.startswith('snapshot') else ''
        self.snapshot_re = names.pattern(snap, prefix=self.snapshot_escape)
        self.pool_name = '%s-pool' % backend.volume_group
        self.root_helper = backend.root_helper
        if self.root_helper is None:
            self.root_helper = ('sudo cinder-rootwrap %s'
                                % backend.conf.rootwrap_config)
        self.requests = 0

    def _run(self, argv):
        self.requests += 1
        return command.run(argv, self.root_helper,
                           self.backend.reconciler_command_timeout)

    def _lvm_env(self):
        env = ['env', 'LC_ALL=C']
        conf_file = self.backend.lvm_conf_file
        if conf_file and conf_file.lower() != 'none' and os.path.isfile(
                conf_file):
            env.append('LVM_SYSTEM_DIR=' + os.path.dirname(conf_file))
        if self.backend.lvm_suppress_fd_warnings:
            env.append('LVM_SUPPRESS_FD_WARNINGS=1')
        return env

    # -- names --------------------------------------------------------------

    def volume_name(self, volume_key):
        return self.names.volume_name(volume_key)

    def snapshot_name(self, snapshot_id):
        return self.snapshot_escape + self.names.snapshot_name(snapshot_id)

    def decode_name(self, name, snapshot=False):
        if name == self.pool_name:
            return R.VOLUME, C.CONTROL, None
        return names.first_match((
            (self.names.volume, R.VOLUME, C.CINDER),
            (self.snapshot_re, R.SNAPSHOT, C.CINDER),
            (_CLONE_SNAP, R.SNAPSHOT, C.TEMPORARY),
            (_UNMANAGED, R.VOLUME, C.UNMANAGED),
            (_UNMANAGED_SNAPSHOT, R.SNAPSHOT, C.UNMANAGED),
        ), name) or ((R.SNAPSHOT if snapshot else R.VOLUME), C.FOREIGN, None)

    # -- listing ------------------------------------------------------------

    def _rows(self):
        vg = self.backend.volume_group
        out = self._run(self._lvm_env() + [
            'lvs', '--readonly', '--reportformat', 'json', '--units', 'g',
            '--nosuffix', '-o', _FIELDS, vg])
        return parse_lvs_report(out, vg)

    def _logical_volumes(self):
        vg = self.backend.volume_group
        rows = self._rows()
        try:
            objects = [self._object(row) for row in rows]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise exception.ArrayResponseError(
                'lvs %s: malformed report (%s: %s)'
                % (vg, type(e).__name__, e))
        if self.backend.lvm_type == 'thin' and not any(
                o.name == self.pool_name for o in objects):
            raise exception.ArrayResponseError(
                'lvm_type is thin but volume group %s has no thin pool %s'
                % (vg, self.pool_name))
        return objects

    def _object(self, row):
        name, attr, origin = row['lv_name'], row['lv_attr'], row['origin']
        if not isinstance(name, str) or not name or not isinstance(attr, str):
            raise ValueError('row without lv_name/lv_attr: %r' % (row,))
        snapshot = bool(origin) or attr[:1] in ('s', 'S')
        kind, cls, uuid = self.decode_name(name, snapshot)
        parent = None
        if kind == R.SNAPSHOT and origin:
            parent = self.names.uuid(self.names.volume, origin)
        return model.ArrayObject(
            kind, name, uuid, cls, pool=self.backend.volume_group,
            size_gib=float(row['lv_size']), parent_uuid=parent)

    def _exports(self):
        helper = self.backend.target_helper
        if helper not in _TARGET_LISTERS:
            return []
        argv, parse = _TARGET_LISTERS[helper]
        prefix = self.backend.target_prefix
        exports = []
        for iqn, initiators in sorted(parse(self._run(argv)).items()):
            if not iqn.startswith(prefix):
                continue        # not one of Cinder's targets
            uuid = self.names.uuid(self.names.volume, iqn[len(prefix):])
            if uuid:
                exports.append(model.ArrayObject(
                    R.EXPORT, iqn, uuid, C.CINDER, initiators=initiators))
        return exports

    def list_objects(self):
        start = time.monotonic()
        objects = tuple(self._logical_volumes() + self._exports())
        return model.ArrayView(objects, fetched_at=time.time(),
                               seconds=time.monotonic() - start,
                               requests=self.requests)

    def _find(self, kind, name):
        listing = (self._exports() if kind == R.EXPORT
                   else self._logical_volumes())
        for obj in listing:
            if obj.kind == kind and obj.name == name:
                return obj
        return None

    def find_volume(self, volume_key):
        return self._find(R.VOLUME, self.volume_name(volume_key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        return self._find(R.SNAPSHOT, self.snapshot_name(snapshot_id))

    def refresh(self, obj):
        return self._find(obj.kind, obj.name)

    # -- remediation ----------------------------------------------------------

    def remove_export(self, obj):
        """Delete the volume's target as Cinder's target helper does."""
        helper = self.backend.target_helper
        iqn = obj.name
        if obj.kind != R.EXPORT or not iqn.startswith(
                self.backend.target_prefix):
            raise exception.ArrayError('%s is not a Cinder target' % iqn)
        if helper == 'lioadm':
            self._run(['cinder-rtstool', 'delete', iqn])
            try:
                self._run(['cinder-rtstool', 'save'])
            except exception.ArrayError as e:
                # As Cinder: the target is gone; only its persistence is not.
                LOG.warning('Target %s deleted, but saving the LIO '
                            'configuration failed: %s', iqn, e)
            return
        if helper != 'tgtadm':
            raise exception.ArrayError(
                'target_helper %s: exports are not removed' % helper)
        argv, _parse = _TARGET_LISTERS['tgtadm']
        tid = tgtadm_tids(self._run(argv)).get(iqn)
        if tid is None:
            raise exception.ArrayResponseError('tgtadm shows no target %s'
                                               % iqn)
        # Never --force: tgtd refuses a target an initiator is logged in to.
        self._run(['tgtadm', '--lld', 'iscsi', '--op', 'delete', '--mode',
                   'target', '--tid', tid])
        path = os.path.join(self.backend.volumes_dir,
                            iqn[len(self.backend.target_prefix):])
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise exception.ArrayError(
                'target %s deleted, but not its file %s (%s): remove it, or '
                'tgtd brings the target back when it restarts'
                % (iqn, path, e.strerror))

    def _lv_path(self, name):
        return '%s/%s' % (self.backend.volume_group, name)

    def quarantine_name(self, obj):
        """``unm-<uuid>``/``ums-<uuid>``: out of Cinder's templates, read
        back as unmanaged.
        """
        template = _QUARANTINE.get(obj.kind)
        if template is None or obj.object_class != C.CINDER or not obj.uuid:
            raise exception.ArrayError(
                '%s is not a Cinder-named LV; only those are renamed'
                % obj.name)
        return template % obj.uuid

    def quarantine(self, obj):
        """``lvrename`` to ``quarantine_name(obj)``."""
        new = self.quarantine_name(obj)
        self._run(self._lvm_env() + ['lvrename', self.backend.volume_group,
                                     obj.name, new])
        return new

    def exports_of(self, obj):
        """Cinder's target of the LV (named after it), if it has one."""
        iqn = self.backend.target_prefix + obj.name
        return [e.name for e in self._exports() if e.name == iqn]

    def snapshots_of(self, obj):
        return sorted(r.get('lv_name') for r in self._rows()
                      if r.get('origin') == obj.name)

    def delete_object(self, obj):
        """``lvremove`` an LV nothing uses: no target, no snapshot of it,
        not open.
        """
        row = next((r for r in self._rows() if r.get('lv_name') == obj.name),
                   None)
        if row is None or obj.kind not in (R.VOLUME, R.SNAPSHOT):
            raise exception.ArrayResponseError('no LV %s to remove'
                                               % obj.name)
        children = self.snapshots_of(obj)
        if children:
            raise exception.ArrayError('LV %s has snapshots (%s): not removed'
                                       % (obj.name, ', '.join(children)))
        if (row.get('lv_attr') or '')[5:6] == 'o':
            raise exception.ArrayError('LV %s is open: not removed'
                                       % obj.name)
        exports = self.exports_of(obj)
        if exports:
            raise exception.ArrayError('LV %s is exported as %s: not removed'
                                       % (obj.name, exports[0]))
        self._run(self._lvm_env() + ['lvremove', '-f',
                                     self._lv_path(obj.name)])
