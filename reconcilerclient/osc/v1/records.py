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

"""``openstack orphan run list``, ``action list``, ``backend list`` and
``remediate``.
"""

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions
from osc_lib import utils

from reconcilerclient.osc.v1 import orphans


def _lister(rows, columns, formatters=None):
    return ([title for title, _ in columns],
            (utils.get_dict_properties(row, [key for _, key in columns],
                                       formatters=formatters)
             for row in rows))


class ListRun(command.Lister):
    """List the passes over backends and hosts, newest first."""

    COLUMNS = (('ID', 'id'), ('Backend', 'backend'), ('Host', 'host'),
               ('Status', 'status'), ('Started At', 'started_at'),
               ('Seconds', 'seconds'), ('Findings', 'findings'),
               ('Error', 'error'))

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--backend', metavar='<backend>',
                            help='Passes of this backend (or host:<name>).')
        parser.add_argument('--status',
                            choices=('running', 'ok', 'failed'),
                            help='Passes with this status only.')
        orphans.add_paging(parser)
        return parser

    def take_action(self, parsed_args):
        return _lister(self.app.client_manager.orphan.runs(
            limit=parsed_args.limit, marker=parsed_args.marker,
            backend=parsed_args.backend, status=parsed_args.status),
            self.COLUMNS)


class ListAction(command.Lister):
    """List the audit: remediation steps, ignores and unignores."""

    COLUMNS = (('ID', 'id'), ('Finding', 'finding_id'),
               ('Backend', 'backend'), ('Action', 'action'),
               ('Target', 'target'), ('Applied', 'applied'),
               ('Result', 'result'), ('Reason', 'reason'),
               ('Actor', 'actor'), ('Started At', 'started_at'))

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--backend', metavar='<backend>',
                            help='Actions on this backend only.')
        parser.add_argument('--finding', metavar='<finding-id>',
                            help='Actions on this finding only.')
        orphans.add_paging(parser)
        return parser

    def take_action(self, parsed_args):
        return _lister(self.app.client_manager.orphan.actions(
            limit=parsed_args.limit, marker=parsed_args.marker,
            backend=parsed_args.backend, finding_id=parsed_args.finding),
            self.COLUMNS)


class ListBackend(command.Lister):
    """Summarise each backend and host: last pass, open findings."""

    COLUMNS = (('Backend', 'backend'), ('Last Run', 'last_run'),
               ('Last OK At', 'last_ok_at'),
               ('Open Findings', 'open_total'),
               ('By Kind', 'open_findings'))

    def take_action(self, parsed_args):
        rows = [dict(b, last_run=b['last_run'] and '%(id)s %(status)s %('
                     'finished_at)s' % b['last_run'])
                for b in self.app.client_manager.orphan.backends()]
        return _lister(rows, self.COLUMNS,
                       {'open_findings': format_columns.DictColumn})


class Remediate(command.Lister):
    """Plan a backend's remediation (a dry run), or apply it (admin).

    A controller acts, with the same gates, limits, lock and audit as
    cinder-reconciler-manage remediate; the audit names you.
    """

    COLUMNS = (('Finding', 'finding_id'), ('Kind', 'kind'),
               ('Resource Type', 'resource_type'),
               ('Resource ID', 'resource_id'), ('Action', 'action'),
               ('Target', 'target'), ('Why', 'why'), ('Result', 'result'),
               ('Reason', 'reason'))

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--backend', metavar='<backend>', required=True,
                            help='The backend group to remediate.')
        parser.add_argument('--kind', action='append', default=[],
                            choices=orphans.KINDS,
                            help='Only findings of this kind (repeat).')
        parser.add_argument('--finding', action='append', default=[],
                            metavar='<finding-id>',
                            help='Only this finding (repeat).')
        parser.add_argument('--quarantine', action='store_true',
                            help='Quarantine array-only objects instead of '
                                 'adopting them into Cinder.')
        parser.add_argument('--limit', type=int, metavar='<num>',
                            help='At most this many actions (never more '
                                 "than the backend's own limit).")
        parser.add_argument('--apply', action='store_true',
                            help='Act; without it nothing changes.')
        return parser

    def take_action(self, parsed_args):
        outcome = self.app.client_manager.orphan.remediate(
            parsed_args.backend, apply=parsed_args.apply,
            kinds=parsed_args.kind, finding_ids=parsed_args.finding,
            quarantine=parsed_args.quarantine, limit=parsed_args.limit)
        if outcome['error']:
            raise exceptions.CommandError('Backend %s: nothing done: %s' % (
                outcome['backend'], outcome['error']))
        rows = outcome['steps'] + [
            {'finding_id': r['finding_id'], 'result': 'not eligible',
             'reason': r['reason']} for r in outcome['not_eligible']]
        return _lister(rows, self.COLUMNS)
