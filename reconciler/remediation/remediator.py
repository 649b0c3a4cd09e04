"""Run a remediation plan on one backend, with every gate and the audit.

The caller holds the backend's coordination lock, so a pass and a
remediation never interleave. Nothing acts unless the backend's newest pass
succeeded, and a step that fails stops the run: what it left is recorded,
nothing else is touched, and only a new command retries it.
"""

import dataclasses
import time

from oslo_log import log as logging

from reconciler import exception
from reconciler.inventory import cinder as cinder_inventory
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.remediation import cinder_actions
from reconciler.remediation import plan as plan_mod
from reconciler.remediation import recheck

LOG = logging.getLogger(__name__)

# Results of a step, as the audit records them.
PLANNED, DONE, SKIPPED, FAILED = 'planned', 'done', 'skipped', 'failed'


@dataclasses.dataclass
class Outcome:
    """What a remediation planned and did, for the CLI."""

    backend: str
    applied: bool
    plan: plan_mod.Plan
    results: list = dataclasses.field(default_factory=list)
    error: str | None = None   # why nothing was done, if so


def remediate_backend(conf, backend, history, notifier, coordinator, actor,
                      **options):
    """A :class:`Remediator` run under the backend's coordination lock,
    as every remediation of a backend runs (the CLI's and the API's through
    the controller): never beside a pass or another remediation of it.
    ``options`` are :meth:`Remediator.run`'s.
    """
    with coordinator.exclusive(backend.name, blocking=True) as lease:
        if not lease:
            raise exception.ReconcilerError(
                'backend %s: could not take its coordination lock'
                % backend.name)
        return Remediator(conf, backend, history, notifier, actor).run(
            **options)


class Remediator(object):

    def __init__(self, conf, backend, history, notifier, actor,
                 inventory_factory=cinder_inventory.CinderInventory):
        self.conf = conf
        self.backend = backend
        self.history = history
        self.notifier = notifier
        self.actor = actor
        self.inventory_factory = inventory_factory

    def run(self, apply=False, kinds=None, finding_ids=None,
            quarantine=False, delete_ids=frozenset(), limit=None,
            allowed=None):
        """Plan, and with ``apply`` act; ``allowed``: (kind, action) pairs
        the daemon's policy permits (None: any).
        """
        backend = self.backend
        now = time.time()
        limit = min(limit or backend.reconciler_remediation_max_actions,
                    backend.reconciler_remediation_max_actions)
        findings = self.history.findings(backend=backend.name,
                                         state=model.FindingState.CONFIRMED)
        # The plan needs only the history and what the driver class offers:
        # the array and Cinder are reached for an applied plan only.
        supported = set(backend.driver_cls.REMEDIATIONS) | {plan_mod.ADOPT,
                                                            plan_mod.RESET}
        plan = plan_mod.plan(
            findings, now, backend.reconciler_remediation_min_age,
            limit, supported, kinds=kinds, finding_ids=finding_ids,
            quarantine=quarantine, delete_ids=delete_ids,
            orphan_volumes=self._orphan_volumes())
        if allowed is not None:
            plan = dataclasses.replace(plan, steps=tuple(
                s for s in plan.steps
                if (str(s.finding.kind), s.action) in allowed))
        outcome, _last = self._gate(backend.name, 'backend', plan, apply,
                                    limit)
        if outcome.error or not apply or not plan.steps:
            return outcome
        inventory = self.inventory_factory(self.conf)
        writer = cinder_actions.CinderActions(
            cinder_inventory.managers(inventory.client), backend, self.conf)
        with backend.create_driver() as driver:
            for step in plan.steps:
                result = self._step(step, driver, inventory, writer)
                outcome.results.append((step, result))
                if result[0] == FAILED:
                    break
        self.notifier.flush(self.history)
        return outcome

    def _gate(self, scope, what, plan, apply, limit, refusal=None):
        """(outcome, newest run of ``scope``): outcome.error says why
        nothing may be done (over the limit, ``refusal`` for an applied plan,
        a newest pass that failed); a dry run's steps are audited as planned.
        """
        outcome = Outcome(scope, apply, plan)
        last = self.history.runs(backend=scope, limit=1)
        if plan.over_limit:
            outcome.error = ('%d steps planned, more than the limit of '
                             '%d: nothing done' % (len(plan.steps), limit))
        elif apply and refusal:
            outcome.error = refusal
        elif apply and not (last and last[0].status == model.RunStatus.OK):
            outcome.error = ("the %s's newest pass did not succeed: no "
                             'action until one does' % what)
        elif not apply:
            outcome.results = [(step, self._planned(step))
                               for step in plan.steps]
        return outcome, last[0] if last else None

    def _orphan_volumes(self):
        """UUIDs of the backend's unresolved array-only volumes."""
        return frozenset(
            f.resource_id for f in self.history.findings(
                backend=self.backend.name, kind=model.FindingKind.ARRAY_ONLY)
            if f.resource_type == model.ResourceType.VOLUME
            and f.state != model.FindingState.RESOLVED)

    def _start(self, step, applied):
        return self.history.start_action(
            step.finding, step.action, step.target, {'why': step.why},
            self.actor, applied, time.time())

    def _planned(self, step):
        """A dry run's step: audited as planned, nothing else."""
        self.history.finish_action(self._start(step, False), PLANNED, None,
                                   time.time())
        return PLANNED, None

    def _step(self, step, driver, inventory, writer):
        """Audit, re-check and take one step; returns (result, why)."""
        finding = step.finding
        action_id = self._start(step, True)
        try:
            fresh, why_not = self._recheck(finding, driver, inventory)
            if why_not:
                result, reason = SKIPPED, why_not
            else:
                reason = self._act(step, fresh, driver, inventory, writer)
                result = DONE
        except recheck.Changed as e:
            result, reason = SKIPPED, str(e)
        except (exception.ReconcilerError, NotImplementedError) as e:
            result, reason = FAILED, str(e) or type(e).__name__
        except Exception as e:
            LOG.exception('Remediation of finding %d failed', finding.id)
            result, reason = FAILED, 'internal error: %s' % type(e).__name__
        LOG.info('Remediation %s of finding %d (%s): %s%s', step.action,
                 finding.id, step.target, result,
                 ': %s' % reason if reason else '')
        self.history.finish_action(
            action_id, result, reason, time.time(),
            [notifier_mod.remediation_event(
                finding, step.action, step.target, result, reason,
                self.actor, action_id, time.time())])
        return result, reason

    def _recheck(self, finding, driver, inventory):
        return recheck.ownership(finding, driver, inventory,
                                 self.backend.cinder_host)

    def _act(self, step, fresh, driver, inventory, writer):
        finding, action = step.finding, step.action
        if action == plan_mod.UNEXPORT:
            driver.remove_export(fresh)
            return 'removed %s' % fresh.name
        if action == plan_mod.QUARANTINE:
            return 'renamed to %s' % driver.quarantine(fresh)
        if action == plan_mod.DELETE:
            driver.delete_object(fresh)
            return 'deleted %s' % fresh.name
        if action == plan_mod.RESET:
            writer.reset(finding)
            return 'reset to error'
        if finding.resource_type == model.ResourceType.SNAPSHOT:
            parent = recheck.cinder_parent(finding, fresh, inventory)
            new_id = writer.adopt_snapshot(finding, parent.id,
                                           driver.manage_reference(fresh))
        else:
            new_id = writer.adopt_volume(finding, fresh,
                                         driver.manage_reference(fresh))
        return 'managed as %s' % new_id
