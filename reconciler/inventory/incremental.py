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

"""The last Cinder view of one backend, kept so steady passes list changes.

A full listing of a large backend is nearly all of a steady pass's load on
cinder-api. Between full listings a pass asks only for what changed since
the previous one (volumes by ``updated_at``/``created_at``, 3.60) and merges
it into the view kept here, in the daemon's memory: a restarted daemon has
none and lists in full, so no stale view can outlive the process, and
nothing needs a schema. Deletions leave no row to list (Cinder's destroy
sets deleted, deleted_at and status 'deleted' and keeps updated_at, and its
API lists no deleted row, even to an admin): they come from the
listener's delete events where history records them, from the point
look-ups of re-checks (a 404 drops the row), and otherwise make Cinder's
counts disagree with the merged view, which then is listed in full at once.

The view can only be late, never invented: every row in it was listed by
Cinder. A late row makes at most a suspect, and suspects are re-checked
with point look-ups before they become findings, as on full passes.
"""

import dataclasses
import time

from oslo_log import log as logging

from reconciler import cinder_events

LOG = logging.getLogger(__name__)

#: What makes a pass list in full (PassReport.inventory
#: ``cinder_full_listing_reason``).
FIRST = 'first pass'
FAILED = 'after a failed pass'
PERIODIC = 'every reconciler_full_listing_passes'
OLD_API = 'cinder-api older than 3.60'
COUNTS = 'counts disagree with the merged view'
EVENT_GAP = 'the notification listener restarted'
SKEW = "cinder-api's clock is off ours by more than [cinder] changes_margin"
DISABLED = 'reconciler_full_listing_passes = 1'


def event_evidence(history, backend, since):
    """(gap, deleted ids) the notification listener recorded since ``since``.

    ``gap`` is True when the listener (re)started since then: events may be
    missing, so the view must be listed in full. Without a listener nothing
    is recorded, (False, empty): Cinder's counts still catch deletions.
    An event a listing has contradicted (cinder_events.contradicted) says
    nothing.
    """
    if history.listener_started_since(backend, since):
        return True, frozenset()
    events = history.events_since(backend, since)
    void = cinder_events.voided(events)
    return False, frozenset(
        e.resource_id for e in events
        if e.event_type in cinder_events.DELETE_EVENTS
        and str(e.id) not in void)


def _in_scope(value, scoped):
    """Cinder's host filter: ``host@backend`` itself or one of its pools."""
    return bool(value) and (value == scoped or value.startswith(scoped + '#'))


def _listed_shape(record):
    """A point look-up's volume as a listing shows it (no initiators)."""
    if not getattr(record, 'attachments', None):
        return record
    return dataclasses.replace(record, attachments=tuple(
        dataclasses.replace(a, initiators=frozenset())
        for a in record.attachments))


class CinderCache(object):
    """One backend's merged Cinder view and when to list it in full.

    ``full_every``: reconciler_full_listing_passes; ``margin``: seconds of
    clock skew the change listings allow for ([cinder] changes_margin).
    ``evidence(since)`` returns :func:`event_evidence` for the backend.
    """

    def __init__(self, full_every, margin, evidence=None):
        self.full_every = full_every
        self.margin = margin
        self.evidence = evidence or (lambda since: (False, frozenset()))
        self.volumes = None     # id -> CinderVolume; None: no view yet
        self.snapshots = None   # id -> CinderSnapshot
        self.since = None       # cinder-api's clock as the last listing began
        self.local_since = None  # ours, for the listener's events
        self.changed_passes = 0  # passes since the last full listing
        self.new_api = None     # cinder-api serves 3.60 (asked once)
        self.skewed = False     # cinder-api's clock is off (clock_skew)
        self.invalid = FIRST
        # The last refresh, for the pass report.
        self.full = True
        self.reason = FIRST
        self.changed = 0
        # The ids of the rows it listed (None: all of them, in full).
        self.fresh = None
        # Volume ids the last change listing returned (snapshots by their
        # volume), for the array's steady listing (ArrayCache.reread).
        self.changed_ids = frozenset()

    def invalidate(self, reason=FAILED):
        """The next pass lists in full (a pass failed); the API's version
        is asked again (it may have been downgraded).
        """
        self.invalid = reason
        self.new_api = None

    def _full_reason(self, inventory):
        if self.full_every <= 1:
            return DISABLED
        if self.invalid or self.volumes is None or self.since is None:
            return self.invalid or FIRST
        if self.skewed:
            return SKEW
        if self.changed_passes + 1 >= self.full_every:
            return PERIODIC
        if self.new_api is None:
            self.new_api = inventory.max_microversion() >= (3, 60)
        if not self.new_api:
            return OLD_API
        return None

    def refresh(self, inventory, scope):
        """(volumes, snapshots) of ``scope``: full, or merged changes."""
        local = time.time()
        reason = self._full_reason(inventory)
        gap, deleted = False, frozenset()
        if reason in (None, FAILED, PERIODIC) and self.local_since:
            # Named first: a restarted listener matters most to whoever
            # reads why a pass listed in full.
            gap, deleted = self.evidence(self.local_since - self.margin)
            reason = EVENT_GAP if gap else reason
        if reason is None:
            reason = self._merge_changes(inventory, scope, deleted)
        if reason is not None:
            self._full(inventory, scope)
        self.local_since = local
        self.full, self.reason = reason is not None, reason
        self.invalid = None
        if self.full:
            self.changed_passes = 0
            LOG.info('Cinder view of %s listed in full (%s)',
                     ', '.join(scope.values()), reason)
        else:
            self.changed_passes += 1
        return tuple(self.volumes.values()), tuple(self.snapshots.values())

    def _clock(self, inventory, scope):
        """Whether cinder-api's clock is off ours by more than the margin,
        by its first answer since ``restart_clock``; logged when it starts
        and when it ends.

        Change listings filter on timestamps Cinder's services write, from
        a time read on cinder-api's clock: with that clock off, they miss
        changes (ahead) or list far too many (behind), so the view is
        listed in full while it lasts.
        """
        skew = inventory.first_answer_skew
        if skew is None:    # no Date: the listings went by our clock
            return self.skewed
        skewed = abs(skew) > self.margin
        if skewed != self.skewed:
            if skewed:
                LOG.warning("cinder-api's clock (its Date header) is %+.0f s "
                            'off ours, more than [cinder] changes_margin (%d '
                            's): the Cinder view of %s is listed in full on '
                            'every pass until the clocks agree', skew,
                            self.margin, ', '.join(scope.values()))
            else:
                LOG.info("cinder-api's clock is within [cinder] "
                         'changes_margin of ours again (%+.0f s): the '
                         'Cinder view of %s is listed by changes again',
                         skew, ', '.join(scope.values()))
            self.skewed = skewed
        return skewed

    def _full(self, inventory, scope):
        inventory.restart_clock()
        local = time.time()
        volumes, snapshots = inventory.listing(scope)
        self._clock(inventory, scope)
        self.fresh = None
        # By cinder-api's clock (its Date header), ours if it sends none.
        self.since = inventory.first_answer_time or local
        self.volumes = {v.id: v for v in volumes}
        self.snapshots = {s.id: s for s in snapshots}
        self.changed = len(volumes) + len(snapshots)
        self.changed_ids = frozenset()

    def _merge_changes(self, inventory, scope, deleted):
        """Merge what changed; the reason to list in full instead, or None.

        Nothing is kept unless the whole merge adds up: a failed request
        raises before the kept view changes.
        """
        since = self.since - self.margin
        inventory.restart_clock()
        local = time.time()
        volumes = inventory.volumes_changed(scope, since)
        if self._clock(inventory, scope):
            return SKEW
        began = inventory.first_answer_time or local
        snapshots = inventory.snapshots_changed(scope, since)
        all_snapshots = snapshots is None
        if all_snapshots:
            # More changed than a page: the snapshots in full.
            snapshots = inventory.snapshot_listing(scope)
        counts = inventory.counts(scope)
        merged_volumes, merged_snapshots = self._merged(
            volumes, snapshots, all_snapshots, deleted)
        if counts != (len(merged_volumes), len(merged_snapshots)):
            # The listener records in batches: a deletion Cinder finished
            # before the counts may be announced only now.
            gap, later = self.evidence(self.local_since - self.margin)
            if not gap and later - deleted:
                merged_volumes, merged_snapshots = self._merged(
                    volumes, snapshots, all_snapshots, later)
        if counts != (len(merged_volumes), len(merged_snapshots)):
            LOG.info('Cinder counts %d volumes and %d snapshots in %s, the '
                     'merged view %d and %d: listing in full', counts[0],
                     counts[1], ', '.join(scope.values()),
                     len(merged_volumes), len(merged_snapshots))
            return COUNTS
        self.volumes, self.snapshots = merged_volumes, merged_snapshots
        self.since = began
        self.changed = len(volumes) + len(snapshots)
        self.fresh = frozenset(r.id for r in volumes + tuple(snapshots))
        self.changed_ids = frozenset(
            [v.id for v in volumes] + [s.volume_id for s in snapshots])
        return None

    def _merged(self, volumes, snapshots, all_snapshots, deleted):
        """The kept view with the changes listed, less ``deleted`` ids.

        A deletion wins over a listed row: Cinder never reuses a UUID, so a
        row listed and then announced deleted is gone.
        """
        merged_volumes = dict(self.volumes)
        merged_volumes.update((v.id, v) for v in volumes)
        merged_volumes = {k: v for k, v in merged_volumes.items()
                          if k not in deleted}
        merged_snapshots = {} if all_snapshots else dict(self.snapshots)
        merged_snapshots.update((s.id, s) for s in snapshots)
        # A deleted volume's snapshots went first (Cinder deletes none with
        # snapshots but by cascade).
        merged_snapshots = {k: s for k, s in merged_snapshots.items()
                            if k not in deleted
                            and (all_snapshots
                                 or s.volume_id in merged_volumes)}
        return merged_volumes, merged_snapshots

    def keys_named(self, events):
        """Volume keys (the names their array objects carry) of the rows
        the last change listing returned and of Cinder's ``events``.
        """
        ids = set(self.changed_ids)
        for event in events:
            ids.add(dict(event.payload).get('volume_id')
                    if event.resource_type == 'snapshot'
                    else event.resource_id)
        volumes = self.volumes or {}
        return frozenset(key for i in ids if i for key in (
            i, volumes[i].key if i in volumes else i))

    def take_lookups(self, looked_up, backend_host, cluster=None):
        """Point look-ups are fresher than the view: keep what they saw.

        A look-up that found no live row (404) drops it; a volume now
        outside the backend drops too; any other replaces the kept row or,
        one the change listings missed (a clock behind by more than the
        margin), joins the view.
        """
        if self.volumes is None:
            return
        for key, record in looked_up.items():
            if record is None:
                self.volumes.pop(key, None)
                self.snapshots.pop(key, None)
            elif hasattr(record, 'host'):
                if (_in_scope(record.cluster_name, cluster) if cluster
                        else _in_scope(record.host, backend_host)):
                    self.volumes[key] = _listed_shape(record)
                else:
                    self.volumes.pop(key, None)
        for key, record in looked_up.items():
            if record is not None and not hasattr(record, 'host'):
                if record.volume_id in self.volumes:
                    self.snapshots[key] = record
                else:
                    self.snapshots.pop(key, None)


class ArrayCache(object):
    """What an array driver read on one backend's earlier passes, kept so
    that steady passes read again only what may have changed.

    The driver decides what may have changed and keeps what it likes in
    ``data`` (RBD: header versions, rbd_client.Kept); this says when to
    read in full instead, on CinderCache's schedule: the first pass, one
    in ``full_every`` (reconciler_full_listing_passes) and after a failed
    pass. ``reread``: volume keys that Cinder's last changes or recorded
    events name, whose objects are read afresh whatever the driver kept.
    """

    def __init__(self, full_every):
        self.full_every = full_every
        self.data = None
        self.reread = frozenset()
        self.listed_at = None   # our clock as the last listing began
        self.changed_passes = 0
        self.invalid = FIRST
        # The last listing, for the pass report.
        self.full = True
        self.reason = FIRST

    def invalidate(self, reason=FAILED):
        self.invalid = reason

    def full_reason(self):
        """Why the next listing reads in full, or None."""
        if self.full_every <= 1:
            return DISABLED
        if self.invalid or self.data is None:
            return self.invalid or FIRST
        if self.changed_passes + 1 >= self.full_every:
            return PERIODIC
        return None

    def listed(self, data, reason, began):
        """A listing that ``began`` (time.time()) completed: ``data`` to
        keep (None: nothing), ``reason`` it read in full (None: it reused
        what was kept).
        """
        self.data, self.invalid, self.listed_at = data, None, began
        self.full, self.reason = reason is not None, reason
        self.changed_passes = 0 if self.full else self.changed_passes + 1
