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

"""A loopback NEC M-series array: iSMCLI over a real SSH server.

:class:`Array` holds LDs, pools and LD sets and prints them as the iSMCLI
configuration XML. :class:`Simulator` serves it with paramiko's server side on
127.0.0.1 (a thread per connection, host key generated at start, a
known_hosts line written for clients), answering the inventory commands
Cinder's NEC driver runs and, for remediation, its ``iSMcfg delldsetld``,
``nickname`` and ``ldunbind`` (:meth:`Array.configure`). Faults are
injected with :meth:`Simulator.inject`.

From a :class:`~reconciler.simulators.scenario.Scenario` (backend ``pools``
are pool numbers as strings, e.g. ``['0', '1']``): volumes go to their pool
(the first by default), snapshot SVs to the last pool; an export becomes an
LD set named the way Cinder's automatic access control names it, holding
the initiators of the attachment host (:func:`host_initiators`: for iSCSI
the IQN the Cinder fixture's connectors use), so tests can build the
matching Cinder attachment.
"""

import dataclasses
import enum
import hashlib
import logging
import os
import shlex
import socket
import threading
import xml.etree.ElementTree as ET

import paramiko

from reconciler.drivers import nec_names
from reconciler import model
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn

GIB = 1024 ** 3
# The server side's own paramiko log: a client that goes away resets its
# connection, which paramiko logs as an error; for the array it is not one.
_SERVER_LOG = __name__ + '.server'
logging.getLogger(_SERVER_LOG).setLevel(logging.CRITICAL)
QUERY_COMMANDS = ('iSMquery -cinder -xml -all', 'clioutmsg xml; iSMview -all',
                  'clioutmsg xml; iSMview --alloptimize')


def host_initiators(host, protocol):
    """Initiators of a simulated compute host: one IQN, or two WWPNs."""
    if protocol == 'iSCSI':
        return [scn.initiator(host)]
    digest = hashlib.sha256(host.encode()).hexdigest()
    return ['21000024ff%s' % digest[:6], '21000024ff%s' % digest[6:12]]


def ldset_name(host, protocol='iSCSI'):
    """``LX:`` + Cinder's auto access control name for ``host``'s connector."""
    initiators = host_initiators(host, protocol)
    if protocol == 'iSCSI':
        return 'LX:' + initiators[0].replace(':', '').replace('.', '')[-16:]
    return 'LX:' + initiators[0][:16]


def _obj(chapter, name, section, units):
    element = ET.SubElement(chapter, 'OBJECT', name=name)
    _sec(element, section, units)
    return element


def _sec(element, name, units):
    section = ET.SubElement(element, 'SECTION', name=name)
    for unit, text in units:
        ET.SubElement(section, 'UNIT', name=unit).text = text


def _fc_path(wwpn):
    return '-'.join(wwpn[i:i + 4] for i in range(0, 16, 4)).upper()


@dataclasses.dataclass
class LD:
    ldn: int
    name: str               # 'OS:NAME', or a bare name for a blank OS type
    pool: int
    capacity: int = GIB
    rpl: str = 'IV'
    purpose: str = '---'


@dataclasses.dataclass
class LDSet:
    name: str
    protocol: str           # 'iSCSI' or 'FC'
    initiators: list        # IQNs, or WWPNs as 16 hex digits
    luns: dict = dataclasses.field(default_factory=dict)   # LUN -> LDN


class Array(object):
    """The configuration of one array.

    Mutate it between commands, or under ``lock`` while a simulator serves
    it: rendering holds the lock, so no command sees a change half made.
    LDs are indexed by name, LD sets by name, so arrays of many thousand LDs
    build in linear time.
    """

    def __init__(self, pools=(0,), names=None):
        self.pools = {int(p): 1024 * GIB for p in pools}
        self.ldsets = []
        self.names = names or nec_names.LDNames()
        self.lock = threading.RLock()
        self._lds = {}              # name -> LD, in creation order
        self._ldsets = {}           # name -> LDSet
        self._next_ldn = 0

    @property
    def lds(self):
        with self.lock:
            return list(self._lds.values())

    def ld(self, name):
        with self.lock:
            return self._lds[name]

    def add_ld(self, name, pool, size_gib=1, rpl='IV', purpose='---'):
        with self.lock:
            if name in self._lds:
                raise ValueError('an LD named %r exists' % name)
            ld = LD(self._next_ldn, name, int(pool), int(size_gib * GIB), rpl,
                    purpose)
            self._next_ldn += 1
            self._lds[name] = ld
            return ld

    def add_control_volume(self, pool):
        with self.lock:
            return self.add_ld(self.names.control(self._next_ldn), pool,
                               rpl='---')

    def remove_ld(self, name):
        with self.lock:
            ld = self._lds.pop(name)
            for ldset in self.ldsets:
                ldset.luns = {lun: ldn for lun, ldn in ldset.luns.items()
                              if ldn != ld.ldn}

    def ldset_for(self, host, protocol):
        with self.lock:
            return self.add_ldset(ldset_name(host, protocol), protocol,
                                  host_initiators(host, protocol))

    def add_ldset(self, name, protocol, initiators):
        """The LD set ``name``, made with ``initiators`` if new."""
        with self.lock:
            ldset = self._ldsets.get(name)
            if ldset is None:
                ldset = LDSet(name, protocol, list(initiators))
                self._ldsets[name] = ldset
                self.ldsets.append(ldset)
            return ldset

    def map(self, ld_name, host, protocol='iSCSI', ldset=None):
        """Map the LD to ``host``'s LD set (or to ``ldset``)."""
        with self.lock:
            ldset = ldset or self.ldset_for(host, protocol)
            ldset.luns[max(ldset.luns, default=-1) + 1] = self.ld(ld_name).ldn
            return ldset

    def unmap(self, ld_name, host, protocol='iSCSI'):
        """Take the LD out of the host's LD set; the set stays, as Cinder's."""
        with self.lock:
            ldset = self.ldset_for(host, protocol)
            ldn = self.ld(ld_name).ldn
            ldset.luns = {lun: n for lun, n in ldset.luns.items() if n != ldn}

    # iSMcfg writes, as Cinder's NEC driver sends them (cli.py).

    _LD_NAME_MAX = 24       # characters of an LD name after its OS type

    def configure(self, command):
        """``(exit status, stderr)`` of one ``iSMcfg`` write command."""
        try:
            argv = shlex.split(command)
            verb, options = argv[1], dict(zip(argv[2::2], argv[3::2]))
        except (ValueError, IndexError):
            return 1, 'iSM11000: Invalid command syntax.'
        handlers = {'delldsetld': self._del_ldset_ld,
                    'nickname': self._nickname, 'ldunbind': self._unbind}
        if argv[0] != 'iSMcfg' or verb not in handlers or (
                len(argv) - 2) % 2:
            return 1, 'iSM11000: Invalid command syntax.'
        with self.lock:
            try:
                handlers[verb](options)
            except KeyError as e:
                return 1, 'iSM11000: Missing or unknown %s.' % e
            except ValueError as e:
                return 1, str(e)
        return 0, ''

    def _del_ldset_ld(self, options):
        ldset = self._ldsets.get(options['-ldset'])
        if ldset is None:
            raise ValueError('iSM31070: The specified LD Set does not '
                             'exist. (%s)' % options['-ldset'])
        ldn = self._lds[options['-ldname']].ldn
        if ldn not in ldset.luns.values():
            raise ValueError('iSM31065: The specified LD is not assigned to '
                             'the LD Set.')
        ldset.luns = {lun: n for lun, n in ldset.luns.items() if n != ldn}

    def _nickname(self, options):
        old, new = options['-ldname'], options['-newname']
        ld = self._lds[old]
        if new in self._lds:
            raise ValueError('iSM31058: The specified LD name is already '
                             'used. (%s)' % new)
        if len(new.partition(':')[2] or new) > self._LD_NAME_MAX:
            raise ValueError('iSM11002: The LD name is too long. (%s)' % new)
        self._lds = {new if name == old else name: value
                     for name, value in self._lds.items()}
        ld.name = new

    def _unbind(self, options):
        ld = self._lds[options['-ldname']]
        if any(ld.ldn in ldset.luns.values() for ldset in self.ldsets):
            raise ValueError('iSM31004: The LD is assigned to an LD Set. '
                             '(%s)' % ld.name)
        if ld.rpl != 'IV':
            raise ValueError('iSM31005: The LD is used by replication or '
                             'snapshot (%s). (%s)' % (ld.rpl, ld.name))
        del self._lds[ld.name]

    @classmethod
    def from_scenario(cls, scenario, backend, protocol='iSCSI'):
        """The array of ``backend`` as Cinder's NEC driver would leave it."""
        pools = scenario.backend(backend).pools
        array = cls(pools)
        snapshot_pool = int(pools[-1])
        contents = scenario.array_contents(backend)
        parents = {o.parent for o in contents if o.kind == 'snapshot'}
        exports = []
        for obj in contents:
            if obj.kind == 'export':
                exports.append(obj)
            elif obj.kind == 'volume':
                array._add_volume(obj, int(obj.pool), obj.uuid in parents)
            else:
                array._add_snapshot(obj, snapshot_pool)
        for obj in exports:
            array.map(array.names.volume(obj.uuid), obj.host, protocol)
        return array

    def _add_volume(self, obj, pool, has_snapshots):
        cls = model.ObjectClass(obj.object_class)
        if obj.name:
            self.add_ld(obj.name, pool, obj.size)
        elif cls == model.ObjectClass.CONTROL:
            self.add_control_volume(pool)
        elif cls == model.ObjectClass.TEMPORARY:
            self.add_ld(self.names.volume(obj.uuid) + '_m', pool, obj.size,
                        rpl='RV')
        elif cls in (model.ObjectClass.CINDER, model.ObjectClass.UNMANAGED):
            # Unmanaging leaves an NEC LD as it was.
            self.add_ld(self.names.volume(obj.uuid), pool, obj.size,
                        rpl='BV' if has_snapshots else 'IV')
        else:
            raise ValueError('give the %s volume a name to put it on an NEC '
                             'array' % cls)

    def _add_snapshot(self, obj, pool):
        cls = model.ObjectClass(obj.object_class)
        if obj.group:
            raise ValueError('NEC group snapshots are per-snapshot SVs; '
                             'give the members their own ids')
        if obj.name:
            self.add_ld(obj.name, pool, obj.size, rpl='SV',
                        purpose='(invalid attribute)')
        elif cls == model.ObjectClass.TEMPORARY:
            # A link volume is bound in its base volume's pool.
            self.add_ld(self.names.volume(obj.uuid) + '_l', int(obj.pool),
                        obj.size)
        elif cls == model.ObjectClass.CINDER:
            self.add_ld(self.names.snapshot(obj.uuid), pool, obj.size,
                        rpl='SV', purpose='(invalid attribute)')
        else:
            raise ValueError('give the %s snapshot a name to put it on an NEC '
                             'array' % cls)

    def xml(self, command):
        """The document ``command`` (a key of QUERY_COMMANDS) prints."""
        program, _, arg = command.rpartition('; ')[2].partition(' ')
        root = ET.Element('REQUEST')
        request = ET.SubElement(root, 'CMD_REQUEST', {
            'cmd_name': '/opt/iSMCliGateway/impl/query/%s' % program,
            'arg': arg + ' ', 'version': 'Version 9.4.001'})

        with self.lock:
            self._render(request)
        ET.SubElement(request, 'RETURN_MSG').text = (
            'Command Completed Successfully!!')
        ET.SubElement(request, 'RETURN_CODE').text = '0'
        ET.indent(root, ' ')
        return ET.tostring(root, encoding='utf-8') + b'\n'

    def _render(self, request):
        """The chapters of the configuration as it is now (under the lock)."""
        chapter = ET.SubElement(request, 'CHAPTER', name='Disk Array')
        _obj(chapter, 'Disk Array', 'Disk Array Detail Information',
             [('Product ID', 'M310')])
        chapter = ET.SubElement(request, 'CHAPTER', name='Logical Disk')
        used = dict.fromkeys(self.pools, 0)
        for ld in self._lds.values():
            used[ld.pool] = used.get(ld.pool, 0) + ld.capacity
            os_type, _, ld_name = ld.name.rpartition(':')
            _obj(chapter, 'Logical Disk', 'LD Detail Information', [
                ('LDN(h)', '%04x' % ld.ldn), ('OS Type', os_type or '  '),
                ('LD Name', ld_name), ('LD Capacity', str(ld.capacity)),
                ('Pool No.(h)', '%04x' % ld.pool), ('Purpose', ld.purpose),
                ('RPL Attribute', ld.rpl)])
        chapter = ET.SubElement(request, 'CHAPTER', name='Pool')
        for number, capacity in sorted(self.pools.items()):
            _obj(chapter, 'Pool', 'Pool Detail Information', [
                ('Pool No.(h)', '%04x' % number),
                ('Pool Capacity', str(capacity)),
                ('Used Pool Capacity', str(used[number])),
                ('Free Pool Capacity', str(capacity - used[number]))])
        chapter = ET.SubElement(request, 'CHAPTER', name='Access Control')
        for ldset in self.ldsets:
            platform, _, name = ldset.name.partition(':')
            kind = 'LD Set(%s)' % ldset.protocol
            if ldset.protocol == 'FC':
                element = _obj(chapter, kind, kind + ' Information', [
                    ('Platform', platform), ('LD Set Name', name)])
                for wwpn in ldset.initiators:
                    _sec(element, 'Path List', [('Path', _fc_path(wwpn))])
                for lun, ldn in sorted(ldset.luns.items()):
                    _sec(element, 'LUN/LD List', [
                        ('LUN(h)', '%04x' % lun), ('LDN(h)', '%04x' % ldn)])
                continue
            element = _obj(chapter, kind, kind + ' Information', [
                ('Platform', platform), ('LD Set Name', name),
                ('Target Mode', 'Multi-Target')])
            _sec(element, 'Portal', [('Portal', '192.0.2.10:3260')])
            for iqn in ldset.initiators:
                _sec(element, 'Initiator List', [('Initiator List', iqn)])
            for lun, ldn in sorted(ldset.luns.items()):
                _sec(element, 'Target Information For Multi-Target Mode', [
                    ('Target Name', 'iqn.2001-03.com.nec:sim.%s.%04x'
                     % (name.lower(), ldn)),
                    ('LUN(h)', '%04x' % lun), ('LDN(h)', '%04x' % ldn)])


class Fault(enum.Enum):
    DROP = 'drop'               # part of the answer, then the channel closes
    TRUNCATE = 'truncate'       # half the answer, exit status 0
    MALFORMED = 'malformed'     # XML that does not parse, exit status 0
    EXIT = 'exit'               # an iSMCLI error message, exit status 1
    STALL = 'stall'             # never even accepts the command
    PAYLOAD = 'payload'         # the given bytes, exit status 0


class _Server(paramiko.ServerInterface):
    """paramiko's server callbacks for one connection."""

    def __init__(self, simulator):
        self.simulator = simulator

    def get_allowed_auths(self, username):
        return 'password,publickey'

    def check_auth_password(self, username, password):
        if self.simulator.users.get(username) == password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        if key in self.simulator.authorized_keys.get(username, ()):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == 'session':
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        return self.simulator._accept_command(
            channel, command.decode('utf-8', 'replace'))


class Simulator(object):
    """The SSH server of one simulated array on 127.0.0.1.

    ``users`` maps user names to passwords; :meth:`authorize` adds keys.
    ``known_hosts`` is the path of a file trusting this server's host key.
    ``commands`` records every command received; ``connections`` counts
    the connections accepted; ``max_active`` the most commands that ever
    ran at once; ``delay`` slows each command down, ``banner_delay`` each
    connection's SSH banner (a server slow to answer at all).
    :meth:`stats` meters traffic as a FaultProxy does for HTTP.
    """

    def __init__(self, array, workdir, users=None):
        self.array = array
        self.users = dict(users or {'admin': 'admin-password'})
        self.authorized_keys = {}
        self.host_key = paramiko.ECDSAKey.generate()
        self.known_hosts = os.path.join(workdir, 'nec_known_hosts')
        self.commands = []
        self.active = 0
        self.max_active = 0
        self.connections = 0
        self.delay = 0.0
        self.banner_delay = 0.0
        self._requests = 0
        self._sent = 0
        self._fault = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._transports = []
        self._socket = None
        self.port = None

    def stats(self):
        """Commands received and bytes answered (stdout and stderr).

        The shape of :meth:`FaultProxy.stats`, so tools meter SSH arrays as
        they meter HTTP ones.
        """
        with self._lock:
            return faultproxy.Stats(self._requests, self._sent)

    def reset_stats(self):
        with self._lock:
            self._requests = self._sent = 0

    def _send(self, sendall, data):
        sendall(data)
        with self._lock:
            self._sent += len(data)

    def authorize(self, user, key):
        self.authorized_keys.setdefault(user, []).append(key)

    def inject(self, fault, after=0, payload=b''):
        """Make every command after the next ``after`` ones fail so."""
        with self._lock:
            self._fault = fault and (Fault(fault), after, payload)

    def start(self):
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(('127.0.0.1', 0))
        self._socket.listen(16)
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        keys = paramiko.HostKeys()
        keys.add('[127.0.0.1]:%d' % self.port, self.host_key.get_name(),
                 self.host_key)
        keys.save(self.known_hosts)
        self._spawn(self._accept)
        return self

    def disconnect(self):
        """Drop every client connection, as a network failure would."""
        with self._lock:
            transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()

    def stop(self):
        self._stop.set()
        self.disconnect()
        for thread in list(self._threads):
            thread.join(5)
        self._socket.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                sock, _ = self._socket.accept()
                # Small answers at once: Nagle against the client's delayed
                # ACK held each command for about 90 ms on loopback.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self.banner_delay:
                self._spawn(self._serve, sock, self.banner_delay)
            else:
                self._serve(sock)

    def _serve(self, sock, delay=0.0):
        if self._stop.wait(delay):
            sock.close()
            return
        transport = paramiko.Transport(sock)
        transport.set_log_channel(_SERVER_LOG)
        transport.add_server_key(self.host_key)
        with self._lock:
            self._transports.append(transport)
        try:
            transport.start_server(event=threading.Event(),
                                   server=_Server(self))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()

    def _next_fault(self):
        with self._lock:
            if self._fault is None:
                return None, b''
            fault, after, payload = self._fault
            if after:
                self._fault = (fault, after - 1, payload)
                return None, b''
            return fault, payload

    @staticmethod
    def _read_stdin(channel):
        """Consume stdin to its EOF (or a second of silence).

        Clients close stdin once the server accepted the command, so this
        also keeps the answer from overtaking that acceptance.
        """
        channel.settimeout(1.0)
        try:
            while channel.recv(4096):
                pass
        except socket.timeout:
            pass
        channel.settimeout(None)

    def _accept_command(self, channel, command):
        """Runs in the connection's transport thread, as paramiko calls."""
        with self._lock:
            self.commands.append(command)
            self._requests += 1
        fault, payload = self._next_fault()
        if fault == Fault.STALL:
            # Blocks this connection: no reply, no output, until stop().
            self._stop.wait()
            return False
        self._spawn(self._execute, channel, command, fault, payload)
        return True

    def _execute(self, channel, command, fault, payload):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        status = 0
        try:
            self._read_stdin(channel)
            self._stop.wait(self.delay)
            is_write = command.startswith('iSMcfg ')
            if command not in QUERY_COMMANDS and not is_write:
                self._send(channel.sendall_stderr,
                           b'%s: command not found\n' % command.encode())
                status = 127
            elif fault == Fault.EXIT:
                self._send(channel.sendall_stderr,
                           b'iSM11100: Command failed. (code=0x0001)\n')
                status = 1
            elif is_write:
                status, err = self.array.configure(command)
                if err:
                    self._send(channel.sendall_stderr, err.encode() + b'\n')
            elif fault == Fault.MALFORMED:
                self._send(channel.sendall,
                           b'<REQUEST><CMD_REQUEST><CHAPTER name="Pool">'
                           b'</OBJECT></REQUEST>\n')
            elif fault == Fault.PAYLOAD:
                self._send(channel.sendall, payload)
            else:
                out = self.array.xml(command)
                if 'iSMview' in command:
                    # The legacy CLI's status line, which Cinder strips.
                    out += b'ExitStatus:0\n'
                if fault == Fault.DROP:
                    self._send(channel.sendall, out[:len(out) // 3])
                    return
                if fault == Fault.TRUNCATE:
                    out = out[:len(out) // 2]
                self._send(channel.sendall, out)
            channel.send_exit_status(status)
        except (OSError, EOFError, paramiko.SSHException):
            pass    # the client went away
        finally:
            with self._lock:
                self.active -= 1
            channel.close()
