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

"""The host's view: SCSI disks, multipath maps, iSCSI sessions, NVMe-oF.

To the host what a driver is to an array: it lists and decodes, and knows
nothing of Cinder. Files are read under a root prefix (``/`` in production,
a laid-out directory in tests) and the three read-only commands run through
an injected runner, so tests exercise exactly this code. Nothing here writes
to the host: no rescan, no login, no flush, no delete.

Where os-brick knows the answer it is asked: the search path of its iSCSI
and FC connectors (where they look for devices), the WWID prefixes of
``linuxscsi``. A missing or malformed part of the view fails the whole scan,
and so does a view whose parts disagree (a disk a session names that sysfs
does not show, a multipath map multipathd does not list...).
"""

import json
import os
import re
import time
import uuid as uuid_lib

from os_brick.initiator.connectors import fibre_channel
from os_brick.initiator.connectors import iscsi
from os_brick.initiator import linuxscsi
from oslo_log import log as logging

from reconciler import exception
from reconciler.host import runner as runner_mod
from reconciler.host import view

LOG = logging.getLogger(__name__)

# iscsiadm's exit code when there is no session (ISCSI_ERR_NO_OBJS_FOUND).
ISCSI_NO_SESSIONS = 21
# Mount points that make a device the host's own (boot from SAN).
SYSTEM_MOUNTS = frozenset(('/', '/boot', '/boot/efi', '/usr', '/var'))
# by-path names udev gives iSCSI and FC LUNs (partitions end in -partN).
_ISCSI_LINK = re.compile(
    r'^ip-(?P<portal>.+?)-iscsi-(?P<iqn>.+)-lun-(?P<lun>\d+)$')
_FC_LINK = re.compile(r'-fc-0x(?P<wwpn>[0-9a-fA-F]{16})-lun-(?P<lun>\d+)$')
_HCTL = re.compile(r'^\d+:\d+:\d+:\d+$')
_NAMESPACE = re.compile(r'^nvme\d+n\d+$')
_MAX_DEPTH = 8  # holder chains (mpath -> LVM -> crypt ...) are short


def _refusing_execute(*args, **kwargs):
    raise exception.InventoryError('os-brick tried to run a command during '
                                   'a read-only scan')


def search_paths():
    """Where os-brick's iSCSI and FC connectors look for their devices."""
    return sorted({
        cls(None, execute=_refusing_execute).get_search_path()
        for cls in (iscsi.ISCSIConnector,
                    fibre_channel.FibreChannelConnector)})


def sysfs_wwid(raw):
    """A sysfs ``wwid`` (``naa.600...``) as multipath and by-id name it."""
    raw = raw.strip()
    for prefix, code in linuxscsi.LinuxSCSI.WWN_TYPES.items():
        if raw.startswith(prefix):
            return code + raw[len(prefix):]
    return raw or None


def normalise_wwn(value):
    return str(value).lower().replace(':', '').removeprefix('0x')


class HostInventory(object):
    """One read-only scan of the host under ``root``."""

    def __init__(self, root='/', runner=None, protocols=(view.ISCSI, view.FC),
                 multipath=True):
        self.root = root
        self.runner = runner
        self.protocols = frozenset(protocols)
        self.multipath = multipath

    # -- files --------------------------------------------------------------

    def _path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def _listdir(self, path, missing_ok=True):
        try:
            return sorted(os.listdir(self._path(path)))
        except FileNotFoundError:
            if missing_ok:
                return []
            raise exception.InventoryError('%s is missing' % path)
        except OSError as e:
            raise exception.InventoryError('cannot list %s: %s'
                                           % (path, type(e).__name__))

    def _read(self, path, default=''):
        try:
            with open(self._path(path)) as f:
                return f.read(65536).strip()
        except FileNotFoundError:
            return default
        except OSError as e:
            raise exception.InventoryError('cannot read %s: %s'
                                           % (path, type(e).__name__))

    def _links(self, directory):
        """``{device name: [link names]}`` of a /dev/disk/by-* directory."""
        found = {}
        for name in self._listdir(directory):
            try:
                target = os.readlink(self._path(os.path.join(directory,
                                                             name)))
            except OSError:
                continue  # not a symlink: udev never leaves such a thing
            found.setdefault(os.path.basename(target), []).append(name)
        return found

    def _holders(self, dev):
        return tuple(self._listdir('/sys/block/%s/holders' % dev))

    def _partitions(self, dev):
        return [p for p in self._listdir('/sys/block/%s' % dev)
                if p.startswith(dev) and p != dev]

    def _mount_table(self):
        text = self._read('/proc/mounts', default=None)
        if text is None:
            raise exception.InventoryError('/proc/mounts is missing')
        table = {}
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 2:
                raise exception.InventoryError('/proc/mounts: malformed '
                                               'line %r' % line[:80])
            table.setdefault(fields[0], []).append(
                fields[1].replace('\\040', ' '))
        return table

    def _dm_names(self):
        return {dm: self._read('/sys/block/%s/dm/name' % dm)
                for dm in self._listdir('/sys/block') if dm.startswith('dm-')}

    def _usage(self, dev, mounts, dm_names, depth=0):
        """Holders and mount points of ``dev``, through its holders too."""
        holders, points = [], []
        names = [dev] + self._partitions(dev)
        for name in names:
            points += mounts.get('/dev/' + name, [])
            if name in dm_names:
                points += mounts.get('/dev/mapper/' + dm_names[name], [])
            sub = (self._holders(name) if name == dev else tuple(
                self._listdir('/sys/block/%s/%s/holders' % (dev, name))))
            for holder in sub:
                holders.append(holder)
                if depth < _MAX_DEPTH:
                    more_h, more_p = self._usage(holder, mounts, dm_names,
                                                 depth + 1)
                    holders += more_h
                    points += more_p
        return holders, points

    # -- commands -----------------------------------------------------------

    def _run(self, argv, ok_codes=(0,)):
        code, out = self.runner(*argv)
        if code not in ok_codes:
            raise exception.InventoryError('%s exited with %s'
                                           % (' '.join(argv), code))
        return code, out

    def _json(self, argv, text):
        try:
            return json.loads(text)
        except ValueError:
            raise exception.InventoryError('%s: output is not JSON (%d '
                                           'bytes; truncated?)'
                                           % (' '.join(argv), len(text)))

    # -- the parts of a scan ------------------------------------------------

    def scsi_disks(self, mounts, dm_names):
        by_path = {}
        for directory in search_paths():
            for dev, names in self._links(directory).items():
                by_path.setdefault(dev, []).extend(names)
        by_id = self._links('/dev/disk/by-id')
        disks = []
        for hctl in self._listdir('/sys/class/scsi_device'):
            if not _HCTL.match(hctl):
                continue
            base = '/sys/class/scsi_device/%s/device' % hctl
            blocks = self._listdir(base + '/block')
            if not blocks:
                continue  # not a disk (enclosure, array controller LUN)
            dev = blocks[0]
            key, portal = self._decode(by_path.get(dev, ()))
            holders, points = self._usage(dev, mounts, dm_names)
            disks.append(view.ScsiDisk(
                name=dev, hctl=hctl, key=key, portal=portal,
                wwid=sysfs_wwid(self._read(base + '/wwid')),
                vendor=self._read(base + '/vendor'),
                model=self._read(base + '/model'),
                state=self._read(base + '/state'),
                links=tuple(sorted(by_path.get(dev, [])
                                   + by_id.get(dev, []))),
                holders=tuple(dict.fromkeys(holders)),
                mounts=tuple(dict.fromkeys(points))))
        return disks

    def _decode(self, links):
        """The LUN a disk's by-path links name, and its portal."""
        for link in links:
            m = _ISCSI_LINK.match(link)
            if m and view.ISCSI in self.protocols:
                return (view.TargetKey(view.ISCSI, m['iqn'], int(m['lun'])),
                        m['portal'])
            m = _FC_LINK.search(link)
            if m and view.FC in self.protocols:
                return (view.TargetKey(view.FC, m['wwpn'].lower(),
                                       int(m['lun'])), None)
        return None, None

    def multipath_maps(self, mounts, dm_names):
        if not self.multipath:
            return []
        argv = runner_mod.MULTIPATH_MAPS
        _code, out = self._run(argv)
        body = self._json(argv, out)
        if not isinstance(body, dict) or not isinstance(body.get('maps'),
                                                        list):
            raise exception.InventoryError('%s: no "maps" list'
                                           % ' '.join(argv))
        opened = self._open_counts() if body['maps'] else {}
        maps = []
        try:
            for m in body['maps']:
                paths = tuple(
                    view.MapPath(dev=p['dev'], dm_st=p.get('dm_st', ''),
                                 chk_st=p.get('chk_st', ''),
                                 dev_st=p.get('dev_st', ''))
                    for group in m.get('path_groups') or ()
                    for p in group['paths'])
                holders, points = self._usage(m['sysfs'], mounts, dm_names)
                maps.append(view.MultipathMap(
                    name=m['name'], wwid=m['uuid'], dm=m['sysfs'],
                    paths=paths, holders=tuple(dict.fromkeys(holders)),
                    mounts=tuple(dict.fromkeys(points)),
                    open_count=opened.get(m['name']),
                    features=str(m.get('features') or '')))
        except (KeyError, TypeError, AttributeError) as e:
            raise exception.InventoryError('%s: malformed map (%s)'
                                           % (' '.join(argv), e))
        return maps

    def _open_counts(self):
        """``{dm name: open count}`` of ``dmsetup info -c``."""
        argv = runner_mod.DM_OPEN_COUNTS
        _code, out = self._run(argv)
        counts = {}
        for line in out.splitlines():
            line = line.strip()
            if not line or line == 'No devices found':
                continue
            name, sep, count = line.rpartition(':')
            if not sep or not count.isdigit():
                raise exception.InventoryError('%s: unexpected line %r'
                                               % (' '.join(argv), line[:80]))
            counts[name] = int(count)
        return counts

    def iscsi_sessions(self):
        if view.ISCSI not in self.protocols:
            return []
        argv = runner_mod.ISCSI_SESSIONS
        code, out = self._run(argv, ok_codes=(0, ISCSI_NO_SESSIONS))
        if code == ISCSI_NO_SESSIONS:
            return []
        return parse_iscsi_sessions(out)

    def nvme_subsystems(self, mounts, dm_names):
        if view.NVME not in self.protocols:
            return [], []
        argv = runner_mod.NVME_SUBSYSTEMS
        _code, out = self._run(argv)
        if not out.strip():
            return [], []  # nvme-cli prints nothing without subsystems
        subsystems = []
        for entry in _nvme_entries(self._json(argv, out)):
            name = entry['Name']
            found = set()
            for ctrl, _t, _a in entry['controllers']:
                found.update(n for n in self._listdir('/sys/class/nvme/'
                                                      + ctrl)
                             if _NAMESPACE.match(n))
            found.update(n for n in self._listdir(
                '/sys/class/nvme-subsystem/' + name) if _NAMESPACE.match(n))
            subsystems.append(view.NvmeSubsystem(
                name=name, nqn=entry['NQN'],
                controllers=entry['controllers'],
                namespaces=tuple(sorted(found))))
        namespaces = []
        for sub in subsystems:
            for ns in sub.namespaces:
                holders, points = self._usage(ns, mounts, dm_names)
                namespaces.append(view.Namespace(
                    name=ns, nqn=sub.nqn,
                    holders=tuple(dict.fromkeys(holders)),
                    mounts=tuple(dict.fromkeys(points)),
                    **self._namespace_ids(ns)))
        return subsystems, namespaces

    def _namespace_ids(self, ns):
        """The identifiers the kernel shows in /sys/block/<ns>: ``wwid``,
        ``uuid``, ``nguid`` (each only when the namespace has one) and
        ``nsid``.
        """
        base = '/sys/block/%s/' % ns
        found = {}
        for attr in ('uuid', 'nguid'):
            value = self._read(base + attr).lower()
            try:
                found[attr] = str(uuid_lib.UUID(value)) if value else None
            except ValueError:
                raise exception.InventoryError('%s%s: not a UUID: %r'
                                               % (base, attr, value[:40]))
        nsid = self._read(base + 'nsid')
        if nsid and not nsid.isdigit():
            raise exception.InventoryError('%snsid: not a number: %r'
                                           % (base, nsid[:20]))
        return dict(found, nsid=int(nsid) if nsid else None,
                    wwid=self._read(base + 'wwid') or None)

    def scan(self):
        """The whole view, or InventoryError: never a part of it."""
        mounts = self._mount_table()
        dm_names = self._dm_names()
        disks = self.scsi_disks(mounts, dm_names)
        maps = self.multipath_maps(mounts, dm_names)
        sessions = self.iscsi_sessions()
        nvme, namespaces = self.nvme_subsystems(mounts, dm_names)
        self._check_consistent(disks, maps, sessions, nvme, namespaces,
                               dm_names)
        boot = {d.name for d in disks + namespaces
                if SYSTEM_MOUNTS & set(d.mounts)}
        for m in maps:
            if m.dm in boot or SYSTEM_MOUNTS & set(m.mounts):
                boot |= {m.dm} | {p.dev for p in m.paths}
        LOG.debug('Host scan: %d SCSI disks, %d maps, %d iSCSI sessions, '
                  '%d NVMe subsystems', len(disks), len(maps), len(sessions),
                  len(nvme))
        return view.HostView(
            disks=tuple(disks), maps=tuple(maps), sessions=tuple(sessions),
            nvme=tuple(nvme), namespaces=tuple(namespaces),
            boot=frozenset(boot), fetched_at=time.time())

    def _check_consistent(self, disks, maps, sessions, nvme, namespaces,
                          dm_names):
        """Fail the scan unless sysfs and the commands show the same host.

        Every disk a session or a map names is a disk sysfs shows, with
        the LUN the session says; every iSCSI disk of sysfs is in a session,
        every multipath map of device-mapper listed by multipathd, every
        NVMe subsystem of sysfs listed by nvme-cli. A part missing (sysfs
        not mounted, a class directory unreadable, a command's output cut
        short) otherwise reads as devices gone: missing_device for every
        attachment, a leftover resolved.
        """
        problems = []
        by_name = {d.name: d for d in disks}
        in_sessions = set()
        for s in sessions:
            for lun, dev in s.disks:
                in_sessions.add(dev)
                d = by_name.get(dev)
                if d is None:
                    problems.append('iscsiadm names disk %s (%s lun %d), '
                                    'sysfs has no such SCSI disk'
                                    % (dev, s.target, lun))
                elif d.key != view.TargetKey(view.ISCSI, s.target, lun):
                    problems.append('iscsiadm names disk %s %s lun %d, its '
                                    'by-path link %s' % (
                                        dev, s.target, lun,
                                        'names %s' % d.key if d.key
                                        else 'is missing'))
        if view.ISCSI in self.protocols:
            problems += ['sysfs shows iSCSI disk %s (%s), no iscsiadm '
                         'session lists it' % (d.name, d.key)
                         for d in disks if d.key and d.key.protocol ==
                         view.ISCSI and d.name not in in_sessions]
        known = set(by_name) | {ns.name for ns in namespaces}
        for m in maps:
            if m.dm not in dm_names:
                problems.append('multipathd names map %s on %s, sysfs has '
                                'no such device' % (m.name, m.dm))
            # A SCSI path is a disk of the scan; another (an NVMe
            # namespace not scanned, a DASD) a block device at least.
            problems += ['multipathd names path %s of map %s, sysfs has no '
                         'such disk' % (p.dev, m.name)
                         for p in m.paths if p.dev not in known and (
                             p.dev.startswith('sd') or not os.path.exists(
                                 self._path('/sys/block/' + p.dev)))]
        if self.multipath:
            listed = {m.dm for m in maps}
            problems += [
                '%s (%s) is a multipath map in device-mapper that '
                'multipathd does not list' % (dm, name)
                for dm, name in sorted(dm_names.items())
                if dm not in listed and self._read(
                    '/sys/block/%s/dm/uuid' % dm).startswith('mpath-')]
        if view.NVME in self.protocols:
            named = {s.name for s in nvme}
            problems += ['sysfs shows %s, nvme list-subsys does not list '
                         'it' % name for name in self._listdir(
                             '/sys/class/nvme-subsystem') if name not in
                         named]
            problems += ['nvme list-subsys names controller %s of %s, '
                         'sysfs has no such controller' % (c, s.name)
                         for s in nvme for c, _t, _a in s.controllers
                         if not os.path.isdir(self._path('/sys/class/nvme/'
                                                         + c))]
        if problems:
            raise exception.InventoryError(
                'inconsistent host view (%d problems): %s' % (
                    len(problems), '; '.join(problems[:5])
                    + ('; ...' if len(problems) > 5 else '')))


_TARGET = re.compile(r'^Target:\s+(?P<iqn>\S+)')
_PORTAL = re.compile(r'^Current Portal:\s+(?P<portal>\S+?)(?:,\d+)?$')
_SID = re.compile(r'^SID:\s+(?P<sid>\d+)$')
_STATE = re.compile(r'^iSCSI Session State:\s+(?P<state>\S+)')
_LUN = re.compile(r'^scsi\d+ Channel \d+ Id \d+ Lun: (?P<lun>\d+)$')
_DISK = re.compile(r'^Attached scsi disk (?P<dev>\S+)\s+State:')


def parse_iscsi_sessions(text):
    """``iscsiadm -m session -P 3`` as sessions with their attached disks.

    Every session needs its target, current portal and SID, and each
    attached disk a LUN line before it; anything else means the output is
    not what iscsiadm prints (or was cut short) and fails the scan.
    """
    sessions, current, lun = [], None, None

    def close():
        if current is None:
            return
        if not all(current.get(k) for k in ('target', 'portal', 'sid')):
            raise exception.InventoryError(
                'iscsiadm -m session -P 3: incomplete session of target %s'
                % current.get('target'))
        sessions.append(view.IscsiSession(
            sid=current['sid'], target=current['target'],
            portal=current['portal'], state=current.get('state', ''),
            disks=tuple(current['disks'])))

    for raw in text.splitlines():
        line = raw.strip()
        m = _TARGET.match(line)
        if m:
            close()
            current, lun = {'target': m['iqn'], 'disks': []}, None
            continue
        if current is None:
            continue  # the version banner
        if line.startswith('Current Portal:'):
            m = _PORTAL.match(line)
            if current.get('sid'):
                # A second session to the same target (another portal).
                close()
                current = {'target': current['target'], 'disks': []}
                lun = None
            current['portal'] = m['portal'] if m else None
        elif _SID.match(line):
            current['sid'] = _SID.match(line)['sid']
        elif _STATE.match(line):
            current['state'] = _STATE.match(line)['state']
        elif _LUN.match(line):
            lun = int(_LUN.match(line)['lun'])
        elif _DISK.match(line):
            if lun is None:
                raise exception.InventoryError(
                    'iscsiadm -m session -P 3: a disk without its LUN')
            current['disks'].append((lun, _DISK.match(line)['dev']))
    close()
    return sessions


def _nvme_entries(body):
    """Subsystems of ``nvme list-subsys -o json`` (nvme-cli 1.x and 2.x).

    nvme-cli 2 prints a list of hosts, each with ``Subsystems``; 1.x prints
    one object whose ``Subsystems`` list carries each subsystem's ``Paths``
    either in its own entry or in the entry that follows it.
    """
    if isinstance(body, list):
        raw = [s for host in body for s in (host.get('Subsystems') or ())]
    elif isinstance(body, dict):
        raw = list(body.get('Subsystems') or ())
    else:
        raise exception.InventoryError('nvme list-subsys: unexpected JSON')
    entries = []
    try:
        for item in raw:
            if 'NQN' in item:
                entries.append({'Name': item['Name'], 'NQN': item['NQN'],
                                'paths': list(item.get('Paths') or ())})
            elif 'Paths' in item and entries:
                entries[-1]['paths'] += item['Paths']
            else:
                raise KeyError('NQN')
        for e in entries:
            e['controllers'] = tuple(
                (p['Name'], p.get('Transport', ''), p.get('Address', ''))
                for p in e.pop('paths'))
    except (KeyError, TypeError, AttributeError) as e:
        raise exception.InventoryError('nvme list-subsys: malformed '
                                       'subsystem (%s)' % e)
    return entries
