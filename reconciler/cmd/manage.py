"""``cinder-reconciler-manage``: database, one-shot checks and reports.

    cinder-reconciler-manage db sync|version
    cinder-reconciler-manage check [--backend NAME] [--format table|json]
    cinder-reconciler-manage findings list [--state S] [--backend B]
                                           [--kind K] [--format table|json]
"""

import json
import sys

from oslo_config import cfg

from reconciler.cmd import report
from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod


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
        print(json.dumps([report.pass_dict(r) for r in reports], indent=2))
    else:
        for r in reports:
            print(report.pass_text(r))
    return 0 if all(r.status == model.RunStatus.OK for r in reports) else 1


def do_findings_list(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    rows = store.findings(backend=args.backend, state=args.state,
                          kind=args.kind)
    if args.format == 'json':
        print(json.dumps([report.finding_dict(f) for f in rows], indent=2))
    else:
        print(report.findings_table(rows))
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
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv,
                            stdout_is_output=True)
    try:
        return conf.category.func(conf)
    except exception.ReconcilerError as e:
        print('Error: %s' % e, file=sys.stderr)
        return 1
