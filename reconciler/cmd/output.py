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

"""A command's own output, kept apart from what libraries print.

Commands whose stdout is their result (``check --format json``) must print
nothing else there, but client libraries write to ``sys.stdout`` by
themselves: hpelefthandclient prints ``_do_reauth called`` whenever it logs
in again after a 401, which made that JSON unparsable. While a command
runs, :func:`libraries_to_log` sends ``sys.stdout`` to the log (stderr for
these commands) and the command writes its result with :func:`emit`.

Listings and records (:func:`emit_list`, :func:`emit_one`) go through
cliff's formatter plugins, as the ``openstack`` command's do: the same
formats (table, csv, json, yaml, value), ``-c`` columns and
``--sort-column`` in ``cinder-reconciler-manage`` and ``openstack orphan``.
The manage CLI stays an oslo.config command line (it reads cinder.conf-style
files as nova-manage and cinder-manage do), so it takes cliff's formatters,
not its application framework.
"""

import argparse
import contextlib
import functools
import io
import json
import sys

from cliff.formatters import base as formatters_base
from oslo_log import log as logging
import stevedore

from reconciler import exception

LOG = logging.getLogger(__name__)
_result = None      # the real stdout while libraries_to_log is active


class _LogLines(io.TextIOBase):
    """A text stream whose lines become log records."""

    def writable(self):
        return True

    def isatty(self):
        # cliff's table fits a terminal's width when the output is one.
        return (_result or sys.__stdout__).isatty()

    def write(self, text):
        for line in text.splitlines():
            if line.strip():
                LOG.info('printed by a library: %s', line)
        return len(text)


@contextlib.contextmanager
def libraries_to_log():
    """Send ``sys.stdout`` to the log; :func:`emit` still writes to it."""
    global _result
    _result, sys.stdout = sys.stdout, _LogLines()
    try:
        yield
    finally:
        sys.stdout, _result = _result, None


def emit(text, flush=False):
    """Write one result line (or block) to the command's real stdout."""
    print(text, file=_result or sys.stdout, flush=flush)


# -- listings and records, as the openstack command shows them -------------

#: The formats of a listing and of one record: cliff's formatter plugins
#: (the ones python-openstackclient uses), found by their stevedore
#: namespaces. A record also takes ``csv`` (one header and one row).
LIST_FORMATTERS = 'cliff.formatter.list'
SHOW_FORMATTERS = 'cliff.formatter.show'
#: Words a column's title writes in capitals.
_ACRONYMS = {'id': 'ID', 'ok': 'OK', 'uuid': 'UUID', 'wwid': 'WWID',
             'lun': 'LUN', 'iqn': 'IQN', 'scsi': 'SCSI', 'nvme': 'NVMe'}


#: A table with cliff's defaults, for output with no command line of its
#: own (the demo's).
TABLE = argparse.Namespace(format='table', columns=[], sort_columns=[],
                           sort_direction=None, max_width=0, fit_width=False,
                           print_empty=False)


@functools.cache
def _plugins(namespace):
    return {ext.name: ext.obj for ext in stevedore.ExtensionManager(
        namespace, invoke_on_load=True)}


def _formatters(show):
    found = dict(_plugins(LIST_FORMATTERS))
    if show:
        found.update(_plugins(SHOW_FORMATTERS))
    return found


def title(key):
    """A field's column header in a table: ``resource_id`` is
    ``Resource ID``, as the openstack command's headers.
    """
    return ' '.join(_ACRONYMS.get(word, word.capitalize())
                    for word in key.split('_'))


def _key(column):
    """``-c`` and ``--sort-column`` take a field or its title, as cliff."""
    return column.strip().lower().replace(' ', '_')


def _add_common(parser, show):
    formatters = _formatters(show)
    group = parser.add_argument_group('output formatters')
    group.add_argument('-f', '--format', choices=sorted(formatters),
                       default='table',
                       help='The output format (default: %(default)s). '
                            'json, yaml and csv name the fields as the '
                            "REST API does (resource_id); a table's "
                            'headers are their titles (Resource ID).')
    group.add_argument('-c', '--column', action='append', default=[],
                       dest='columns', metavar='COLUMN',
                       help='A field to include (repeat for more), by name '
                            'or title; the default is every field%s.'
                            % ('' if show else
                               " (a table: the command's own columns)"))
    for formatter in formatters.values():
        formatter.add_argument_group(parser)
    return group


def add_list_options(parser):
    """``-f/--format`` (table, csv, json, yaml, value), ``-c/--column``,
    ``--sort-column`` and cliff's formatters' own options.
    """
    group = _add_common(parser, show=False)
    group.add_argument('--sort-column', action='append', default=[],
                       dest='sort_columns', metavar='SORT_COLUMN',
                       help='Order the rows by this field (repeat: the '
                            'first given sorts first); empty values last.')
    direction = group.add_mutually_exclusive_group()
    direction.add_argument('--sort-ascending', action='store_const',
                           dest='sort_direction', const='asc',
                           help='Sort the columns in ascending order '
                                '(the default).')
    direction.add_argument('--sort-descending', action='store_const',
                           dest='sort_direction', const='desc',
                           help='Sort the columns in descending order.')


def add_show_options(parser):
    """``-f/--format`` (table, csv, json, yaml, value, shell), ``-c``."""
    _add_common(parser, show=True)


def _cell(value, fmt):
    """json and yaml keep a field's structure; other formats show nested
    values as JSON text, a table an empty value as ``-``.
    """
    if fmt in ('json', 'yaml'):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    if value is None and fmt == 'table':
        return '-'
    return value


def _selected(args, fields, default=None):
    """The fields ``-c`` names (in the listing's order, as cliff), else
    ``default`` or every field.
    """
    if not args.columns:
        return list(default or fields)
    wanted = [_key(c) for c in args.columns]
    unknown = [c for c, key in zip(args.columns, wanted)
               if key not in fields]
    if unknown:
        raise exception.ConfigError(
            'no column %s; the columns are: %s'
            % (', '.join(unknown), ', '.join(fields)))
    return [f for f in fields if f in wanted]


def _sorted(args, rows, fields):
    """``rows`` by the ``--sort-column`` fields, as cliff sorts them."""
    for column in reversed(args.sort_columns):
        key = _key(column)
        if key not in fields:
            raise exception.ConfigError(
                'cannot sort by %s; the columns are: %s'
                % (column, ', '.join(fields)))
        try:
            rows = sorted(rows, key=lambda r: (r.get(key) is None,
                                               r.get(key)),
                          reverse=args.sort_direction == 'desc')
        except TypeError:
            raise exception.ConfigError(
                'cannot sort by %s: its values do not compare' % column)
    return rows


def emit_list(args, rows, fields=None, table=None):
    """``rows`` (dicts) in ``args.format`` with ``args``' columns and
    order. ``fields``: every field (default: the first row's keys);
    ``table``: the ones a table shows without ``-c`` (default: all).
    """
    fields = list(fields or (rows[0] if rows else ()))
    rows = _sorted(args, rows, fields)
    shown = _selected(args, fields,
                      table if args.format == 'table' else None)
    headers = ([title(f) for f in shown] if args.format == 'table'
               else shown)
    _formatters(show=False)[args.format].emit_list(
        headers, [[_cell(row.get(f), args.format) for f in shown]
                  for row in rows], _result or sys.stdout, args)


def emit_one(args, record):
    """One record (a dict) in ``args.format``, its fields as named."""
    shown = _selected(args, list(record))
    values = [_cell(record[f], args.format) for f in shown]
    formatter = _formatters(show=True)[args.format]
    if isinstance(formatter, formatters_base.SingleFormatter):
        formatter.emit_one(shown, values, _result or sys.stdout, args)
    else:   # csv: one header and one row
        formatter.emit_list(shown, [values], _result or sys.stdout, args)
