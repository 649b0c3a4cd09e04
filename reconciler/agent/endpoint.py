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

"""What a controller may ask of this host's agent (the ``agent`` API).

A scan, and remediation steps: ``prepare`` takes os-brick's lock and
scans; the controller then lists Cinder, judges the scan as the all-in-one
remediation does (reconciler.remediation.host_remediator) and asks
``disconnect`` of the object it judged; the agent, still under the lock,
disconnects only if a fresh scan shows that very object unchanged and
nobody uses it (no holder, mount or process with it open), through
os-brick as before, and answers with the commands os-brick ran. The lock
is released after the step, on ``release``, or after ``[host_scan]
lock_timeout`` seconds whatever the controller does, so a controller that
died never blocks this host's attaches for longer than that.

Requests must be about this host and, with ``[host_scan] report_key``,
signed with it (reconciler.rpc.signing): no other host can ask this agent
to act.
"""

import threading
import time
import types
import uuid

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import strutils

from reconciler import exception
from reconciler.host import manager as host_manager
from reconciler.host import openers as openers_mod
from reconciler.remediation import brick_root
from reconciler.remediation import host_actions
from reconciler.remediation import host_remediator
from reconciler.rpc import agent_api
from reconciler.rpc import api
from reconciler.rpc import payload
from reconciler.rpc import signing

LOG = logging.getLogger(__name__)

DONE, SKIPPED, FAILED = 'done', 'skipped', 'failed'
#: The most commands an answer lists, and their length.
MAX_COMMANDS, MAX_COMMAND = 100, 300


class _Refused(exception.ReconcilerError):
    pass


class _Hold(object):
    """os-brick's lock, held for one remediation step."""

    def __init__(self, lock, expire):
        self.lock = lock
        self.timer = expire

    def release(self):
        self.timer.cancel()
        self.lock.release()


class AgentEndpoint(api.Endpoint):
    """1.0: ``scan``, ``prepare``, ``disconnect``, ``release``."""

    NAMESPACE = agent_api.NAMESPACE
    VERSION = '1.0'

    def __init__(self, conf, runner=None, execute=None):
        """``runner``/``execute``: the scan commands' runner and os-brick's
        execute; tests and the demo give a host simulator's.
        """
        self.conf = conf
        self.group = conf.host_scan
        self.scanner = host_manager.HostScanner(conf, runner)
        self.host = self.scanner.host
        self.execute = execute
        self._held = {}
        self._mutex = threading.Lock()

    def _check(self, ctxt, method, request):
        if not isinstance(request, dict) or request.get('host') != self.host:
            raise _Refused('not a request for host %s' % self.host)
        if self.group.report_key:
            why = signing.verify(self.group.report_key, method, request,
                                 time.time(),
                                 self.conf.agents.signature_max_age)
            if why:
                raise _Refused(why)

    def _refused(self, ctxt, method, error):
        LOG.warning('Refused %s from %s: %s', method,
                    (ctxt or {}).get('sender'), error)
        return {'status': 'refused', 'result': FAILED,
                'reason': 'refused by the agent: %s' % error}

    def _answer(self, scan):
        return {'status': 'ok', 'scan': payload.encode(scan),
                'protocols': list(self.group.protocols)}

    def scan(self, ctxt, request):
        try:
            self._check(ctxt, 'scan', request)
            return self._answer(self.scanner.scan())
        except _Refused as e:
            return self._refused(ctxt, 'scan', e)
        except exception.ReconcilerError as e:
            return {'status': 'failed', 'reason': str(e)}

    def prepare(self, ctxt, request):
        """Take os-brick's lock for one step, then scan."""
        try:
            self._check(ctxt, 'prepare', request)
        except _Refused as e:
            return self._refused(ctxt, 'prepare', e)
        lock = lockutils.external_lock(host_manager.BRICK_LOCK,
                                       host_manager.BRICK_LOCK_PREFIX,
                                       self.group.lock_path)
        if not lock.acquire(blocking=True, timeout=self.group.lock_timeout):
            return {'status': 'busy', 'reason': 'an attach or detach held '
                    "os-brick's lock for more than %ds"
                    % self.group.lock_timeout}
        token = str(uuid.uuid4())
        timer = threading.Timer(self.group.lock_timeout, self._take,
                                [token, True])
        timer.daemon = True
        with self._mutex:
            self._held[token] = _Hold(lock, timer)
        timer.start()
        try:
            scan = self.scanner.scanner().scan()
        except exception.ReconcilerError as e:
            self._take(token, release=True)
            return {'status': 'failed', 'reason': str(e)}
        return dict(self._answer(scan), token=token)

    def _take(self, token, release=False):
        """The hold of ``token`` (gone once released or expired)."""
        with self._mutex:
            hold = self._held.pop(token, None)
        if hold is not None and release:
            hold.release()
            LOG.info("Remediation step %s: os-brick's lock released", token)
        return hold

    def release(self, ctxt, request):
        try:
            self._check(ctxt, 'release', request)
        except _Refused as e:
            return self._refused(ctxt, 'release', e)
        self._take(request.get('token'), release=True)
        return {'status': 'ok'}

    def disconnect(self, ctxt, request):
        """Disconnect the judged object, if it is still what was judged."""
        try:
            self._check(ctxt, 'disconnect', request)
        except _Refused as e:
            return self._refused(ctxt, 'disconnect', e)
        hold = self._take(request.get('token'))
        if hold is None:
            return {'result': FAILED, 'reason': "os-brick's lock of this "
                    'step was released (it expired): nothing done'}
        commands = []
        try:
            result, reason = self._disconnect(request, commands)
        except exception.ReconcilerError as e:
            result, reason = FAILED, str(e)
        except Exception as e:
            LOG.exception('Remediation step failed')
            result, reason = FAILED, 'internal error: %s' % type(e).__name__
        finally:
            hold.release()
        LOG.info('Remediation disconnect of %s: %s: %s',
                 (request.get('finding') or {}).get('array_name'), result,
                 reason)
        return {'result': result, 'reason': strutils.mask_password(reason),
                'commands': [strutils.mask_password(c)[:MAX_COMMAND]
                             for c in commands[:MAX_COMMANDS]]}

    def _disconnect(self, request, commands):
        finding = types.SimpleNamespace(**_finding(request.get('finding')))
        host_view = self.scanner.scanner().scan()
        obj = host_actions.fresh_object(finding, host_view)
        if obj is None:
            return SKIPPED, '%s is gone from the host' % finding.array_name
        if payload.encode(obj) != request.get('expected'):
            return SKIPPED, ('%s changed since the controller judged it'
                             % finding.array_name)
        try:
            opened = openers_mod.openers(self.group.root_prefix,
                                         host_actions.devices(obj, host_view))
        except exception.InventoryError as e:
            return SKIPPED, str(e)
        busy = host_actions.in_use(obj, host_view, opened)
        if busy:
            return SKIPPED, 'in use: %s' % busy
        if self.group.root_prefix.rstrip('/') and self.execute is None:
            return FAILED, ("[host_scan] root_prefix is %s: os-brick's "
                            "commands would act on this host's own "
                            'devices, not those scanned there'
                            % self.group.root_prefix)
        from os_brick.privileged import rootwrap as priv_rootwrap
        execute = self.execute or priv_rootwrap.custom_execute

        def recorded(*cmd, **kwargs):
            commands.append(' '.join(str(c) for c in cmd))
            return execute(*cmd, **kwargs)

        remediator = host_remediator.HostRemediator(
            self.conf, None, None, 'agent', unit=self.scanner,
            execute=recorded)
        session = remediator._session(types.SimpleNamespace(inventory={}))
        with remediator._brick(), brick_root.rooted(self.group.root_prefix,
                                                    recorded):
            return DONE, remediator._act(None, (obj, host_view), session,
                                         None, None)


def _finding(data):
    """The finding fields the re-check reads, checked."""
    if not isinstance(data, dict):
        raise exception.ReconcilerError('no finding in the request')
    found = {}
    for name in ('kind', 'resource_type', 'resource_id', 'array_name'):
        if not isinstance(data.get(name), str):
            raise exception.ReconcilerError('finding without %s' % name)
        found[name] = data[name]
    details = data.get('details')
    if not isinstance(details, dict):
        raise exception.ReconcilerError('finding without details')
    found['details'] = details
    return found
