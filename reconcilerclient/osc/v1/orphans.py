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

"""``openstack orphan list|show|ignore|unignore``: the findings."""

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import utils

#: The service's finding kinds (reconciler.model.FindingKind; this
#: package imports nothing of the service).
KINDS = ('array_only', 'cinder_only', 'orphan_export', 'foreign',
         'stale_temporary', 'unmanaged', 'leftover_device', 'faulty_map',
         'faulty_attached', 'stale_session', 'missing_device',
         'stale_attachment', 'dangling_bdm', 'stuck_status', 'orphan_project',
         'stuck_deleting')
STATES = ('suspected', 'confirmed', 'resolved')

_COLUMNS = (('ID', 'id'), ('Backend', 'backend'), ('Kind', 'kind'),
            ('Resource Type', 'resource_type'),
            ('Resource ID', 'resource_id'), ('Array Name', 'array_name'),
            ('State', 'state'), ('First Seen', 'first_seen'),
            ('Sightings', 'sightings'), ('Ignored', 'ignored'))
_LONG = (('Cinder ID', 'cinder_id'), ('Project ID', 'project_id'),
         ('Last Seen', 'last_seen'), ('Confirmed At', 'confirmed_at'),
         ('Resolved At', 'resolved_at'), ('Ignored Until', 'ignored_until'),
         ('Details', 'details'))
_FORMATTERS = {'details': format_columns.DictColumn,
               'transitions': format_columns.ListDictColumn,
               'newest_sightings': format_columns.ListDictColumn}


def add_paging(parser):
    parser.add_argument(
        '--limit', metavar='<num>', type=int,
        help='The most items to list (one page); without it, every page '
             'is read.')
    parser.add_argument(
        '--marker', metavar='<id>',
        help='The ID of the last item of the previous page.')


class ListOrphan(command.Lister):
    """List findings: orphans and other mismatches the reconciler saw."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument('--backend', metavar='<backend>',
                           help='Findings of this backend group only.')
        scope.add_argument('--host', metavar='<host>',
                           help="Findings of this host's devices only.")
        parser.add_argument('--kind', choices=KINDS,
                            help='Findings of this kind only.')
        parser.add_argument('--state', choices=STATES,
                            help='Findings in this state only.')
        parser.add_argument('--resource-id', metavar='<id>',
                            help='Findings of this resource only.')
        parser.add_argument('--project', metavar='<project-id>',
                            help="Findings of this project's volumes only.")
        parser.add_argument('--since', metavar='<time>',
                            help='Findings first seen at or after this ISO '
                                 '8601 time (UTC unless it says).')
        parser.add_argument(
            '--sort', metavar='<key>[:<direction>]',
            help='Server-side order, comma-separated keys (id, backend, '
                 'kind, resource_type, resource_id, project_id, state, '
                 'first_seen, last_seen, sightings, confirmed_at, '
                 'resolved_at), each asc or desc; default id:asc.')
        add_paging(parser)
        parser.add_argument('--long', action='store_true',
                            help='Also list the Cinder and project IDs, '
                                 'times and the evidence.')
        return parser

    def take_action(self, parsed_args):
        api = self.app.client_manager.orphan
        rows = api.findings(
            limit=parsed_args.limit, marker=parsed_args.marker,
            backend=parsed_args.backend, host=parsed_args.host,
            kind=parsed_args.kind, state=parsed_args.state,
            resource_id=parsed_args.resource_id,
            project_id=parsed_args.project, since=parsed_args.since,
            sort=parsed_args.sort)
        columns = _COLUMNS + (_LONG if parsed_args.long else ())
        return ([title for title, _ in columns],
                (utils.get_dict_properties(
                    row, [key for _, key in columns],
                    formatters=_FORMATTERS) for row in rows))


def _show(finding):
    keys = sorted(finding)
    return keys, utils.get_dict_properties(finding, keys,
                                           formatters=_FORMATTERS)


class ShowOrphan(command.ShowOne):
    """Show a finding: its evidence, transitions and sightings."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('finding', metavar='<finding-id>',
                            help='The finding to show.')
        return parser

    def take_action(self, parsed_args):
        return _show(self.app.client_manager.orphan.finding(
            parsed_args.finding))


class IgnoreOrphan(command.ShowOne):
    """Ignore a finding: no longer announced or remediated (admin)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('finding', metavar='<finding-id>',
                            help='The finding to ignore.')
        parser.add_argument('--reason', metavar='<text>', required=True,
                            help='Why (kept in the audit).')
        parser.add_argument('--until', metavar='<time>',
                            help='Until this ISO 8601 time (UTC unless it '
                                 'says); for good without it.')
        return parser

    def take_action(self, parsed_args):
        return _show(self.app.client_manager.orphan.ignore(
            parsed_args.finding, parsed_args.reason, parsed_args.until))


class UnignoreOrphan(command.Command):
    """Stop ignoring a finding (admin)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('finding', metavar='<finding-id>',
                            help='The finding to stop ignoring.')
        return parser

    def take_action(self, parsed_args):
        self.app.client_manager.orphan.unignore(parsed_args.finding)
