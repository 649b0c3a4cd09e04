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

"""Remediation of this host's findings: os-brick disconnects, gated.

Runs on the host itself (``cinder-reconciler-manage remediate --host``),
with the gates of a backend's remediation: dry run by default, confirmed
findings older than ``[host_scan] remediation_min_age`` only, at most
``remediation_max_actions`` steps, nothing unless the host's newest pass
succeeded, the same ``actions`` rows and ``reconciler.remediation.*``
notifications, and a failed step stops the run.

The host pass's own lock is held throughout, so a host pass and a
remediation never interleave. Each step holds os-brick's
``connect_volume`` lock (``[host_scan] lock_path``, shared with nova-compute
and cinder-volume) from the re-check to the end of the disconnect, so no
attach or detach runs between them: the re-check is a fresh scan and
Cinder's attachments now, and the device must still make the same finding,
of the same LUN and WWID, with no holder, mount or opener. os-brick's
``disconnect_volume`` takes that lock itself too; the lock is a POSIX
record lock, which the process already owns, so it does not wait for
itself.
"""

import os
import shlex
import time

from os_brick import exception as brick_exc
from os_brick.initiator.connectors import fibre_channel
from os_brick.initiator.connectors import iscsi
from os_brick.initiator import linuxscsi
from os_brick.privileged import rootwrap as priv_rootwrap
from oslo_concurrency import lockutils
from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_privsep import priv_context
from oslo_utils import strutils

from reconciler import exception
from reconciler.host import manager as host_manager
from reconciler.host import openers as openers_mod
from reconciler.host import view
from reconciler import model
from reconciler import ownership
from reconciler.remediation import brick_root
from reconciler.remediation import host_actions
from reconciler.remediation import plan as plan_mod
from reconciler.remediation import remediator

LOG = logging.getLogger(__name__)


class _Session(object):
    """What the steps of one applied run share: the host unit, os-brick's
    connector and the ownership the history remembers.
    """

    def __init__(self, unit, connectors, owned):
        self.unit = unit
        self.connectors = connectors   # protocol -> os-brick connector
        self.owned = owned
        self.lock = None

    def acquire(self):
        group = self.unit.group
        lock = lockutils.external_lock(host_manager.BRICK_LOCK,
                                       host_manager.BRICK_LOCK_PREFIX,
                                       group.lock_path)
        if not lock.acquire(blocking=True, timeout=group.lock_timeout):
            raise host_manager.HostBusy(
                'an attach or detach held os-brick\'s lock for more than '
                '%ds: not disconnected' % group.lock_timeout)
        self.lock = lock

    def release(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class HostRemediator(remediator.Remediator):
    """Plans and applies disconnects of this host's confirmed findings."""

    def __init__(self, conf, history, notifier, actor, unit=None,
                 execute=None):
        self.unit = unit or host_manager.HostReconciler(conf, history,
                                                        notifier)
        super().__init__(conf, None, history, notifier, actor)
        # os-brick's own execute (timeouts, retries) through our root
        # helper; tests and the demo give the host simulator's.
        self.simulated = execute is not None
        self.execute = execute or priv_rootwrap.custom_execute

    def run(self, apply=False, kinds=None, finding_ids=None, limit=None):
        group = self.unit.group
        scope = self.unit.scope
        limit = remediator.effective_limit(limit,
                                           group.remediation_max_actions)
        with self.unit._lock(host_manager.PASS_LOCK,
                             host_manager.PASS_LOCK_PREFIX,
                             'a host pass'):
            # The host pass lock is this host's: it proves no other
            # process here runs a step of this host.
            self.close_abandoned(scope, ownership.HOST_LOCK)
            now = time.time()
            findings = self.history.findings(
                backend=scope, state=model.FindingState.CONFIRMED)
            plan = plan_mod.plan(
                findings, now, group.remediation_min_age, limit,
                set(host_actions.ACTIONS), kinds=kinds,
                finding_ids=finding_ids, action=host_actions.action)
            refusal = None
            if (os.path.abspath(group.root_prefix) != '/'
                    and not self.simulated):
                refusal = ('[host_scan] root_prefix is %s: os-brick\'s '
                           "commands would act on this host's own devices, "
                           'not those scanned there; --apply needs '
                           'root_prefix = /' % group.root_prefix)
            outcome, last = self._gate(scope, 'host', plan, apply, limit,
                                       refusal)
            if outcome.error or not apply or not plan.steps:
                return outcome
            session = self._session(last)
            with self._brick(), brick_root.rooted(group.root_prefix,
                                                  self.execute):
                self._run_steps(plan, outcome, lambda step: self._step(
                    step, session, None, None))
        self.notifier.flush(self.history)
        return outcome

    def _session(self, last_ok):
        group = self.unit.group
        connectors = {
            view.ISCSI: iscsi.ISCSIConnector(
                group.root_helper, execute=self.execute, use_multipath=True),
            # Multipath for a map only: for a single disk os-brick would
            # look for a map of its WWN and wait for none to appear.
            (view.FC, True): fibre_channel.FibreChannelConnector(
                group.root_helper, execute=self.execute, use_multipath=True),
            (view.FC, False): fibre_channel.FibreChannelConnector(
                group.root_helper, execute=self.execute,
                use_multipath=False)}
        return _Session(self.unit, connectors,
                        host_manager.remembered_ownership(group, last_ok))

    def _brick(self):
        """os-brick set up as on this host: its lock in ``lock_path`` and,
        on the real root, privsep started through our root helper.
        """
        group = self.unit.group
        if os.path.abspath(group.root_prefix) == '/':
            priv_context.init(root_helper=shlex.split(group.root_helper))
        return _override(cfg.CONF, 'lock_path', group.lock_path,
                         'os_brick')

    def _step(self, step, session, inventory, writer):
        try:
            return super()._step(step, session, inventory, writer)
        finally:
            session.release()   # taken by _recheck

    def _recheck(self, finding, session, _inventory):
        session.acquire()
        unit = session.unit
        host_view = unit.scanner().scan()
        cinder_view = unit.inventory_factory(self.conf).host_view(unit.host)
        comparison = unit._compare(host_view, cinder_view, session.owned)
        obj, why_not = host_actions.recheck(finding, host_view, comparison,
                                            cinder_view)
        if why_not:
            return None, why_not
        names = host_actions.devices(obj, host_view)
        try:
            opened = openers_mod.openers(unit.group.root_prefix, names)
        except exception.InventoryError as e:
            return None, str(e)
        busy = host_actions.in_use(obj, host_view, opened)
        if busy:
            return None, 'in use: %s' % busy
        return (obj, host_view), None

    def _applied(self, step, session, _writer):
        """Disconnected already: the finding's map or disk is gone from a
        fresh scan (still under os-brick's lock).
        """
        finding = step.finding
        if host_actions.fresh_object(
                finding, session.unit.scanner().scan()) is not None:
            return None
        return 'disconnected: %s is gone from the host' % (
            finding.array_name or finding.resource_id)

    def _act(self, step, fresh, session, _inventory, _writer):
        """os-brick's disconnect, forced; done only if a fresh scan (still
        under os-brick's lock) no longer shows the map or any of its paths.
        """
        obj, host_view = fresh
        props, device_info = host_actions.connection(obj, host_view)
        names = host_actions.devices(obj, host_view)
        error = None
        try:
            proto = host_actions.protocol(obj, host_view)
            connector = session.connectors[
                proto if proto == view.ISCSI
                else (proto, isinstance(obj, view.MultipathMap))]
            connector.disconnect_volume(props, device_info, force=True)
        except (brick_exc.BrickException,
                processutils.ProcessExecutionError) as e:
            error = _brick_error(e)
        after = session.unit.scanner().scan()
        paths_left = [n for n in host_actions.remaining(obj, host_view,
                                                        after)
                      if not n.startswith('map ')]
        if isinstance(obj, view.MultipathMap) and not paths_left:
            after = self._remove_map(obj, after, session) or after
        left = host_actions.remaining(obj, host_view, after)
        if left:
            raise exception.ReconcilerError(
                'os-brick could not disconnect %s: %s still there%s' % (
                    ', '.join(names), ', '.join(left),
                    '; %s' % error if error else ''))
        return 'disconnected %s (os-brick, force=True%s)' % (
            ', '.join(names), '; forced past: %s' % error if error else '')

    def _remove_map(self, obj, after, session):
        """The map os-brick left when its flush failed, paths all gone.

        Forced, os-brick means to remove such a map (``multipathd del
        map``), but hands ``multipath_del_map`` the map's name where it
        reads a sysfs name (dm-N), finds nothing and leaves it: the same
        os-brick call, with the dm-N it expects. Returns a fresh scan.
        """
        if not any(m.wwid == obj.wwid and m.dm == obj.dm
                   for m in after.maps):
            return None
        LOG.info('os-brick left map %s (%s) without paths: removing it',
                 obj.name, obj.dm)
        scsi = linuxscsi.LinuxSCSI(self.unit.group.root_helper,
                                   execute=self.execute)
        try:
            scsi.multipath_del_map(obj.dm)
        except (brick_exc.BrickException,
                processutils.ProcessExecutionError) as e:
            LOG.warning('Removing map %s failed: %s', obj.name,
                        _brick_error(e))
        return session.unit.scanner().scan()


def _brick_error(e):
    """One line per error os-brick chained, secrets masked: a command's
    failure names the command, its exit code and its last line of stderr
    (its first line of text says only "Unexpected error while running
    command.").
    """
    chained = getattr(e, '_exceptions', None)
    errors = [v for _t, v, _tb in chained] if chained else [e]
    lines = []
    for v in errors:
        text = str(v).strip().splitlines()
        if isinstance(v, processutils.ProcessExecutionError) and v.cmd:
            said = (v.stderr or v.stdout or '').strip().splitlines()
            text = ['%s exited %s%s' % (v.cmd, v.exit_code,
                                        ': ' + said[-1] if said else '')]
        lines.append('%s: %s' % (type(v).__name__, text[0] if text else ''))
    return strutils.mask_password('; '.join(lines))[:500]


class _override(object):
    """An oslo.config override for the duration of a ``with``."""

    def __init__(self, conf, name, value, group):
        self.args = conf, name, value, group

    def __enter__(self):
        conf, name, value, group = self.args
        conf.set_override(name, value, group)

    def __exit__(self, *exc):
        conf, name, _value, group = self.args
        conf.clear_override(name, group)
