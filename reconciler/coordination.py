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

"""Which daemon reconciles which backend, when several run for HA.

Members of the tooz group ``cinder-reconciler`` place backends on a hash ring
of the members alive now, read afresh before every pass, so a member that
dies (its tooz heartbeat expires) loses its backends to the others at their
next tick.

The ring is ``tooz.hashring`` over one ``get_members`` read, not
``tooz.partitioner``: the partitioner keeps its ring by applying watcher
events to a member list it read separately, and a member that joins between
those two reads is in the list but not the ring; when it leaves,
``run_watchers`` raises ``UnknownNode`` on every call and this daemon would
skip every pass until restarted. A ring built from what the group holds now
has no state to drift, and members weigh the same either way.

The ring alone can briefly disagree while membership changes, so the member
that owns a backend also takes a per-backend tooz lock for the length of the
pass, without waiting: two passes of one backend never overlap, and
``cinder-reconciler-manage check`` takes the same lock.

With the default ``file://`` backend (Cinder's own default, under
``$state_path``) there is no group: this daemon owns every backend and the
lock is a lock file, which keeps the daemon and ``check`` of one host apart
but not two hosts. Whenever the coordination backend cannot be reached,
nobody proves ownership and the pass is skipped: a late pass is better than
two at once.
"""

import contextlib
import socket
import threading
from urllib import parse
import uuid

from oslo_log import log as logging
from tooz import coordination
from tooz import hashring

from reconciler import ownership

LOG = logging.getLogger(__name__)

GROUP = b'cinder-reconciler'


def lock_name(backend):
    return ('cinder-reconciler-%s' % backend).encode()


class Lease(object):
    """Permission to reconcile one backend, for the length of one pass.

    False when refused. It is also the pass's stop flag (``run_pass``'s
    ``stop``): set when ``stop`` is, or when the lock expired (heartbeats
    failed) or was taken, since such a pass must record nothing.
    """

    def __init__(self, granted, lock=None, stop=None,
                 scope=ownership.NO_LOCK):
        self.granted = granted
        self._lock = lock
        self._stop = stop
        # What holding it proves (an ownership scope), for the pass.
        self.scope = scope if granted else ownership.NO_LOCK

    def __bool__(self):
        return self.granted

    def is_set(self):
        if self._stop is not None and self._stop.is_set():
            return True
        if self._lock is None:
            return False
        try:
            return not self._lock.is_still_owner()
        except Exception:
            return True


class Coordinator(object):
    """A tooz member; start it in the worker, after the fork."""

    def __init__(self, conf, member=True):
        self.url = (conf.coordination.backend_url
                    or 'file://' + conf.state_path)
        self.distributed = parse.urlsplit(self.url).scheme != 'file'
        # A file backend's members never expire: no ring of them.
        self.member = member and self.distributed
        self.member_id = ('%s-%s' % (socket.gethostname(),
                                     uuid.uuid4().hex[:8])).encode()
        self._tooz = None
        self._connecting = threading.Lock()

    def start(self):
        if not self.distributed:
            LOG.warning('[coordination] backend_url is a local directory: '
                        'this daemon reconciles every backend and its passes '
                        'exclude those of this host only; do not run another '
                        'daemon against the same cloud on another host')
        try:
            self._connect()
        except Exception as e:
            # Retried before the next pass; meanwhile nothing is owned.
            LOG.warning('Coordination backend unreachable: %s',
                        type(e).__name__)

    def _connect(self):
        """The started coordinator; connects if needed.

        While one thread (re)connects, which can take a minute when the
        backend is down, the others do not wait: their passes are skipped.
        """
        if self._tooz is not None:
            return self._tooz
        if not self._connecting.acquire(blocking=False):
            raise RuntimeError('connecting')
        try:
            if self._tooz is None:
                tooz = coordination.get_coordinator(self.url, self.member_id)
                tooz.start(start_heart=True)
                try:
                    if self.member:
                        self._join(tooz)
                except Exception:
                    tooz.stop()
                    raise
                self._tooz = tooz
                LOG.info('Coordination started as member %s',
                         self.member_id.decode())
            return self._tooz
        finally:
            self._connecting.release()

    def _join(self, tooz):
        try:
            tooz.join_group_create(GROUP)
        except coordination.MemberAlreadyExist:
            pass

    def _owner(self, tooz, backend):
        try:
            members = tooz.get_members(GROUP).get()
        except coordination.GroupNotCreated:
            members = set()
        if self.member_id not in members:
            # Our heartbeat lapsed and another member removed us, or the
            # coordination backend lost its data.
            LOG.warning('Member %s is not in the group; joining again',
                        self.member_id.decode())
            self._join(tooz)
            members = tooz.get_members(GROUP).get()
        [owner] = hashring.HashRing(members)[backend.encode()]
        return owner

    @contextlib.contextmanager
    def exclusive(self, backend, blocking=False, stop=None, ring=True):
        """Yield a :class:`Lease`: may this process reconcile ``backend``?

        A member must own ``backend`` on the ring (unless ``ring`` is
        False: a host's reports go to any controller); anyone must hold
        its lock, for as long as the block runs. ``blocking``: wait for
        the lock, for ever or this many seconds.
        """
        try:
            tooz = self._connect()
            if (ring and self.member
                    and self._owner(tooz, backend) != self.member_id):
                yield Lease(False)
                return
            lock = tooz.get_lock(lock_name(backend))
            acquired = lock.acquire(blocking=blocking)
        except Exception as e:
            LOG.warning('Backend %s: ownership unknown, pass skipped (%s)',
                        backend, type(e).__name__)
            yield Lease(False)
            return
        if not acquired:
            LOG.info('Backend %s: a pass is under way elsewhere', backend)
            yield Lease(False)
            return
        try:
            yield Lease(True, lock, stop, ownership.GLOBAL_LOCK
                        if self.distributed else ownership.HOST_LOCK)
        finally:
            try:
                lock.release()
            except Exception as e:
                # It expires by itself after the tooz timeout.
                LOG.warning('Backend %s: lock not released (%s)', backend,
                            type(e).__name__)

    def stop(self):
        tooz, self._tooz = self._tooz, None
        if tooz is None:
            return
        try:
            if self.member:
                tooz.leave_group(GROUP).get()
        except Exception as e:
            LOG.warning('Could not leave the coordination group: %s',
                        type(e).__name__)
        tooz.stop()
