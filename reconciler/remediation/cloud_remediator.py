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

"""Remediation of the cloud scope's findings, with every gate of the others.

Dry run by default; confirmed findings older than ``[cloud]
remediation_min_age`` only; at most ``remediation_max_actions`` steps;
nothing unless the scope's newest pass succeeded; the same ``actions``
rows and ``reconciler.remediation.*`` notifications; a failed step stops
the run. The caller holds the cloud scope's coordination lock.

Every step re-checks right before it acts, with fresh look-ups: a stale
attachment is detached only if Nova and Cinder still say so (and Cinder
itself asks Nova again before it deletes an attachment, bug #2004555); a
stuck status is reset only if it has not moved. The runbook of an
undeletable volume clears what holds it first, each through its own side
and gates: the host findings through the host side (``host_side``: this
host's unit, or the host's agent), the exports through the backend's
remediation under the backend's lock (never an export to a host no host
pass has read since: the host may still use the volume); only then, if
Cinder and the array show nothing holding the volume any more, is it reset
to ``error`` and deleted through Cinder's API (never SQL).
"""

import contextlib
import functools
import time
import urllib.parse

from oslo_log import log as logging

from reconciler.cloud import cinder as cloud_cinder
from reconciler.cloud import confirm
from reconciler.cloud import scope
from reconciler.conf import backend as backend_conf
from reconciler import engine
from reconciler import exception
from reconciler.host import scope as host_scope
from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import nova as nova_inventory
from reconciler import model
from reconciler import ownership
from reconciler.remediation import cinder_actions
from reconciler.remediation import cloud_actions
from reconciler.remediation import host_side
from reconciler.remediation import plan as plan_mod
from reconciler.remediation import remediator

LOG = logging.getLogger(__name__)


class _Session(object):
    """What the steps of one applied run share: fresh look-ups, Cinder's
    managers, the drivers of the backends opened so far.
    """

    def __init__(self, look, writer, stack, backends):
        self.look = look
        self.writer = writer
        self._stack = stack
        self._backends = backends
        self._drivers = {}

    def driver(self, name):
        if name not in self._drivers:
            if name not in self._backends:
                raise exception.ConfigError('backend %s is not enabled here'
                                            % name)
            self._drivers[name] = self._stack.enter_context(
                self._backends[name].create_driver())
        return self._drivers[name]


class CloudRemediator(remediator.Remediator):
    """Plans and applies the cloud scope's actions."""

    def __init__(self, conf, history, notifier, actor, coordinator,
                 cinder_factory=cloud_cinder.CloudCinderInventory,
                 nova_factory=nova_inventory.NovaInventory,
                 host_remediator=None):
        """``coordinator``: whose backend locks the runbook's unexports take
        (``remediator.remediate_backend``), and the host scope locks of
        disconnects by agents; ``host_remediator``: see
        ``host_side.disconnect``.
        """
        super().__init__(conf, None, history, notifier, actor)
        self.coordinator = coordinator
        self.host_remediator = host_remediator
        self.cinder_factory = cinder_factory
        self.nova_factory = nova_factory

    def run(self, apply=False, kinds=None, finding_ids=None, limit=None,
            lock=ownership.NO_LOCK):
        """``lock``: what the cloud scope's lock the caller holds proves
        (an ownership scope).
        """
        group = self.conf.cloud
        limit = remediator.effective_limit(limit,
                                           group.remediation_max_actions)
        self.close_abandoned(scope.NAME, lock)
        now = time.time()
        findings = self.history.findings(
            backend=scope.NAME, state=model.FindingState.CONFIRMED)
        plan = plan_mod.plan(
            findings, now, group.remediation_min_age, limit,
            set(cloud_actions.ACTIONS), kinds=kinds, finding_ids=finding_ids,
            action=functools.partial(cloud_actions.action,
                                     named=set(finding_ids or ())))
        outcome, _last = self._gate(scope.NAME, 'cloud scope', plan, apply,
                                    limit)
        if outcome.error or not apply or not plan.steps:
            return outcome
        backends = {b.name: b
                    for b in backend_conf.enabled(self.conf, warn=False)}
        cinder = self.cinder_factory(self.conf)
        nova = None
        if any(s.action == cloud_actions.DETACH for s in plan.steps):
            nova = self.nova_factory(self.conf)
        with contextlib.ExitStack() as stack:
            session = _Session(
                confirm.Lookups(cinder, nova, compute_hosts=(
                    nova.compute_hosts() if nova else frozenset())),
                cinder_inventory.managers(cinder.client), stack, backends)
            self._run_steps(plan, outcome, lambda step: self._step(
                step, session, None, None))
        self.notifier.flush(self.history)
        return outcome

    def _recheck(self, finding, session, _inventory):
        cand = finding.candidate()
        if finding.kind == model.FindingKind.STALE_ATTACHMENT:
            held = confirm.stale_attachment(cand, session.look)
            return (held, None) if held else (None, (
                'no longer stale: the attachment is gone or changed, or Nova '
                'has the instance and its mapping of the volume'))
        if finding.kind == model.FindingKind.STUCK_STATUS:
            held = confirm.stuck_status(cand, session.look)
            return (held, None) if held else (None, (
                'no longer stuck: its status or its time changed'))
        # The runbook: what holds the volume is cleared first (each by
        # its own side, audited there), then the delete is re-checked.
        why = self._clear_holders(finding, session)
        if why:
            return None, why
        return self._deletable(finding, session)

    def _applied(self, step, session, _writer):
        """The step's effect already there (a step whose process died
        before recording it): the attachment gone, the status reset, the
        volume gone or being deleted.
        """
        finding, cinder = step.finding, session.look.cinder
        if step.action == cloud_actions.DETACH:
            if cinder.get_attachment(finding.resource_id) is None:
                return 'detached: attachment %s is gone' % (
                    finding.resource_id)
            return None
        if step.action == cloud_actions.RESET:
            getter = {model.ResourceType.VOLUME: cinder.volume,
                      model.ResourceType.SNAPSHOT: cinder.get_snapshot,
                      model.ResourceType.BACKUP: cinder.get_backup}
            now = getter[finding.resource_type](finding.resource_id)
            return 'reset to error' if now is not None and (
                now.status == 'error') else None
        now = cinder.volume(finding.resource_id)
        if now is None:
            return 'deleted: volume %s is gone' % finding.resource_id
        return 'deleted: Cinder is deleting it' if now.status == (
            'deleting') else None

    def _act(self, step, fresh, session, _inventory, _writer):
        finding, writer = step.finding, session.writer
        if step.action == cloud_actions.DETACH:
            cinder_actions._call('attachment delete of %s'
                                 % finding.resource_id,
                                 writer.attachments.delete,
                                 finding.resource_id)
            return "deleted attachment %s (Cinder's attachments API)" % (
                finding.resource_id)
        if step.action == cloud_actions.RESET:
            manager_of = {model.ResourceType.VOLUME: writer.volumes,
                          model.ResourceType.SNAPSHOT:
                              writer.volume_snapshots,
                          model.ResourceType.BACKUP: writer.backups}
            cinder_actions._call(
                'reset-state of %s' % finding.resource_id,
                manager_of[finding.resource_type].reset_state,
                finding.resource_id, 'error')
            return 'reset from %s to error' % finding.details.get('status')
        cinder_actions._call('reset-state of %s' % finding.resource_id,
                             writer.volumes.reset_state,
                             finding.resource_id, 'error')
        cinder_actions._call('delete of %s' % finding.resource_id,
                             writer.volumes.delete, finding.resource_id)
        return ("reset to error and deleted through Cinder's API (the "
                'delete runs in cinder-volume now)')

    # -- the runbook ----------------------------------------------------------

    def _clear_holders(self, finding, session):
        """Disconnect the volume's host devices, then remove its exports;
        None when nothing the finding names holds it any more, else why.
        """
        hosts, exports = cloud_actions.runbook_findings(finding)
        exports = self._open(exports)
        why = self._unscanned(exports)
        if why:
            return why
        by_scope = {}
        for record in self._open(hosts):
            by_scope.setdefault(record.backend, set()).add(record.id)
        for name, ids in sorted(by_scope.items()):
            why = host_side.disconnect(self.conf, self.history,
                                       self.notifier, self.actor, name, ids,
                                       self.host_remediator,
                                       self.coordinator)
            if why:
                return why
        by_backend = {}
        for record in exports:
            by_backend.setdefault(record.backend, set()).add(record.id)
        for name, ids in sorted(by_backend.items()):
            why = self._unexport(name, ids, session)
            if why:
                return why
        return None

    def _unscanned(self, exports):
        """Why an export may hide a host that still uses the volume, or
        None: every host the volume is exported to must have been scanned
        (a host pass of it succeeded) since the export was confirmed, so
        that what it still holds is among the finding's host findings.
        """
        for record in exports:
            host = record.details.get('array_host')
            if not host:
                return ('export %s names no host (the array maps it to '
                        'initiators): check the hosts it reaches, then '
                        'remove it with "remediate --backend %s --finding '
                        '%d --apply"' % (record.array_name, record.backend,
                                         record.id))
            last = self.history.last_ok_run(host_scope.name(host))
            if last is None or last.finished_at < record.confirmed_at:
                return ('exported to %s, which no host pass read since the '
                        'export was confirmed: let its agent or host unit '
                        'scan it (or check it by hand and remove the export '
                        'with '
                        '"remediate --backend %s --finding %d --apply"), '
                        'then remediate again'
                        % (host, record.backend, record.id))
        return None

    def _open(self, finding_ids):
        """The findings still open among ``finding_ids`` (those a pass
        resolved meanwhile need nothing).
        """
        found = [self.history.finding(i) for i in finding_ids]
        return [f for f in found if f is not None
                and f.state != model.FindingState.RESOLVED]

    def _unexport(self, name, finding_ids, session):
        backend = session._backends.get(name)
        if backend is None:
            return 'backend %s is not enabled here' % name
        try:
            outcome = remediator.remediate_backend(
                self.conf, backend, self.history, self.notifier,
                self.coordinator, self.actor, apply=True,
                kinds={'orphan_export'}, finding_ids=set(finding_ids))
        except exception.ReconcilerError as e:
            return str(e)
        if outcome.error:
            return 'backend %s: %s' % (name, outcome.error)
        done = set()
        for step, (result, why) in outcome.results:
            if result != remediator.DONE:
                return 'export finding %d: %s (%s)' % (step.finding.id,
                                                       result, why)
            done.add(step.finding.id)
        for refusal in outcome.plan.refused:
            return 'backend %s: %s' % (name, refusal.reason)
        missing = set(finding_ids) - done
        return 'export findings %s: not removed' % sorted(missing) if (
            missing) else None

    def _deletable(self, finding, session):
        """``(volume, None)`` if Cinder and the array show nothing holding
        the volume any more, else ``(None, why)``.
        """
        cinder = session.look.cinder
        volume = cinder.volume(finding.resource_id)
        if volume is None:
            return None, 'the volume is gone from Cinder'
        if volume.status not in (engine.FAILED_DELETE, 'error'):
            return None, 'the volume is now %s' % volume.status
        attached = cinder._get('/attachments?%s' % urllib.parse.urlencode(
            dict(all_tenants=1, volume_id=volume.id)), missing_ok=False,
            log=False).get('attachments')
        if attached:
            return None, 'Cinder shows attachment %s of it' % (
                attached[0].get('id'))
        snapshots = cinder._get('/snapshots?%s' % urllib.parse.urlencode(
            dict(all_tenants=1, volume_id=volume.id)),
            missing_ok=False).get('snapshots')
        if snapshots:
            return None, ('it has snapshot %s: delete its snapshots first'
                          % snapshots[0].get('id'))
        _hosts, exports = cloud_actions.runbook_findings(finding)
        for export in filter(None, map(self.history.finding, exports)):
            obj = engine.suspect_of(export.candidate()).array_object
            if session.driver(export.backend).refresh(obj) is not None:
                return None, 'still exported on the array: %s' % obj.name
        return volume, None
