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

"""One pass over one backend: the only module that knows every stage.

array view -> Cinder view -> plausibility -> compare -> suspect cap ->
confirm (and re-check confirmed findings the listings lack) -> record ->
announce. The array is listed first: Cinder writes a row before the driver
creates an object and removes it after the object is gone, so an object seen
on the array already had its row when Cinder is listed afterwards.

Both the daemon and ``cinder-reconciler-manage check`` call ``run_pass``, so a
one-shot check and the service share one code path. A pass either completes
or fails as a whole; a failed pass records its error and changes no finding.
A dry run (``check --dry-run``) is the same pass up to the record stage,
which it only previews: it writes nothing and announces nothing.
Its events wait in the outbox: the caller flushes it, never the pass.
"""

import collections
import dataclasses
import time

from oslo_log import log as logging

from reconciler import cinder_events
from reconciler import engine
from reconciler import exception
from reconciler import history as history_mod
from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import incremental
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler import ownership

LOG = logging.getLogger(__name__)

_DELETIONS_AND_VOIDS = cinder_events.DELETE_EVENTS | {cinder_events.LISTED}


@dataclasses.dataclass
class PassReport:
    """What one pass found, for the CLI and the logs."""

    backend: str
    cinder_host: str
    run_id: int | None  # None for a dry run, which records nothing
    status: model.RunStatus
    error: str | None = None
    candidates: list = dataclasses.field(default_factory=list)
    transitions: list = dataclasses.field(default_factory=list)
    consistent: dict = dataclasses.field(default_factory=dict)
    skipped: dict = dataclasses.field(default_factory=dict)
    inventory: dict = dataclasses.field(default_factory=dict)


def _cinder_hint(backend_host):
    return ('check [DEFAULT] host / backend_host (Cinder records this '
            "backend's volumes under %s) and that the [cinder] credentials "
            'have the admin role' % backend_host)


_ARRAY_HINT = ("check the backend's array options (address, credentials, "
               'pools) and that the array answered in full')


def check_plausible(previous, cinder_view, array_view, max_shrink_percent,
                    known_missing=frozenset()):
    """Refuse listings that cannot be true (traps T1, T3, T15).

    Against the backend's last ok pass (a sharp shrink of either side) and,
    needing no history, within this pass: Cinder's settled volumes in the
    pools the listing covered must be on the array, all but a plausible
    loss. ``known_missing`` are the ids of volumes already open Cinder-only
    findings: their absence is no news about this listing.
    """
    sizes = {'cinder_volumes': len(cinder_view.volumes),
             'array_objects': len(array_view.objects)}
    if previous is not None:
        for name, size in sizes.items():
            before = previous.inventory.get(name) or 0
            if before and size * 100 < before * (100 - max_shrink_percent):
                hint = (_cinder_hint(cinder_view.backend_host)
                        if name == 'cinder_volumes' else _ARRAY_HINT)
                raise exception.ImplausibleInventory(
                    '%s shrank from %d to %d since run %d (more than %d%%); '
                    '%s' % (name, before, size, previous.id,
                            max_shrink_percent, hint))
    cinder_named = sum(1 for o in array_view.objects
                       if o.kind == model.ResourceType.VOLUME
                       and o.object_class == model.ObjectClass.CINDER)
    if not cinder_view.volumes and cinder_named:
        raise exception.ImplausibleInventory(
            'Cinder lists no volume on %s while the array holds %d '
            'Cinder-named volumes; %s'
            % (cinder_view.backend_host, cinder_named,
               _cinder_hint(cinder_view.backend_host)))
    _check_cinder_volumes_listed(cinder_view, array_view, max_shrink_percent,
                                 known_missing)
    return sizes


def _check_cinder_volumes_listed(cinder_view, array_view, max_missing,
                                 known_missing):
    """Refuse a listing that lacks (nearly) all of Cinder's volumes.

    Cinder's settled volumes in the pools the listing covered must have
    their objects on the array, those already known missing aside. A
    listing holding none of them, or lacking more than ``max_missing``
    percent (the shrink limit: no plausible loss is larger), is a bad
    answer or a wrong configuration, not that many lost volumes; without
    history this is what catches it.
    """
    listed = {o.uuid for o in array_view.objects
              if o.kind == model.ResourceType.VOLUME
              and o.object_class == model.ObjectClass.CINDER}
    expected = [v for v in cinder_view.volumes if engine.volume_settled(v)
                and v.id not in known_missing
                and (array_view.pools is None
                     or engine.pool_of(v.host) in array_view.pools)]
    missing = sum(1 for v in expected if v.key not in listed)
    # Below 100%, holding none of them is always over the limit.
    if missing * 100 > len(expected) * max_missing:
        raise exception.ImplausibleInventory(
            'the array listing lacks %d of the %d settled volumes Cinder '
            'shows on %s in the listed pools (more than %d%%): a partial or '
            'wrong answer, not that many lost volumes; %s'
            % (missing, len(expected), cinder_view.backend_host,
               max_missing, _ARRAY_HINT))


# New suspects a pass may always add: on a small backend a few real
# orphans are a large share of it, and a handful of look-ups is cheap.
SUSPECT_CAP_FLOOR = 10


def check_suspect_cap(suspects, open_findings, cinder_view, array_view,
                      max_percent):
    """Refuse a pass that would turn too much of the backend suspect.

    Checked before any point look-up, so one bad listing never costs
    thousands of look-ups nor produces hundreds of findings. Suspects of
    findings already open (``open_findings``: their identities) do not
    count: the cap is on what this pass alone would add. The backend's size
    is the larger of Cinder's side (volumes and snapshots) and the array's
    (objects). Up to SUSPECT_CAP_FLOOR new suspects always pass;
    ``max_percent`` = 100 disables the cap.
    """
    new = sum(1 for s in suspects
              if s.candidate.identity not in open_findings)
    size = max(len(cinder_view.volumes) + len(cinder_view.snapshots),
               len(array_view.objects))
    if (max_percent < 100 and new > SUSPECT_CAP_FLOOR
            and new * 100 > size * max_percent):
        raise exception.ImplausibleInventory(
            'this pass would add %d suspects on a backend of %d objects '
            '(more than reconciler_max_suspect_percent = %d%%): one listing '
            'cannot be trusted with that many orphans; %s. If the orphans '
            'are real (a first pass over an old backend), raise '
            'reconciler_max_suspect_percent for one pass'
            % (new, size, max_percent, _ARRAY_HINT))


def _missing_volumes(identities):
    """Ids of the volumes among finding identities that are Cinder-only."""
    return {resource_id for kind, rtype, resource_id in identities
            if (kind, rtype) == (model.FindingKind.CINDER_ONLY,
                                 model.ResourceType.VOLUME)}


def guarded(report, work, what, history):
    """Run ``work()``; any error fails the pass ``report`` as a whole.

    Shared by backend and host passes (``what`` names the scope in the
    logs): a restart is no failure worth announcing, our own errors say
    what failed, a database error is one line, anything else is an
    internal error with its traceback in the log.
    """
    database_error = None
    try:
        work()
    except exception.PassInterrupted as e:
        record_failure(history, report, what, str(e), announce=False)
    except exception.ReconcilerError as e:
        record_failure(history, report, what, str(e))
    except exception.DATABASE_ERRORS as e:
        database_error = exception.describe(e)
    except Exception as e:
        LOG.exception('%s: unexpected error in run %s', what, report.run_id)
        record_failure(history, report, what,
                       'internal error: %s' % type(e).__name__)
    if database_error:  # out of the handler: logged in one line
        record_failure(history, report, what, database_error)


def record_failure(history, report, what, error, announce=True):
    """A failed pass: its error recorded (and announced); no finding moves.

    A dry run (no run id) records nothing.
    """
    now = time.time()
    LOG.error('%s run %s failed, no finding changed: %s',
              what, report.run_id or '(dry)', error)
    report.status = model.RunStatus.FAILED
    report.error = error
    if report.run_id is None:
        return
    events = [notifier_mod.run_failed_event(
        report.backend, report.run_id, error, now)] if announce else []
    history.fail_run(report.run_id, now, error, events)


def record_run(conf, history, report, what, candidates, policy, unchecked,
               consistent, skipped, **complete):
    """A pass that compared in full: its run recorded, its report ok.

    The backend and cloud passes end alike, so one copy keeps their
    dry runs (no run id) previewing exactly what their passes record, and
    announcing transitions of ``[reconciler] notify_kinds`` only.
    ``complete`` are extra ``History.complete_run`` keywords (``matches``).
    """
    kinds = set(conf.reconciler.notify_kinds)
    if report.run_id is None:
        report.transitions = history.preview_run(
            report.backend, conf.host, time.time(), candidates, policy,
            unchecked, monotonic=time.monotonic())
    else:
        report.transitions = history.complete_run(
            report.run_id, time.time(), candidates, policy, report.inventory,
            announce=lambda ts: notifier_mod.finding_events(ts, kinds),
            unchecked=unchecked, monotonic=time.monotonic(), **complete)
    report.candidates = candidates
    report.consistent = consistent
    report.skipped = skipped
    report.status = model.RunStatus.OK
    seen = collections.Counter(str(c.kind) for c in candidates)
    LOG.info('%s run %s ok: %d findings (%s), %d transitions%s',
             what, report.run_id or '(dry)', len(candidates),
             ', '.join('%s=%d' % kv for kv in sorted(seen.items()))
             or 'none', len(report.transitions),
             ' (dry run: none recorded)' if report.run_id is None else '')


class BackendReconciler(object):
    """Runs passes for one backend with the services it is given."""

    def __init__(self, conf, backend, history, notifier,
                 inventory_factory=cinder_inventory.CinderInventory):
        self.conf = conf
        self.backend = backend
        self.history = history
        self.notifier = notifier
        self.inventory_factory = inventory_factory
        # Cinder's view kept between this reconciler's passes: steady
        # passes list only what changed (see inventory/incremental.py).
        self.cinder_cache = incremental.CinderCache(
            backend.reconciler_full_listing_passes,
            conf.cinder.changes_margin,
            lambda since: incremental.event_evidence(history, backend.name,
                                                     since))
        # The array's side of the same: what the driver read (RBD).
        self.array_cache = incremental.ArrayCache(
            backend.reconciler_full_listing_passes)
        # Cinder's delete and unmanage events recorded since then (our
        # clock) are checked against each pass's listings; all of them
        # on the first pass.
        self._deletions_since = 0

    def _listed_alive(self, cinder_view):
        """Ids of the rows this pass's listing showed: all of the view
        after a full listing, else those the change listings returned.
        """
        fresh = self.cinder_cache.fresh
        if fresh is not None:
            return fresh
        return ({v.id for v in cinder_view.volumes}
                | {s.id for s in cinder_view.snapshots})

    def _void(self, deletions, alive, began, dry_run):
        """Markers voiding the recorded ``deletions`` (delete and unmanage
        events, and markers) that rows ``alive`` in a listing begun at
        ``began`` contradict (cinder_events.contradicted); recorded but in
        a dry run.
        """
        voids = cinder_events.contradicted(deletions, alive, began,
                                           self.cinder_cache.margin)
        if voids and not dry_run:
            self.history.record_events(voids)
        for void in voids:
            LOG.warning('Backend %s: Cinder listed %s %s after the event %s '
                        'that said it gone: that event is void',
                        self.backend.name, void.resource_type,
                        void.resource_id, dict(void.payload)['voids'])
        return voids

    @staticmethod
    def _checkpoint(stop):
        if stop is not None and stop.is_set():
            raise exception.PassInterrupted(
                'interrupted: the service is stopping or the backend lock '
                'was lost')

    def _open_findings(self):
        """Candidates of the confirmed findings; identities of the others."""
        findings = self.history.findings
        name = self.backend.name
        confirmed = [f.candidate() for f in findings(
            name, state=model.FindingState.CONFIRMED)]
        suspected = {(f.kind, f.resource_type, f.resource_id) for f in
                     findings(name, state=model.FindingState.SUSPECTED)}
        return confirmed, suspected

    def run_pass(self, stop=None, dry_run=False):
        """One pass; ``stop`` is the backend's coordination Lease (or an
        Event): the runs its lock proves dead are closed first. A dry run
        writes nothing, so it closes none.
        """
        backend = self.backend
        started = time.time()
        if not dry_run:
            ownership.close_abandoned(
                self.history, started, backend.name,
                getattr(stop, 'scope', ownership.NO_LOCK))
        run_id = None if dry_run else self.history.start_run(
            backend.name, self.conf.host, started)
        report = PassReport(backend.name, backend.cinder_host, run_id,
                            model.RunStatus.RUNNING)
        # Options are read afresh by every pass (a reload applies).
        self.cinder_cache.full_every = backend.reconciler_full_listing_passes
        self.cinder_cache.margin = self.conf.cinder.changes_margin
        self.array_cache.full_every = backend.reconciler_full_listing_passes
        guarded(report, lambda: self._run(report, stop, dry_run),
                'Backend %s' % backend.name, self.history)
        if report.status != model.RunStatus.OK:
            self.cinder_cache.invalidate()
            self.array_cache.invalidate()
        return report

    def _array_view(self, driver):
        """The array's listing: reusing what earlier passes read where the
        driver can, but what Cinder's last changes and the events recorded
        since the last listing name.
        """
        cache = self.array_cache
        events = ()
        if cache.listed_at is not None and not cache.full_reason():
            events = self.history.events_since(
                self.backend.name, cache.listed_at - self.cinder_cache.margin)
        cache.reread = self.cinder_cache.keys_named(events)
        return driver.list_objects_reusing(cache)

    def _run(self, report, stop, dry_run=False):
        backend = self.backend
        inventory = self.inventory_factory(self.conf)
        inventory.stop = stop
        with backend.create_driver() as driver:
            array_view = self._array_view(driver)
            self._checkpoint(stop)
            listing_began = time.time()
            cinder_view = inventory.view(backend.cinder_host,
                                         backend.cinder_cluster,
                                         cache=self.cinder_cache)
            self._checkpoint(stop)
            previous = self.history.last_ok_run(backend.name)
            confirmed, suspected = self._open_findings()
            confirmed_ids = {c.identity for c in confirmed}
            open_ids = confirmed_ids | suspected
            sizes = check_plausible(previous, cinder_view, array_view,
                                    backend.reconciler_max_shrink_percent,
                                    _missing_volumes(open_ids))
            comparison = engine.compare(cinder_view, array_view)
            # Cinder's recorded events: evidence, never the only source,
            # and none that the listings contradict.
            deletions = self.history.events_since(
                backend.name, self._deletions_since,
                types=_DELETIONS_AND_VOIDS)
            voids = self._void(deletions, self._listed_alive(cinder_view),
                               listing_began, dry_run)
            events = self.history.events_for(
                backend.name, engine.array_only_ids(comparison))
            comparison = engine.weigh_events(
                comparison, events + (voids if dry_run else []))
            # Objects Cinder's events call unmanaged are re-checked and
            # recorded as the array-only ones are, as a kind of their own.
            all_suspects = comparison.suspects + comparison.unmanaged
            # Not the unmanaged ones: no listing cut short makes them (each
            # needs Cinder's unmanage of its id), they are never acted on,
            # and they stay on the array, so counting them would fail every
            # pass of a backend whose operators unmanage much at once.
            check_suspect_cap(comparison.suspects, open_ids, cinder_view,
                              array_view,
                              backend.reconciler_max_suspect_percent)
            self._checkpoint(stop)
            kept, suspects = engine.keep_confirmed(
                all_suspects, confirmed_ids,
                self.history.ok_run_count(backend.name),
                backend.reconciler_confirmed_recheck_passes)
            rechecking = time.monotonic()
            # What the re-check dropped is counted, so every listed object
            # is accounted for in the report.
            dropped = collections.Counter()
            # One round: its array look-ups may share one read (NEC), made
            # after Cinder's listing and the Cinder-only look-ups. Confirmed
            # findings the listings lack resolve only if a look-up says
            # so; those that still hold stay confirmed.
            with driver.lookup_round():
                held, unlisted = engine.confirm_round(
                    suspects, confirmed,
                    comparison.suspects + comparison.unmanaged, inventory,
                    driver, backend.cinder_host, backend.cinder_cluster,
                    dropped=dropped)
            candidates = kept + held + unlisted
            recheck_seconds = time.monotonic() - rechecking
            # Rows the look-ups found alive contradict events too.
            voids += self._void(deletions + voids, {
                key for key, record in getattr(
                    inventory, 'looked_up', {}).items()
                if record is not None}, listing_began, dry_run)
            if self.cinder_cache.full and not dry_run:
                # Every event recorded before is checked against a whole
                # listing now: later passes read only the newer ones.
                self._deletions_since = (listing_began
                                         - self.cinder_cache.margin)
            self.cinder_cache.take_lookups(getattr(inventory, 'looked_up', {}),
                                           backend.cinder_host,
                                           backend.cinder_cluster)
        self._checkpoint(stop)
        report.inventory = dict(
            sizes, cinder_snapshots=len(cinder_view.snapshots),
            cinder_seconds=round(cinder_view.seconds, 3),
            cinder_requests=cinder_view.requests,
            array_seconds=round(array_view.seconds, 3),
            array_requests=array_view.requests,
            array_full_listing=int(array_view.full_listing),
            array_read_in_full=array_view.read_in_full,
            recheck_seconds=round(recheck_seconds, 3),
            suspects=len(comparison.suspects), rechecked=len(suspects),
            unlisted_kept=len(unlisted),
            recheck_requests=inventory.requests - cinder_view.requests,
            cinder_full_listing=int(self.cinder_cache.full),
            cinder_full_listing_reason=self.cinder_cache.reason,
            cinder_changed=self.cinder_cache.changed)
        policy = history_mod.LifecyclePolicy(
            sightings=backend.reconciler_sightings,
            grace_seconds=backend.reconciler_grace_period,
            kind_grace=((model.FindingKind.STALE_TEMPORARY,
                         backend.reconciler_stale_temporary_grace_period),))
        record_run(
            self.conf, self.history, report, 'Backend %s' % backend.name,
            candidates, policy, [c.identity for c in kept],
            {str(k): v for k, v in comparison.consistent.items()},
            dict(comparison.skipped + dropped),
            matches=(comparison.matched, comparison.listed
                     if array_view.pools is None else None))
