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

"""Text, JSON and CSV renderings of passes and remediation outcomes.

The records' own fields come from reconciler.history.views, which the API
shares; this module lays them out for a terminal. Listings and records
(findings, runs, actions) go through reconciler.cmd.output instead.
"""

import csv
import io
import json

from reconciler.cloud import scope as cloud_scope
from reconciler.history import views
from reconciler.host import scope as host_scope
from reconciler import model

#: The columns of a table of findings (``openstack orphan list``'s too);
#: ``-c`` picks others, the other formats show every field.
FINDING_COLUMNS = ('id', 'backend', 'kind', 'resource_type', 'resource_id',
                   'array_name', 'state', 'first_seen', 'sightings',
                   'ignored')

_LABELS = {model.FindingKind.ARRAY_ONLY: 'array-only',
           model.FindingKind.CINDER_ONLY: 'Cinder-only',
           model.FindingKind.ORPHAN_EXPORT: 'orphan exports',
           model.FindingKind.STALE_TEMPORARY: 'stale temporaries',
           model.FindingKind.FOREIGN: 'foreign (not Cinder-named)',
           model.FindingKind.UNMANAGED: "unmanaged (by Cinder's events "
                                        'alone)'}


def candidate_dict(c):
    return {'kind': str(c.kind), 'resource_type': str(c.resource_type),
            'resource_id': c.resource_id, 'cinder_id': c.cinder_id,
            'array_name': c.array_name, 'project_id': c.project_id,
            'details': dict(c.details)}


def pass_dict(r):
    return {'backend': r.backend, 'cinder_host': r.cinder_host,
            'run_id': r.run_id, 'status': str(r.status), 'error': r.error,
            'consistent': r.consistent, 'inventory': r.inventory,
            'not_compared': r.skipped,
            'findings': [candidate_dict(c) for c in r.candidates],
            'transitions': [dict(candidate_dict(t.candidate),
                                 old_state=t.old_state and str(t.old_state),
                                 new_state=str(t.new_state))
                            for t in r.transitions]}


def pass_rows(r):
    """One flat row per finding of a pass (the CSV form of ``check``)."""
    return [dict(backend=r.backend, run_id=r.run_id, status=str(r.status),
                 **candidate_dict(c)) for c in r.candidates]


def _pass_text(r, title, inventory, labels, finding):
    """A pass as text: ``inventory(r.inventory)`` and ``finding(c)`` say
    what is particular to backend and host passes.
    """
    lines = ['%s: %s %s' % (
        title, 'dry run' if r.run_id is None else 'run %d' % r.run_id,
        r.status)]
    if r.error:
        lines += ['  error: %s' % r.error,
                  '  no finding was created or resolved by this run']
        return '\n'.join(lines)
    lines.append('  ' + inventory(r.inventory))
    lines.append('  consistent: %s' % (', '.join(
        '%d %ss' % (n, k) for k, n in sorted(r.consistent.items()))
        or 'nothing'))
    for kind, label in labels.items():
        found = [c for c in r.candidates if c.kind == kind]
        lines.append('  %s: %d' % (label, len(found)))
        lines += ['    ' + finding(c) for c in found]
    if r.skipped:
        lines.append('  not compared: %s' % ', '.join(
            '%s=%d' % kv for kv in sorted(r.skipped.items())))
    would = 'would go ' if r.run_id is None else ''
    for t in r.transitions:
        lines.append('  %s %s %s: %s%s -> %s'
                     % (t.candidate.kind, t.candidate.resource_type,
                        t.candidate.resource_id, would, t.old_state or 'new',
                        t.new_state))
    if r.run_id is None:
        lines.append('  dry run: nothing was recorded or announced')
    return '\n'.join(lines)


def cinder_event(details):
    """The Cinder event a finding rests on: its message id, else the
    history's id of it; None if none.
    """
    if details.get('cinder_message_id'):
        return 'message %s' % details['cinder_message_id']
    if details.get('cinder_event_id'):
        return 'event %s' % details['cinder_event_id']
    return None


def _array_finding(c):
    extra = ('  (%s)' % c.array_name
             if c.array_name and c.array_name != c.resource_id else '')
    event = cinder_event(dict(c.details))
    return '%-8s %s%s%s' % (c.resource_type, c.resource_id, extra,
                            '  Cinder %s' % event if event else '')


def pass_text(r):
    return _pass_text(
        r, 'Backend %s (%s)' % (r.backend, r.cinder_host),
        lambda inv: ('Cinder: %d volumes, %d snapshots; array: %d objects '
                     '(listed in %.2fs + %.2fs)'
                     % (inv['cinder_volumes'], inv['cinder_snapshots'],
                        inv['array_objects'], inv['cinder_seconds'],
                        inv['array_seconds'])),
        _LABELS, _array_finding)


_HOST_LABELS = {
    model.FindingKind.LEFTOVER_DEVICE: 'leftover devices',
    model.FindingKind.FAULTY_MAP: 'faulty maps (every path faulty)',
    model.FindingKind.FAULTY_ATTACHED: 'faulty maps of attached volumes',
    model.FindingKind.STALE_SESSION: 'sessions without devices',
    model.FindingKind.MISSING_DEVICE: 'attached without a device'}


def _host_finding(c):
    details = dict(c.details)
    opened = details.get('open_count')
    in_use = ', '.join(filter(None, (
        details.get('holders'), details.get('mounts'),
        'open count %s' % opened if opened and opened != '0' else '')))
    where = details.get('target', '-')
    if c.resource_type == model.ResourceType.SESSION:
        # Named after its target already: where it goes is news.
        where = ('portal %s' % details['portal'] if details.get('portal')
                 else 'subsystem %s' % details.get('subsystem', '-'))
    return '%-10s %s  %s  volume %s%s' % (
        c.resource_type, c.array_name or c.resource_id, where,
        c.cinder_id or '?',
        '  IN USE (%s)' % in_use if details.get('in_use') else '')


def host_pass_text(r):
    """A host pass (``reconciler.host``): ``r.cinder_host`` is the host."""
    return _pass_text(
        r, 'Host %s (%s)' % (r.cinder_host, r.backend),
        lambda inv: ('Cinder: %d attachments, %d to this host; host: %d '
                     'SCSI disks, %d maps, %d iSCSI sessions, %d NVMe '
                     'subsystems (listed in %.2fs, scanned in %.2fs)'
                     % (inv['cinder_attachments'], inv['attachments_here'],
                        inv['host_disks'], inv['host_maps'],
                        inv['host_sessions'], inv['host_nvme_subsystems'],
                        inv['cinder_seconds'], inv['scan_seconds'])),
        _HOST_LABELS, _host_finding)


_CLOUD_LABELS = {
    model.FindingKind.STALE_ATTACHMENT:
        "Cinder attachments Nova's instances do not use",
    model.FindingKind.DANGLING_BDM:
        "Nova's volume mappings without a Cinder volume or attachment",
    model.FindingKind.STUCK_STATUS: 'stuck in a transitional status',
    model.FindingKind.ORPHAN_PROJECT: 'of projects Keystone no longer has',
    model.FindingKind.STUCK_DELETING:
        'left in error_deleting, array object still there'}


def _cloud_finding(c):
    d = dict(c.details)
    if c.kind == model.FindingKind.STUCK_STATUS:
        what = '%s since %s, %s' % (d.get('status'), d.get('since'),
                                    d.get('service', '-'))
    elif c.kind == model.FindingKind.ORPHAN_PROJECT:
        what = 'project %s' % c.project_id
    elif c.kind == model.FindingKind.STUCK_DELETING:
        what = '%s on %s; exports: %s; host findings: %s' % (
            d.get('array_name', '?'), d.get('backend'),
            d.get('exports') or 'none', d.get('host_findings') or 'none')
    else:
        what = 'volume %s, server %s: %s' % (
            d.get('volume_id'), d.get('instance_id') or d.get('server_id'),
            d.get('reason'))
    return '%-10s %s  %s' % (c.resource_type, c.resource_id, what)


def cloud_pass_text(r):
    """A pass of the cloud scope (``reconciler.cloud``)."""
    def inventory(inv):
        parts = ['Cinder: %d volumes, %d snapshots, %d backups, %d '
                 'attachments (%.2fs)' % (
                     inv['cinder_volumes'], inv['cinder_snapshots'],
                     inv['cinder_backups'], inv['cinder_attachments'],
                     inv['cinder_seconds'])]
        if inv.get('nova_servers') is not None:
            parts.append('Nova: %d servers (%.2fs)' % (
                inv['nova_servers'], inv['nova_seconds']))
        if inv.get('keystone_projects') is not None:
            parts.append('Keystone: %d projects' % inv['keystone_projects'])
        return '; '.join(parts)
    return _pass_text(r, 'Cloud (%s)' % r.backend, inventory,
                      _CLOUD_LABELS, _cloud_finding)


def any_pass_text(r):
    """The text of a backend, host or cloud pass."""
    if r.backend == cloud_scope.NAME:
        return cloud_pass_text(r)
    if host_scope.host_of(r.backend):
        return host_pass_text(r)
    return pass_text(r)


def _outcome_header(o, steps):
    """"applied" only when a step changed something."""
    if not o.applied:
        return 'plan only (dry run: nothing changes; --apply acts), %d ' \
            'step(s)' % steps
    if not o.done:
        return 'nothing applied, %d step(s)' % steps
    return 'applied %d of %d step(s)' % (o.done, steps)


def outcome_text(o):
    d = views.outcome_dict(o)
    lines = ['Backend %s: %s, limit %d' % (
        o.backend, _outcome_header(o, len(d['steps'])), d['limit'])]
    if o.error:
        lines.append('  nothing done: %s' % o.error)
    for s in d['steps']:
        lines.append('  finding %(finding_id)s %(kind)s %(resource_type)s '
                     '%(resource_id)s: %(action)s %(target)s (%(why)s)' % s)
        if s['result']:
            lines.append('    -> %s%s' % (s['result'], ': %s' % s['reason']
                                          if s['reason'] else ''))
    for r in d['not_eligible']:
        lines.append('  not eligible: %s%s' % (
            'finding %s: ' % r['finding_id'] if r['finding_id'] else '',
            r['reason']))
    return '\n'.join(lines)


def stale_text(silences):
    """One line per host whose scans stopped coming."""
    return '\n'.join(
        'stale: %s: no scan since %s (%.0f s, more than %g intervals of '
        '%g s): its findings are neither created nor resolved meanwhile'
        % (s.scope, views.when(s.last_report), s.age,
           s.age // s.interval,
           s.interval) for s in silences)


def csv_text(rows):
    """CSV of dicts, their keys as the header; nested values as JSON."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]),
                                lineterminator='\n')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, sort_keys=True)
                             if isinstance(v, (dict, list)) else v
                             for k, v in row.items()})
    return out.getvalue().rstrip('\n')
