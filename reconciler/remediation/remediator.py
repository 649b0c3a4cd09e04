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

"""Run a remediation plan on one backend, with every gate and the audit.

The caller holds the backend's coordination lock, so a pass and a
remediation never interleave. Nothing acts unless the backend's newest pass
succeeded, and a step that fails stops the run: what it left is recorded,
the steps after it are marked not attempted, and only a new command retries
them.

Each applied step is audited before it starts, with the process that runs
it: a remediation first closes the steps of dead processes as abandoned,
and a step that finds its own effect already there (renamed, unexported,
adopted, reset) records that as the outcome of such an abandoned step.
"""

import collections
import dataclasses
import time

from oslo_log import log as logging

from reconciler import cinder_events
from reconciler import exception
from reconciler.history import api as history_api
from reconciler.inventory import cinder as cinder_inventory
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler import ownership
from reconciler.remediation import cinder_actions
from reconciler.remediation import plan as plan_mod
from reconciler.remediation import recheck
from reconciler.remediation import safety

LOG = logging.getLogger(__name__)

# Results of a step, as the audit records them; a step after a failed one
# is reported not attempted (it has no audit row).
PLANNED, DONE, SKIPPED, FAILED = 'planned', 'done', 'skipped', 'failed'
NOT_ATTEMPTED = 'not attempted'


def effective_limit(limit, max_actions):
    """``--limit`` within the configured most; 0 lets nothing be done."""
    if limit is None:
        return max_actions
    if limit < 0:
        raise exception.ConfigError('--limit must be 0 or more, not %d'
                                    % limit)
    return min(limit, max_actions)


@dataclasses.dataclass
class Outcome:
    """What a remediation planned and did, for the CLI."""

    backend: str
    applied: bool
    plan: plan_mod.Plan
    results: list = dataclasses.field(default_factory=list)
    error: str | None = None   # why nothing was done, if so

    @property
    def done(self):
        """Steps that changed something."""
        return sum(1 for _s, (result, _why) in self.results
                   if result == DONE)

    @property
    def all_skipped(self):
        """An applied run with steps, every one of them skipped."""
        return bool(self.applied and self.results) and all(
            result == SKIPPED for _s, (result, _why) in self.results)


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
            lock=lease.scope, **options)


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
            allowed=None, lock=ownership.NO_LOCK):
        """Plan, and with ``apply`` act; ``allowed``: (kind, action) pairs
        the daemon's policy permits (None: any); ``lock``: what the
        backend's lock the caller holds proves (an ownership scope).
        """
        backend = self.backend
        limit = effective_limit(limit,
                                backend.reconciler_remediation_max_actions)
        self.close_abandoned(backend.name, lock)
        now = time.time()
        findings = self.history.findings(backend=backend.name,
                                         state=model.FindingState.CONFIRMED)
        # The plan needs only the history and what the driver class offers:
        # the array and Cinder are reached for an applied plan only.
        driver_cls = backend.driver_cls
        supported = set(driver_cls.REMEDIATIONS) | {plan_mod.ADOPT,
                                                    plan_mod.RESET}
        plan = plan_mod.plan(
            findings, now, backend.reconciler_remediation_min_age,
            limit, supported, kinds=kinds, finding_ids=finding_ids,
            quarantine=quarantine, delete_ids=delete_ids,
            orphan_volumes=self._orphan_volumes(),
            evidence=self._evidence(findings, driver_cls.UNMANAGE_KEEPS_NAME),
            keeps_name=driver_cls.UNMANAGE_KEEPS_NAME)
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
            self._run_steps(plan, outcome, lambda step: self._step(
                step, driver, inventory, writer))
        self.notifier.flush(self.history)
        return outcome

    @staticmethod
    def _run_steps(plan, outcome, take):
        """``take(step)`` for each step until one fails; those after it
        are reported not attempted.
        """
        for i, step in enumerate(plan.steps):
            result = take(step)
            outcome.results.append((step, result))
            if result[0] == FAILED:
                outcome.results += [
                    (s, (NOT_ATTEMPTED, 'the step of finding %d failed '
                         'before it' % step.finding.id))
                    for s in plan.steps[i + 1:]]
                break

    def close_abandoned(self, scope, lock):
        """Close the running steps of ``scope`` no live process owns."""
        now = time.time()

        def announce(action, reason):
            finding = self.history.finding(action.finding_id)
            return [notifier_mod.remediation_event(
                finding, action.action, action.target,
                history_api.ABANDONED_ACTION, reason, action.actor,
                action.id, now)] if finding else []
        ownership.close_abandoned_actions(self.history, now, scope, lock,
                                          announce)

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

    def _evidence(self, findings, keeps_name):
        """:class:`plan.Evidence` of the findings whose ownership the plan
        weighs (see ``plan.uncertain``): Cinder's recorded events naming
        the object's id, and whether a pass matched it to a row.
        """
        weighed = [f for f in findings
                   if f.details.get('ownership_evidence') == 'name' or (
                       keeps_name and f.kind == model.FindingKind.ARRAY_ONLY)]
        if not weighed:
            return {}
        name = self.backend.name
        ids = {f.id: (str(plan_mod.object_type(f)), plan_mod.object_id(f))
               for f in weighed}
        events = collections.defaultdict(list)
        for event in self.history.events_for(
                name, {rid for _t, rid in ids.values()}):
            events[event.resource_id].append(event)
        matched = self.history.matched_before(name, ids.values())
        evidence = {}
        for f in weighed:
            found = events[ids[f.id][1]]
            evidence[f.id] = plan_mod.Evidence(
                events=cinder_events.evidence(found) or None,
                deleted=cinder_events.verdict(found) == cinder_events.DELETED,
                matched=matched.get(ids[f.id]))
        return evidence

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
            if why_not or step.action == plan_mod.ADOPT:
                # Cinder renames an adopted object only once it managed it:
                # until then only Cinder's rows show an earlier adoption.
                applied = self._applied(step, driver, writer)
                if applied:
                    raise recheck.Applied(applied)
            if why_not:
                raise recheck.Changed(why_not)
            self._guard(step, fresh, driver)
            reason = self._act(step, fresh, driver, inventory, writer)
            result = DONE
        except recheck.Applied as e:
            result, reason = SKIPPED, self._settle(step, action_id, str(e))
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

    def _settle(self, step, action_id, state):
        """``state`` found already there: the outcome of the finding's
        abandoned steps of this action, if any. Returns this step's reason.
        """
        earlier = self.history.settle_abandoned(
            step.finding.id, step.action,
            'applied, though its process died before recording it: action '
            '%d found it %s' % (action_id, state))
        if not earlier:
            return 'already %s' % state
        return 'already %s by action %s, whose process died before ' \
            'recording it' % (state, ', '.join(map(str, earlier)))

    def _recheck(self, finding, driver, inventory):
        return recheck.ownership(finding, driver, inventory,
                                 self.backend.cinder_host)

    def _applied(self, step, driver, writer):
        return recheck.applied(step.action, step.finding, driver, writer)

    @staticmethod
    def _guard(step, fresh, driver):
        why_not = safety.refusal(step.action, fresh, driver)
        if why_not:
            raise recheck.Changed(why_not)

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
