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

"""What the CLI and the API show of the history, as plain dicts.

``cinder-reconciler-manage findings list/show``, ``runs list``, ``actions
list`` and the REST API (reconciler.api) render records with these
functions only, so both show the same fields, times and masking. Free text
that came from outside (evidence, errors, reasons) is masked with the
logs' own masking (reconciler.log_masking) on its way out: the history is
not meant to hold a secret, and this keeps one that slipped in (an array's
error echoing a URL with a session key) from being shown.
"""

import datetime

from reconciler import log_masking
from reconciler import model

#: How many of a finding's sightings ``finding_story`` lists.
SHOWN_RUNS = 20
#: The fields of finding_dict, run_dict and action_dict, in their order:
#: what a listing's columns are when it lists nothing.
FINDING_FIELDS = ('id', 'backend', 'kind', 'resource_type', 'resource_id',
                  'cinder_id', 'array_name', 'project_id', 'state',
                  'first_seen', 'last_seen', 'sightings', 'confirmed_at',
                  'resolved_at', 'details', 'ignored', 'ignored_until')
RUN_FIELDS = ('id', 'backend', 'host', 'status', 'started_at', 'finished_at',
              'seconds', 'findings', 'error')
ACTION_FIELDS = ('id', 'finding_id', 'backend', 'action', 'target',
                 'applied', 'result', 'reason', 'actor', 'started_at',
                 'finished_at')


def when(epoch):
    """An epoch as ISO 8601 UTC (``2026-11-22 10:00:00Z``), or None."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%SZ')


def masked(value):
    """``value`` with every string in it masked (dicts and lists too)."""
    if isinstance(value, str):
        return log_masking.mask(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    return value


def finding_dict(f):
    return {'id': f.id, 'backend': f.backend, 'kind': str(f.kind),
            'resource_type': str(f.resource_type),
            'resource_id': f.resource_id, 'cinder_id': f.cinder_id,
            'array_name': f.array_name, 'project_id': f.project_id,
            'state': str(f.state), 'first_seen': when(f.first_seen),
            'last_seen': when(f.last_seen), 'sightings': f.sightings,
            'confirmed_at': when(f.confirmed_at),
            'resolved_at': when(f.resolved_at),
            'details': masked(f.details), 'ignored': masked(f.ignored_reason),
            'ignored_until': when(f.ignored_until)}


def run_dict(r):
    return {'id': r.id, 'backend': r.backend, 'host': r.host,
            'status': str(r.status), 'started_at': when(r.started_at),
            'finished_at': when(r.finished_at),
            'seconds': (None if r.finished_at is None
                        else round(r.finished_at - r.started_at, 3)),
            'findings': sum(r.counts.values()) if r.counts else None,
            'error': masked(r.error)}


def action_dict(a):
    return {'id': a.id, 'finding_id': a.finding_id, 'backend': a.backend,
            'action': a.action, 'target': a.target,
            'applied': a.applied, 'result': a.result,
            'reason': masked(a.reason), 'actor': a.actor,
            'started_at': when(a.started_at),
            'finished_at': when(a.finished_at)}


def _step_dict(step, result=None, reason=None):
    f = step.finding
    return {'finding_id': f.id, 'kind': str(f.kind),
            'resource_type': str(f.resource_type),
            'resource_id': f.resource_id, 'action': step.action,
            'target': step.target, 'why': step.why, 'result': result,
            'reason': masked(reason)}


def outcome_dict(o):
    """A remediation's plan and results (reconciler.remediation).

    ``applied``: whether the run was to act (``--apply``); ``steps_done``:
    how many steps changed something.
    """
    done = {s.finding.id: r for s, r in o.results}
    return {'backend': o.backend, 'applied': o.applied,
            'steps_done': o.done, 'limit': o.plan.limit,
            'error': masked(o.error),
            'steps': [_step_dict(s, *done.get(s.finding.id, (None, None)))
                      for s in o.plan.steps],
            'not_eligible': [{'finding_id': r.finding and r.finding.id,
                              'reason': r.reason} for r in o.plan.refused]}


def finding_story(store, f):
    """A finding with its transitions and the ok runs that saw it.

    An open finding was seen by every ok pass of its backend since it was
    first seen (a pass that does not see it resolves it), so the backend's
    ok runs from ``first_seen`` to its resolution are its sightings.
    ``first_seen`` and ``resolved_at`` are the finish times of the runs
    that first saw it and resolved it; the margin absorbs float rounding.
    """
    margin = 0.001
    runs = store.runs(
        backend=f.backend, status=model.RunStatus.OK,
        since=f.first_seen - margin,
        until=f.resolved_at and f.resolved_at - margin, limit=None)
    transitions = [{'at': when(f.first_seen), 'state': 'suspected'}]
    if f.confirmed_at is not None:
        transitions.append({'at': when(f.confirmed_at), 'state': 'confirmed'})
    if f.resolved_at is not None:
        transitions.append({'at': when(f.resolved_at), 'state': 'resolved'})
    runs = sorted(runs, key=lambda r: r.id)
    return dict(finding_dict(f), transitions=transitions,
                seen_by=len(runs),
                newest_sightings=[{'run_id': r.id, 'at': when(r.started_at)}
                                  for r in runs[-SHOWN_RUNS:]])


def backend_summaries(store):
    """Per backend (and host scope): its newest run, newest ok pass and
    open findings by kind and state, from one consistent read.
    """
    snap = store.snapshot()
    names = sorted(set(snap.last_run) | set(snap.last_ok)
                   | {backend for backend, _, _ in snap.findings})
    summaries = []
    for name in names:
        open_findings = {}
        for (backend, kind, state), count in sorted(snap.findings.items()):
            if backend == name:
                open_findings.setdefault(kind, {})[state] = count
        last_run = snap.last_run.get(name)
        summaries.append({
            'backend': name,
            'last_run': last_run and run_dict(last_run),
            'last_ok_at': when(snap.last_ok.get(name)),
            'open_findings': open_findings,
            'open_total': sum(sum(s.values())
                              for s in open_findings.values())})
    return summaries
