"""The iSMCLI configuration XML, read into plain records.

``iSMquery -cinder -xml -all`` and the legacy ``iSMview -all`` answer the same
document: chapters of objects of sections of named units. We read the logical
disks, the pools and the LD sets (with their initiators and LUN lists) and
nothing else. The text comes from the network, so it is parsed with
defusedxml and any DTD is refused; a document that is not complete and
well-formed, or that lacks a unit we rely on, is an error, never a shorter
inventory.
"""

import dataclasses
import re

from defusedxml import ElementTree as safe_et
import defusedxml

from reconciler import exception

_CHAPTER = "./CMD_REQUEST/CHAPTER[@name='%s']/OBJECT[@name='%s']"
_EXIT_STATUS = re.compile(rb'^.*ExitStatus.*(\n|$)', re.MULTILINE)
# Sections holding one LUN/LDN pair each: normal and multi-target mode.
_LUN_SECTIONS = ('LUN/LD List', 'Target Information For Multi-Target Mode')


@dataclasses.dataclass(frozen=True)
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


def _pools(root):
    pools = set()
    for i, obj in enumerate(root.iterfind(_CHAPTER % ('Pool', 'Pool'))):
        where = 'pool #%d' % i
        (num,) = _units(_section(obj, 'Pool Detail Information', where),
                        ('Pool No.(h)',), where)
        pools.add(_number(num, 16, where))
    return frozenset(pools)


def _lds(root):
    lds = []
    for i, obj in enumerate(root.iterfind(
            _CHAPTER % ('Logical Disk', 'Logical Disk'))):
        where = 'logical disk #%d' % i
        ldn, os_type, name, capacity, pool, purpose, rpl = _units(
            _section(obj, 'LD Detail Information', where),
            ('LDN(h)', 'OS Type', 'LD Name', 'LD Capacity', 'Pool No.(h)',
             'Purpose', 'RPL Attribute'), where)
        lds.append(LogicalDisk(
            ldn=_number(ldn, 16, where), os_type=os_type, ld_name=name,
            capacity=_number(capacity, 10, where),
            pool=_number(pool, 16, where), purpose=purpose, rpl=rpl))
    return lds


def _ldsets(root):
    ldsets = []
    for protocol, initiator_section, initiator_unit in (
            ('FC', 'Path List', 'Path'),
            ('iSCSI', 'Initiator List', 'Initiator List')):
        object_name = 'LD Set(%s)' % protocol
        for i, obj in enumerate(root.iterfind(
                _CHAPTER % ('Access Control', object_name))):
            where = '%s #%d' % (object_name, i)
            platform, name = _units(
                _section(obj, '%s Information' % object_name, where),
                ('Platform', 'LD Set Name'), where)
            initiators = []
            for section in obj.iterfind(
                    "./SECTION[@name='%s']" % initiator_section):
                (initiator,) = _units(section, (initiator_unit,), where)
                # An FC path list also names array ports, as "(...)".
                if '(' not in initiator:
                    initiators.append(initiator)
            ldns = set()
            for section_name in _LUN_SECTIONS:
                for section in obj.iterfind(
                        "./SECTION[@name='%s']" % section_name):
                    lun, ldn = _units(section, ('LUN(h)', 'LDN(h)'), where)
                    # Multi-target mode lists unused targets with '-'.
                    if not (lun.startswith('-') or ldn.startswith('-')):
                        ldns.add(_number(ldn, 16, where))
            ldsets.append(LDSet('%s:%s' % (platform, name), protocol,
                                tuple(initiators), frozenset(ldns)))
    return ldsets


def _root(data):
    data = _EXIT_STATUS.sub(b'', data)
    try:
        root = safe_et.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as e:
        raise _bad('declares a DTD, entities or external references (%s); '
                   'refused' % type(e).__name__)
    except safe_et.ParseError as e:
        raise _bad('is not complete, well-formed XML (%s)' % e)
    if root.tag != 'REQUEST' or root.find('./CMD_REQUEST') is None:
        raise _bad('is not an iSMCLI REQUEST/CMD_REQUEST document (root %r)'
                   % root.tag)
    code = root.find('./CMD_REQUEST/RETURN_CODE')
    if code is not None and (code.text or '').strip() != '0':
        message = root.findtext('./CMD_REQUEST/RETURN_MSG') or ''
        raise _bad('reports RETURN_CODE %s: %s'
                   % ((code.text or '').strip(), message.strip()[:300]))
    return root


def parse(data):
    """A :class:`Configuration` from the bytes an inventory command printed."""
    root = _root(data)
    return Configuration(pools=_pools(root), lds=tuple(_lds(root)),
                         ldsets=tuple(_ldsets(root)))
