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

"""Which step each finding gets, and which findings get none: pure.

A step is only ever planned for a confirmed finding, confirmed long enough
ago, not ignored, whose action the backend's driver can take. Deleting data
is never a default: only findings named one by one with ``delete_ids``.

Nor is acting on an object whose ownership is uncertain, unless the
operator names its finding (``--finding N``):

- its only evidence of being Cinder's is its name (``ownership_evidence:
  name`` in its details: an operator's name can decode by chance), and
  neither Cinder's recorded events name its id nor did a pass ever match
  it to a Cinder row;
- it is array-only on a backend whose Cinder driver unmanages by leaving
  the object as it is (LVM, NEC, RBD), and no recorded event of Cinder's
  says Cinder deleted it: an operator may have handed it back on purpose.
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
class Evidence:
    """What the history holds about an array object's being Cinder's."""

    events: str | None = None     # Cinder's recorded events naming its id
    deleted: bool = False         # ...ending in a delete (not an unmanage)
    matched: float | None = None  # when a pass first matched it to a row


NO_EVIDENCE = Evidence()


def object_id(finding):
    """The Cinder id the finding's object is named after (an export's:
    its volume's): whose events and matches the history keeps.
    """
    if finding.kind == K.ORPHAN_EXPORT:
        return finding.details.get('volume_uuid') or finding.resource_id
    return finding.cinder_id or finding.resource_id


def object_type(finding):
    return R.VOLUME if finding.kind == K.ORPHAN_EXPORT else (
        finding.resource_type)


def uncertain(finding, evidence, keeps_name):
    """Why ``finding``'s object may not be Cinder's to act on, or None.

    ``evidence`` is its :class:`Evidence`; ``keeps_name`` whether the
    backend's Cinder driver unmanages by leaving the name.
    """
    uuid = object_id(finding)
    if (finding.details.get('ownership_evidence') == 'name'
            and not (evidence.events or evidence.matched)):
        return ("its only evidence of being Cinder's is its name, which an "
                'unrelated name can produce by chance: no recorded event '
                "of Cinder's names %s and no pass matched it to a Cinder "
                'row' % uuid)
    if (finding.kind == K.ARRAY_ONLY and keeps_name
            and not evidence.deleted):
        return ("it may have been unmanaged: this backend's Cinder driver "
                'unmanages by leaving the object as it is, and no recorded '
                "event of Cinder's says it deleted %s" % uuid)
    return None


@dataclasses.dataclass(frozen=True)
class Plan:
    steps: tuple
    refused: tuple
    limit: int

    @property
    def over_limit(self):
        return len(self.steps) > self.limit


def _orphan_parent(finding, orphan_volumes):
    """For an array-only snapshot whose parent volume is not Cinder's (no
    parent known, or an array-only volume itself): that parent, else None.
    """
    if finding.resource_type != R.SNAPSHOT:
        return None
    parent = finding.details.get('parent')
    if not parent:
        return 'a volume of no known Cinder ID'
    return parent if parent in orphan_volumes else None


def _action(finding, quarantine, delete_ids, supported, orphan_volumes):
    """The action for one finding and why, or (None, reason)."""
    kind, rtype = finding.kind, finding.resource_type
    if finding.id in delete_ids:
        if kind != K.ARRAY_ONLY:
            return None, 'only array-only objects can be deleted'
        return DELETE, 'array-only %s named for deletion' % rtype
    if kind == K.ARRAY_ONLY:
        if quarantine:
            return QUARANTINE, 'array-only %s: quarantined on request' % rtype
        parent = _orphan_parent(finding, orphan_volumes)
        if parent is None:
            return ADOPT, 'array-only %s: Cinder can manage it again' % rtype
        # Cinder manages a snapshot only onto a volume it has.
        if QUARANTINE not in supported:
            return None, ("snapshot of %s, not Cinder's: it cannot be "
                          "adopted and the backend's driver cannot "
                          'quarantine it; only --delete-data --finding %d '
                          'removes it' % (parent, finding.id))
        return QUARANTINE, ("array-only snapshot of %s, not Cinder's: it "
                            'cannot be adopted' % parent)
    if kind == K.ORPHAN_EXPORT:
        return UNEXPORT, 'exported to %s, attached there nowhere' % (
            finding.details.get('array_host') or 'initiators Cinder lacks')
    if kind == K.CINDER_ONLY:
        return RESET, 'Cinder %s whose array object is missing' % rtype
    if kind == K.STALE_TEMPORARY:
        return None, ("a temporary Cinder made for an operation: reported, "
                      'never acted on (its operation may still need it; '
                      'remove it on the array)')
    return None, '%s objects are reported, never acted on' % kind


def _after_parents(steps, refused):
    """A snapshot whose parent this plan adopts is not quarantined: once
    Cinder has the parent, the next remediation adopts the snapshot too.
    Only for a plan without ``--quarantine``.
    """
    adopted = {s.finding.resource_id: s.finding.id for s in steps
               if s.action == ADOPT and s.finding.resource_type == R.VOLUME}
    kept = []
    for s in steps:
        parent = s.finding.details.get('parent')
        if (s.action == QUARANTINE and s.finding.resource_type == R.SNAPSHOT
                and parent in adopted):
            refused.append(Refusal(s.finding, (
                'its parent volume %s is adopted by this plan (finding %d): '
                'the next remediation adopts this snapshot' % (
                    parent, adopted[parent]))))
        else:
            kept.append(s)
    return kept


def plan(findings, now, min_age, limit, supported, kinds=None,
         finding_ids=None, quarantine=False, delete_ids=frozenset(),
         orphan_volumes=frozenset(), action=None, evidence=None,
         keeps_name=False):
    """Steps for ``findings`` (history records) at ``now``.

    ``supported`` is the set of actions the backend's driver offers besides
    Cinder's own (adopt and reset need only Cinder). ``kinds`` and
    ``finding_ids`` narrow the selection; ``finding_ids`` also name the
    findings the operator vouches for (see :func:`uncertain`), and
    ``delete_ids`` must name every finding to delete. ``orphan_volumes``:
    the UUIDs of the backend's unresolved array-only volumes, whose
    snapshots Cinder cannot adopt. ``evidence``: finding id ->
    :class:`Evidence`; ``keeps_name``: the backend's Cinder driver
    unmanages by leaving the name. ``action(finding, quarantine,
    delete_ids)`` maps a finding to its action when given (host findings
    have their own, see host_actions). Removals of exports come first, so
    that an object whose export a step removes may then be quarantined.
    """
    evidence = evidence or {}
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
            if action is None:
                chosen, why = _action(f, quarantine, delete_ids, supported,
                                      orphan_volumes)
            else:
                chosen, why = action(f, quarantine, delete_ids)
            doubt = chosen and uncertain(
                f, evidence.get(f.id, NO_EVIDENCE), keeps_name)
            if chosen is None:
                refused.append(Refusal(f, why))
            elif chosen not in supported:
                refused.append(Refusal(f, "the backend's driver cannot %s"
                                          % chosen))
            elif doubt and f.id not in (finding_ids or ()):
                refused.append(Refusal(f, '%s; name it (--finding %d) to '
                                          '%s it' % (doubt, f.id, chosen)))
            else:
                steps.append(Step(f, chosen, '%s (named by the operator, '
                                  'although %s)' % (why, doubt)
                                  if doubt else why))
    if not quarantine:
        steps = _after_parents(steps, refused)
    steps.sort(key=lambda s: s.action != UNEXPORT)
    missing = set(finding_ids or ()) - {s.finding.id for s in steps} - {
        r.finding.id for r in refused}
    refused += [Refusal(None, 'no finding %d on this backend' % i)
                for i in sorted(missing)]
    return Plan(tuple(steps), tuple(refused), limit)
