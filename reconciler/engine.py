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

"""Compare two views and re-check what differs: pure decisions, no I/O.

``compare`` turns a Cinder view and an array view of one backend into
suspects. ``keep_confirmed`` sets aside those of findings confirmed before,
but for those whose turn to be re-checked it is; ``confirm`` re-checks the
others with point look-ups on both sides (through the objects the manager
passes in) and keeps those that still hold.
Nothing here knows HTTP, SSH, SQL or oslo.

Safety rules encoded here (see ../shared/reference/traps.md):
- Only Cinder-named array objects are compared; temporaries, unmanaged,
  replica and control objects are classified and left alone (T5, T7).
- A volume's array key is ``name_id or id``, and any live row with either as
  id or name_id accounts for an array object (T4).
- Transitional statuses and active migrations are never orphans (T8); a
  Cinder row is Cinder-only only when settled (available/in-use) or left
  in ``error_deleting`` (its object gone: safe to clean up, so reported).
- A volume in a pool the array listing did not cover is unknown (T6).
- Cinder's recorded events are evidence, never the only source: they
  only reclassify an array-only object Cinder says it unmanaged (still a
  finding, of its own kind, re-checked like an array-only one), and
  explain the others (``weigh_events``); without them, the same objects
  are found, all array-only.
- A name that could decode by chance (``ArrayView.chance_names``) is the
  only evidence a finding's object is Cinder's unless a Cinder row has its
  UUID: such findings carry ``ownership_evidence: name``.
- An export whose host Cinder's data cannot tell is never an orphan, at
  the listing or at its re-check; a re-check that cannot tell counts it
  as not compared, or keeps a confirmed finding as it is (``confirm``).
- A temporary Cinder made for an operation (``ArrayObject.held_by``) is
  stale once the volume or snapshot it serves is not in transition.
"""

import collections
import dataclasses
import zlib

from reconciler import cinder_events
from reconciler import model
from reconciler import utctime

TRANSITIONAL_STATUSES = frozenset((
    'creating', 'deleting', 'attaching', 'detaching', 'maintenance',
    'restoring-backup', 'reserved', 'awaiting-transfer', 'backing-up',
    'downloading', 'uploading', 'retyping', 'extending', 'managing',
    'unmanaging', 'reverting', 'migrating', 'restoring', 'updating'))
SETTLED_MIGRATION = frozenset((None, '', 'none', 'success', 'error'))
SETTLED_VOLUME = frozenset(('available', 'in-use'))
SETTLED_SNAPSHOT = frozenset(('available',))
# A failed delete: Cinder keeps the row until an operator deletes it again.
# Compared like a settled row, so a row whose object is gone is reported.
FAILED_DELETE = 'error_deleting'
COMPARED_VOLUME = SETTLED_VOLUME | {FAILED_DELETE}
COMPARED_SNAPSHOT = SETTLED_SNAPSHOT | {FAILED_DELETE}
# Snapshot statuses no operation is running in.
IDLE_SNAPSHOT = COMPARED_SNAPSHOT | {'error'}
# Detail of a finding whose only evidence of Cinder ownership is a name
# that could decode by chance; remediation needs more (see remediation).
NAME_ONLY = ('ownership_evidence', 'name')
# Not compared: an export a re-check could not tie or untie.
UNDECIDED_EXPORT = 'export of attached volume undecidable at re-check'

K = model.FindingKind
R = model.ResourceType
C = model.ObjectClass


def volume_settled(volume):
    return (volume.status in SETTLED_VOLUME
            and volume.migration_status in SETTLED_MIGRATION)


def compared(volume):
    """True if the volume's object must exist: settled or failed delete."""
    return (volume.status in COMPARED_VOLUME
            and volume.migration_status in SETTLED_MIGRATION)


def in_transition(volume):
    return (volume.status in TRANSITIONAL_STATUSES
            or volume.migration_status not in SETTLED_MIGRATION)


def backend_of(host):
    """``host@backend`` of a Cinder ``host@backend#pool`` string."""
    return (host or '').partition('#')[0]


def on_backend(volume, backend_host, cluster=None):
    """Whether Cinder shows ``volume`` on this backend.

    Of a clustered (active/active) backend, a volume carries the host of
    whichever member made it, and ``cluster_name`` (``cluster@backend``).
    """
    return backend_of(volume.host) == backend_host or bool(
        cluster and backend_of(volume.cluster_name) == cluster)


def pool_of(host):
    return (host or '').partition('#')[2] or None


def _norm(value):
    return value.lower().replace(':', '').replace('-', '')


def _short(host):
    return (host or '').lower().split('.')[0]


def _answer(export, attachment):
    """Whether ``attachment`` is the export's host: True, False or None."""
    if export.host_rule is not None:
        return export.host_rule(attachment)
    if attachment.host_name and export.host and (
            _short(attachment.host_name) == _short(export.host)):
        return True
    wanted = {_norm(i) for i in export.initiators}
    if wanted & {_norm(i) for i in attachment.initiators}:
        return True
    if export.host is None and not attachment.initiators:
        return None
    return False


def _tied_elsewhere(export, attachment, siblings):
    """True if another export of the volume is this attachment's.

    One attachment is one connector, which Cinder maps to one array host:
    an export that a rule ties to it and whose LUN is the attachment's
    (connection_info's) is its export, so an export with another LUN is
    not. A name alone cannot say so (3PAR maps to a host holding the IQN
    before one named after the connector).
    """
    if not (siblings and attachment.luns and export.luns) or (
            export.luns & attachment.luns):
        return False
    return any(s.name != export.name and s.luns & attachment.luns
               and _answer(s, attachment) is True for s in siblings)


def export_match(volume, export, siblings=None):
    """Whether an attachment of ``volume`` is the export's host.

    True if one is, False if none can be, None if Cinder's data cannot
    tell. A driver that models its Cinder driver's host naming gives the
    export a ``host_rule``, asked for each attachment; otherwise host names
    are compared by their first label, or initiators. When the array names
    no host and an attachment's initiators are not exposed (iSCSI
    connection_info has none), the export may well be that attachment's.
    ``siblings``, the volume's exports as the driver shows them now, tie
    an attachment elsewhere by its LUN (``_tied_elsewhere``).
    """
    answers = set()
    for attachment in volume.attachments:
        answer = _answer(export, attachment)
        if answer is None and _tied_elsewhere(export, attachment, siblings):
            answer = False
        answers.add(answer)
    if True in answers:
        return True
    return None if None in answers else False


def attached_to(volume, export):
    """True if one of the volume's attachments is the export's host."""
    return export_match(volume, export) is True


def iscsi_only(export):
    """True for an export to iSCSI names only (IQN, EUI or NAA)."""
    return bool(export.initiators) and all(
        i.lower().startswith(('iqn.', 'eui.', 'naa.'))
        for i in export.initiators)


def undecidable(volume, export, siblings=()):
    """True when no re-check can tell whether ``export`` is orphaned.

    Cinder's data cannot tell (:func:`export_match` is None) and the
    export's host holds iSCSI names only: Cinder never exposes an iSCSI
    attachment's initiator, so look-ups on both sides would answer None
    pass after pass (NEC LD sets of attached volumes; a 3PAR host that may
    hold the connector's IQN under a name of its own). Unless another of
    the volume's exports (``siblings``) is tied to an attachment: then the
    LUNs a look-up reads may tell.
    """
    return (export_match(volume, export) is None and iscsi_only(export)
            and not any(s.name != export.name and attached_to(volume, s)
                        for s in siblings))


def export_orphaned(volume, export, siblings=None):
    """True, False, or None when Cinder's data cannot tell.

    An export of a volume Cinder shows attached nowhere is orphaned.
    """
    match = export_match(volume, export, siblings)
    return None if match is None else not match


def busy(record):
    """Whether an operation runs on a Cinder volume or snapshot."""
    if isinstance(record, model.CinderSnapshot):
        return record.status not in IDLE_SNAPSHOT
    return in_transition(record)


@dataclasses.dataclass(frozen=True, slots=True)
class Suspect:
    """A candidate and the evidence its re-check starts from."""

    candidate: model.Candidate
    array_object: model.ArrayObject | None = None
    cinder_record: model.CinderVolume | model.CinderSnapshot | None = None


@dataclasses.dataclass(frozen=True)
class Comparison:
    suspects: tuple[Suspect, ...]
    consistent: collections.Counter    # ResourceType -> matched objects
    skipped: collections.Counter       # reason -> count (not compared)
    # Array-only suspects Cinder's events say it unmanaged (weigh_events),
    # as suspects of kind UNMANAGED.
    unmanaged: tuple[Suspect, ...] = ()
    # (ResourceType, id) of the Cinder-named volumes and snapshots listed,
    # and of those matched to a Cinder row: the history keeps the matches
    # as evidence that an object was Cinder's (remediation weighs it).
    listed: frozenset = frozenset()
    matched: frozenset = frozenset()


def _candidate(kind, rtype, resource_id, obj=None, record=None, **details):
    project = getattr(record, 'project_id', None)
    cinder_id = getattr(record, 'id', None)
    if kind == K.ARRAY_ONLY and obj is not None:
        cinder_id = obj.uuid
    return model.Candidate(
        kind=kind, resource_type=rtype, resource_id=resource_id,
        array_name=obj.name if obj is not None else None,
        cinder_id=cinder_id, project_id=project,
        details=tuple(sorted((k, str(v)) for k, v in details.items()
                             if v is not None)))


class _Index(object):
    """Look-up tables over both views, built once per comparison."""

    def __init__(self, cinder, array):
        self.volumes = {v.id: v for v in cinder.volumes}
        self.by_key = {}
        for v in cinder.volumes:
            self.by_key.setdefault(v.key, v)
        self.known_keys = set(self.volumes) | set(self.by_key)
        self.snapshots = {s.id: s for s in cinder.snapshots}
        self.group_members = {}
        for s in cinder.snapshots:
            parent = self.volumes.get(s.volume_id)
            if s.group_snapshot_id and parent is not None:
                self.group_members[(s.group_snapshot_id, parent.key)] = s
        self.objects = collections.defaultdict(list)
        for obj in array.objects:
            self.objects[(obj.kind, obj.object_class)].append(obj)
        self.pools = array.pools

    def cinder_named(self, kind):
        return self.objects[(kind, model.ObjectClass.CINDER)]

    def holder(self, held_by):
        """The Cinder volume or snapshot ``held_by`` names, if listed."""
        rtype, uuid = held_by or (None, None)
        if rtype == R.SNAPSHOT:
            return self.snapshots.get(uuid)
        return self.volumes.get(uuid) or self.by_key.get(uuid)

    def snapshot_id(self, obj):
        """The Cinder snapshot id an array snapshot stands for, if known."""
        if obj.uuid:
            return obj.uuid
        member = self.group_members.get((obj.group_uuid, obj.parent_uuid))
        return member.id if member else None


def compare(cinder, array):
    """Suspects from a Cinder view and an array view of one backend."""
    idx = _Index(cinder, array)
    suspects = []
    consistent = collections.Counter()
    skipped = collections.Counter()
    # Details of findings only a name that may decode by chance ties to
    # Cinder: no Cinder row has their UUID.
    by_name = dict((NAME_ONLY,)) if array.chance_names else {}

    matched = set()
    array_volume_keys = set()
    for obj in idx.cinder_named(R.VOLUME):
        array_volume_keys.add(obj.uuid)
        if obj.uuid in idx.known_keys:
            consistent[R.VOLUME] += 1
            matched.add((R.VOLUME, obj.uuid))
        else:
            suspects.append(Suspect(
                _candidate(K.ARRAY_ONLY, R.VOLUME, obj.uuid, obj,
                           pool=obj.pool, size_gib=obj.size_gib, **by_name),
                obj))

    array_snapshot_ids = set()
    for obj in idx.cinder_named(R.SNAPSHOT):
        snap_id = idx.snapshot_id(obj)
        array_snapshot_ids.add(snap_id)
        if snap_id in idx.snapshots:
            consistent[R.SNAPSHOT] += 1
            matched.add((R.SNAPSHOT, snap_id))
        else:
            suspects.append(Suspect(
                _candidate(K.ARRAY_ONLY, R.SNAPSHOT, snap_id or obj.name, obj,
                           parent=obj.parent_uuid, group=obj.group_uuid,
                           **by_name),
                obj))

    for v in cinder.volumes:
        if not compared(v):
            skipped['volume ' + (v.status if v.status not in COMPARED_VOLUME
                                 else 'migrating')] += 1
        elif idx.pools is not None and pool_of(v.host) not in idx.pools:
            skipped['volume outside listed pools'] += 1
        elif v.key not in array_volume_keys:
            suspects.append(Suspect(
                _candidate(K.CINDER_ONLY, R.VOLUME, v.id, record=v,
                           name_id=v.name_id, status=v.status,
                           host=v.host), cinder_record=v))

    for s in cinder.snapshots:
        parent = idx.volumes.get(s.volume_id)
        if s.id in array_snapshot_ids:
            continue
        if s.status not in COMPARED_SNAPSHOT or parent is None or (
                not compared(parent)):
            skipped['snapshot ' + s.status] += 1
        elif idx.pools is not None and pool_of(parent.host) not in idx.pools:
            skipped['snapshot outside listed pools'] += 1
        elif _expired(s, array):
            skipped['snapshot expired on the array'] += 1
        else:
            suspects.append(Suspect(
                _candidate(K.CINDER_ONLY, R.SNAPSHOT, s.id, record=s,
                           volume_id=s.volume_id, status=s.status),
                cinder_record=s))

    exports = idx.cinder_named(R.EXPORT)
    siblings = collections.defaultdict(list)
    for obj in exports:
        siblings[obj.uuid].append(obj)
    for obj in exports:
        volume = idx.by_key.get(obj.uuid) or idx.volumes.get(obj.uuid)
        if volume is not None and in_transition(volume):
            skipped['export of volume ' + volume.status] += 1
        elif volume is not None and attached_to(volume, obj):
            consistent[R.EXPORT] += 1
        elif volume is not None and undecidable(volume, obj,
                                                siblings[obj.uuid]):
            skipped['export of attached volume to iSCSI initiators'] += 1
        else:
            details = by_name if volume is None else {}
            suspects.append(Suspect(
                _candidate(K.ORPHAN_EXPORT, R.EXPORT, obj.name, obj,
                           record=volume, volume_uuid=obj.uuid,
                           array_host=obj.host, **details), obj, volume))

    for kind in (R.VOLUME, R.SNAPSHOT):
        for obj in idx.objects[(kind, C.TEMPORARY)]:
            holder = idx.holder(obj.held_by)
            if obj.held_by is None or (holder is not None and busy(holder)):
                skipped['%s %s' % (C.TEMPORARY, kind)] += 1
                continue
            suspects.append(Suspect(
                _stale_candidate(obj, holder, by_name), obj, holder))

    for kind in R:
        for obj in idx.objects[(kind, model.ObjectClass.FOREIGN)]:
            suspects.append(Suspect(
                _candidate(K.FOREIGN, kind, obj.name, obj, pool=obj.pool,
                           size_gib=obj.size_gib), obj))
    for (kind, cls), objs in idx.objects.items():
        if cls not in (C.CINDER, C.FOREIGN) and not (
                cls == C.TEMPORARY and kind in (R.VOLUME, R.SNAPSHOT)):
            # Not "unmanaged volume": the ``unmanaged`` kind is another
            # thing (a Cinder-named object Cinder's events say it let go).
            skipped['%s renamed on unmanage' % kind if cls == C.UNMANAGED
                    else '%s %s' % (cls, kind)] += len(objs)

    listed = {(R.VOLUME, k) for k in array_volume_keys} | {
        (R.SNAPSHOT, i) for i in array_snapshot_ids if i}
    return Comparison(tuple(suspects), consistent, skipped,
                      listed=frozenset(listed), matched=frozenset(matched))


def _stale_candidate(obj, holder, by_name):
    """A stale temporary: its holder (the volume or snapshot its operation
    served), and that holder's state now ("no Cinder row" if none).
    """
    holder_type, holder_id = obj.held_by
    if holder is None:
        state, details = 'no Cinder row', by_name
    else:
        migration = getattr(holder, 'migration_status', None)
        state, details = holder.status + (
            ' (migration %s)' % migration if migration else ''), {}
    candidate = _candidate(
        K.STALE_TEMPORARY, obj.kind, obj.name, obj, record=holder,
        pool=obj.pool, size_gib=obj.size_gib, holder_type=holder_type,
        holder=holder_id, holder_state=state, **details)
    return dataclasses.replace(candidate, cinder_id=obj.uuid)


_EVIDENCED = (R.VOLUME, R.SNAPSHOT)
_ONE_OBJECT = (K.ARRAY_ONLY, K.UNMANAGED)


def array_only_ids(comparison):
    """Ids of the array-only volumes and snapshots: whose events to read."""
    return sorted({s.candidate.resource_id for s in comparison.suspects
                   if s.candidate.kind == K.ARRAY_ONLY
                   and s.candidate.resource_type in _EVIDENCED})


def weigh_events(comparison, events):
    """``comparison`` with Cinder's recorded ``events`` weighed in.

    ``events`` (``model.CinderEvent``, oldest first) are those of
    :func:`array_only_ids`. An array-only volume or snapshot whose events
    end in an unmanage (``cinder_events.verdict``) is an unmanaged object,
    not an orphan: it moves to ``unmanaged`` as a suspect of kind
    UNMANAGED, naming the event (its history id and Cinder's message id),
    so that what events hide is never out of sight. Every array-only
    suspect with events keeps them as its ``cinder_events`` detail (e.g.
    the delete.end of a delete that left its object). Events only ever
    explain or reclassify what the listings show: no event, no change.
    """
    by_id = collections.defaultdict(list)
    for event in events:
        by_id[(event.resource_type, event.resource_id)].append(event)
    suspects, unmanaged = [], []
    for suspect in comparison.suspects:
        c = suspect.candidate
        found = by_id.get((str(c.resource_type), c.resource_id))
        if c.kind != K.ARRAY_ONLY or c.resource_type not in _EVIDENCED or (
                not found):
            suspects.append(suspect)
            continue
        details = dict(c.details, cinder_events=cinder_events.evidence(found))
        verdict, by = cinder_events.decide(found)
        kind = K.ARRAY_ONLY
        if verdict == cinder_events.UNMANAGED:
            kind = K.UNMANAGED
            details.update((k, str(v)) for k, v in (
                ('cinder_event_id', by.id),
                ('cinder_message_id', by.message_id)) if v is not None)
        weighed = dataclasses.replace(suspect, candidate=dataclasses.replace(
            c, kind=kind, details=tuple(sorted(details.items()))))
        (unmanaged if kind == K.UNMANAGED else suspects).append(weighed)
    return dataclasses.replace(
        comparison, suspects=tuple(suspects),
        unmanaged=comparison.unmanaged + tuple(unmanaged))


def _expired(snapshot, array_view):
    if not array_view.snapshot_lifetime or not snapshot.created_at:
        return False
    return (utctime.parse(snapshot.created_at)
            + array_view.snapshot_lifetime <= array_view.fetched_at)


def _still_array_only(suspect, cinder, array, backend_host, cluster=None):
    """None if it holds, else why not (the "not compared" reason)."""
    obj = suspect.array_object
    rtype = suspect.candidate.resource_type
    volume = None
    if rtype == R.VOLUME:
        volume = cinder.volume_with_key(obj.uuid)
        row = volume
    else:
        row = obj.uuid and cinder.get_snapshot(obj.uuid)
        if row:
            volume = cinder.get_volume(row.volume_id)
    if row:
        # Cinder keeps it under another backend (or host): listed here,
        # compared there.
        if volume is not None and not on_backend(volume, backend_host,
                                                 cluster):
            return '%s with a row on another backend' % rtype
        return '%s changed since listed' % rtype
    now = array.refresh(obj)
    if now is None or now.object_class != obj.object_class:
        return '%s changed since listed' % rtype
    return None


def _cinder_only_rows(suspect, cinder, backend_host, cluster=None):
    """Cinder's half of a Cinder-only re-check: ``(volume, snapshot)`` to
    look for on the array, or None if the row no longer makes an orphan.
    """
    record = suspect.cinder_record
    snap = None
    if suspect.candidate.resource_type == R.SNAPSHOT:
        snap = cinder.get_snapshot(record.id)
        if snap is None or snap.status not in COMPARED_SNAPSHOT:
            return None
        volume_id = snap.volume_id
    else:
        volume_id = record.id
    volume = cinder.get_volume(volume_id)
    if (volume is None or not compared(volume)
            or not on_backend(volume, backend_host, cluster)):
        return None
    return volume, snap


def _absent(rows, array):
    """The array's half: whether the rows' object is missing."""
    volume, snap = rows
    if snap is not None:
        return array.find_snapshot(snap.id, volume.key,
                                   snap.group_snapshot_id) is None
    return array.find_volume(volume.key) is None


def _still_orphan_export(suspect, cinder, array):
    """True, False, or None when the look-ups cannot tell either."""
    # Judged by the export as it is now: a finding re-checked from the
    # history has only the listed export's name and host.
    obj = array.refresh(suspect.array_object)
    if obj is None:
        return False
    volume = cinder.volume_with_key(obj.uuid)
    if volume is None:
        return True
    if in_transition(volume):
        return False
    orphaned = export_orphaned(volume, obj)
    if orphaned is None and any(a.luns for a in volume.attachments):
        orphaned = export_orphaned(volume, obj, array.volume_exports(obj))
    return orphaned


def _still_stale_temporary(suspect, cinder, array):
    """The temporary is there, and what it served is not in transition."""
    now = array.refresh(suspect.array_object)
    if now is None or now.object_class != C.TEMPORARY or now.held_by is None:
        return False
    rtype, uuid = now.held_by
    if uuid is None:
        return True
    holder = (cinder.get_snapshot(uuid) if rtype == R.SNAPSHOT
              else cinder.volume_with_key(uuid))
    return holder is None or not busy(holder)


def _still_foreign(suspect, cinder, array):
    now = array.refresh(suspect.array_object)
    return now is not None and now.object_class == model.ObjectClass.FOREIGN


def _listing_tells(suspect):
    """False where the listings lack what the re-check decides by.

    That is an export of a volume with attachments: only a point look-up
    reads their initiators, which can tie the export to an attachment made
    since (to an array host named unlike the compute node) while every
    listing goes on calling it an orphan.
    """
    return not (suspect.candidate.kind == K.ORPHAN_EXPORT
                and suspect.cinder_record is not None
                and suspect.cinder_record.attachments)


def recheck_due(identity, pass_number, every):
    """Whether a confirmed finding is re-checked on pass ``pass_number``.

    A finding's turn comes on one pass number in ``every`` consecutive ones,
    at an offset from the CRC-32 of its resource id (the same in every
    process and release, unlike ``hash``), so each pass re-checks about
    1/``every`` of the confirmed findings. ``every`` = 1: on every pass.
    """
    turn = zlib.crc32(identity[2].encode('utf-8', 'surrogatepass')) % every
    return turn == pass_number % every


def keep_confirmed(suspects, confirmed, pass_number, every):
    """Split off the suspects of findings confirmed before.

    Returns ``(kept, others)``: the candidates of suspects whose identity
    is in ``confirmed``, whose listing tells what a re-check would and
    whose turn to be re-checked (``recheck_due``) this pass is not, and
    the other suspects, for ``confirm``. The re-check guards against
    creating or advancing a finding on a stale listing; a kept candidate
    can do neither (history refuses it); once the listings stop showing
    it, ``recheck_unlisted`` decides whether it resolves. Re-checking a
    backlog of confirmed findings every pass costs look-ups per finding on
    both sides.

    A listing cannot show everything a re-check finds: Cinder is listed by
    host, a re-check searches all of it, so a confirmed array-only volume
    whose row reappears under another host (a renamed backend, a restored
    database) stays listed as an orphan. Hence each confirmed finding is
    still re-checked once in every ``every`` consecutive pass numbers,
    and resolves on its turn if it no longer holds. ``pass_number`` must
    grow by one with each ok pass of the backend.
    """
    kept, others = [], []
    for suspect in suspects:
        identity = suspect.candidate.identity
        if (identity in confirmed and _listing_tells(suspect)
                and not recheck_due(identity, pass_number, every)):
            kept.append(suspect.candidate)
        else:
            others.append(suspect)
    return kept, others


def recheck(suspects, cinder, array, backend_host, cluster=None,
            confirmed=frozenset()):
    """Re-check each suspect now, on both sides: ``[why_not]`` in suspect
    order, None where the suspect still holds.

    ``cinder`` offers ``get_volume(id)``, ``volume_with_key(uuid)`` (a live
    volume whose id or name_id is uuid) and ``get_snapshot(id)``, each
    returning None when absent; ``array`` is the backend's driver;
    ``cluster`` the ``cluster@backend`` of a clustered backend. Any error
    they raise propagates: a re-check that could not be made fails the pass.

    Cinder's half of every Cinder-only re-check comes first: its array
    look-up must be newer than Cinder's answer, which names the object (a
    migration gives a volume a new one), also where a driver answers the
    array look-ups of a round from one read (``lookup_round``), made by the
    first of them. The other re-checks follow in order, then the array
    halves of the Cinder-only ones, then Cinder's again for those the
    array lacks: it holds only if Cinder still names the same object (a
    migration that ended meanwhile deleted the object looked up, and the
    row, settled again, names another).

    A suspect the look-ups could neither confirm nor clear (an export whose
    host Cinder's data cannot tell) proves nothing: it holds if its finding
    is ``confirmed`` (identities), which stays as it is, else its reason is
    UNDECIDED_EXPORT.
    """
    why_not = [None] * len(suspects)
    rows = {}
    for n, suspect in enumerate(suspects):
        if suspect.candidate.kind == K.CINDER_ONLY:
            rows[n] = _cinder_only_rows(suspect, cinder, backend_host,
                                        cluster)
    for n, suspect in enumerate(suspects):
        kind = suspect.candidate.kind
        if kind in (K.ARRAY_ONLY, K.UNMANAGED):
            why_not[n] = _still_array_only(suspect, cinder, array,
                                           backend_host, cluster)
            continue
        if kind == K.CINDER_ONLY:
            continue
        if kind == K.ORPHAN_EXPORT:
            holds = _still_orphan_export(suspect, cinder, array)
        elif kind == K.STALE_TEMPORARY:
            holds = _still_stale_temporary(suspect, cinder, array)
        else:
            holds = _still_foreign(suspect, cinder, array)
        why_not[n] = _why_not(suspect, holds, confirmed)
    absent = {n: found is not None and _absent(found, array)
              for n, found in rows.items()}
    for n, holds in absent.items():
        if holds:
            again = _cinder_only_rows(suspects[n], cinder, backend_host,
                                      cluster)
            holds = _same_rows(rows[n], again)
        why_not[n] = _why_not(suspects[n], holds, confirmed)
    return why_not


def _same_rows(before, after):
    """Whether Cinder's second answer names the object its first did.

    A migration that ends between Cinder's answer and the array's look-up
    moves the row to a new object (name_id) and deletes the one the look-up
    asked for, while the row stays settled: the array's "absent" is then
    about an object the volume no longer has.
    """
    if after is None:
        return False
    (volume, snap), (volume2, snap2) = before, after
    return (volume.key == volume2.key
            and (snap is None) == (snap2 is None)
            and (snap is None or snap.volume_id == snap2.volume_id))


def _why_not(suspect, holds, confirmed):
    """Why a re-check that answered ``holds`` drops ``suspect``, or None."""
    if holds or (holds is None and suspect.candidate.identity in confirmed):
        return None
    if holds is None:
        return UNDECIDED_EXPORT
    return '%s changed since listed' % suspect.candidate.resource_type


def confirm(suspects, cinder, array, backend_host, cluster=None,
            dropped=None, confirmed=frozenset()):
    """The candidates of the suspects that still hold (:func:`recheck`;
    ``confirmed``: the identities of confirmed findings).

    ``dropped`` (a Counter), if given, counts the suspects that did not
    hold by reason, so that a pass accounts for every listed object.
    """
    kept = []
    for suspect, why_not in zip(suspects, recheck(
            suspects, cinder, array, backend_host, cluster, confirmed)):
        if why_not is None:
            kept.append(suspect.candidate)
        elif dropped is not None:
            dropped[why_not] += 1
    return kept


def suspect_of(candidate):
    """The evidence to re-check a recorded finding from, as ``compare`` had.

    A finding keeps the listed object's name and the details its re-check
    reads (pool, parent, array host, the Cinder row's id and status), so a
    finding the listings no longer show is looked up as ``confirm`` would.
    """
    details = dict(candidate.details)
    if candidate.kind == K.CINDER_ONLY:
        if candidate.resource_type == R.SNAPSHOT:
            record = model.CinderSnapshot(
                candidate.resource_id, details.get('volume_id'),
                details.get('status'), candidate.project_id)
        else:
            record = model.CinderVolume(
                candidate.resource_id, details.get('name_id'),
                details.get('host'), details.get('status'),
                project_id=candidate.project_id)
        return Suspect(candidate, cinder_record=record)
    held_by = None
    if candidate.kind == K.ORPHAN_EXPORT:
        uuid, cls = details.get('volume_uuid'), C.CINDER
    elif candidate.kind == K.FOREIGN:
        uuid, cls = None, C.FOREIGN
    elif candidate.kind == K.STALE_TEMPORARY:
        uuid, cls = candidate.cinder_id, C.TEMPORARY
        held_by = (R(details.get('holder_type', R.VOLUME)),
                   details.get('holder'))
    else:
        uuid, cls = candidate.cinder_id, C.CINDER
    return Suspect(candidate, model.ArrayObject(
        candidate.resource_type, candidate.array_name, uuid, cls,
        pool=details.get('pool'), parent_uuid=details.get('parent'),
        group_uuid=details.get('group'), host=details.get('array_host'),
        held_by=held_by))


def recheck_unlisted(confirmed, suspects, cinder, array, backend_host,
                     cluster=None):
    """Re-check the confirmed findings that this pass's listings lack.

    ``confirmed`` are the candidates of the backend's confirmed findings,
    ``suspects`` this pass's (from ``compare``). A listing that lacks an
    object or a row (a partial answer, a pool listed short) proves nothing:
    a confirmed finding resolves only when the look-ups of ``confirm`` say
    it stopped being an orphan (its row or attachment is back, its object
    is gone). Returns the candidates of those that still hold, which stay
    confirmed. Errors propagate: the pass fails, nothing resolves.

    Cost: look-ups on both sides for each confirmed finding missing from
    the listings, which is rare (an orphan that was just cleaned up, then
    resolved by this very look-up); a finding the listings keep missing
    while it holds (its object moved out of the listed pools) costs them on
    every pass.
    """
    return confirm(unlisted(confirmed, suspects), cinder, array,
                   backend_host, cluster,
                   confirmed={c.identity for c in confirmed})


def unlisted(confirmed, suspects):
    """Suspects to re-check the confirmed findings the listings lack from
    (:func:`recheck_unlisted`).
    """
    listed = {s.candidate.identity for s in suspects}
    # One object, array-only or unmanaged as the events say: a finding of
    # either kind is listed when the object is.
    listed |= {(kind,) + i[1:] for i in listed if i[0] in _ONE_OBJECT
               for kind in _ONE_OBJECT}
    return [suspect_of(c) for c in confirmed if c.identity not in listed]


def confirm_round(suspects, confirmed, listed, cinder, array, backend_host,
                  cluster=None, dropped=None):
    """A pass's re-check round: :func:`confirm` of ``suspects`` and
    :func:`recheck_unlisted` of ``confirmed`` against ``listed`` (this
    pass's suspects, unmanaged ones included), in one :func:`recheck`, so
    that every Cinder-only look-up of the round precedes its array
    look-ups. Returns the candidates that hold: ``(suspects', unlisted
    findings')``; ``dropped`` counts only ``suspects``.
    """
    others = unlisted(confirmed, listed)
    suspects = list(suspects)
    why_not = recheck(suspects + others, cinder, array, backend_host,
                      cluster, {c.identity for c in confirmed})
    held = [[], []]
    for n, (suspect, why) in enumerate(zip(suspects + others, why_not)):
        if why is None:
            held[n >= len(suspects)].append(suspect.candidate)
        elif dropped is not None and n < len(suspects):
            dropped[why] += 1
    return held[0], held[1]
