"""``cinder-reconciler-manage``: database, one-shot checks and reports.

    cinder-reconciler-manage db sync|version
    cinder-reconciler-manage check [--backend NAME] [--format table|json]
    cinder-reconciler-manage findings list [--state S] [--backend B]
                                           [--kind K] [--format table|json]
"""

import datetime
import json
import sys

from oslo_config import cfg
import prettytable

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod

_LABELS = {model.FindingKind.ARRAY_ONLY: 'array-only',
           model.FindingKind.CINDER_ONLY: 'Cinder-only',
           model.FindingKind.ORPHAN_EXPORT: 'orphan exports',
           model.FindingKind.FOREIGN: 'foreign (not Cinder-named)'}


def _when(epoch):
    if epoch is None:
        return '-'
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%SZ')


def _report_dict(report):
    return {
        'backend': report.backend, 'cinder_host': report.cinder_host,
        'run_id': report.run_id, 'status': str(report.status),
        'error': report.error, 'consistent': report.consistent,
        'inventory': report.inventory, 'skipped': report.skipped,
        'findings': [{'kind': str(c.kind),
                      'resource_type': str(c.resource_type),
                      'resource_id': c.resource_id,
                      'cinder_id': c.cinder_id, 'array_name': c.array_name,
                      'project_id': c.project_id, 'details': dict(c.details)}
                     for c in report.candidates],
        'transitions': [{'resource_id': t.candidate.resource_id,
                         'kind': str(t.candidate.kind),
                         'from': t.old_state and str(t.old_state),
                         'to': str(t.new_state)}
                        for t in report.transitions]}


def _print_report(report):
    inv = report.inventory
    print('Backend %s (%s): run %d %s'
          % (report.backend, report.cinder_host, report.run_id,
             report.status))
    if report.error:
        print('  error: %s' % report.error)
        print('  no finding was created or resolved by this run')
        return
    print('  Cinder: %d volumes, %d snapshots; array: %d objects'
          % (inv['cinder_volumes'], inv['cinder_snapshots'],
             inv['array_objects']))
    print('  consistent: %s' % (', '.join(
        '%d %ss' % (n, k) for k, n in sorted(report.consistent.items()))
        or 'nothing'))
    for kind, label in _LABELS.items():
        found = [c for c in report.candidates if c.kind == kind]
        print('  %s: %d' % (label, len(found)))
        for c in found:
            print('    %-8s %s%s' % (c.resource_type, c.resource_id,
                                     '  (%s)' % c.array_name
                                     if c.array_name and
                                     c.array_name != c.resource_id else ''))
    if report.skipped:
        print('  not compared: %s' % ', '.join(
            '%s=%d' % kv for kv in sorted(report.skipped.items())))
    for t in report.transitions:
        print('  %s %s %s: %s -> %s' % (t.candidate.kind,
                                        t.candidate.resource_type,
                                        t.candidate.resource_id,
                                        t.old_state or 'new', t.new_state))


def do_check(conf):
    backends = backend_conf.enabled(conf)
    if conf.category.backend:
        backends = [b for b in backends if b.name == conf.category.backend]
        if not backends:
            raise exception.ConfigError('backend %s is not in '
                                        'enabled_backends'
                                        % conf.category.backend)
    store = history.History.from_conf(conf)
    store.check_current()
    notifier = notifier_mod.Notifier(conf)
    try:
        reports = [manager.BackendReconciler(conf, b, store,
                                             notifier).run_pass()
                   for b in backends]
    finally:
        notifier.close()
    if conf.category.format == 'json':
        print(json.dumps([_report_dict(r) for r in reports], indent=2))
    else:
        for r in reports:
            _print_report(r)
    return 0 if all(r.status == model.RunStatus.OK for r in reports) else 1


def do_findings_list(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    rows = store.findings(backend=args.backend, state=args.state,
                          kind=args.kind)
    if args.format == 'json':
        print(json.dumps([{
            'backend': f.backend, 'kind': f.kind,
            'resource_type': f.resource_type, 'resource_id': f.resource_id,
            'cinder_id': f.cinder_id, 'array_name': f.array_name,
            'project_id': f.project_id, 'state': f.state,
            'first_seen': _when(f.first_seen), 'last_seen': _when(f.last_seen),
            'sightings': f.sightings, 'confirmed_at': _when(f.confirmed_at),
            'resolved_at': _when(f.resolved_at), 'details': f.details}
            for f in rows], indent=2))
        return 0
    table = prettytable.PrettyTable(
        ['Backend', 'Kind', 'Type', 'Resource', 'Array name', 'State',
         'First seen', 'Sightings'])
    table.align = 'l'
    for f in rows:
        table.add_row([f.backend, f.kind, f.resource_type, f.resource_id,
                       f.array_name or '-', f.state, _when(f.first_seen),
                       f.sightings])
    print(table)
    return 0


def do_db_sync(conf):
    history.History.from_conf(conf).sync()
    print('Database is at the latest revision.')
    return 0


def do_db_version(conf):
    print(history.History.from_conf(conf).version() or 'empty')
    return 0


def _add_format(parser):
    parser.add_argument('--format', choices=('table', 'json'),
                        default='table')


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Manage the history database.')
    db_sub = db.add_subparsers(dest='action', required=True)
    db_sub.add_parser('sync', help='Create or upgrade the schema.'
                      ).set_defaults(func=do_db_sync)
    db_sub.add_parser('version', help='Print the schema revision.'
                      ).set_defaults(func=do_db_version)

    check = subparsers.add_parser(
        'check', help='Run one pass now and print what it found.')
    check.add_argument('--backend', help='Only this backend group.')
    _add_format(check)
    check.set_defaults(func=do_check)

    findings = subparsers.add_parser('findings', help='Recorded findings.')
    findings_sub = findings.add_subparsers(dest='action', required=True)
    listing = findings_sub.add_parser('list', help='List findings.')
    listing.add_argument('--state',
                         choices=[s.value for s in model.FindingState])
    listing.add_argument('--backend')
    listing.add_argument('--kind',
                         choices=[k.value for k in model.FindingKind])
    _add_format(listing)
    listing.set_defaults(func=do_findings_list)


def main(argv=None):
    conf = cfg.CONF
    conf.register_cli_opt(cfg.SubCommandOpt(
        'category', title='Commands', handler=add_command_parsers))
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv)
    try:
        return conf.category.func(conf)
    except exception.ReconcilerError as e:
        print('Error: %s' % e, file=sys.stderr)
        return 1
