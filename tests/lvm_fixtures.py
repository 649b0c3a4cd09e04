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

"""Real LVM and a real iSCSI target daemon, for the LVM driver's tests.

LVM's own tools create the physical volume and the group. The logical
volumes are written as LVM metadata (``vgcfgrestore``): without the
device-mapper kernel driver (containers, some VMs) ``lvcreate`` can make
linear volumes but no snapshot or thin volume, while ``lvs`` reads any
metadata. Everything runs with ``LVM_SYSTEM_DIR`` pointing at a private
lvm.conf (the driver's ``lvm_conf_file``) that sees only our loop device,
never activates anything and keeps no metadata archives.

:class:`TgtDaemon` runs tgtd (Debian package tgt, Cinder's default target
helper) in user space, its portal on 127.0.0.1 only.
"""

import dataclasses
import fcntl
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time

import fixtures

EXTENT_MIB = 4

_LVM_CONF = """\
devices {
    filter = [ "a|^%(device)s$|", "r|.*|" ]
    use_devicesfile = 0
}
global {
    activation = 0
}
backup {
    backup = 0
    archive = 0
}
"""


@dataclasses.dataclass
class LV:
    """One logical volume: ``linear``, ``snapshot`` (thick, of ``origin``),
    ``thin`` (in ``pool``, a thin snapshot when ``origin`` is set) or
    ``thin-pool``.
    """

    name: str
    type: str = 'linear'
    origin: str | None = None
    pool: str | None = None
    extents: int = 1


def available():
    """None if loop devices and LVM can be used here, else why not."""
    if os.geteuid() != 0:
        return 'loop devices need root'
    for tool in ('losetup', 'pvcreate', 'vgcfgrestore', 'lvs'):
        if shutil.which(tool) is None:
            return '%s is not installed (Debian package lvm2)' % tool
    if not os.path.exists('/dev/loop-control'):
        return 'no /dev/loop-control: the kernel offers no loop devices'
    with tempfile.NamedTemporaryFile() as image:
        image.truncate(1 << 20)
        proc = subprocess.run(['losetup', '--find', '--show', image.name],
                              capture_output=True, text=True)
        if proc.returncode:
            return 'losetup cannot attach a loop device: %s' % (
                proc.stderr.strip())
        subprocess.run(['losetup', '--detach', proc.stdout.strip()],
                       check=True)
    return None


def _lvm_id():
    chars = string.ascii_letters + string.digits
    return '-'.join(''.join(random.choice(chars) for _ in range(n))
                    for n in (6, 4, 4, 4, 4, 4, 6))


def _block(name, status, segment, flags=()):
    body = '\n'.join('\t\t\t\t%s = %s' % kv for kv in segment)
    return ('\t\t%s {\n\t\t\tid = "%s"\n\t\t\tstatus = [%s]\n'
            '\t\t\tflags = [%s]\n\t\t\tsegment_count = 1\n'
            '\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n%s\n\t\t\t}\n\t\t}\n'
            % (name, _lvm_id(), ', '.join('"%s"' % s for s in status),
               ', '.join('"%s"' % f for f in flags), body))


class _Allocator(object):
    def __init__(self):
        self.next = 0

    def linear(self, name, extents, visible=True):
        status = ['READ', 'WRITE'] + (['VISIBLE'] if visible else [])
        block = _block(name, status, [
            ('extent_count', extents), ('type', '"striped"'),
            ('stripe_count', 1), ('stripes', '[ "pv0", %d ]' % self.next)])
        self.next += extents
        return block


def render(lvs):
    """The ``logical_volumes`` entries of LVM metadata for ``lvs``."""
    alloc = _Allocator()
    device_ids = {}
    out = []
    for n, lv in enumerate(lvs):
        if lv.type == 'linear':
            out.append(alloc.linear(lv.name, lv.extents))
        elif lv.type == 'snapshot':
            out.append(alloc.linear(lv.name, lv.extents))
            out.append(_block('snapshot%d' % n, ['READ'], [
                ('extent_count', lv.extents), ('type', '"snapshot"'),
                ('chunk_size', 8), ('origin', '"%s"' % lv.origin),
                ('cow_store', '"%s"' % lv.name)]))
        elif lv.type == 'thin-pool':
            out.append(_block(lv.name, ['READ', 'WRITE', 'VISIBLE'], [
                ('extent_count', lv.extents), ('type', '"thin-pool"'),
                ('metadata', '"%s_tmeta"' % lv.name),
                ('pool', '"%s_tdata"' % lv.name),
                ('transaction_id', len(lvs)), ('chunk_size', 128),
                ('discards', '"passdown"'), ('zero_new_blocks', 1)]))
            out.append(alloc.linear(lv.name + '_tmeta', 1, visible=False))
            out.append(alloc.linear(lv.name + '_tdata', lv.extents,
                                    visible=False))
        elif lv.type == 'thin':
            device_ids[lv.name] = len(device_ids) + 1
            segment = [('extent_count', lv.extents), ('type', '"thin"'),
                       ('thin_pool', '"%s"' % lv.pool),
                       ('transaction_id', device_ids[lv.name] - 1),
                       ('device_id', device_ids[lv.name])]
            if lv.origin:
                segment.append(('origin', '"%s"' % lv.origin))
            out.append(_block(lv.name, ['READ', 'WRITE', 'VISIBLE'], segment,
                              flags=['ACTIVATION_SKIP'] if lv.origin else ()))
        else:
            raise ValueError('unknown LV type %r' % lv.type)
    return ''.join(out)


class LoopVolumeGroup(fixtures.Fixture):
    """A volume group ``name`` on a fresh loop device; ``write(lvs)``."""

    def __init__(self, name, size_mib=1024):
        super().__init__()
        self.name = name
        self.size_mib = size_mib

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        image = os.path.join(self.dir, 'pv.img')
        with open(image, 'wb') as f:
            f.truncate(self.size_mib << 20)
        self.device = subprocess.run(
            ['losetup', '--find', '--show', image], check=True,
            capture_output=True, text=True).stdout.strip()
        self.addCleanup(subprocess.run, ['losetup', '--detach', self.device],
                        capture_output=True)
        self.lvm_conf_file = os.path.join(self.dir, 'lvm.conf')
        with open(self.lvm_conf_file, 'w') as f:
            f.write(_LVM_CONF % {'device': self.device})
        self.lvm('pvcreate', self.device)
        self.addCleanup(self.lvm, 'pvremove', '-ff', '-y', self.device,
                        check=False)
        self.lvm('vgcreate', '--setautoactivation', 'n',
                 '--physicalextentsize', '%dm' % EXTENT_MIB, self.name,
                 self.device)
        self.addCleanup(self.lvm, 'vgremove', '-f', self.name, check=False)
        backup = os.path.join(self.dir, 'empty.vg')
        self.lvm('vgcfgbackup', '-f', backup, self.name)
        with open(backup) as f:
            self.empty_metadata = f.read()

    def lvm(self, *argv, check=True):
        env = dict(os.environ, LVM_SYSTEM_DIR=self.dir,
                   LVM_SUPPRESS_FD_WARNINGS='1', LC_ALL='C')
        proc = subprocess.run(argv, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode:
            raise RuntimeError('%s failed (%d): %s' % (
                ' '.join(argv), proc.returncode, proc.stderr))
        return proc.stdout

    def write(self, lvs):
        """Make the group hold exactly ``lvs`` (a list of :class:`LV`)."""
        text = self.empty_metadata
        end = text.rstrip().rfind('}')     # the end of the group's block
        text = '%s\tlogical_volumes {\n%s\t}\n%s' % (
            text[:end], render(lvs), text[end:])
        path = os.path.join(self.dir, 'restore.vg')
        with open(path, 'w') as f:
            f.write(text)
        self.lvm('vgcfgrestore', '--force', '-f', path, self.name)


def tgt_available():
    """None if tgtd can run here, else why not."""
    if os.geteuid() != 0:
        return 'tgtd needs root'
    for tool in ('tgtd', 'tgtadm'):
        if shutil.which(tool) is None:
            return '%s is not installed (Debian package tgt)' % tool
    return None


def _control_port():
    """A random tgtd control port whose lock no running tgtd holds.

    tgtd takes 0 to 32767 only (a port derived from the pid broke once
    pids grew past that).
    """
    while True:
        port = random.SystemRandom().randrange(1024, 32768)
        lock = '/var/run/tgtd/socket.%d.lock' % port
        if not os.path.exists(lock):
            return port
        with open(lock, 'rb') as f:
            try:
                fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                continue
            fcntl.lockf(f, fcntl.LOCK_UN)
            return port


class TgtDaemon(fixtures.Fixture):
    """tgtd on its own control port; ``tgtadm`` and a ``target()`` helper.

    ``wrap(bindir)`` writes a ``tgtadm`` there that talks to this daemon, so
    a driver running ``tgtadm`` with that directory first on its PATH reaches
    it and no other.
    """

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.proc = None
        self.addCleanup(self._stop)
        # A control port another tgtd took meanwhile makes tgtd exit at
        # once: another port then, a few times.
        for _attempt in range(3):
            if self._start():
                return
        raise RuntimeError('tgtd did not start: %s' % self._log_tail())

    def _start(self):
        self.control_port = _control_port()
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            portal = s.getsockname()[1]
        with open(os.path.join(self.dir, 'tgtd.log'), 'wb') as log:
            self.proc = subprocess.Popen(
                ['tgtd', '-f', '-C', str(self.control_port), '--iscsi',
                 'portal=127.0.0.1:%d' % portal],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        deadline = time.monotonic() + 15
        while self.tgtadm('--lld', 'iscsi', '--op', 'show', '--mode',
                          'target', check=False).returncode:
            if self.proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                raise RuntimeError('tgtd did not start in 15 s: %s'
                                   % self._log_tail())
            time.sleep(0.1)
        self.tids = 0
        return True

    def _log_tail(self):
        with open(os.path.join(self.dir, 'tgtd.log'), 'rb') as f:
            return f.read()[-500:].decode('utf-8', 'replace').strip()

    def tgtadm(self, *args, check=True):
        return subprocess.run(
            ['tgtadm', '-C', str(self.control_port)] + list(args),
            check=check, capture_output=True, text=True)

    def target(self, iqn):
        """A target open to every initiator (as Cinder's tgt config makes
        it) with one LUN backed by a small file.
        """
        self.tids += 1
        tid = str(self.tids)
        backing = os.path.join(self.dir, 'lun%s.img' % tid)
        with open(backing, 'wb') as f:
            f.truncate(1 << 20)
        for args in (('--op', 'new', '--mode', 'target', '--tid', tid,
                      '-T', iqn),
                     ('--op', 'new', '--mode', 'logicalunit', '--tid', tid,
                      '--lun', '1', '-b', backing),
                     ('--op', 'bind', '--mode', 'target', '--tid', tid,
                      '-I', 'ALL')):
            self.tgtadm('--lld', 'iscsi', *args)

    def wrap(self, bindir):
        path = os.path.join(bindir, 'tgtadm')
        with open(path, 'w') as f:
            f.write('#!/bin/sh\nexec %s -C %d "$@"\n'
                    % (shutil.which('tgtadm'), self.control_port))
        os.chmod(path, 0o755)

    def stop(self):
        """Shut tgtd down as an administrator would (offline, then stop)."""
        self.tgtadm('--op', 'update', '--mode', 'sys', '--name', 'State',
                    '-v', 'offline', check=False)
        for tid in range(1, self.tids + 1):
            self.tgtadm('--lld', 'iscsi', '--op', 'delete', '--mode',
                        'target', '--tid', str(tid), '--force', check=False)
        self.tgtadm('--op', 'delete', '--mode', 'system', check=False)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
