"""Text rendering of a host pass for ``cinder-reconciler-manage check``."""

_LABELS = (('leftover_device', 'leftover devices'),
           ('faulty_map', 'faulty maps (all paths failed)'),
           ('faulty_attached', 'faulty maps of attached volumes'),
           ('stale_session', 'sessions without devices'),
           ('missing_device', 'attached without a device'))


def pass_text(r):
    lines = ['Host %s (%s): run %d %s' % (r.cinder_host, r.backend,
                                          r.run_id, r.status)]
    if r.error:
        lines += ['  error: %s' % r.error,
                  '  no finding was created or resolved by this run']
        return '\n'.join(lines)
    inv = r.inventory
    lines.append('  Cinder: %d attachments, %d to this host; host: %d SCSI '
                 'disks, %d maps, %d iSCSI sessions, %d NVMe subsystems '
                 '(listed in %.2fs, scanned in %.2fs)'
                 % (inv['cinder_attachments'], inv['attachments_here'],
                    inv['host_disks'], inv['host_maps'], inv['host_sessions'],
                    inv['host_nvme_subsystems'], inv['cinder_seconds'],
                    inv['scan_seconds']))
    lines.append('  consistent: %s' % (', '.join(
        '%d %ss' % (n, k) for k, n in sorted(r.consistent.items()))
        or 'nothing'))
    for kind, label in _LABELS:
        found = [c for c in r.candidates if c.kind == kind]
        lines.append('  %s: %d' % (label, len(found)))
        for c in found:
            details = dict(c.details)
            lines.append('    %-10s %s  %s  volume %s%s'
                         % (c.resource_type, c.array_name or c.resource_id,
                            details.get('target', '-'), c.cinder_id or '?',
                            '  IN USE (%s)' % ', '.join(filter(None, (
                                details.get('holders'),
                                details.get('mounts'))))
                            if details.get('in_use') else ''))
    if r.skipped:
        lines.append('  not judged: %s' % ', '.join(
            '%s=%d' % kv for kv in sorted(r.skipped.items())))
    for t in r.transitions:
        lines.append('  %s %s %s: %s -> %s'
                     % (t.candidate.kind, t.candidate.resource_type,
                        t.candidate.resource_id, t.old_state or 'new',
                        t.new_state))
    return '\n'.join(lines)
