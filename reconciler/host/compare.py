"""Compare one host scan with Cinder's attachments: pure, no I/O.

Only devices of targets Cinder owns are judged. The configuration
(``owned_targets``) names targets that are Cinder's alone. Otherwise a LUN
is Cinder's when some attachment's connection_info names it, now or in an
earlier pass of this host; on a target whose name carries a volume UUID (a
target per volume, as LVM's) any LUN of a named target is. A LUN on a shared
target that no attachment ever named may be another application's and is
not judged. Local disks, the devices the root
file system rests on, LUN 0 and LUNZ, and other applications' targets are
counted as not compared and never become findings. Targets with an
attachment in progress anywhere, or of a volume in a transitional status,
are not judged either: cinder-volume attaches volumes for image copies,
backups and migrations without any attachment record.
"""

import collections
import dataclasses
import re

from reconciler import engine
from reconciler.host import view
from reconciler import model

K = model.FindingKind
R = model.ResourceType
_UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                   r'[0-9a-f]{12}')
LUNZ_MODELS = frozenset(('LUNZ',))


@dataclasses.dataclass(frozen=True)
class Ownership:
    """What makes a LUN Cinder's besides the attachments listed now."""

    # Configured: targets that are Cinder's alone, with every LUN on them.
    targets: frozenset = frozenset()   # exact IQNs, NQNs, target WWPNs
    prefixes: tuple = ()               # IQN/NQN prefixes of the backends
    portals: frozenset = frozenset()   # portal addresses of the backends
    # Remembered: TargetKeys of earlier attachments to this host.
    seen: frozenset = frozenset()


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


class _Judge(object):

    def __init__(self, host_view, cinder, ownership, protocols,
                 local_backends):
        self.host = cinder.host
        self.protocols = frozenset(protocols)
        self.here = collections.defaultdict(list)
        self.elsewhere = collections.defaultdict(list)
        self.protected = set()
        self.configured = set(ownership.targets)
        self.prefixes = tuple(ownership.prefixes)
        self.portals = {portal_address(p) for p in ownership.portals}
        self.known_keys = set(ownership.seen)
        self.blind = False
        for a in cinder.attachments:
            self.known_keys.update(a.targets)
            settled = (a.attach_status == 'attached'
                       and a.volume_status is not None
                       and a.volume_status in engine.SETTLED_VOLUME
                       and a.migration_status in engine.SETTLED_MIGRATION)
            mine = a.host == cinder.host and a.attach_status == 'attached'
            if not settled:
                self.protected.update(a.targets)
            if mine:
                for k in a.targets:
                    self.here[k].append(a)
                # No readable targets (a legacy attach stores no
                # connection_info): any unreferenced device may be its own.
                if not a.targets and (a.protocol in (None, 'unreadable')
                                      or a.protocol in self.protocols):
                    self.blind = True
            elif settled:
                for k in a.targets:
                    self.elsewhere[k].append(a)
        self.volumes = cinder.volumes
        # A failed delete is settled: a LUN of such a volume left on a host
        # is what keeps the array from deleting it (stuck_deleting).
        self.transitional = {
            vid for vid, (status, migration, _h) in cinder.volumes.items()
            if status not in engine.COMPARED_VOLUME
            or migration not in engine.SETTLED_MIGRATION}
        self.local_busy = sorted({
            cinder.volumes[vid][0] for vid in self.transitional
            if engine.backend_of(cinder.volumes[vid][2]) in local_backends})
        self.here_targets = {k.target for k in self.here}
        self.known = {k.target for k in self.known_keys}

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
        if key.target not in self.known:
            return False
        return (key.lun is None or key in self.known_keys
                or _UUID.search(key.target.lower()) is not None)

    def volume_of(self, target):
        m = _UUID.search(target.lower())
        return m.group(0) if m and m.group(0) in self.volumes else None

    def hold(self, keys):
        """Why unreferenced ``keys`` must not be judged now, or None."""
        if self.blind:
            return 'attachment here without readable connection_info'
        if any(k in self.protected for k in keys):
            return 'attachment in progress'
        for k in keys:
            vid = self.volume_of(k.target)
            if vid in self.transitional:
                return 'volume %s' % self.volumes[vid][0]
            if vid is None and self.local_busy:
                return ('local volume operation (%s)'
                        % ', '.join(self.local_busy))
        return None

    def mapping(self, keys):
        """Volume, attachment and instance the keys map back to."""
        found = {}
        for k in sorted(keys):
            vid = self.volume_of(k.target)
            if vid:
                found.setdefault('volume_id', vid)
            for a in self.here.get(k, []) + self.elsewhere.get(k, []):
                found.setdefault('volume_id', a.volume_id)
                found.setdefault('attachment_id', a.attachment_id)
                if a.instance_id:
                    found.setdefault('instance_id', a.instance_id)
                if a.host != self.host:
                    # The array exports this LUN to another host now: a
                    # stale device here reads that volume's data.
                    found['reused_by_host'] = a.host or ''
                    found['data_leak_risk'] = 'yes'
        return found


def compare(host_view, cinder, ownership=Ownership(),
            protocols=(view.ISCSI, view.FC), local_backends=()):
    """Candidates of one host pass; see the module docstring for the rules.
    """
    judge = _Judge(host_view, cinder, ownership, protocols,
                   frozenset(local_backends))
    candidates, consistent, skipped = [], collections.Counter(), \
        collections.Counter()
    held = []
    disks = {d.name: d for d in host_view.disks}
    boot = host_view.boot
    in_maps = set()

    def skip_reason(keys, members, portal=None):
        if any(m in boot for m in members):
            return 'boot device'
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

    def leftover(kind, rtype, rid, name, keys, reason=None, **extra):
        info = judge.mapping(keys)
        keys = sorted(keys)
        emit(model.Candidate(
            kind=kind, resource_type=rtype, resource_id=rid,
            array_name=name, cinder_id=info.pop('volume_id', None),
            details=_details(
                target=sorted({k.target for k in keys}),
                lun=sorted({str(k.lun) for k in keys if k.lun is not None}),
                **info, **extra)), reason)

    for m in host_view.maps:
        members = [disks[p.dev] for p in m.paths if p.dev in disks]
        in_maps.update(p.dev for p in m.paths)
        keys = {d.key for d in members if d.key}
        portal = next((d.portal for d in members if d.portal), None)
        reason = skip_reason(keys, [m.dm, m.name] + [d.name for d in members],
                             portal)
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
                     else '')
        if keys & judge.here.keys():
            if m.all_faulty:
                leftover(K.FAULTY_ATTACHED, R.MULTIPATH, m.wwid,
                         '/dev/' + m.dm, keys & judge.here.keys(),
                         reason='attachment in progress'
                         if keys & judge.protected else None, **extra)
            elif keys & judge.protected:
                skipped['attachment in progress'] += 1
            else:
                consistent['multipath'] += 1
            continue
        leftover(K.FAULTY_MAP if m.all_faulty else K.LEFTOVER_DEVICE,
                 R.MULTIPATH, m.wwid, '/dev/' + m.dm, keys,
                 reason=judge.hold(keys), **extra)

    for d in host_view.disks:
        if d.name in in_maps:
            continue
        keys = {d.key} if d.key else set()
        reason = skip_reason(keys, [d.name], d.portal)
        if reason is None and d.model.strip() in LUNZ_MODELS:
            reason = 'LUNZ'
        if reason:
            skipped[reason] += 1
            continue
        if d.key in judge.here:
            consistent['device'] += 1
            continue
        leftover(K.LEFTOVER_DEVICE, R.DEVICE, d.wwid or d.name,
                 '/dev/' + d.name, keys, reason=judge.hold(keys),
                 devices=[d.name], wwid=d.wwid,
                 hctl=d.hctl, portal=d.portal, state=d.state,
                 holders=d.holders, mounts=d.mounts,
                 in_use='yes' if d.holders or d.mounts else '')

    _sessions(judge, host_view, emit, consistent, skipped)
    _nvme(judge, host_view, emit, consistent, skipped, leftover)
    _missing(judge, cinder, host_view, emit, consistent, skipped)
    return Comparison(candidates, consistent, skipped, set(judge.here),
                      held)


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


def _nvme(judge, host_view, emit, consistent, skipped, leftover):
    if view.NVME not in judge.protocols:
        return
    by_nqn = collections.defaultdict(list)
    for ns in host_view.namespaces:
        by_nqn[ns.nqn].append(ns)
    for sub in host_view.nvme:
        key = view.TargetKey(view.NVME, sub.nqn)
        addresses = [a for _n, _t, a in sub.controllers]
        if sub.local:
            skipped['local disk'] += 1
            continue
        if not judge.owned(key) and not any(
                judge.owned(key, _traddr(a)) for a in addresses):
            skipped['foreign target'] += 1
            continue
        spaces = by_nqn.get(sub.nqn, ())
        referenced = key in judge.here
        if not spaces:
            if referenced:
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
        for ns in spaces:
            if ns.name in host_view.boot:
                skipped['boot device'] += 1
            elif referenced:
                consistent['device'] += 1
            else:
                leftover(K.LEFTOVER_DEVICE, R.DEVICE, ns.wwid or ns.name,
                         '/dev/' + ns.name, {key}, reason=judge.hold({key}),
                         devices=[ns.name],
                         wwid=ns.wwid, holders=ns.holders, mounts=ns.mounts,
                         in_use='yes' if ns.holders or ns.mounts else '')


def _traddr(address):
    for part in (address or '').replace(' ', ',').split(','):
        if part.startswith('traddr='):
            return part[len('traddr='):]
    return None


def _missing(judge, cinder, host_view, emit, consistent, skipped):
    present = {d.key for d in host_view.disks if d.key}
    present |= {view.TargetKey(view.NVME, ns.nqn)
                for ns in host_view.namespaces}
    for a in cinder.here():
        if a.protocol not in judge.protocols:
            skipped['attachment of another protocol (%s)'
                    % (a.protocol or 'none')] += 1
        elif not a.targets:
            skipped['attachment without connection_info'] += 1
        elif a.targets & present:
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
