"""The cloud runbook's way to a host: disconnect its leftover devices.

The one seam between the controller's runbook (reconciler.remediation.
cloud_remediator) and the host side. Today the host side is this process's
host unit (``[host_scan]``): its findings are disconnected by the host
remediation's public entry point, ``HostRemediator.run``, with every gate
of ``remediate --host``. A finding of another host cannot be acted on from
here yet; when agents serve remediation over RPC, only this module changes.
"""

from reconciler.host import scope


def local_scope(conf):
    """This process's host scope, or None without a host unit."""
    if not conf.host_scan.enabled:
        return None
    return scope.name(conf.host_scan.connector_host)


def disconnect(conf, history, notifier, actor, host_scope, finding_ids,
               factory=None):
    """Disconnect ``finding_ids`` (confirmed findings of ``host_scope``).

    Returns None when every one was disconnected, else why not (one line).
    ``factory(conf, history, notifier, actor)``: the host remediation to
    use (a host root simulator's, in tests and the demo).
    """
    if host_scope != local_scope(conf):
        return ('host findings %s are on %s: run "cinder-reconciler-manage '
                'remediate --host --apply%s" there first' % (
                    ', '.join(map(str, sorted(finding_ids))),
                    scope.host_of(host_scope) or host_scope,
                    ''.join(' --finding %d' % i
                            for i in sorted(finding_ids))))
    if factory is None:
        from reconciler.remediation import host_remediator
        factory = host_remediator.HostRemediator
    outcome = factory(conf, history, notifier, actor).run(
        apply=True, finding_ids=set(finding_ids))
    if outcome.error:
        return 'host %s: %s' % (scope.host_of(host_scope), outcome.error)
    for step, (result, why) in outcome.results:
        if result != 'done':
            return 'host finding %d: %s (%s)' % (step.finding.id, result,
                                                 why)
    done = {step.finding.id for step, _result in outcome.results}
    for refusal in outcome.plan.refused:
        if refusal.finding is None or refusal.finding.id in finding_ids:
            return 'host %s: %s' % (scope.host_of(host_scope),
                                    refusal.reason)
    missing = set(finding_ids) - done
    return 'host findings %s: not disconnected' % sorted(missing) if (
        missing) else None
