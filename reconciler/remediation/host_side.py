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

"""The cloud runbook's way to a host: disconnect its leftover devices.

The one seam between the controller's runbook (reconciler.remediation.
cloud_remediator) and the host side, with every gate of ``remediate
--host``: this process's host unit (``[host_scan]`` enabled, the all-in-one
mode) disconnects its own findings through ``HostRemediator``; another
host's are disconnected by its agent over RPC (``AgentRemediator``, given
``[DEFAULT] transport_url``), as ``remediate --host NAME`` does.
"""

from reconciler.host import scope


def local_scope(conf):
    """This process's host scope, or None without a host unit."""
    if not conf.host_scan.enabled:
        return None
    return scope.name(conf.host_scan.connector_host)


def _remediate(conf, history, notifier, actor, host, coordinator):
    """The default host remediation of ``host`` (here, or by its agent)
    and what to call once it ran; (None, None) if neither can reach it.
    """
    from reconciler.rpc import api as rpc_api
    if scope.name(host) == local_scope(conf):
        from reconciler.remediation import host_remediator
        return host_remediator.HostRemediator(
            conf, history, notifier, actor), None
    if coordinator is None or not rpc_api.configured(conf):
        return None, None
    from reconciler.fleet import remediation
    transport = rpc_api.get_transport(conf)
    return remediation.AgentRemediator(
        conf, history, notifier, actor, host, transport,
        coordinator), transport.cleanup


def disconnect(conf, history, notifier, actor, host_scope, finding_ids,
               factory=None, coordinator=None):
    """Disconnect ``finding_ids`` (confirmed findings of ``host_scope``).

    Returns None when every one was disconnected, else why not (one line).
    ``factory(conf, history, notifier, actor, host)``: the host remediation
    to use (a host root simulator's, or the demo's in-memory agent);
    without it, this host's unit or ``host``'s agent (whose host scope
    lock ``coordinator`` takes).
    """
    host = scope.host_of(host_scope) or host_scope
    cleanup = None
    if factory is not None:
        remediation = factory(conf, history, notifier, actor, host)
    else:
        remediation, cleanup = _remediate(conf, history, notifier, actor,
                                          host, coordinator)
    if remediation is None:
        return ('host findings %s are on %s, which has neither this '
                'process\'s host unit nor an agent to reach ([DEFAULT] '
                'transport_url): run "cinder-reconciler-manage remediate '
                '--host --apply%s" there first' % (
                    ', '.join(map(str, sorted(finding_ids))), host,
                    ''.join(' --finding %d' % i
                            for i in sorted(finding_ids))))
    try:
        outcome = remediation.run(apply=True, finding_ids=set(finding_ids))
    finally:
        if cleanup is not None:
            cleanup()
    if outcome.error:
        return 'host %s: %s' % (host, outcome.error)
    for step, (result, why) in outcome.results:
        if result != 'done':
            return 'host finding %d: %s (%s)' % (step.finding.id, result,
                                                 why)
    done = {step.finding.id for step, _result in outcome.results}
    for refusal in outcome.plan.refused:
        if refusal.finding is None or refusal.finding.id in finding_ids:
            return 'host %s: %s' % (host, refusal.reason)
    missing = set(finding_ids) - done
    return 'host findings %s: not disconnected' % sorted(missing) if (
        missing) else None
