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

"""Compare one host scan with Cinder's attachments: pure, no I/O.

Only devices Cinder owns are judged. The configuration (``owned_targets``)
names targets that are Cinder's alone. Otherwise a LUN is Cinder's when an
attachment to this host names it, now or in an earlier pass (LUN numbers
are per initiator group on most arrays: another host's LUN 1 says nothing
of this host's LUN 1); on a target whose name carries a volume UUID (a
target per volume, as LVM's) any LUN of a target some attachment names is;
and a device whose WWID (an NVMe namespace: its UUID or NGUID) Cinder or an
earlier pass knows is, whatever its target. A LUN on a shared target that
no attachment to this host ever named may be another application's and is
not judged. Local disks, the devices the root file system rests on, LUN 0
and LUNZ, and other applications' targets are counted as not compared and
never become findings. Targets with an attachment in progress anywhere, or
of a volume in a transitional status, are not judged either: cinder-volume
attaches volumes for image copies, backups and migrations without any
attachment record.

A device is attributed to a volume (``cinder_id``) only by its identity: its
WWID or namespace identifier, or a target that names one volume. A (target,
LUN) another host's attachment names proves nothing and attributes nothing;
``data_leak_risk`` is raised only when the device is shown to be a volume
attached to another host now.
"""

import collections
import dataclasses
import re

from reconciler.drivers import names
from reconciler import engine
from reconciler.host import view
from reconciler import model

K = model.FindingKind
R = model.ResourceType
_UUID = re.compile(names.UUID)
LUNZ_MODELS = frozenset(('LUNZ',))
NO_NAMESPACE_ID = 'attachment here without namespace identity'


@dataclasses.dataclass(frozen=True)
class Ownership:
    """What makes a LUN Cinder's besides the attachments listed now."""

    # Configured: targets that are Cinder's alone, with every LUN on them.
    targets: frozenset = frozenset()   # exact IQNs, NQNs, target WWPNs
    prefixes: tuple = ()               # IQN/NQN prefixes of the backends
    portals: frozenset = frozenset()   # portal addresses of the backends
    # Remembered: TargetKeys of earlier attachments to this host.
    seen: frozenset = frozenset()
    # Remembered: (WWID, volume id) of the devices (SCSI WWIDs, NVMe
    # namespaces' kernel wwid) that served earlier attachments to this host.
    wwids: tuple = ()


@dataclasses.dataclass
class Comparison:
    candidates: list
    consistent: collections.Counter
    skipped: collections.Counter
    # TargetKeys this host's attachments name: remembered for later passes.
    targets: set
    # What would be candidates but for a hold (an attach in progress...):
    # they keep a confirmed finding as it is, never create or advance one.
    held: list = dataclasses.field(default_factory=list)
    # WWID -> volume of the devices this host's attachments use now:
    # remembered for later passes.
    wwids: dict = dataclasses.field(default_factory=dict)


def portal_address(portal):
    """``10.0.0.1`` of ``10.0.0.1:3260,1``; ``fe80::1`` of ``[fe80::1]:3260``.
    """
    portal = (portal or '').split(',')[0]
    if portal.startswith('['):
        return portal[1:].partition(']')[0]
    return portal.rpartition(':')[0] if portal.count(':') == 1 else portal


def _details(**values):
    return tuple(sorted((k, v if isinstance(v, str) else ','.join(v))
                        for k, v in values.items() if v))


def _service_host(volume_host):
    """``ctl`` of Cinder's ``ctl@lvm#pool``."""
    return (volume_host or '').partition('@')[0]


class _Judge(object):

    def __init__(self, host_view, cinder, ownership, protocols,
                 local_backends=(), local_hosts=()):
        self.host = cinder.host
        self.protocols = frozenset(protocols)
        self.here = collections.defaultdict(list)          # key -> atts
        self.here_volumes = collections.defaultdict(list)  # volume -> atts
        self.elsewhere = collections.defaultdict(list)     # volume -> atts
        self.protected = set()
        self.protected_volumes = set()
        self.configured = set(ownership.targets)
        self.prefixes = tuple(ownership.prefixes)
        self.portals = {portal_address(p) for p in ownership.portals}
        self.known_keys = set(ownership.seen)
        self.known = {k.target for k in ownership.seen}
        self.wwids = dict(ownership.wwids)
        self.namespace_ids = []   # (NamespaceId, attachment), any host
        self.here_ids = set()
        self.blind = False
        for a in cinder.attachments:
            self.known.update(k.target for k in a.targets)
            self.wwids.update((w, a.volume_id) for w in a.wwids)
            self.namespace_ids += [(n, a) for n in sorted(a.namespaces)]
            settled = (a.attach_status == 'attached'
                       and a.volume_status is not None
                       and a.volume_status in engine.SETTLED_VOLUME
                       and a.migration_status in engine.SETTLED_MIGRATION)
            mine = a.host == cinder.host and a.attach_status == 'attached'
            if not settled:
                self.protected.update(a.targets)
                self.protected_volumes.add(a.volume_id)
            if mine:
                self.here_ids.add(a.attachment_id)
                self.known_keys.update(a.targets)
                self.here_volumes[a.volume_id].append(a)
                for k in a.targets:
                    self.here[k].append(a)
                # No readable targets (a legacy attach stores no
                # connection_info): any unreferenced device may be its own.
                if not a.targets and (a.protocol in (None, 'unreadable')
                                      or a.protocol in self.protocols):
                    self.blind = True
            elif settled:
                self.elsewhere[a.volume_id].append(a)
        self.volumes = cinder.volumes
        # A failed delete is settled: a LUN of such a volume left on a host
        # is what keeps the array from deleting it (stuck_deleting).
        self.transitional = {
            vid for vid, (status, migration, _h) in cinder.volumes.items()
            if status not in engine.COMPARED_VOLUME
            or migration not in engine.SETTLED_MIGRATION}
        # Cinder's view of where an operation runs: the volume's host.
        local_hosts = frozenset(local_hosts)
        self.local_busy = sorted({
            cinder.volumes[vid][0] for vid in self.transitional
            if _service_host(cinder.volumes[vid][2]) in local_hosts
            or engine.backend_of(cinder.volumes[vid][2]) in local_backends})
        self.here_targets = {k.target for k in self.here}

    def owned_target(self, target, portal=None):
        """Whether ``target`` is Cinder's (as a whole or in part)."""
        return (target in self.known
                or self.configured_target(target, portal))

    def configured_target(self, target, portal=None):
        return (target in self.configured
                or any(target.startswith(p) for p in self.prefixes)
                or bool(portal and portal_address(portal) in self.portals))

    def owned(self, key, portal=None):
        """Whether the LUN ``key`` is Cinder's."""
        if self.configured_target(key.target, portal):
            return True
        return key in self.known_keys or (
            key.target in self.known
            and _UUID.search(key.target.lower()) is not None)

    def namespace_owned(self, ns, addresses):
        """Whether namespace ``ns`` is Cinder's: its subsystem configured
        or one per volume, or its identity named by Cinder or remembered.
        """
        if any(self.configured_target(ns.nqn, a)
               for a in [None] + addresses):
            return True
        if ns.nqn in self.known and _UUID.search(ns.nqn.lower()):
            return True
        return bool(ns.wwid in self.wwids or self.claiming(ns))

    def claiming(self, ns, here=False):
        """Attachments (to this host only if ``here``) naming ``ns``."""
        return [a for n, a in self.namespace_ids if n.matches(ns)
                and (not here or a.attachment_id in self.here_ids)]

    def volume_of(self, target):
        m = _UUID.search(target.lower())
        return m.group(0) if m and m.group(0) in self.volumes else None

    def identify(self, keys, wwid=None, ns=None):
        """The volume a device is, by its identity only, or None."""
        vid = self.wwids.get(wwid) if wwid else None
        if vid is None and ns is not None:
            vid = next((a.volume_id for a in self.claiming(ns)), None)
        for k in sorted(keys):
            vid = vid or self.volume_of(k.target)
        return vid

    def hold(self, keys, vid=None):
        """Why unreferenced ``keys`` (of volume ``vid``, if known) must not
        be judged now, or None.
        """
        if self.blind:
            return 'attachment here without readable connection_info'
        if any(k in self.protected for k in keys) or (
                vid in self.protected_volumes):
            return 'attachment in progress'
        vids = {vid} | {self.volume_of(k.target) for k in keys}
        vids.discard(None)
        for v in sorted(vids):
            if v in self.transitional:
                return 'volume %s' % self.volumes[v][0]
        if not vids and self.local_busy:
            return ('local volume operation (%s)'
                    % ', '.join(self.local_busy))
        return None

    def attribution(self, vid):
        """Volume, attachment and instance of a device that is ``vid``."""
        if vid is None:
            return {}
        found = {'volume_id': vid}
        here = self.here_volumes.get(vid, ())
        for a in list(here) or self.elsewhere.get(vid, ()):
            found.setdefault('attachment_id', a.attachment_id)
            if a.instance_id:
                found.setdefault('instance_id', a.instance_id)
            if not here:
                # The device here is a volume another host uses now.
                found['reused_by_host'] = a.host or ''
                found['data_leak_risk'] = 'yes'
        return found

    def mapping(self, keys, wwid=None, ns=None):
        """Volume, attachment and instance a device maps back to: the
        attachment to this host naming it, else its identity.
        """
        if ns is not None:
            attached = self.claiming(ns, here=True)
        else:
            attached = [a for k in sorted(keys) for a in self.here.get(k, ())]
        if attached:
            a = attached[0]
            return dict(volume_id=a.volume_id, attachment_id=a.attachment_id,
                        **({'instance_id': a.instance_id}
                           if a.instance_id else {}))
        return self.attribution(self.identify(keys, wwid, ns))

    @staticmethod
    def has_device(a, present, namespaces):
        """Whether attachment ``a`` has its device here: a LUN it names
        (``present``: the scan's), the namespace it names; None for a
        legacy NVMe attachment (its NQN alone) while its subsystem shows
        namespaces: any of them may be its.
        """
        if a.protocol != view.NVME:
            return bool(a.targets & present)
        if a.namespaces:
            return any(n.matches(ns) for n in a.namespaces
                       for ns in namespaces)
        nqns = {k.target for k in a.targets}
        return None if any(ns.nqn in nqns for ns in namespaces) else False


def _learn(found, volumes, wwid):
    """Remember ``wwid`` as the one volume ``volumes`` names."""
    if wwid and len(set(volumes)) == 1:
        found[wwid] = volumes[0]


def compare(host_view, cinder, ownership=Ownership(),
            protocols=(view.ISCSI, view.FC), local_backends=(),
            local_hosts=()):
    """Candidates of one host pass; see the module docstring for the rules.

    ``local_hosts``: the names Cinder's volume hosts (``name@backend``) use
    for the services of this host; a transitional volume of one of them
    may be attached here by cinder-volume without an attachment record
    (an image download or upload, a migration). ``local_backends``:
    ``host@backend`` names that hold the same way.
    """
    judge = _Judge(host_view, cinder, ownership, protocols,
                   frozenset(local_backends), local_hosts)
    candidates, consistent, skipped = [], collections.Counter(), \
        collections.Counter()
    held, learned = [], {}
    disks = {d.name: d for d in host_view.disks}
    boot = host_view.boot
    in_maps = set()
    for a in cinder.here():
        learned.update((w, a.volume_id) for w in a.wwids)

    def skip_reason(keys, members, portal=None, wwid=None):
        if any(m in boot for m in members):
            return 'boot device'
        if wwid and wwid in judge.wwids:
            return None  # a known volume, whatever its target and LUN
        if not keys:
            return 'local disk'
        if not any(judge.owned(k, portal) for k in keys):
            return 'foreign target'
        if all(k.lun == 0 for k in keys):
            return 'LUN 0'
        return None

    def emit(candidate, reason=None):
        if reason:
            skipped[reason] += 1
            held.append(candidate)
        else:
            candidates.append(candidate)

    def leftover(kind, rtype, rid, name, keys, info, reason=None, **extra):
        info = dict(info)
        keys = sorted(keys)
        emit(model.Candidate(
            kind=kind, resource_type=rtype, resource_id=rid,
            array_name=name, cinder_id=info.pop('volume_id', None),
            details=_details(
                target=sorted({k.target for k in keys}),
                lun=sorted({str(k.lun) for k in keys if k.lun is not None}),
                **info, **extra)), reason)

    pathless = set()
    for m in host_view.maps:
        members = [disks[p.dev] for p in m.paths if p.dev in disks]
        in_maps.update(p.dev for p in m.paths)
        keys = {d.key for d in members if d.key}
        portal = next((d.portal for d in members if d.portal), None)
        if m.pathless:
            # Nothing but the WWID tells whose it is.
            reason = ('boot device' if m.dm in boot or m.name in boot
                      else None if m.wwid in judge.wwids
                      else 'pathless map of a WWID Cinder does not know')
        else:
            reason = skip_reason(keys, [m.dm, m.name]
                                 + [d.name for d in members], portal, m.wwid)
        if reason is None and any(d.model.strip() in LUNZ_MODELS
                                  for d in members):
            reason = 'LUNZ'
        if reason:
            skipped[reason] += 1
            continue
        extra = dict(devices=[m.dm] + [p.dev for p in m.paths], map=m.name,
                     wwid=m.wwid, paths_faulty='%d/%d' % (
                         sum(p.faulty for p in m.paths), len(m.paths)),
                     holders=m.holders, mounts=m.mounts,
                     open_count='' if m.open_count is None
                     else str(m.open_count),
                     in_use='yes' if m.holders or m.mounts or m.open_count
                     else '',
                     queue_if_no_path='yes' if m.queue_if_no_path else '')
        vid = judge.wwids.get(m.wwid)
        attached = keys & judge.here.keys()
        # A pathless map of a volume attached here is that volume's disk.
        mine = m.pathless and vid in judge.here_volumes
        if mine:
            pathless.add(vid)
        if attached or mine:
            _learn(learned, [a.volume_id for k in attached
                             for a in judge.here[k]], m.wwid)
            if m.all_faulty or m.pathless:
                # The instance's disk has no path left for its I/O.
                leftover(K.FAULTY_ATTACHED, R.MULTIPATH, m.wwid,
                         '/dev/' + m.dm, attached,
                         judge.mapping(attached, m.wwid),
                         reason='attachment in progress'
                         if attached & judge.protected
                         or vid in judge.protected_volumes else None,
                         **extra)
            elif attached & judge.protected:
                skipped['attachment in progress'] += 1
            else:
                consistent['multipath'] += 1
            continue
        vid = judge.identify(keys, m.wwid)
        leftover(K.FAULTY_MAP if m.all_faulty else K.LEFTOVER_DEVICE,
                 R.MULTIPATH, m.wwid, '/dev/' + m.dm, keys,
                 judge.attribution(vid), reason=judge.hold(keys, vid),
                 **extra)

    for d in host_view.disks:
        if d.name in in_maps:
            continue
        keys = {d.key} if d.key else set()
        reason = skip_reason(keys, [d.name], d.portal, d.wwid)
        if reason is None and d.model.strip() in LUNZ_MODELS:
            reason = 'LUNZ'
        if reason:
            skipped[reason] += 1
            continue
        if d.key in judge.here:
            _learn(learned, [a.volume_id for a in judge.here[d.key]], d.wwid)
            consistent['device'] += 1
            continue
        vid = judge.identify(keys, d.wwid)
        leftover(K.LEFTOVER_DEVICE, R.DEVICE, d.wwid or d.name,
                 '/dev/' + d.name, keys, judge.attribution(vid),
                 reason=judge.hold(keys, vid),
                 devices=[d.name], wwid=d.wwid,
                 hctl=d.hctl, portal=d.portal, state=d.state,
                 holders=d.holders, mounts=d.mounts,
                 in_use='yes' if d.holders or d.mounts else '')

    _sessions(judge, host_view, emit, consistent, skipped)
    _nvme(judge, host_view, emit, consistent, skipped, leftover, learned)
    _missing(judge, cinder, host_view, emit, consistent, skipped, pathless)
    return Comparison(candidates, consistent, skipped, set(judge.here),
                      held, learned)


def _sessions(judge, host_view, emit, consistent, skipped):
    on_disk = collections.defaultdict(set)
    for d in host_view.disks:
        if d.key and d.key.lun != 0:
            on_disk[d.key.target].add(d.name)
    for s in host_view.sessions:
        key = view.TargetKey(view.ISCSI, s.target)
        if not judge.owned_target(s.target, s.portal):
            skipped['foreign target'] += 1
            continue
        devices = {dev for lun, dev in s.disks if lun != 0} | on_disk[s.target]
        if devices:
            consistent['session'] += 1
        elif s.target in judge.here_targets:
            skipped['session of an attached target'] += 1
        else:
            reason = ('attachment in progress'
                      if any(k.target == s.target for k in judge.protected)
                      else judge.hold({key}))
            emit(model.Candidate(
                kind=K.STALE_SESSION, resource_type=R.SESSION,
                resource_id='%s,%s' % (s.target, s.portal),
                array_name=s.target,
                cinder_id=judge.volume_of(s.target),
                details=_details(target=s.target, portal=s.portal,
                                 sid=s.sid, state=s.state)), reason)


def _nvme(judge, host_view, emit, consistent, skipped, leftover, learned):
    """Subsystems and their namespaces, each namespace by its identity.

    Pure, ONTAP and PowerStore put every volume in one subsystem: an
    attachment's NQN says which subsystem, its UUID/NGUID/nsid which
    namespace. A namespace no attachment here names is a leftover; a legacy
    attachment naming the NQN alone could be any of them, so they wait.
    """
    if view.NVME not in judge.protocols:
        return
    by_nqn = collections.defaultdict(list)
    for ns in host_view.namespaces:
        by_nqn[ns.nqn].append(ns)
    for sub in host_view.nvme:
        key = view.TargetKey(view.NVME, sub.nqn)
        addresses = [_traddr(a) for _n, _t, a in sub.controllers]
        if sub.local:
            skipped['local disk'] += 1
            continue
        if not judge.owned_target(sub.nqn) and not any(
                judge.owned_target(sub.nqn, a) for a in addresses):
            skipped['foreign target'] += 1
            continue
        spaces = by_nqn.get(sub.nqn, ())
        attached = judge.here.get(key, ())
        if not spaces:
            if attached:
                skipped['session of an attached target'] += 1
                continue
            emit(model.Candidate(
                kind=K.STALE_SESSION, resource_type=R.SESSION,
                resource_id=sub.nqn, array_name=sub.nqn,
                cinder_id=judge.volume_of(sub.nqn),
                details=_details(target=sub.nqn, subsystem=sub.name,
                                 controllers=[n for n, _t, _a in
                                              sub.controllers])),
                 judge.hold({key}))
            continue
        legacy = any(not any(n.nqn == sub.nqn for n in a.namespaces)
                     for a in attached)
        for ns in spaces:
            claimed = judge.claiming(ns, here=True)
            if ns.name in host_view.boot:
                skipped['boot device'] += 1
            elif claimed:
                _learn(learned, [a.volume_id for a in claimed], ns.wwid)
                consistent['device'] += 1
            elif not judge.namespace_owned(ns, addresses) and not legacy:
                skipped['foreign target'] += 1
            else:
                vid = judge.identify({key}, ns.wwid, ns)
                leftover(K.LEFTOVER_DEVICE, R.DEVICE, ns.wwid or ns.name,
                         '/dev/' + ns.name, {key}, judge.attribution(vid),
                         reason=NO_NAMESPACE_ID if legacy
                         else judge.hold({key}, vid),
                         devices=[ns.name], wwid=ns.wwid,
                         nsid=None if ns.nsid is None else str(ns.nsid),
                         nguid=ns.nguid, uuid=ns.uuid,
                         holders=ns.holders, mounts=ns.mounts,
                         in_use='yes' if ns.holders or ns.mounts else '')


def _traddr(address):
    for part in (address or '').replace(' ', ',').split(','):
        if part.startswith('traddr='):
            return part[len('traddr='):]
    return None


def _missing(judge, cinder, host_view, emit, consistent, skipped, pathless):
    present = {d.key for d in host_view.disks if d.key}
    for a in cinder.here():
        found = judge.has_device(a, present, host_view.namespaces)
        if a.protocol not in judge.protocols:
            skipped['attachment of another protocol (%s)'
                    % (a.protocol or 'none')] += 1
        elif not a.targets:
            skipped['attachment without connection_info'] += 1
        elif a.volume_id in pathless:
            skipped['attachment whose map has no path '
                    '(faulty_attached)'] += 1
        elif found is None:
            skipped[NO_NAMESPACE_ID] += 1
        elif found:
            consistent['attachment'] += 1
        else:
            settled = (a.volume_status in engine.SETTLED_VOLUME
                       and a.migration_status in engine.SETTLED_MIGRATION)
            keys = sorted(a.targets)
            emit(model.Candidate(
                kind=K.MISSING_DEVICE, resource_type=R.ATTACHMENT,
                resource_id=a.attachment_id, cinder_id=a.volume_id,
                project_id=a.project_id,
                details=_details(
                    instance_id=a.instance_id, protocol=a.protocol,
                    target=sorted({k.target for k in keys}),
                    lun=sorted({str(k.lun) for k in keys
                                if k.lun is not None}))),
                 None if settled else 'volume %s' % a.volume_status)
