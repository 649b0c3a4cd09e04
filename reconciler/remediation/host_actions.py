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

"""Host findings: which get a disconnect, the re-check, os-brick's input.

Pure: no I/O. A *disconnect* is os-brick's ``disconnect_volume(...,
force=True)`` for the device's protocol, which flushes and deletes the SCSI
devices, flushes (or, when that fails, removes) the multipath map and logs
out of a session left without devices.

Acted on: ``leftover_device`` and ``faulty_map`` of iSCSI and FC LUNs (a
device or map no attachment to this host uses). Never acted on:

- ``faulty_attached``: an attachment here still uses the map; removing it
  pulls the disk from under the instance. Nova's detach is the way.
- ``missing_device``: nothing on this host to remove; the attachment is
  Cinder's and Nova's to fix (re-attach or detach).
- ``stale_session``: a session without LUNs of Cinder's may still carry
  another LUN (LUN 0, a controller LUN) or a shared target; os-brick only
  logs out of sessions as part of removing a LUN.
- NVMe-oF namespaces: os-brick's NVMe-oF disconnect drops the controller,
  every namespace of the subsystem, and needs connection details the scan
  does not have.
"""

from reconciler.host import view
from reconciler import model

K = model.FindingKind
R = model.ResourceType

DISCONNECT = 'disconnect'
ACTIONS = (DISCONNECT,)
PROTOCOLS = (view.ISCSI, view.FC)

NEVER = {
    K.FAULTY_ATTACHED: 'still attached here: only Nova\'s detach may remove '
                       "an instance's disk",
    K.MISSING_DEVICE: 'nothing on this host to disconnect: re-attach or '
                      'detach through Nova',
    K.STALE_SESSION: 'sessions are logged out only with a LUN os-brick '
                     'removes, never on their own',
}


def _protocol(target):
    target = (target or '').split(',')[0]
    if target.startswith('nqn.'):
        return view.NVME
    if target.startswith(('iqn.', 'eui.', 'naa.')):
        return view.ISCSI
    return view.FC if target else None


def action(finding, quarantine=False, delete_ids=frozenset()):
    """The action for one host finding and why, or (None, reason).

    The signature of :func:`reconciler.remediation.plan.plan`'s ``action``.
    """
    if finding.id in delete_ids:
        return None, 'host findings are disconnected, never deleted'
    if finding.kind in NEVER:
        return None, NEVER[finding.kind]
    if finding.kind not in (K.LEFTOVER_DEVICE, K.FAULTY_MAP):
        return None, 'not a host finding'
    protocol = _protocol(finding.details.get('target'))
    if protocol not in PROTOCOLS:
        return None, '%s devices are not disconnected by the reconciler' % (
            protocol or 'unknown protocol')
    return DISCONNECT, '%s of %s, used by no attachment here' % (
        'faulty multipath map' if finding.kind == K.FAULTY_MAP
        else 'leftover %s' % finding.resource_type,
        finding.details.get('volume_id') or finding.cinder_id
        or finding.details.get('target'))


def _same(candidate, finding):
    return (str(candidate.kind), str(candidate.resource_type),
            candidate.resource_id) == (str(finding.kind),
                                       str(finding.resource_type),
                                       finding.resource_id)


def _keys(finding):
    """The TargetKeys a finding names (its target and LUN details)."""
    targets = (finding.details.get('target') or '').split(',')
    luns = (finding.details.get('lun') or '').split(',')
    return {view.TargetKey(_protocol(t), t, int(lun))
            for t in targets if t for lun in luns if lun.isdigit()}


def fresh_object(finding, host_view):
    """The map or disk of the finding in a fresh scan, or None."""
    if finding.resource_type == R.MULTIPATH:
        return next((m for m in host_view.maps
                     if m.wwid == finding.resource_id), None)
    name = (finding.array_name or '').removeprefix('/dev/')
    return next((d for d in host_view.disks if d.name == name), None)


def members(obj, host_view):
    """The SCSI disks of a map (or the disk itself)."""
    if isinstance(obj, view.MultipathMap):
        disks = {d.name: d for d in host_view.disks}
        return [disks[p.dev] for p in obj.paths if p.dev in disks]
    return [obj]


def recheck(finding, host_view, comparison, cinder_view):
    """``(map or disk, None)`` when the disconnect may go ahead, else
    ``(None, why not)``: the fresh scan and Cinder's attachments must still
    make the same finding of the same LUN.
    """
    keys = _keys(finding)
    for a in cinder_view.attachments:
        if a.targets & keys and a.host == cinder_view.host:
            return None, ('attached again: attachment %s of volume %s names '
                          'this LUN' % (a.attachment_id, a.volume_id))
    if any(_same(c, finding) for c in comparison.held):
        return None, ('not judged now: an attachment in progress, a volume '
                      'in transition or a local volume operation')
    match = [c for c in comparison.candidates if _same(c, finding)]
    obj = fresh_object(finding, host_view)
    if not match:
        for d in host_view.disks:
            if d.key in keys and d.wwid != finding.details.get('wwid'):
                return None, ('%s lun %d now maps WWID %s, not %s (LUN '
                              'reused)' % (d.key.target, d.key.lun, d.wwid,
                                           finding.details.get('wwid')))
        if obj is not None and finding.resource_type == R.DEVICE:
            return None, ('%s is now WWID %s, not %s' % (
                finding.array_name, obj.wwid, finding.resource_id))
        if obj is not None:
            return None, 'no longer a %s finding' % finding.kind
        return None, '%s is gone from the host' % finding.array_name
    fresh = dict(match[0].details)
    for detail in ('target', 'lun'):
        if fresh.get(detail) != finding.details.get(detail):
            return None, ('%s now names %s %s, not %s' % (
                finding.array_name, detail, fresh.get(detail),
                finding.details.get(detail)))
    if obj is None:
        return None, '%s is gone from the host' % finding.array_name
    disks = members(obj, host_view)
    protocols = {d.key.protocol if d.key else None for d in disks}
    if len(protocols) != 1 or not protocols <= set(PROTOCOLS) or any(
            d.key.protocol == view.ISCSI and not d.portal for d in disks):
        return None, ('the paths of %s are not all iSCSI LUNs with a '
                      'portal, or all FC LUNs' % finding.array_name)
    return obj, None


def protocol(obj, host_view):
    """The transport of a re-checked map or disk (all its paths share it).
    """
    return members(obj, host_view)[0].key.protocol


def in_use(obj, host_view, openers):
    """Why ``obj`` (a map or a disk) is in use, or None.

    ``openers`` is :func:`reconciler.host.openers.openers`' answer for the
    object's devices.
    """
    if isinstance(obj, view.MultipathMap):
        if obj.holders or obj.mounts:
            return 'held by %s' % ', '.join(obj.holders + obj.mounts)
        if obj.open_count is None:
            return 'open count of %s unknown (dmsetup lists no such map)' % (
                obj.name)
        if obj.open_count:
            return 'open count %d' % obj.open_count
        own = {obj.dm}
    else:
        own = set()
    for d in members(obj, host_view):
        others = [h for h in d.holders if h not in own]
        if others or d.mounts:
            return '%s held by %s' % (d.name, ', '.join(others + list(
                d.mounts)))
    if openers:
        return 'open by process %s' % ', '.join(
            '%d (%s)' % (pid, ', '.join(paths))
            for pid, paths in sorted(openers.items()))
    return None


def devices(obj, host_view):
    """Kernel names whose openers matter: the map and every path."""
    names = [d.name for d in members(obj, host_view)]
    if isinstance(obj, view.MultipathMap):
        names.append(obj.dm)
    return names


def remaining(obj, before, after):
    """What of ``obj`` (seen in scan ``before``) scan ``after`` still has:
    the map, or any of its paths, by name and WWID.
    """
    left = []
    if isinstance(obj, view.MultipathMap):
        left += ['map %s' % m.name for m in after.maps if m.wwid == obj.wwid]
    now = {(d.name, d.wwid) for d in after.disks}
    left += [d.name for d in members(obj, before) if (d.name, d.wwid) in now]
    return left


def connection(obj, host_view):
    """``(connection_properties, device_info)`` for os-brick's
    ``disconnect_volume`` of the object's protocol, and the path Nova would
    have used (the map's dm-uuid link, or the disk's by-path link, which
    os-brick flushes before deleting the disk).

    iSCSI: every path's portal, IQN and LUN, so no discovery database is
    read. FC: every path's target WWPN and LUN, as ``target_wwns`` and
    ``target_luns``; os-brick finds the devices through the HBAs.
    """
    paths = members(obj, host_view)
    if paths[0].key.protocol == view.FC:
        pairs = sorted({(d.key.target, d.key.lun) for d in paths})
        props = {'target_wwns': [w for w, _lun in pairs],
                 'target_luns': [lun for _w, lun in pairs]}
        prefix = 'pci-'
    else:
        portals = [d.portal for d in paths]
        iqns = [d.key.target for d in paths]
        luns = [d.key.lun for d in paths]
        props = {'target_portal': portals[0], 'target_iqn': iqns[0],
                 'target_lun': luns[0], 'target_portals': portals,
                 'target_iqns': iqns, 'target_luns': luns}
        prefix = 'ip-'
    if isinstance(obj, view.MultipathMap):
        path = '/dev/disk/by-id/dm-uuid-mpath-%s' % obj.wwid
    else:
        link = next((n for n in obj.links if n.startswith(prefix)), None)
        path = ('/dev/disk/by-path/' + link) if link else '/dev/' + obj.name
    return props, {'type': 'block', 'path': path}
