"""Which step each finding gets, and which findings get none: pure.

A step is only ever planned for a confirmed finding, confirmed long enough
ago, not ignored, whose action the backend's driver can take. Deleting data
is never a default: only findings named one by one with ``delete_ids``.
"""

import dataclasses

from reconciler import model

K = model.FindingKind
R = model.ResourceType

ADOPT = 'adopt'
QUARANTINE = 'quarantine'
UNEXPORT = 'unexport'
RESET = 'reset'
DELETE = 'delete'


@dataclasses.dataclass(frozen=True)
class Step:
    finding: object       # history.FindingRecord
    action: str
    why: str

    @property
    def target(self):
        f = self.finding
        return f.array_name or f.resource_id


@dataclasses.dataclass(frozen=True)
class Refusal:
    finding: object
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    steps: tuple
    refused: tuple
    limit: int

    @property
    def over_limit(self):
        return len(self.steps) > self.limit


def _action(finding, quarantine, delete_ids):
    """The action for one finding and why, or (None, reason)."""
    kind, rtype = finding.kind, finding.resource_type
    if finding.id in delete_ids:
        if kind != K.ARRAY_ONLY:
            return None, 'only array-only objects can be deleted'
        return DELETE, 'array-only %s named for deletion' % rtype
    if kind == K.ARRAY_ONLY:
        if quarantine:
            return QUARANTINE, 'array-only %s: quarantined on request' % rtype
        return ADOPT, 'array-only %s: Cinder can manage it again' % rtype
    if kind == K.ORPHAN_EXPORT:
        return UNEXPORT, 'exported to %s, attached there nowhere' % (
            finding.details.get('array_host') or 'initiators Cinder lacks')
    if kind == K.CINDER_ONLY:
        return RESET, 'Cinder %s whose array object is missing' % rtype
    return None, 'foreign objects are reported, never acted on'


def plan(findings, now, min_age, limit, supported, kinds=None,
         finding_ids=None, quarantine=False, delete_ids=frozenset(),
         action=_action):
    """Steps for ``findings`` (history records) at ``now``.

    ``supported`` is the set of actions the backend's driver offers besides
    Cinder's own (adopt and reset need only Cinder). ``kinds`` and
    ``finding_ids`` narrow the selection; ``delete_ids`` must name every
    finding to delete. ``action`` maps a finding to its action (host
    findings have their own, see host_actions).
    """
    steps, refused = [], []
    for f in findings:
        if kinds and str(f.kind) not in kinds:
            continue
        if finding_ids and f.id not in finding_ids:
            continue
        if f.state != model.FindingState.CONFIRMED:
            refused.append(Refusal(f, 'not confirmed (%s)' % f.state))
        elif f.ignored(now):
            refused.append(Refusal(f, 'ignored: %s' % f.ignored_reason))
        elif now - f.confirmed_at < min_age:
            refused.append(Refusal(f, 'confirmed %ds ago, less than '
                                      'reconciler_remediation_min_age (%ds)'
                                      % (now - f.confirmed_at, min_age)))
        else:
            chosen, why = action(f, quarantine, delete_ids)
            if chosen is None:
                refused.append(Refusal(f, why))
            elif chosen not in supported:
                refused.append(Refusal(f, "the backend's driver cannot %s"
                                          % chosen))
            else:
                steps.append(Step(f, chosen, why))
    missing = set(finding_ids or ()) - {s.finding.id for s in steps} - {
        r.finding.id for r in refused}
    refused += [Refusal(None, 'no finding %d on this backend' % i)
                for i in sorted(missing)]
    return Plan(tuple(steps), tuple(refused), limit)
