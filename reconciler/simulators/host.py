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

"""A host root laid out as a Linux host lays it out, and its commands.

``HostRoot`` builds /sys, /dev and /proc/mounts under a directory the way
the kernel and udev do (sysfs devices with their block directories and
holders, /sys/block and /sys/class symlinks into /sys/devices, by-path and
by-id links relative to /dev/disk/*), and answers the scan commands with
output in the shapes multipathd, iscsiadm, dmsetup and nvme-cli print. The
outputs are generated here from the host's state, not copied from anywhere.
The host unit reads it through its root prefix and runner, as the demo and
the tests do.

``execute`` is an os-brick ``execute``: it answers the commands os-brick's
iSCSI disconnect runs (iscsiadm, multipath, multipathd, blockdev, tee into
sysfs) and changes the host as the kernel, udev and multipathd would: a
deleted SCSI device loses its sysfs entries, /dev node and links, a logout
ends the session, a flushed map is gone.
"""

import json
import os
import shutil

from oslo_concurrency import processutils

from reconciler.host import runner as runner_mod


def _link(target, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text + '\n')


class HostRoot(object):
    """A host under directory ``root`` (which must exist)."""

    def __init__(self, root):
        self.root = root
        self.mounts = ['sysfs /sys sysfs rw,nosuid 0 0',
                       'proc /proc proc rw,nosuid 0 0']
        self.maps = []       # multipathd's maps
        self.sessions = {}   # (iqn, portal) -> {sid, disks: [(lun, dev)]}
        self.subsystems = []
        self.outputs = {}    # argv -> (code, text): overrides
        self.calls = []
        self.nodes = set()   # iscsiadm's node records: (iqn, portal)
        self._sid = 0
        self.executed = []   # os-brick's commands, as execute received them
        self.faults = {}     # argv prefix -> (exit code, stderr)
        for d in ('dev/disk/by-path', 'dev/disk/by-id',
                  'sys/class/scsi_device', 'sys/block'):
            os.makedirs(self.p(d), exist_ok=True)
        self.write_mounts()

    def p(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def write_mounts(self):
        _write(self.p('proc/mounts'), '\n'.join(self.mounts))

    def mount(self, device, point, fstype='xfs'):
        self.mounts.append('%s %s %s rw,relatime 0 0'
                           % (device, point.replace(' ', '\\040'), fstype))
        self.write_mounts()

    # -- SCSI disks ---------------------------------------------------------

    def add_disk(self, dev, hctl, wwid=None, iscsi=None, fc=None,
                 pci='0000:00:17.0', vendor='LIO-ORG', model='IBLOCK',
                 state='running', session=None):
        """A SCSI disk; ``iscsi=(portal, iqn, lun)`` or ``fc=(wwpn, lun)``.

        Without either it is a local disk (an ATA by-path link).
        """
        h = hctl.split(':')[0]
        if iscsi:
            sid = session or self._session(iscsi[1], iscsi[0])
            parent = 'platform/host%s/session%s/target%s' % (
                h, sid, hctl.rpartition(':')[0])
        else:
            parent = 'pci0000:00/%s/host%s/target%s' % (
                pci, h, hctl.rpartition(':')[0])
        device = 'sys/devices/%s/%s' % (parent, hctl)
        os.makedirs(self.p(device + '/block/%s/holders' % dev))
        _link('../../../' + hctl, self.p(device + '/block/%s/device' % dev))
        _write(self.p(device + '/delete'), '')
        _write(self.p('dev/' + dev), '')
        if iscsi:
            self._scsi_host(h)
        _write(self.p(device + '/vendor'), vendor.ljust(8))
        _write(self.p(device + '/model'), model.ljust(16))
        _write(self.p(device + '/state'), state)
        if wwid:
            _write(self.p(device + '/wwid'), 'naa.' + wwid[1:])
        _link('../../../devices/%s/%s' % (parent, hctl),
              self.p('sys/class/scsi_device/%s/device' % hctl))
        _link('../devices/%s/%s/block/%s' % (parent, hctl, dev),
              self.p('sys/block/' + dev))
        if iscsi:
            portal, iqn, lun = iscsi
            name = 'ip-%s-iscsi-%s-lun-%d' % (portal, iqn, lun)
            self.sessions[iqn, portal]['disks'].append((lun, dev))
        elif fc:
            wwpn, lun = fc
            name = 'pci-%s-fc-0x%s-lun-%d' % (pci, wwpn, lun)
        else:
            name = 'pci-%s-ata-%s' % (pci, h)
        _link('../../' + dev, self.p('dev/disk/by-path/' + name))
        for name in ('scsi-' + wwid, 'wwn-0x' + wwid[1:]) if wwid else ():
            # Paths of one LUN share these names: udev keeps one of them.
            if not os.path.lexists(self.p('dev/disk/by-id/' + name)):
                _link('../../' + dev, self.p('dev/disk/by-id/' + name))
        return dev

    def _scsi_host(self, h):
        """/sys/class/scsi_host/hostN, where os-brick finds session LUNs."""
        base = 'sys/devices/platform/host%s' % h
        if not os.path.lexists(self.p(base + '/scsi_host/host%s/device'
                                      % h)):
            _link('../../../host' + h,
                  self.p(base + '/scsi_host/host%s/device' % h))
            _link('../../devices/platform/host%s/scsi_host/host%s' % (h, h),
                  self.p('sys/class/scsi_host/host' + h))

    def add_fc_hba(self, host, wwpn, pci='0000:00:17.0', state='Online'):
        """An FC HBA (``/sys/class/fc_host/hostN``) on PCI device ``pci``:
        os-brick builds an FC LUN's by-path name from it.
        """
        base = 'sys/devices/pci0000:00/%s/host%s/fc_host/host%s' % (
            pci, host, host)
        for name, value in (('port_name', '0x' + wwpn),
                            ('node_name', '0x2' + wwpn[1:]),
                            ('port_state', state)):
            _write(self.p('%s/%s' % (base, name)), value)
        _link('../../devices/pci0000:00/%s/host%s/fc_host/host%s'
              % (pci, host, host), self.p('sys/class/fc_host/host%s' % host))

    def _session(self, iqn, portal):
        if (iqn, portal) not in self.sessions:
            self._sid += 1
            self.sessions[iqn, portal] = {'sid': str(self._sid),
                                          'disks': []}
        self.nodes.add((iqn, portal))
        return self.sessions[iqn, portal]['sid']

    def add_session(self, iqn, portal):
        """A logged-in session, with no LUN unless disks are added to it."""
        self._session(iqn, portal)

    def remove_disk(self, dev):
        """What a completed detach leaves: nothing of ``dev``."""
        for d in ('dev/disk/by-path', 'dev/disk/by-id'):
            for name in os.listdir(self.p(d)):
                if os.readlink(self.p(d + '/' + name)) == '../../' + dev:
                    os.unlink(self.p(d + '/' + name))
        for hctl in os.listdir(self.p('sys/class/scsi_device')):
            link = self.p('sys/class/scsi_device/%s/device' % hctl)
            if os.path.isdir(os.path.join(link, 'block', dev)):
                os.unlink(link)
                os.rmdir(os.path.dirname(link))
        block = os.path.realpath(self.p('sys/block/' + dev))
        os.unlink(self.p('sys/block/' + dev))
        for holder in os.listdir(os.path.join(block, 'holders')):
            slave = self.p('sys/block/%s/slaves/%s' % (holder, dev))
            if os.path.lexists(slave):
                os.unlink(slave)
        shutil.rmtree(os.path.dirname(os.path.dirname(block)))
        if os.path.exists(self.p('dev/' + dev)):
            os.unlink(self.p('dev/' + dev))
        for s in self.sessions.values():
            s['disks'] = [(lun, d) for lun, d in s['disks'] if d != dev]
        for m in self.maps:
            # multipathd drops the path of a deleted device; the map stays.
            m['paths'] = [d for d in m['paths'] if d != dev]

    def add_partition(self, dev, part):
        block = os.path.realpath(self.p('sys/block/' + dev))
        os.makedirs(os.path.join(block, part, 'holders'))

    # -- device mapper ------------------------------------------------------

    def add_dm(self, dm, name, uuid, slaves):
        base = 'sys/devices/virtual/block/' + dm
        os.makedirs(self.p(base + '/holders'))
        os.makedirs(self.p(base + '/slaves'))
        _write(self.p(base + '/dm/name'), name)
        _write(self.p(base + '/dm/uuid'), uuid)
        _link('../devices/virtual/block/' + dm, self.p('sys/block/' + dm))
        for slave in slaves:
            _link('../../' + slave, self.p(base + '/slaves/' + slave))
            _link('../../' + dm, os.path.join(
                os.path.realpath(self.p('sys/block/' + slave)), 'holders',
                dm))
        _link('../' + dm, self.p('dev/mapper/' + name))
        _write(self.p('dev/' + dm), '')

    def remove_map(self, name):
        """What ``multipath -f`` or ``multipathd del map`` leaves: no map."""
        [m] = [m for m in self.maps if m['name'] == name]
        self.maps.remove(m)
        dm = m['sysfs']
        for slave in os.listdir(self.p('sys/block/%s/slaves' % dm)):
            holder = os.path.join(os.path.realpath(
                self.p('sys/block/' + slave)), 'holders', dm)
            if os.path.lexists(holder):
                os.unlink(holder)
        shutil.rmtree(os.path.realpath(self.p('sys/block/' + dm)))
        os.unlink(self.p('sys/block/' + dm))
        for path in ('dev/mapper/' + name, 'dev/' + dm,
                     'dev/disk/by-id/dm-uuid-mpath-' + m['uuid']):
            if os.path.lexists(self.p(path)):
                os.unlink(self.p(path))

    def open_device(self, pid, dev, fd=3):
        """A process holding ``/dev/<dev>`` open (as qemu holds a disk)."""
        _link('/dev/' + dev, self.p('proc/%d/fd/%d' % (pid, fd)))

    def add_map(self, dm, name, wwid, paths, faulty=(), open_count=0,
                queue_if_no_path=False):
        """A multipath map over ``paths`` (SCSI disk names; none: what a
        disconnect whose flush failed leaves).
        """
        self.add_dm(dm, name, 'mpath-' + wwid, paths)
        _link('../../' + dm, self.p('dev/disk/by-id/dm-uuid-mpath-' + wwid))
        self.maps.append({'name': name, 'uuid': wwid, 'sysfs': dm,
                          'paths': list(paths), 'faulty': set(faulty),
                          'open': open_count,
                          'features': '1 queue_if_no_path'
                          if queue_if_no_path else '0'})

    def set_faulty(self, name, faulty):
        for m in self.maps:
            if m['name'] == name:
                m['faulty'] = set(faulty)

    def add_nvme(self, subsys, nqn, controllers, namespaces=(),
                 transport='tcp', address='traddr=10.0.0.5,trsvcid=4420'):
        """An NVMe subsystem as the kernel shows it with native multipath.

        ``namespaces``: names (``nvme1n2``: nsid 2, no UUID or NGUID) or
        ``(name, {'nsid': 2, 'uuid': ..., 'nguid': ...})``. Each is a head
        disk under the subsystem (``/sys/block/nvme1n2``) and a hidden path
        node (``nvme1c<ctrl>n2``) under every controller, both with the
        identifier attributes the kernel shows.
        """
        base = 'sys/devices/virtual/nvme-subsystem/' + subsys
        os.makedirs(self.p(base))
        _link('../../devices/virtual/nvme-subsystem/' + subsys,
              self.p('sys/class/nvme-subsystem/' + subsys))
        for ctrl in controllers:
            cbase = 'sys/devices/virtual/nvme-fabrics/ctl/' + ctrl
            os.makedirs(self.p(cbase), exist_ok=True)
            for attr, value in (('subsysnqn', nqn), ('transport', transport),
                                ('address', address.replace(' ', ',')),
                                ('state', 'live')):
                _write(self.p('%s/%s' % (cbase, attr)), value)
            _link('../../devices/virtual/nvme-fabrics/ctl/' + ctrl,
                  self.p('sys/class/nvme/' + ctrl))
            _link('../../nvme-fabrics/ctl/' + ctrl,
                  self.p(base + '/' + ctrl))
        for ns in namespaces:
            name, ids = ns if isinstance(ns, tuple) else (ns, {})
            nsid = ids.get('nsid', int(name.rpartition('n')[2]))
            attrs = self._namespace_attrs(subsys, nsid, ids.get('uuid'),
                                          ids.get('nguid'))
            os.makedirs(self.p(base + '/%s/holders' % name))
            _link('../devices/virtual/nvme-subsystem/%s/%s' % (subsys, name),
                  self.p('sys/block/' + name))
            _write(self.p('dev/' + name), '')
            paths = ['sys/devices/virtual/nvme-fabrics/ctl/%s/%sc%sn%d' % (
                ctrl, name.rpartition('n')[0], ctrl[len('nvme'):], nsid)
                for ctrl in controllers]
            for directory in [base + '/' + name] + paths:
                for attr, value in attrs.items():
                    _write(self.p('%s/%s' % (directory, attr)), value)
        self.subsystems.append({'Name': subsys, 'NQN': nqn, 'Paths': [
            {'Name': c, 'Transport': transport, 'Address': address,
             'State': 'live'} for c in controllers]})

    @staticmethod
    def _namespace_attrs(subsys, nsid, uuid=None, nguid=None):
        """``nsid``, ``uuid``, ``nguid`` and ``wwid`` as the kernel shows
        them: ``uuid`` and ``nguid`` only when the namespace has one (the
        NGUID standing in for a missing UUID), ``wwid`` from the UUID, else
        the NGUID, else vendor, serial, model and nsid.
        """
        attrs = {'nsid': str(nsid)}
        if nguid:
            attrs['nguid'] = nguid
        if uuid or nguid:
            attrs['uuid'] = uuid or nguid
        if uuid:
            attrs['wwid'] = 'uuid.' + uuid
        elif nguid:
            attrs['wwid'] = 'eui.' + nguid.replace('-', '')
        else:
            attrs['wwid'] = 'nvme.1b36-%s-%s-%08x' % (
                subsys.encode().hex(), b'Linux'.hex(), nsid)
        return attrs

    # -- the commands -------------------------------------------------------

    def multipathd_json(self):
        maps = []
        for m in self.maps:
            paths = [{'dev': dev, 'dev_t': '8:%d' % (16 * i),
                      'dm_st': 'failed' if dev in m['faulty'] else 'active',
                      'dev_st': 'running',
                      'chk_st': 'faulty' if dev in m['faulty'] else 'ready',
                      'checker': 'tur', 'pri': 50}
                     for i, dev in enumerate(m['paths'])]
            queue = m['features'] != '0'
            maps.append({
                'name': m['name'], 'uuid': m['uuid'], 'sysfs': m['sysfs'],
                'failback': 'immediate',
                'queueing': 'on' if queue else '5 chk',
                'paths': len(paths), 'write_prot': 'rw',
                'dm_st': 'active', 'features': m['features'],
                'hwhandler': '1 alua',
                'action': '', 'path_faults': 0, 'vend': 'LIO-ORG',
                'prod': 'IBLOCK', 'rev': '4.0', 'switch_grp': 0,
                'map_loads': 1, 'total_q_time': 0, 'q_timeouts': 0,
                # A map without paths has no path group either.
                'path_groups': [{'selector': 'service-time 0', 'pri': 50,
                                 'dm_st': 'active', 'group': 1,
                                 'paths': paths}] if paths else []})
        return json.dumps({'major_version': 0, 'minor_version': 1,
                           'maps': maps}, indent=3)

    def iscsiadm_p3(self):
        if not self.sessions:
            return 21, ''
        lines = ['iSCSI Transport Class version 2.0-870',
                 'version 2.1.8']
        by_target = {}
        for (iqn, portal), s in self.sessions.items():
            by_target.setdefault(iqn, []).append((portal, s))
        for iqn, sessions in by_target.items():
            lines.append('Target: %s (non-flash)' % iqn)
            for portal, s in sessions:
                lines += [
                    '\tCurrent Portal: %s,1' % portal,
                    '\tPersistent Portal: %s,1' % portal,
                    '\t\t**********', '\t\tInterface:', '\t\t**********',
                    '\t\tIface Name: default',
                    '\t\tIface Transport: tcp',
                    '\t\tIface Initiatorname: iqn.1994-05.com.redhat:c1',
                    '\t\tSID: %s' % s['sid'],
                    '\t\tiSCSI Connection State: LOGGED IN',
                    '\t\tiSCSI Session State: LOGGED_IN',
                    '\t\tInternal iscsid Session State: NO CHANGE',
                    '\t\t************************',
                    '\t\tAttached SCSI devices:',
                    '\t\t************************',
                    '\t\tHost Number: %s\tState: running' % s['sid']]
                for lun, dev in sorted(s['disks']):
                    lines += ['\t\tscsi%s Channel 00 Id 0 Lun: %d'
                              % (s['sid'], lun),
                              '\t\t\tAttached scsi disk %s\t\tState: running'
                              % dev]
        return 0, '\n'.join(lines) + '\n'

    def dmsetup_open(self):
        if not self.maps:
            return 'No devices found\n'
        return ''.join('%s:%d\n' % (m['name'], m['open']) for m in self.maps)

    def nvme_json(self):
        return json.dumps([{'HostNQN': 'nqn.2014-08.org.nvmexpress:uuid:1',
                            'HostID': '1', 'Subsystems': self.subsystems}],
                          indent=2)

    def install_commands(self, directory):
        """multipathd, iscsiadm and nvme scripts answering as ``runner``.

        For the production runner in a process of its own: put
        ``directory`` first on its PATH. The outputs are those of now.
        """
        os.makedirs(directory, exist_ok=True)
        for argv in runner_mod.COMMANDS:
            code, out = self.runner(*argv)
            recorded = os.path.join(directory, '%s.out' % argv[0])
            with open(recorded, 'w') as f:
                f.write(out)
            script = os.path.join(directory, argv[0])
            with open(script, 'w') as f:
                f.write('#!/bin/sh\n'
                        'if [ "$*" = "%s" ]; then cat %s; exit %d; fi\n'
                        'echo "not allowed: $0 $*" >&2; exit 99\n'
                        % (' '.join(argv[1:]), recorded, code))
            os.chmod(script, 0o755)
        return directory

    def runner(self, *argv):
        self.calls.append(argv)
        if argv in self.outputs:
            return self.outputs[argv]
        if argv == runner_mod.MULTIPATH_MAPS:
            return 0, self.multipathd_json()
        if argv == runner_mod.ISCSI_SESSIONS:
            return self.iscsiadm_p3()
        if argv == runner_mod.NVME_SUBSYSTEMS:
            return 0, self.nvme_json()
        if argv == runner_mod.DM_OPEN_COUNTS:
            return 0, self.dmsetup_open()
        raise AssertionError('unexpected command %s' % (argv,))

    # -- os-brick's commands ------------------------------------------------

    def fail(self, *prefix, code=1, stderr='simulated failure'):
        """Make every command starting with ``prefix`` exit with ``code``."""
        self.faults[prefix] = (code, stderr)

    def execute(self, *cmd, **kwargs):
        """An os-brick ``execute``: ``(stdout, stderr)`` or
        ProcessExecutionError, as oslo.concurrency's would.
        """
        cmd = tuple(str(c) for c in cmd)
        self.executed.append(cmd)
        code, out, err = self._answer(cmd, kwargs.get('process_input'))
        allowed = kwargs.get('check_exit_code', True)
        if allowed is True:
            allowed = [0]
        elif isinstance(allowed, int) and allowed is not False:
            allowed = [allowed]
        if allowed is not False and code not in allowed:
            raise processutils.ProcessExecutionError(
                stdout=out, stderr=err, exit_code=code, cmd=' '.join(cmd))
        return out, err

    def _answer(self, cmd, stdin):
        for prefix, (code, err) in self.faults.items():
            if cmd[:len(prefix)] == prefix:
                return code, '', err
        handler = {'iscsiadm': self._iscsiadm, 'multipath': self._multipath,
                   'multipathd': self._multipathd,
                   'blockdev': self._blockdev, 'tee': self._tee,
                   'dd': self._dd,
                   '/lib/udev/scsi_id': self._scsi_id}.get(cmd[0])
        if handler is None:
            return 127, '', 'not simulated: %s' % ' '.join(cmd)
        return handler(cmd[1:], stdin)

    def _iscsiadm(self, args, stdin):
        if args == ('-m', 'node'):
            if not self.nodes:
                return 21, '', 'iscsiadm: No records found'
            return 0, ''.join('%s,1 %s\n' % (portal, iqn)
                              for iqn, portal in sorted(self.nodes)), ''
        if args == ('-m', 'session'):
            if not self.sessions:
                return 21, '', 'iscsiadm: No active sessions.'
            return 0, ''.join(
                'tcp: [%s] %s,1 %s (non-flash)\n' % (s['sid'], portal, iqn)
                for (iqn, portal), s in self.sessions.items()), ''
        if args[:2] == ('-m', 'node') and args[2] == '-T' and args[4] == '-p':
            key, rest = (args[3], args[5]), args[6:]
            if key not in self.nodes:
                return 21, '', 'iscsiadm: No records found'
            if rest[:2] == ('--op', 'update'):
                return 0, '', ''
            if rest == ('--logout',):
                if key not in self.sessions:
                    return 21, '', 'iscsiadm: No matching sessions found'
                # The kernel removes the LUNs of the session with it.
                for _lun, dev in list(self.sessions[key]['disks']):
                    self.remove_disk(dev)
                del self.sessions[key]
                return 0, 'Logout of [sid: ...] successful.\n', ''
            if rest == ('--op', 'delete'):
                self.nodes.discard(key)
                return 0, '', ''
        return 127, '', 'not simulated: iscsiadm %s' % ' '.join(args)

    def _map(self, name):
        """A map by its name or a /dev path of it (dm-uuid link, dm-N)."""
        if name.startswith('/dev/'):
            name = os.path.basename(os.path.realpath(self.p(name)))
        return next((m for m in self.maps
                     if name in (m['name'], m['sysfs'])), None)

    def _disk(self, path):
        """The SCSI disk a /dev path names, and its map (or None)."""
        if not os.path.exists(self.p(path)):
            return None, None
        dev = os.path.basename(os.path.realpath(self.p(path)))
        return dev, next((m for m in self.maps if dev in m['paths']), None)

    def _dd(self, args, stdin):
        path = args[0].removeprefix('if=') if args else ''
        dev, m = self._disk(path)
        if dev is None:
            return 1, '', 'dd: failed to open %s' % path
        if (m and dev in m['faulty']) or (
                self._map(path) and set(self._map(path)['paths'])
                <= self._map(path)['faulty']):
            return 1, '', 'dd: error reading %s: Input/output error' % path
        return 0, '', '1+0 records in\n1+0 records out\n'

    def _scsi_id(self, args, stdin):
        dev, _m = self._disk(args[-1]) if args else (None, None)
        wwid_file = self.p('sys/block/%s/device/wwid' % dev)
        if dev is None or not os.path.exists(wwid_file):
            return 1, '', ''
        with open(wwid_file) as f:
            return 0, '3' + f.read().strip()[len('naa.'):] + '\n', ''

    def _multipath(self, args, stdin):
        if args[:1] == ('-f',) and len(args) == 2:
            m = self._map(args[1])
            if m is None:
                return 1, '', '%s: no such map' % args[1]
            busy = m['open'] or os.listdir(self.p('sys/block/%s/holders'
                                                  % m['sysfs']))
            if busy or (m['paths'] and set(m['paths']) <= m['faulty']):
                # In use, or queueing I/O with no path to write it to.
                return 1, '', '%s: map in use' % args[1]
            self.remove_map(m['name'])
            return 0, '', ''
        return 127, '', 'not simulated: multipath %s' % ' '.join(args)

    def _multipathd(self, args, stdin):
        if args == ('show', 'status'):
            return 0, 'path checker states:\nup %d\n' % sum(
                len(m['paths']) for m in self.maps), ''
        if args == ('show', 'paths', 'raw', 'format', '%d'):
            return 0, ''.join('%s\n' % d for m in self.maps
                              for d in m['paths']), ''
        if args[:2] == ('del', 'map') and len(args) == 3:
            m = self._map(args[2])
            if m is None:
                return 1, 'fail\n', ''
            self.remove_map(m['name'])
            return 0, 'ok\n', ''
        if args[:2] == ('del', 'path') and len(args) == 3:
            for m in self.maps:
                m['paths'] = [d for d in m['paths']
                              if '/dev/' + d != args[2]]
            return 0, 'ok\n', ''
        return 127, '', 'not simulated: multipathd %s' % ' '.join(args)

    def _blockdev(self, args, stdin):
        if args[:1] == ('--flushbufs',) and len(args) == 2:
            if not os.path.exists(self.p(args[1])):
                return 1, '', 'blockdev: cannot open %s' % args[1]
            return 0, '', ''
        return 127, '', 'not simulated: blockdev %s' % ' '.join(args)

    def _tee(self, args, stdin):
        parts = args[1].split('/') if len(args) == 2 else ()
        if (args[:1] == ('-a',) and len(parts) == 6
                and parts[:3] == ['', 'sys', 'block']
                and parts[4:] == ['device', 'delete']):
            if not os.path.exists(self.p(args[1])):
                return 1, '', 'tee: %s: No such file or directory' % args[1]
            if (stdin or '').strip() == '1':
                self.remove_disk(parts[3])
            return 0, stdin or '', ''
        return 127, '', 'not simulated: tee %s' % ' '.join(args)
