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

"""Cinder's cloud against Nova and Keystone: pure decisions, no I/O.

``compare`` turns the listings into suspects (candidates); re-checks with
point look-ups are in ``confirm.py``. Every candidate carries in its
details what its re-check reads, so a recorded finding can be re-checked
from the history alone.

Traps encoded here (never findings):
- Attachments are judged by (instance, volume): a BDM of that pair in Nova
  accounts for every attachment of it. Mid live migration Nova's BDM
  already names the destination's new attachment while the source's is
  still in use; a multiattach volume has one pair per instance.
- An attachment without an instance (Glance's cinder store, Ironic
  standalone, any non-Nova user) is never judged, nor one whose connector
  host is known and is no Nova compute host (its instance is another
  service's).
- A server Nova is busy with (a task state) or cannot read (a down cell)
  is never judged, nor its attachments.
- Shelved-offloaded servers keep their BDMs and a ``reserved`` attachment
  per volume (and the volume ``reserved``): consistent, never stuck.
- A volume, snapshot or backup is aged from its ``updated_at`` by
  cinder-api's clock; one without a time is not judged.
"""

import collections
import dataclasses

from reconciler import engine
from reconciler import model
from reconciler import utctime

K = model.FindingKind
R = model.ResourceType

#: Attachment statuses of a live attachment (stale_attachment's scope).
LIVE_ATTACHMENT = frozenset(('attached', 'attaching', 'reserved'))
RESERVED = 'reserved'
#: A volume's migration_status that is a migration in progress.
MIGRATING = frozenset(('migrating', 'starting', 'completing'))
VOLUME_SERVICE = 'cinder-volume'
BACKUP_SERVICE = 'cinder-backup'


@dataclasses.dataclass(frozen=True)
class Comparison:
    candidates: tuple
    consistent: collections.Counter
    skipped: collections.Counter
    # attachment id -> [status, first seen (epoch s)], for the next pass.
    watched: dict


def candidate(kind, rtype, resource_id, cinder_id=None, project_id=None,
              **details):
    return model.Candidate(
        kind=kind, resource_type=rtype, resource_id=resource_id,
        cinder_id=cinder_id, project_id=project_id,
        details=tuple(sorted((k, str(v)) for k, v in details.items()
                             if v is not None and v != '')))


def bdm_id(server_id, volume_id):
    """The identity of a Nova volume attachment (block device mapping)."""
    return '%s/%s' % (server_id, volume_id)


class _Cloud(object):
    """Look-up tables over the views, built once per comparison."""

    def __init__(self, cinder, nova):
        self.cinder = cinder
        self.nova = nova
        self.volumes = {v.id: v for v in cinder.volumes}
        self.pairs = collections.defaultdict(list)
        self.of_volume = collections.defaultdict(list)
        for a in cinder.attachments:
            if a.status in LIVE_ATTACHMENT:
                self.of_volume[a.volume_id].append(a)
                if a.instance_id:
                    self.pairs[a.instance_id, a.volume_id].append(a)

    def server(self, server_id):
        return self.nova.servers.get(server_id) if self.nova else None

    def service(self, binary, host):
        """``'<binary> <host>: <state>'`` for a status's details."""
        found = self.cinder.service_of(binary, host)
        if found is None:
            return '%s %s: absent' % (binary, host)
        return '%s %s: %s%s' % (binary, found.host, found.state,
                                ' (disabled)' if found.status == 'disabled'
                                else '')

    def backup_services(self):
        found = [s for s in self.cinder.services
                 if s.binary == BACKUP_SERVICE]
        if not found:
            return '%s: absent' % BACKUP_SERVICE
        return '%s: %s' % (BACKUP_SERVICE, ', '.join(
            '%s %s' % (s.host, s.state) for s in found))


def service_host(volume):
    """The ``host@backend`` (or cluster) of a volume's cinder-volume."""
    return engine.backend_of(volume.cluster_name or volume.host) or '?'


def stale_attachments(cloud, skipped, consistent):
    """Cinder attachments of Nova instances Nova does not have, or whose
    instance has no BDM of the volume (listing level: Nova's listing lacks
    the server, or the server lacks the volume).
    """
    found = []
    for a in cloud.cinder.attachments:
        if a.status not in LIVE_ATTACHMENT:
            skipped['attachment ' + (a.status or 'without status')] += 1
            continue
        if not a.instance_id:
            skipped['attachment without an instance (not Nova\'s)'] += 1
            continue
        server = cloud.server(a.instance_id)
        if server is None:
            if a.host and a.host not in cloud.nova.compute_hosts:
                skipped['attachment to a host that is no Nova compute '
                        "(another service's)"] += 1
                continue
            reason = 'instance not listed by Nova'
        elif server.partial or server.task_state:
            skipped['attachment of a server Nova is busy with or cannot '
                    'read'] += 1
            continue
        elif a.volume_id in server.volumes:
            consistent['attachment'] += 1
            continue
        else:
            reason = 'no block device mapping of the volume'
        volume = cloud.volumes.get(a.volume_id)
        found.append(candidate(
            K.STALE_ATTACHMENT, R.ATTACHMENT, a.id, cinder_id=a.volume_id,
            project_id=volume and volume.project_id, volume_id=a.volume_id,
            instance_id=a.instance_id, attach_status=a.status, host=a.host,
            mode=a.mode, reason=reason))
    return found


def dangling_bdms(cloud, skipped, consistent):
    """Nova's volume BDMs whose volume Cinder does not have, or with no
    Cinder attachment of that volume to that instance.
    """
    found = []
    for server in cloud.nova.servers.values():
        for volume_id in sorted(server.volumes):
            if server.partial or server.task_state:
                skipped['BDM of a server Nova is busy with or cannot '
                        'read'] += 1
                continue
            if (server.id, volume_id) in cloud.pairs:
                consistent['bdm'] += 1
                continue
            if volume_id in cloud.volumes:
                reason = 'no Cinder attachment of the volume to the server'
            else:
                reason = 'volume not in Cinder'
            found.append(candidate(
                K.DANGLING_BDM, R.BDM, bdm_id(server.id, volume_id),
                cinder_id=volume_id, project_id=server.project_id,
                server_id=server.id, volume_id=volume_id, reason=reason))
    return found


def _reserved_ok(cloud, attachments):
    """Whether ``reserved`` attachments may be judged stuck: Nova read, and
    none of their instances shelved-offloaded, busy or gone (gone: a stale
    attachment, not a stuck one).
    """
    if cloud.nova is None:
        return False
    for a in attachments:
        server = cloud.server(a.instance_id) if a.instance_id else None
        if server is None or server.shelved_offloaded or (
                server.task_state or server.partial):
            return False
    return True


def _busy(cloud, attachments):
    """Whether Nova is busy with (or cannot read) a server of these."""
    for a in attachments:
        server = cloud.server(a.instance_id) if a.instance_id else None
        if server is not None and (server.task_state or server.partial):
            return True
    return False


def _aged(status, since_text, now, stuck_after):
    """(seconds it has been so, threshold) if past it, else None."""
    limit = stuck_after.get(status)
    if limit is None or not since_text:
        return None
    try:
        since = utctime.parse(since_text)
    except (TypeError, ValueError):
        return None
    return (now - since, limit) if now - since >= limit else None


def stuck_statuses(cloud, stuck_after, watched, local_now, skipped):
    """Resources in a transitional status for longer than its threshold.

    Returns (candidates, watched attachments for the next pass).
    """
    found = []
    cinder = cloud.cinder
    for v in cinder.volumes:
        status = v.status
        if status not in stuck_after and v.migration_status in MIGRATING:
            status = 'migrating'
        if status not in stuck_after:
            continue
        attachments = cloud.of_volume.get(v.id, ())
        if _busy(cloud, attachments):
            # Mid live migration the volume is "attaching" until the
            # destination's attachment completes.
            skipped['volume of a server Nova is busy with'] += 1
            continue
        if status == RESERVED and not _reserved_ok(cloud, attachments):
            skipped['volume reserved for a shelved or unread instance'] += 1
            continue
        if _aged(status, v.updated_at, cinder.now, stuck_after):
            found.append(candidate(
                K.STUCK_STATUS, R.VOLUME, v.id, cinder_id=v.id,
                project_id=v.project_id, status=status,
                since=v.updated_at, stuck_after=stuck_after[status],
                service=cloud.service(VOLUME_SERVICE, service_host(v))))
    for s in cinder.snapshots:
        parent = cloud.volumes.get(s.volume_id)
        if s.status in stuck_after and _aged(s.status, s.updated_at,
                                             cinder.now, stuck_after):
            found.append(candidate(
                K.STUCK_STATUS, R.SNAPSHOT, s.id, cinder_id=s.id,
                project_id=s.project_id, status=s.status,
                since=s.updated_at, stuck_after=stuck_after[s.status],
                volume_id=s.volume_id, service=cloud.service(
                    VOLUME_SERVICE, service_host(parent))
                if parent else None))
    for b in cinder.backups:
        if b.status in stuck_after and _aged(b.status, b.updated_at,
                                             cinder.now, stuck_after):
            found.append(candidate(
                K.STUCK_STATUS, R.BACKUP, b.id, cinder_id=b.id,
                status=b.status, since=b.updated_at,
                stuck_after=stuck_after[b.status], volume_id=b.volume_id,
                service=cloud.backup_services()))
    seen = {}
    for a in cinder.attachments:
        if a.status not in stuck_after:
            continue
        before = watched.get(a.id)
        since = (before[1] if before and before[0] == a.status
                 else local_now)
        seen[a.id] = [a.status, since]
        if _busy(cloud, [a]):
            # Mid live migration the destination's attachment is
            # "attaching" for as long as the memory copy takes.
            skipped['attachment of a server Nova is busy with or cannot '
                    'read'] += 1
            continue
        if a.status == RESERVED and not _reserved_ok(cloud, [a]):
            skipped['attachment reserved for a shelved or unread '
                    'instance'] += 1
            continue
        if local_now - since >= stuck_after[a.status]:
            volume = cloud.volumes.get(a.volume_id)
            found.append(candidate(
                K.STUCK_STATUS, R.ATTACHMENT, a.id, cinder_id=a.volume_id,
                project_id=volume and volume.project_id, status=a.status,
                since=utctime.iso(since, microseconds=True),
                stuck_after=stuck_after[a.status],
                volume_id=a.volume_id, instance_id=a.instance_id,
                service=cloud.service(VOLUME_SERVICE, service_host(
                    volume)) if volume else None))
    return found, seen


def orphan_projects(cloud, projects, skipped):
    """Volumes and snapshots of projects Keystone does not list."""
    found = []
    for rtype, items in ((R.VOLUME, cloud.cinder.volumes),
                         (R.SNAPSHOT, cloud.cinder.snapshots)):
        for item in items:
            if not item.project_id:
                skipped['%s without a project' % rtype] += 1
            elif item.project_id not in projects:
                found.append(candidate(
                    K.ORPHAN_PROJECT, rtype, item.id, cinder_id=item.id,
                    project_id=item.project_id, status=item.status))
    return found


def stuck_deletings(cloud, backends, related, skipped):
    """Volumes left in ``error_deleting`` on a backend reconciled here.

    ``backends``: Cinder ``host@backend`` -> backend group name;
    ``related(volume)``: details the history holds about what keeps the
    volume (its exports and host devices). Whether the array object still
    exists is the re-check's to say.
    """
    found = []
    snapshots = collections.defaultdict(list)
    for s in cloud.cinder.snapshots:
        snapshots[s.volume_id].append(s.id)
    clones = collections.defaultdict(list)
    for v in cloud.cinder.volumes:
        if v.source_volid:
            clones[v.source_volid].append(v.id)
    for v in cloud.cinder.volumes:
        if v.status != engine.FAILED_DELETE:
            continue
        host = service_host(v)
        backend = backends.get(host)
        if backend is None:
            skipped['error_deleting on a backend not reconciled here'] += 1
            continue
        found.append(candidate(
            K.STUCK_DELETING, R.VOLUME, v.id, cinder_id=v.id,
            project_id=v.project_id, status=v.status, since=v.updated_at,
            backend=backend, host=v.host, name_id=v.name_id,
            snapshots=','.join(sorted(snapshots.get(v.id, ()))),
            clones=','.join(sorted(clones.get(v.id, ()))),
            service=cloud.service(VOLUME_SERVICE, host), **related(v)))
    return found


def compare(cinder, nova, keystone, checks, stuck_after, watched, local_now,
            backends=None, related=None):
    """Candidates of the ``checks`` (FindingKinds) from the views.

    ``nova`` and ``keystone`` may be None when no check needs them.
    ``watched``: attachment id -> [status, first seen] of the previous
    pass; ``local_now``: this pass's time by our clock (attachments show
    no time of their own).
    """
    cloud = _Cloud(cinder, nova)
    skipped, consistent = collections.Counter(), collections.Counter()
    candidates = []
    if K.STALE_ATTACHMENT in checks:
        candidates += stale_attachments(cloud, skipped, consistent)
    if K.DANGLING_BDM in checks:
        candidates += dangling_bdms(cloud, skipped, consistent)
    seen = {}
    if K.STUCK_STATUS in checks:
        found, seen = stuck_statuses(cloud, stuck_after, watched,
                                     local_now, skipped)
        candidates += found
    if K.ORPHAN_PROJECT in checks:
        candidates += orphan_projects(cloud, keystone.projects, skipped)
    if K.STUCK_DELETING in checks:
        candidates += stuck_deletings(cloud, backends or {},
                                      related or (lambda v: {}), skipped)
    return Comparison(tuple(candidates), consistent, skipped, seen)
