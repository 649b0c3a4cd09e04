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

"""``remediate --host NAME``: a host's findings, disconnected by its agent.

The plan, its gates, the audit and the notifications are the all-in-one
host remediation's (reconciler.remediation.host_remediator), run here on
the controller; only the two steps that touch the host go to the host's
agent, over RPC (reconciler.rpc.agent_api). For each step:

1. the agent takes os-brick's lock and scans (``prepare``);
2. the controller lists Cinder's view of the host then, under that lock
   (reconciler.fleet.views: a cycle listed before the first step, and the
   host's own attachments, the attachments in progress and the changed
   volumes listed now), so no attach can slip in between, and re-checks the
   finding against the scan exactly as the all-in-one re-check does;
3. the agent disconnects the object the controller judged, if a fresh scan
   still shows it unchanged and unused, and answers with the commands
   os-brick ran, which the audit keeps (``disconnect``).

The host scope's coordination lock is held throughout, so no report of the
host is recorded in between. A dry run only reads the history: the agent
is not contacted.
"""

import contextlib
import time

from oslo_log import log as logging

from reconciler import exception
from reconciler.fleet import views
from reconciler.host import manager as host_manager
from reconciler.host import scope as host_scope
from reconciler.host import view
from reconciler.remediation import host_actions
from reconciler.remediation import host_remediator
from reconciler.remediation import recheck
from reconciler.rpc import agent_api
from reconciler.rpc import api
from reconciler.rpc import controller
from reconciler.rpc import payload
from reconciler.rpc import signing

LOG = logging.getLogger(__name__)


class _RemoteHost(object):
    """What the host remediation reads of its unit, for another host."""

    def __init__(self, conf, host, coordinator):
        self.conf = conf
        self.group = conf.host_scan
        self.host = host
        self.scope = host_scope.name(host)
        self.coordinator = coordinator

    @contextlib.contextmanager
    def _lock(self, _name, _prefix, what):
        """The host scope's coordination lock (reports wait for it)."""
        with self.coordinator.exclusive(
                self.scope, blocking=self.conf.agents.lock_timeout,
                ring=False) as lease:
            if not lease:
                raise host_manager.HostBusy(
                    '%s: its lock is held (a report being recorded, or '
                    'another remediation)' % self.scope)
            yield


class _Session(object):
    """One applied run: the agent, the remembered LUNs, the held step."""

    def __init__(self, remediator, owned):
        self.remediator = remediator
        self.owned = owned
        self.token = None
        self.scan = None    # the agent's scan under the step's lock

    def release(self):
        token, self.token = self.token, None
        if token is None:
            return
        try:
            self.remediator._ask('release', token=token)
        except api.ERRORS as e:
            # The agent releases it by itself after [host_scan]
            # lock_timeout.
            LOG.warning("Host %s: os-brick's lock of step %s not released: "
                        '%s', self.remediator.host, token, api.describe(e))


class AgentRemediator(host_remediator.HostRemediator):
    """Host remediation of ``host`` through its agent."""

    def __init__(self, conf, history, notifier, actor, host, transport,
                 coordinator, fleet=None):
        super().__init__(conf, history, notifier, actor,
                         unit=_RemoteHost(conf, host, coordinator),
                         execute=_nowhere)
        self.host = host
        self.agent = agent_api.AgentAPI(conf, transport, host)
        self.fleet = fleet or views.FleetView(conf)
        auth = conf.agents.auth_key
        self._key = signing.host_key(auth, host) if auth else None

    def _ask(self, method, timeout=None, **request):
        body = signing.sign(self._key, method, dict(request, host=self.host),
                            time.time())
        ctxt = api.context('%s@%s' % (controller.BINARY, self.conf.host))
        if method == 'prepare':
            return self.agent.prepare_step(ctxt, body, timeout)
        return getattr(self.agent, method)(ctxt, body)

    def _brick(self):
        return contextlib.nullcontext()     # os-brick runs on the agent

    def _session(self, last_ok):
        if self.fleet.current is None and self.fleet.refresh() is None:
            raise exception.CinderError("Cinder's view of the hosts: %s"
                                        % self.fleet.error)
        return _Session(self, host_manager.remembered_ownership(
            self.unit.group, last_ok))

    def _recheck(self, finding, session, _inventory):
        try:
            answer = self._ask(
                'prepare', timeout=self.unit.group.lock_timeout
                + self.conf.rpc_response_timeout)
        except api.ERRORS as e:
            raise exception.ReconcilerError(
                'the agent of %s did not answer: %s' % (self.host,
                                                        api.describe(e)))
        session.scan = None
        if answer.get('status') == 'busy':
            return None, answer.get('reason')
        if answer.get('status') != 'ok':
            raise exception.ReconcilerError('the agent of %s: %s' % (
                self.host, answer.get('reason')))
        session.token = answer.get('token')
        host_view = session.scan = payload.decode(
            view.HostView, answer.get('scan'), 'scan')
        protocols = answer.get('protocols')
        if not isinstance(protocols, list) or not set(protocols) <= set(
                host_actions.PROTOCOLS + (view.NVME,)):
            raise payload.Invalid('scan: no protocols')
        # Listed now, under the agent's lock: after any attach that ran.
        cinder_view = self.fleet.fresh(self.host)
        judge = host_manager.HostReconciler(
            self.conf, self.history, None, host=self.host,
            protocols=tuple(protocols))
        comparison = judge._compare(host_view, cinder_view, session.owned)
        obj, why_not = host_actions.recheck(finding, host_view, comparison,
                                            cinder_view)
        if why_not:
            return None, why_not
        return (obj, host_view), None

    def _applied(self, step, session, _writer):
        """Disconnected already: the agent's scan under the step's lock no
        longer shows the finding's map or disk.
        """
        finding = step.finding
        if session.scan is None or host_actions.fresh_object(
                finding, session.scan) is not None:
            return None
        return 'disconnected: %s is gone from %s' % (
            finding.array_name or finding.resource_id, self.host)

    def _act(self, step, fresh, session, _inventory, _writer):
        obj, _host_view = fresh
        finding = step.finding
        token, session.token = session.token, None  # released by the agent
        try:
            answer = self._ask('disconnect', token=token, finding=dict(
                kind=str(finding.kind),
                resource_type=str(finding.resource_type),
                resource_id=finding.resource_id,
                array_name=finding.array_name, details=finding.details),
                expected=payload.encode(obj))
        except api.ERRORS as e:
            raise exception.ReconcilerError(
                'the agent of %s did not answer (%s): it may have acted; '
                'its next pass tells' % (self.host, api.describe(e)))
        result = answer.get('result')
        text = str(answer.get('reason'))
        commands = answer.get('commands') or []
        if commands:
            text += '; commands on %s: %s' % (self.host, '; '.join(
                str(c) for c in commands))
        if result == 'done':
            return text
        if result == 'skipped':
            raise recheck.Changed(text)
        raise exception.ReconcilerError(text)


def _nowhere(*_args, **_kwargs):
    """No os-brick command runs on the controller."""
    raise exception.ReconcilerError('os-brick commands run on the agent')
