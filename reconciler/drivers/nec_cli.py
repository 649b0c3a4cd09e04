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

"""iSMCLI over SSH: one verified session, one command at a time per array.

The array's host key is checked against a known_hosts file; an unknown or
changed key is refused unless the operator opted out explicitly, because the
password we send would otherwise go to whoever answers. Commands to one array
are serialised in this process, like Cinder's per-array lock, so backends that
share an array never run iSMCLI side by side. Every wait is bounded: a
connection or command that does not finish in time is an error, not a hang.

A connection is replaced before it has carried half the bytes after which
paramiko re-keys it (``Packetizer.REKEY_BYTES``, 512 MiB): a re-key paramiko
starts while a session channel closes deadlocks its transport thread
(paramiko issue 822), failing the command after 30 s. One pass re-checking
hundreds of suspects on a large array downloads the inventory as many times.
"""

import collections
import contextlib
import io
import select
import threading
import time

from oslo_log import log as logging
import paramiko

from reconciler import exception

LOG = logging.getLogger(__name__)

MAX_OUTPUT = 64 * 1024 * 1024   # far above any real array's inventory
_CHUNK = 65536
_POLL = 1.0     # seconds between looks at a channel that may have closed

_LOCKS = collections.defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def array_lock(key, timeout, where):
    """Hold the process-wide lock of one array for one command."""
    with _LOCKS_GUARD:
        lock = _LOCKS[key]
    if not lock.acquire(timeout=timeout):
        raise exception.ArrayUnreachable(
            '%s: another iSMCLI command to array %s held the lock for more '
            'than %ds' % (where, key, timeout))
    try:
        yield
    finally:
        lock.release()


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse keys missing from known_hosts, saying how to trust them."""

    def __init__(self, known_hosts):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        raise exception.ArrayAuthError(
            'host key of %s (%s %s) is not in %s; verify its fingerprint '
            'with the array administrator and add it (ssh-keyscan), or set '
            'nec_ssh_insecure_host_key = true to skip the check (insecure)'
            % (hostname, key.get_name(), key.fingerprint, self.known_hosts))


class ISMCLISession(object):
    """An SSH session to one array's iSMCLI, open between connect/close."""

    def __init__(self, host, port, user, password, privkey, known_hosts,
                 insecure, timeout, lock_key):
        self.host = host
        self.port = port
        self.user = user
        self._password = password or None
        self.privkey = privkey or None
        self.known_hosts = known_hosts
        self.insecure = insecure
        self.timeout = timeout
        self.lock_key = lock_key
        self.where = 'NEC array %s:%d' % (host, port)
        self._client = None
        self._carried = 0       # output bytes the connection has carried

    def _new_client(self):
        client = paramiko.SSHClient()
        if self.insecure:
            LOG.warning('%s: SSH host key verification is disabled '
                        '(nec_ssh_insecure_host_key = true); the iSMCLI '
                        'credentials are exposed to any server on the path.',
                        self.where)
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            return client
        try:
            client.load_host_keys(self.known_hosts)
        except OSError as e:
            raise exception.ArrayAuthError(
                '%s: cannot read known_hosts file %s (%s); add the array '
                "host key there or set nec_ssh_known_hosts_file"
                % (self.where, self.known_hosts, e.strerror or e))
        client.set_missing_host_key_policy(_RejectUnknown(self.known_hosts))
        return client

    def _load_key(self):
        if not self.privkey:
            return None
        try:
            return paramiko.PKey.from_path(self.privkey)
        except (OSError, ValueError, paramiko.SSHException) as e:
            raise exception.ArrayAuthError(
                '%s: cannot load the private key nec_ismcli_privkey = %s: %s'
                % (self.where, self.privkey,
                   getattr(e, 'strerror', None) or e))

    def connect(self):
        pkey = self._load_key()
        client = self._new_client()
        try:
            self._login(client, pkey)
        except BaseException:
            client.close()
            raise
        self._client = client
        self._carried = 0

    def _login(self, client, pkey):
        start = time.monotonic()
        try:
            client.connect(
                self.host, port=self.port, username=self.user,
                password=self._password, pkey=pkey,
                timeout=self.timeout, banner_timeout=self.timeout,
                auth_timeout=self.timeout, channel_timeout=self.timeout,
                allow_agent=False, look_for_keys=False)
        except paramiko.BadHostKeyException as e:
            raise exception.ArrayAuthError(
                '%s presented a %s host key %s that differs from the one in '
                '%s: the array was replaced or someone is intercepting the '
                'connection' % (self.where, e.key.get_name(),
                                e.key.fingerprint, self.known_hosts))
        except paramiko.AuthenticationException:
            raise exception.ArrayAuthError(
                '%s refused the iSMCLI login of user %r; check '
                'nec_ismcli_user and nec_ismcli_password or nec_ismcli_privkey'
                % (self.where, self.user))
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise self._handshake_timeout(
                client, time.monotonic() - start) or self._unreachable(
                    'cannot open an SSH session', e)

    def _handshake_timeout(self, client, elapsed):
        """The error of a handshake that ran out of time, else None.

        paramiko gives up waiting for it after the connect timeout and goes
        on to authenticate on a transport without a session ("No existing
        session"), or its banner timeout ends it ("Error reading SSH
        protocol banner", as a closed connection does, but sooner): the
        server was too slow with its banner or key exchange.
        """
        transport = client.get_transport()
        if transport is None or transport.initial_kex_done or not (
                transport.is_active() or elapsed >= self.timeout):
            return None
        step = ('finished the SSH key exchange' if transport.remote_version
                else 'sent its SSH banner')
        return exception.ArrayUnreachable(
            '%s: timed out: the server had not %s after %ds '
            '(nec_ismcli_timeout)' % (self.where, step, self.timeout))

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def _unreachable(self, what, error):
        if isinstance(error, EOFError):
            detail = 'the SSH connection closed'
        elif isinstance(error, OSError) and error.strerror:
            detail = error.strerror
        else:
            detail = str(error) or type(error).__name__
        return exception.ArrayUnreachable('%s: %s: %s'
                                          % (self.where, what, detail))

    def run(self, command):
        """stdout of ``command``; any failure or non-zero exit raises."""
        with array_lock(self.lock_key, self.timeout, self.where):
            # MAX_OUTPUT is far below half of REKEY_BYTES: no command
            # carries a connection to its re-key.
            if (self._client is not None and self._carried
                    > paramiko.packet.Packetizer.REKEY_BYTES // 2):
                self.close()
                self.connect()
            try:
                status, out, err = self._execute(command)
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise self._unreachable('`%s` failed' % command, e)
            self._carried += len(out) + len(err)
        if status == -1:
            raise exception.ArrayUnreachable(
                '%s: the SSH channel of `%s` closed before the command '
                'finished (no exit status)' % (self.where, command))
        if status != 0:
            message = err.decode('utf-8', 'replace').strip()[:300]
            raise exception.ArrayResponseError(
                '%s: `%s` exited with status %d: %s'
                % (self.where, command, status, message or '(no message)'))
        return out

    def _execute(self, command):
        transport = self._client and self._client.get_transport()
        if transport is None or not transport.is_active():
            raise EOFError()
        channel = transport.open_session(timeout=self.timeout)
        timed_out = threading.Event()

        def expire():
            # Closing the channel ends every wait below, paramiko's too.
            timed_out.set()
            channel.close()

        watchdog = threading.Timer(self.timeout, expire)
        watchdog.start()
        try:
            channel.exec_command(command)
            channel.shutdown_write()
            # BytesIO hands its buffer over without a copy: an inventory
            # of many thousand LDs is held once, not twice.
            out, err = io.BytesIO(), bytearray()
            while True:
                while channel.recv_ready():
                    out.write(channel.recv(_CHUNK))
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(_CHUNK)
                if out.tell() + len(err) > MAX_OUTPUT:
                    raise exception.ArrayResponseError(
                        '%s: `%s` answered more than %d bytes'
                        % (self.where, command, MAX_OUTPUT))
                if (channel.eof_received or channel.closed) and not (
                        channel.recv_ready() or channel.recv_stderr_ready()):
                    break
                select.select([channel], [], [], _POLL)
            channel.status_event.wait()
        except (paramiko.SSHException, OSError, EOFError):
            if not timed_out.is_set():
                raise
        finally:
            watchdog.cancel()
            channel.close()
        if timed_out.is_set():
            raise exception.ArrayUnreachable(
                '%s: `%s` did not complete within %ds (nec_ismcli_timeout)'
                % (self.where, command, self.timeout))
        return channel.exit_status, out.getvalue(), err
