"""One pass over one backend: the only module that knows every stage.

array view -> Cinder view -> plausibility -> compare -> confirm -> record ->
announce. The array is listed first: Cinder writes a row before the driver
creates an object and removes it after the object is gone, so an object seen
on the array already had its row when Cinder is listed afterwards.

Both the daemon and ``cinder-reconciler-manage check`` call ``run_pass``, so a
one-shot check and the service share one code path. A pass either completes
or fails as a whole; a failed pass records its error and changes no finding.
"""

import collections
import dataclasses
import time

from oslo_log import log as logging

from reconciler import engine
from reconciler import exception
from reconciler import history as history_mod
from reconciler.inventory import cinder as cinder_inventory
from reconciler import model
from reconciler import notifier as notifier_mod

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class PassReport:
    """What one pass found, for the CLI and the logs."""

    backend: str
    cinder_host: str
    run_id: int
    status: model.RunStatus
    error: str | None = None
    candidates: list = dataclasses.field(default_factory=list)
    transitions: list = dataclasses.field(default_factory=list)
    consistent: dict = dataclasses.field(default_factory=dict)
    skipped: dict = dataclasses.field(default_factory=dict)
    inventory: dict = dataclasses.field(default_factory=dict)


def check_plausible(previous, cinder_view, array_view, max_shrink_percent):
    """Refuse listings that cannot be true (traps T1, T3, T15)."""
    sizes = {'cinder_volumes': len(cinder_view.volumes),
             'array_objects': len(array_view.objects)}
    if previous is not None:
        for name, size in sizes.items():
            before = previous.inventory.get(name) or 0
            if before and size * 100 < before * (100 - max_shrink_percent):
                raise exception.ImplausibleInventory(
                    '%s shrank from %d to %d since run %d (more than %d%%)'
                    % (name, before, size, previous.id, max_shrink_percent))
    cinder_named = sum(1 for o in array_view.objects
                       if o.kind == model.ResourceType.VOLUME
                       and o.object_class == model.ObjectClass.CINDER)
    if not cinder_view.volumes and cinder_named:
        raise exception.ImplausibleInventory(
            'Cinder lists no volume on %s while the array holds %d '
            'Cinder-named volumes; check [DEFAULT] host / backend_host and '
            'that the [cinder] credentials have the admin role'
            % (cinder_view.backend_host, cinder_named))
    return sizes


class BackendReconciler(object):
    """Runs passes for one backend with the services it is given."""

    def __init__(self, conf, backend, history, notifier,
                 inventory_factory=cinder_inventory.CinderInventory):
        self.conf = conf
        self.backend = backend
        self.history = history
        self.notifier = notifier
        self.inventory_factory = inventory_factory

    @staticmethod
    def _checkpoint(stop):
        if stop is not None and stop.is_set():
            raise exception.PassInterrupted(
                'interrupted: the service is stopping or the backend lock '
                'was lost')

    def run_pass(self, stop=None):
        backend = self.backend
        started = time.time()
        run_id = self.history.start_run(backend.name, self.conf.host, started)
        report = PassReport(backend.name, backend.cinder_host, run_id,
                            model.RunStatus.RUNNING)
        database_error = None
        try:
            self._run(report, stop)
        except exception.PassInterrupted as e:
            # A restart is no failure worth waking anyone for.
            self._fail(report, str(e), announce=False)
        except exception.ReconcilerError as e:
            self._fail(report, str(e))
        except exception.DATABASE_ERRORS as e:
            database_error = exception.describe(e)
        except Exception as e:
            LOG.exception('Backend %s: unexpected error in run %d',
                          backend.name, run_id)
            self._fail(report, 'internal error: %s' % type(e).__name__)
        finally:
            if database_error:  # out of the handler: logged in one line
                self._fail(report, database_error)
            self.notifier.flush(self.history)
        return report

    def _run(self, report, stop):
        backend = self.backend
        inventory = self.inventory_factory(self.conf)
        with backend.create_driver() as driver:
            array_view = driver.list_objects()
            self._checkpoint(stop)
            cinder_view = inventory.view(backend.cinder_host)
            self._checkpoint(stop)
            previous = self.history.last_ok_run(backend.name)
            sizes = check_plausible(previous, cinder_view, array_view,
                                    backend.reconciler_max_shrink_percent)
            comparison = engine.compare(cinder_view, array_view)
            self._checkpoint(stop)
            kept, suspects = engine.keep_confirmed(
                comparison.suspects, self.history.confirmed(backend.name),
                self.history.ok_run_count(backend.name),
                backend.reconciler_confirmed_recheck_passes)
            candidates = kept + engine.confirm(suspects, inventory, driver,
                                               backend.cinder_host)
        self._checkpoint(stop)
        report.inventory = dict(
            sizes, cinder_snapshots=len(cinder_view.snapshots),
            cinder_seconds=round(cinder_view.seconds, 3),
            cinder_requests=cinder_view.requests,
            array_seconds=round(array_view.seconds, 3),
            array_requests=array_view.requests,
            suspects=len(comparison.suspects), rechecked=len(suspects),
            recheck_requests=inventory.requests - cinder_view.requests)
        policy = history_mod.LifecyclePolicy(
            sightings=backend.reconciler_sightings,
            grace_seconds=backend.reconciler_grace_period)
        kinds = set(self.conf.reconciler.notify_kinds)
        report.transitions = self.history.complete_run(
            report.run_id, time.time(), candidates, policy, report.inventory,
            announce=lambda ts: notifier_mod.finding_events(ts, kinds),
            unchecked=[c.identity for c in kept])
        report.candidates = candidates
        report.consistent = {str(k): v for k, v in
                             comparison.consistent.items()}
        report.skipped = dict(comparison.skipped)
        report.status = model.RunStatus.OK
        kinds_seen = collections.Counter(str(c.kind) for c in candidates)
        LOG.info('Backend %s run %d ok: %d findings (%s), %d transitions',
                 backend.name, report.run_id, len(candidates),
                 ', '.join('%s=%d' % kv for kv in sorted(kinds_seen.items()))
                 or 'none', len(report.transitions))

    def _fail(self, report, error, announce=True):
        now = time.time()
        LOG.error('Backend %s run %d failed, no finding changed: %s',
                  self.backend.name, report.run_id, error)
        report.status = model.RunStatus.FAILED
        report.error = error
        events = [notifier_mod.run_failed_event(
            self.backend.name, report.run_id, error, now)] if announce else []
        self.history.fail_run(report.run_id, now, error, events)
