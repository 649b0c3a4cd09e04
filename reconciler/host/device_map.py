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

"""This host's block devices <-> Cinder volumes, attachments and instances.

The "map a Cinder volume to its block device" runbook, done by the tool:
every disk, multipath map and NVMe namespace of the scan with the LUN it
is, and the volume, attachment and instance whose connection_info names
that LUN here (or, for a device no attachment here names, the volume its
WWID or namespace identifier is); and, for a volume attached here with no
device, a row saying so.
"""

import re

from reconciler.host import compare
from reconciler.host import view

_DEV = re.compile(r'^(?:/dev/(?:mapper/)?)?(?P<name>[^/]+)$')


def _row(kind, device, keys, judge, wwid=None, ns=None, **extra):
    found = judge.mapping(keys, wwid, ns)
    attached = found.get('attachment_id') in judge.here_ids
    keys = sorted(keys)
    return dict(
        device=device, type=kind, wwid=wwid,
        target=','.join(sorted({k.target for k in keys})) or None,
        lun=','.join(sorted({str(k.lun) for k in keys
                             if k.lun is not None})) or None,
        volume_id=found.get('volume_id'),
        attachment_id=found.get('attachment_id'),
        instance_id=found.get('instance_id'),
        attached_here='yes' if attached else 'no', **extra)


def rows(host_view, cinder):
    """One row per device of the scan, then one per deviceless attachment.
    """
    judge = compare._Judge(host_view, cinder, compare.Ownership(),
                           (view.ISCSI, view.FC, view.NVME), ())
    disks = {d.name: d for d in host_view.disks}
    out, in_maps = [], set()
    for m in host_view.maps:
        members = [disks[p.dev] for p in m.paths if p.dev in disks]
        in_maps.update(p.dev for p in m.paths)
        out.append(_row('multipath', '/dev/%s (%s)' % (m.dm, m.name),
                        {d.key for d in members if d.key}, judge,
                        wwid=m.wwid, paths=','.join(
                            '%s:%s' % (p.dev, p.chk_st or p.dm_st)
                            for p in m.paths),
                        holders=','.join(m.holders) or None,
                        mounts=','.join(m.mounts) or None))
    for d in host_view.disks:
        out.append(_row('disk' if d.name not in in_maps else 'path',
                        '/dev/' + d.name, {d.key} if d.key else set(),
                        judge, wwid=d.wwid, paths=d.state or None,
                        holders=','.join(d.holders) or None,
                        mounts=','.join(d.mounts) or None))
    for ns in host_view.namespaces:
        out.append(_row('nvme', '/dev/' + ns.name,
                        {view.TargetKey(view.NVME, ns.nqn)}, judge,
                        wwid=ns.wwid, ns=ns, paths=None,
                        holders=','.join(ns.holders) or None,
                        mounts=','.join(ns.mounts) or None))
    present = {d.key for d in host_view.disks if d.key}
    for a in cinder.here():
        if judge.has_device(a, present, host_view.namespaces) is False:
            out.append(dict(
                device=None, type='no device', wwid=None,
                target=','.join(sorted({k.target for k in a.targets}))
                or a.protocol, lun=None, volume_id=a.volume_id,
                attachment_id=a.attachment_id, instance_id=a.instance_id,
                attached_here='yes', paths=None, holders=None, mounts=None))
    return out


def lookup(all_rows, value):
    """The rows ``value`` names: a device, a WWID, or a volume UUID."""
    value = value.strip()
    m = _DEV.match(value)
    name = m['name'] if m else value
    found = []
    for row in all_rows:
        device = row['device'] or ''
        names = {device, device.split(' ')[0],
                 device.split(' ')[0].removeprefix('/dev/')}
        if device.endswith(')'):
            names.add(device.rpartition('(')[2].rstrip(')'))
        if (value in names or name in names
                or value.lower() in (row['wwid'] or '').lower().split(',')
                or value.lower() == (row['volume_id'] or '').lower()):
            found.append(row)
    return found
