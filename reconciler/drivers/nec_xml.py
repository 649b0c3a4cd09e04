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

"""The iSMCLI configuration XML, read into plain records.

``iSMquery -cinder -xml -all`` and the legacy ``iSMview -all`` answer the same
document: chapters of objects of sections of named units. We read the logical
disks, the pools and the LD sets (with their initiators and LUN lists) and
nothing else. The text comes from the network, so it is parsed with
defusedxml and any DTD is refused; a document that is not complete and
well-formed, or that lacks a chapter or unit we rely on, is an error, never
a shorter inventory.

An array lists tens of thousands of LDs, ten elements each: the document is
parsed incrementally, each OBJECT read into a record and dropped as soon as
it ends, so memory holds the records and not a tree of the whole document.
Errors are reported as a whole-document parse would: the document first,
then its return code, then the first bad object of pools, LDs, LD sets.
Cinder's NEC driver decodes the output as UTF-8: a document in another
multi-byte encoding (Shift_JIS, EUC-JP...), declared or not, is refused
with an error that says so.
"""

import codecs
import dataclasses
import functools
import io
import re
import sys

import defusedxml
from defusedxml import ElementTree as safe_et

from reconciler.drivers import bounded
from reconciler import exception

# The legacy CLI's status line ("ExitStatus:0"), printed outside the
# document. Cinder's view_all drops every line holding "ExitStatus", which
# would take an LD or initiator so named with it: only a line of no markup
# before or after the document is the status line.
_EXIT_STATUS = re.compile(rb'^[ \t]*ExitStatus[^<>\n]*(\n|\Z)', re.MULTILINE)
_DECLARED = re.compile(rb'^\s*<\?xml[^>]*?encoding\s*=\s*["\']([^"\']{1,40})')
_CHUNK = 1024 * 1024
# Sections holding one LUN/LDN pair each: normal and multi-target mode.
_LUN_SECTIONS = ('LUN/LD List', 'Target Information For Multi-Target Mode')


@dataclasses.dataclass(frozen=True, slots=True)
class LogicalDisk:
    ldn: int
    os_type: str
    ld_name: str
    capacity: int           # bytes
    pool: int
    purpose: str
    rpl: str                # RPL Attribute: IV, MV, RV, BV, SV, ...

    @property
    def name(self):
        """``OS:NAME`` as Cinder keys LDs; the bare name if no OS type."""
        return '%s:%s' % (self.os_type, self.ld_name) if self.os_type else (
            self.ld_name)

    @property
    def is_snapshot(self):
        return 'SV' in self.rpl


@dataclasses.dataclass(frozen=True)
class LDSet:
    name: str               # Platform:LD Set Name
    protocol: str           # 'FC' or 'iSCSI'
    initiators: tuple       # iSCSI IQNs or FC WWPNs, as the array shows them
    ldns: frozenset         # LDNs mapped through the set


@dataclasses.dataclass(frozen=True)
class Configuration:
    pools: frozenset        # pool numbers
    lds: tuple
    ldsets: tuple


def _bad(what):
    return exception.ArrayResponseError('iSMCLI output %s' % what)


def _units(element, names, where):
    """The text of each named UNIT directly under ``element``."""
    values = []
    for name in names:
        unit = element.find("./UNIT[@name='%s']" % name)
        if unit is None:
            raise _bad('lacks UNIT "%s" in %s' % (name, where))
        values.append((unit.text or '').strip())
    return values


def _number(text, base, where):
    try:
        return int(text, base)
    except ValueError:
        raise _bad('has %r where %s expects a number' % (text, where))


def _section(obj, name, where):
    section = obj.find("./SECTION[@name='%s']" % name)
    if section is None:
        raise _bad('lacks SECTION "%s" in %s' % (name, where))
    return section


def _pool(obj, where):
    (num,) = _units(_section(obj, 'Pool Detail Information', where),
                    ('Pool No.(h)',), where)
    return _number(num, 16, where)


def _ld(obj, where):
    ldn, os_type, name, capacity, pool, purpose, rpl = _units(
        _section(obj, 'LD Detail Information', where),
        ('LDN(h)', 'OS Type', 'LD Name', 'LD Capacity', 'Pool No.(h)',
         'Purpose', 'RPL Attribute'), where)
    # OS type, purpose and RPL attribute take a handful of values: shared.
    return LogicalDisk(
        ldn=_number(ldn, 16, where), os_type=sys.intern(os_type),
        ld_name=name, capacity=_number(capacity, 10, where),
        pool=_number(pool, 16, where), purpose=sys.intern(purpose),
        rpl=sys.intern(rpl))


def _ldset(protocol, initiator_section, initiator_unit, obj, where):
    platform, name = _units(
        _section(obj, 'LD Set(%s) Information' % protocol, where),
        ('Platform', 'LD Set Name'), where)
    initiators = []
    for section in obj.iterfind("./SECTION[@name='%s']" % initiator_section):
        (initiator,) = _units(section, (initiator_unit,), where)
        # An FC path list also names array ports, as "(...)".
        if '(' not in initiator:
            initiators.append(initiator)
    ldns = set()
    for section_name in _LUN_SECTIONS:
        for section in obj.iterfind("./SECTION[@name='%s']" % section_name):
            lun, ldn = _units(section, ('LUN(h)', 'LDN(h)'), where)
            # Multi-target mode lists unused targets with '-'.
            if not (lun.startswith('-') or ldn.startswith('-')):
                ldns.add(_number(ldn, 16, where))
    return LDSet('%s:%s' % (platform, name), protocol, tuple(initiators),
                 frozenset(ldns))


# Chapters the listing reads, and what each holds: a document without one
# of them is incomplete (an absent chapter is not an empty list), while a
# present but empty one is an array without such objects.
REQUIRED_CHAPTERS = {
    'Pool': 'the pools',
    'Logical Disk': 'the logical disks',
    'Access Control': 'the LD sets, which the exports are read from',
}
_POOLS = ('Pool', 'Pool')                   # (CHAPTER name, OBJECT name)
_LDS = ('Logical Disk', 'Logical Disk')
_FC = ('Access Control', 'LD Set(FC)')
_ISCSI = ('Access Control', 'LD Set(iSCSI)')
# What an error calls each object, and its reader; a bad object is
# reported in this order.
_READERS = {
    _POOLS: ('pool', _pool),
    _LDS: ('logical disk', _ld),
    _FC: ('LD Set(FC)', functools.partial(_ldset, 'FC', 'Path List', 'Path')),
    _ISCSI: ('LD Set(iSCSI)', functools.partial(
        _ldset, 'iSCSI', 'Initiator List', 'Initiator List')),
}


def _check(root):
    """The request itself: an iSMCLI document that reports success."""
    if root.tag != 'REQUEST' or root.find('./CMD_REQUEST') is None:
        raise _bad('is not an iSMCLI REQUEST/CMD_REQUEST document (root %r)'
                   % root.tag)
    code = root.find('./CMD_REQUEST/RETURN_CODE')
    if code is not None and (code.text or '').strip() != '0':
        message = root.findtext('./CMD_REQUEST/RETURN_MSG') or ''
        raise _bad('reports RETURN_CODE %s: %s'
                   % ((code.text or '').strip(), message.strip()[:300]))


def _require_chapters(chapters):
    """The document has every chapter the listing depends on."""
    for name, holds in REQUIRED_CHAPTERS.items():
        if name not in chapters:
            raise _bad('lacks CHAPTER "%s" (%s): an incomplete document, '
                       'not an empty one' % (name, holds))


def _without_status_line(data):
    """``data`` without iSMCLI's status line before or after the document."""
    start, end = data.find(b'<'), data.rfind(b'>') + 1
    head, tail = data[:max(start, 0)], data[end:]
    clean_head, clean_tail = (_EXIT_STATUS.sub(b'', head),
                              _EXIT_STATUS.sub(b'', tail))
    if (clean_head, clean_tail) == (head, tail):
        return data
    return clean_head + data[len(head):end] + clean_tail


def _not_utf8(data):
    """Where ``data`` stops being UTF-8, as an error; None if it is."""
    decoder = codecs.getincrementaldecoder('utf-8')()
    view = memoryview(data)
    for offset in range(0, len(data), _CHUNK):
        try:
            decoder.decode(view[offset:offset + _CHUNK],
                           final=offset + _CHUNK >= len(data))
        except UnicodeDecodeError as e:
            at = offset + e.start
            return _bad('is not UTF-8 (byte 0x%02x at line %d): the array '
                        'answered in another encoding, such as Shift_JIS; '
                        "Cinder's NEC driver reads UTF-8 only"
                        % (data[at], data.count(b'\n', 0, at) + 1))
    return None


def _events(data):
    """(event, element) of the document, as parsed; DTDs refused."""
    try:
        yield from safe_et.iterparse(io.BytesIO(data), ('start', 'end'),
                                     forbid_dtd=True)
    except defusedxml.DefusedXmlException as e:
        raise _bad('declares a DTD, entities or external references (%s); '
                   'refused' % type(e).__name__)
    except ValueError as e:
        # expat reads no multi-byte encoding but UTF-8 and UTF-16.
        declared = _DECLARED.match(data)
        raise _bad('declares the encoding %s, which cannot be read (%s); '
                   "Cinder's NEC driver reads UTF-8 only"
                   % (declared[1].decode('ascii', 'replace') if declared
                      else 'of its text', e))
    except safe_et.ParseError as e:
        raise _not_utf8(data) or _bad(
            'is not complete, well-formed XML (%s)' % e)


def parse(data):
    """A :class:`Configuration` from the bytes an inventory command printed."""
    data = _without_status_line(data)
    read = {key: [] for key in _READERS}
    errors = {}
    chapters = set()
    root, path = None, []       # path: the open elements, root first
    for event, element in _events(data):
        if event == 'start':
            if root is None:
                root = element
            path.append(element)
            bounded.check_depth(len(path), 'the inventory XML')
            continue
        path.pop()
        if len(path) == 2 and path[1].tag == 'CMD_REQUEST' and (
                element.tag == 'CHAPTER'):
            chapters.add(element.get('name'))
        # REQUEST/CMD_REQUEST/CHAPTER/OBJECT: read it, then let it go.
        if len(path) != 3 or path[1].tag != 'CMD_REQUEST' or (
                path[2].tag != 'CHAPTER'):
            continue
        path[2].remove(element)
        key = (path[2].get('name'), element.get('name'))
        if element.tag != 'OBJECT' or key not in _READERS:
            continue
        what, reader = _READERS[key]
        records = read[key]
        try:
            records.append(reader(element, '%s #%d' % (what, len(records))))
        except exception.ArrayResponseError as e:
            errors.setdefault(key, e)
            records.append(None)        # keeps the numbering
    _check(root)
    _require_chapters(chapters)
    for key in _READERS:
        if key in errors:
            raise errors[key]
    return Configuration(pools=frozenset(read[_POOLS]),
                         lds=tuple(read[_LDS]),
                         ldsets=tuple(read[_FC] + read[_ISCSI]))
