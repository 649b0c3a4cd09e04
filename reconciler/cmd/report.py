"""Text and JSON renderings of passes and findings for operators."""

import datetime

import prettytable

from reconciler import model

_LABELS = {model.FindingKind.ARRAY_ONLY: 'array-only',
           model.FindingKind.CINDER_ONLY: 'Cinder-only',
           model.FindingKind.ORPHAN_EXPORT: 'orphan exports',
           model.FindingKind.FOREIGN: 'foreign (not Cinder-named)'}


def when(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%SZ')


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


def _pass_text(r, title, inventory, labels, finding):
    """A pass as text: ``inventory(r.inventory)`` and ``finding(c)`` say
    what is particular to backend and host passes.
    """
    lines = ['%s: run %d %s' % (title, r.run_id, r.status)]
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
    for t in r.transitions:
        lines.append('  %s %s %s: %s -> %s'
                     % (t.candidate.kind, t.candidate.resource_type,
                        t.candidate.resource_id, t.old_state or 'new',
                        t.new_state))
    return '\n'.join(lines)


def _array_finding(c):
    extra = ('  (%s)' % c.array_name
             if c.array_name and c.array_name != c.resource_id else '')
    return '%-8s %s%s' % (c.resource_type, c.resource_id, extra)


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
    model.FindingKind.FAULTY_MAP: 'faulty maps (all paths failed)',
    model.FindingKind.FAULTY_ATTACHED: 'faulty maps of attached volumes',
    model.FindingKind.STALE_SESSION: 'sessions without devices',
    model.FindingKind.MISSING_DEVICE: 'attached without a device'}


def _host_finding(c):
    details = dict(c.details)
    in_use = ', '.join(filter(None, (details.get('holders'),
                                     details.get('mounts'))))
    return '%-10s %s  %s  volume %s%s' % (
        c.resource_type, c.array_name or c.resource_id,
        details.get('target', '-'), c.cinder_id or '?',
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


def finding_dict(f):
    return {'backend': f.backend, 'kind': f.kind,
            'resource_type': f.resource_type, 'resource_id': f.resource_id,
            'cinder_id': f.cinder_id, 'array_name': f.array_name,
            'project_id': f.project_id, 'state': f.state,
            'first_seen': when(f.first_seen), 'last_seen': when(f.last_seen),
            'sightings': f.sightings, 'confirmed_at': when(f.confirmed_at),
            'resolved_at': when(f.resolved_at), 'details': f.details}


def table(rows):
    """A table of dicts, their keys as the header."""
    if not rows:
        return '(nothing)'
    out = prettytable.PrettyTable(list(rows[0]))
    out.align = 'l'
    for row in rows:
        out.add_row(['-' if v is None else v for v in row.values()])
    return out.get_string()


def findings_table(rows):
    table = prettytable.PrettyTable(
        ['Backend', 'Kind', 'Type', 'Resource', 'Array name', 'State',
         'First seen', 'Sightings'])
    table.align = 'l'
    for f in rows:
        table.add_row([f.backend, f.kind, f.resource_type, f.resource_id,
                       f.array_name or '-', f.state, when(f.first_seen),
                       f.sightings])
    return table.get_string()
