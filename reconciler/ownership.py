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

"""Which process owns a run, and whether that process still lives.

A run row names its process by host, pid and a start token (the boot and
the process's start time), so a pid reused by another process after a crash
or a reboot is not mistaken for the owner. Only processes of this host can
be looked at; see :func:`alive`.
"""

import dataclasses
import functools
import os
import socket

from oslo_log import log as logging
import psutil

from reconciler import notifier

LOG = logging.getLogger(__name__)

# What the lock a caller holds on a backend proves about other passes of it.
NO_LOCK = None
HOST_LOCK = 'host'  # no other pass on this host (tooz file driver)
GLOBAL_LOCK = 'global'  # no other pass anywhere (a distributed backend)


@dataclasses.dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str

    @property
    def boot(self):
        return boot_of(self.start)


def boot_of(start):
    """The boot of a start token: the epoch of its monotonic clock."""
    return start.split(':', 1)[0] if start else None


def _boot_id():
    try:
        with open('/proc/sys/kernel/random/boot_id') as f:
            return f.read().strip()
    except OSError:
        return 'boot-%d' % psutil.boot_time()


def _start_token(pid, boot):
    return '%s:%.2f' % (boot, psutil.Process(pid).create_time())


@functools.lru_cache(maxsize=None)
def _current(pid):
    boot = _boot_id()
    return Owner(socket.gethostname(), pid, _start_token(pid, boot))


def current():
    """This process (computed once per pid, so a fork gets its own)."""
    return _current(os.getpid())


def alive(owner):
    """True, False, or None when ``owner`` is of another host."""
    me = current()
    if owner.host != me.host:
        return None
    if owner.boot != me.boot:
        return False
    try:
        process = psutil.Process(owner.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return _start_token(owner.pid, me.boot) == owner.start
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        # Exists but cannot be inspected: not ours to declare dead.
        return True


def _abandoned(run, lock, what='pass'):
    """Why ``run`` (a run or an action) has no live owner, or None while
    it may have one.
    """
    if run.owner is None:
        # A version that did not record owners; a pass under our lock
        # cannot be one of its live passes unless it ran without locks.
        return 'abandoned: its process is unknown' if lock else None
    where = '%s pid %d' % (run.owner.host, run.owner.pid)
    if lock and run.owner == current():
        # Our earlier pass could not record its end (database down); under
        # the lock, it is not running any more.
        return 'abandoned: its %s in this process (%s) ended' % (
            what, where)
    live = alive(run.owner)
    if live is False:
        return 'abandoned: its process (%s) is gone' % where
    if live is None and lock == GLOBAL_LOCK:
        return ('abandoned: its process (%s) no longer holds the backend '
                'lock' % where)
    return None


def close_abandoned(history, now, backend=None, lock=NO_LOCK):
    """Close as failed the running runs that no live process owns.

    With ``backend``, the caller holds that backend's lock (of the ``lock``
    scope); without, it holds none and judges only this host's processes.
    """
    closed = []
    for run in history.running_runs(backend):
        error = _abandoned(run, lock if backend else NO_LOCK)
        if error is None:
            continue
        event = notifier.run_failed_event(run.backend, run.id, error, now)
        if history.abandon_run(run.id, now, error, [event]):
            LOG.warning('Backend %s run %d closed as failed: %s',
                        run.backend, run.id, error)
            closed.append(run.id)
    return closed


def close_abandoned_actions(history, now, scope, lock=NO_LOCK, announce=None):
    """Close as abandoned the running remediation steps of ``scope`` (a
    backend, or a host scope) that no live process owns; the caller holds
    the scope's lock of the ``lock`` kind (NO_LOCK: this host's dead
    processes only). ``announce(action, reason)`` gives the events to send.

    The array (or Cinder, or the host) may or may not have applied such a
    step: the next remediation of the finding finds out and records it.
    """
    closed = []
    for action in history.running_actions(scope):
        error = _abandoned(action, lock, 'remediation')
        if error is None:
            continue
        reason = ('%s; whether its change was applied is found by the '
                  'next remediation of finding %d' % (error,
                                                      action.finding_id))
        events = announce(action, reason) if announce else ()
        if history.abandon_action(action.id, now, reason, events):
            LOG.warning('%s: remediation action %d closed as abandoned: %s',
                        scope, action.id, error)
            closed.append(action.id)
    return closed
