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

"""The controller's ``host`` API: agents' scans judged and recorded here.

An agent scans its host and reports; it holds no database and no Cinder
credentials. The comparison runs here, not on the agent, because it needs
what no agent may see (other hosts' attachments of the same target, every
volume's state: reconciler.host.compare) and because what a host says of
itself is evidence, never a verdict: a compromised agent can lie only
about its own devices. The history, lifecycle, notifications and findings
are the same as the all-in-one host unit's (``host:<name>`` scopes), since
the same code (reconciler.host.manager.HostReconciler) judges the scans.

A report is refused, and nothing recorded, unless the host it names is
its sender's: the request context's sender and, when ``[agents] auth_key``
is set, the signature (reconciler.rpc.signing). Scans are decoded
strictly (reconciler.rpc.payload). A host's reports, its passes and its
remediation are serialized by the host scope's coordination lock, whichever
controller answers.
"""

import time

from oslo_log import log as logging

from reconciler import exception
from reconciler.fleet import views
from reconciler.host import manager as host_manager
from reconciler.host import scope as host_scope
from reconciler.host import view
from reconciler import manager
from reconciler import model
from reconciler import ownership
from reconciler.rpc import api
from reconciler.rpc import host_api
from reconciler.rpc import payload
from reconciler.rpc import signing

LOG = logging.getLogger(__name__)

PROTOCOLS = frozenset((view.ISCSI, view.FC, view.NVME))
MAX_HOST = 255
RECORDED, RECHECK, FAILED, BUSY, REFUSED = (
    'recorded', 'recheck', 'failed', 'busy', 'refused')


class Refused(exception.ReconcilerError):
    """A report or request that is not its sender's to make."""


def trusted_host(conf, ctxt, method, body, now):
    """The host ``body`` (for RPC ``method``) is about, if its sender may
    speak for it; else raises :class:`Refused` (said in one line, nothing
    recorded).
    """
    if not isinstance(body, dict):
        raise Refused('not an object')
    host = body.get('host')
    if not isinstance(host, str) or not host or len(host) > MAX_HOST:
        raise Refused('no host named')
    sender = (ctxt or {}).get('sender')
    if sender != host_api.sender(host):
        raise Refused('about host %r, sent by %r' % (host, sender))
    group = conf.agents
    if group.auth_key:
        why = signing.check(group.auth_key, host, method, body, now,
                            group.signature_max_age)
        if why:
            raise Refused('about host %r: %s' % (host, why))
    return host


class HostEndpoint(api.Endpoint):
    """1.0: ``report``, ``view`` (reconciler.rpc.host_api)."""

    NAMESPACE = host_api.NAMESPACE
    VERSION = '1.0'

    def __init__(self, services):
        self.conf = services.conf
        self.history = services.history
        self.notifier = services.notifier
        self.coordinator = services.coordinator
        self.fleet = views.FleetView(self.conf)
        self.refresher = views.Refresher(
            self.fleet, lambda: self.conf.agents.view_interval,
            services.stop)
        self.refresher.start()
        self._units = {}
        # Called with each recorded pass's report (the demo prints them).
        self.on_record = None

    def _refuse(self, ctxt, error):
        LOG.warning('Refused from %s: %s', (ctxt or {}).get('sender'),
                    error)
        return {'status': REFUSED, 'detail': str(error)}

    def view(self, ctxt, request):
        """The host's attachments, as the controller's cycle saw them."""
        try:
            host = trusted_host(self.conf, ctxt, 'view', request,
                                time.time())
        except Refused as e:
            return self._refuse(ctxt, e)
        self.refresher.asked()
        own = self.fleet.own(host)
        if own is None:
            return {'status': FAILED, 'detail': "the controller's Cinder "
                    'view is not ready yet'}
        return {'status': 'ok', 'fetched_at': self.fleet.current.fetched_at,
                'attachments': payload.encode(own)}

    def report(self, ctxt, report):
        """Judge and record one host's scans (see the module docstring)."""
        now = time.time()
        try:
            host = trusted_host(self.conf, ctxt, 'report', report, now)
            scans, protocols = self._decode(report)
        except (Refused, payload.Invalid) as e:
            return self._refuse(ctxt, e)
        self.refresher.asked()
        scope = host_scope.name(host)
        with self.coordinator.exclusive(
                scope, blocking=self.conf.agents.lock_timeout,
                ring=False) as lease:
            if not lease:
                return {'status': BUSY, 'detail': '%s is locked (a '
                        'remediation, or another report)' % scope}
            ownership.close_abandoned(self.history, now, scope, lease.scope)
            unit = self._unit(host, protocols)
            if report.get('error'):
                # The agent could not scan; announced unless the host was
                # busy (an attach held os-brick's lock).
                return self._fail(unit, 'agent: %s' % report['error'][:500],
                                  announce=not report.get('busy'))
            return self._judge(unit, scans, report, lease)

    def stop(self):
        self.refresher.stop()

    def _decode(self, report):
        if report.get('error') is not None:
            if not isinstance(report['error'], str):
                raise payload.Invalid('payload.error: text expected')
            return [], ()
        scans = report.get('scans')
        if not isinstance(scans, list) or len(scans) not in (1, 2):
            raise payload.Invalid('payload.scans: one or two scans expected')
        protocols = report.get('protocols')
        if (not isinstance(protocols, list) or not protocols
                or not set(protocols) <= PROTOCOLS):
            raise payload.Invalid('payload.protocols: some of %s expected'
                                  % ', '.join(sorted(PROTOCOLS)))
        return ([payload.decode(view.HostView, s, 'payload.scans[%d]' % i)
                 for i, s in enumerate(scans)], tuple(sorted(protocols)))

    def _unit(self, host, protocols):
        key = host, protocols
        if key not in self._units:
            self._units[key] = host_manager.HostReconciler(
                self.conf, self.history, self.notifier, host=host,
                protocols=protocols)
        return self._units[key]

    def _judge(self, unit, scans, report, stop):
        # A controller that just started lists Cinder first.
        self.fleet.ready.wait(self.conf.agents.lock_timeout)
        cycle = self.fleet.current
        if cycle is None:
            return {'status': FAILED, 'detail': "the controller's Cinder "
                    'view is not ready yet: sent again at the next scan'}
        cinder_view, fresh = self.fleet.view(unit.host, cycle), False
        look = None if len(scans) > 1 else self._look(unit, scans[0],
                                                      cinder_view)
        if look is None or look.first or look.confirmed or self._suspected(
                unit.scope):
            # Something may change: judged against Cinder listed now,
            # after the scan (see reconciler.fleet.views).
            try:
                cinder_view, fresh = self.fleet.fresh(unit.host), True
            except (exception.ReconcilerError, KeyError, TypeError,
                    ValueError) as e:
                return self._fail(unit, "Cinder's view of the host: %s"
                                  % exception.describe(e))
            look = self._look(unit, scans[0], cinder_view)
            if len(scans) == 1 and (look is None or look.first):
                return {'status': RECHECK}
        extra = dict(agent=str(report.get('agent'))[:64],
                     scan_interval=_number(report.get('interval')),
                     cinder_view='fresh' if fresh else 'cycle',
                     cinder_view_age=round(time.time() - cycle.began, 1))
        result = unit.record(scans, cinder_view,
                             _number(report.get('scan_seconds')), extra,
                             stop=stop, look=look)
        if self.on_record is not None:
            self.on_record(result)
        return {'status': RECORDED, 'run_id': result.run_id,
                'run_status': str(result.status), 'detail': result.error}

    def _suspected(self, scope):
        """Whether the scope has suspected findings (a pass that does not
        see them again drops them).
        """
        return bool(self.history.findings(
            backend=scope, state=model.FindingState.SUSPECTED))

    @staticmethod
    def _look(unit, scan, cinder_view):
        """The first comparison, or None when it cannot be made (an
        implausible listing: the record says why the pass fails).
        """
        try:
            return unit.look(scan, cinder_view)
        except exception.ReconcilerError:
            return None

    def _fail(self, unit, error, announce=True):
        """A failed run of the host: nothing else recorded."""
        run_id = self.history.start_run(unit.scope, self.conf.host,
                                        time.time())
        result = manager.PassReport(unit.scope, unit.host, run_id,
                                    model.RunStatus.RUNNING)
        manager.record_failure(self.history, result, 'Host %s' % unit.host,
                               error, announce=announce)
        self.notifier.flush(self.history)
        return {'status': RECORDED, 'run_id': run_id,
                'run_status': str(result.status), 'detail': result.error}


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(
        value, bool) else 0
