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

"""Which processes hold a block device open: the open count of a SCSI disk.

Device-mapper counts a map's openers (``dmsetup info``); a plain SCSI disk
has no such counter, and a qemu still writing to a disk whose attachment
Cinder already deleted holds it open without being a holder or a mount.
Every process's ``/proc/<pid>/fd`` is read under the root prefix: a
directory that cannot be read (not root) makes the answer unknown, never
"nobody".
"""

import os

from reconciler import exception


def openers(root, devices):
    """``{pid: [/dev/<name>...]}`` of the processes holding ``devices``
    (kernel names: sdc, dm-3, their partitions) open.
    """
    wanted = {'/dev/' + d for d in devices}
    proc = os.path.join(root, 'proc')
    found = {}
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError as e:
        raise exception.InventoryError('cannot list /proc: %s'
                                       % type(e).__name__)
    for pid in pids:
        fds = os.path.join(proc, pid, 'fd')
        try:
            names = os.listdir(fds)
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process ended meanwhile
        except OSError as e:
            raise exception.InventoryError(
                'cannot read /proc/%s/fd (%s): who has the device open is '
                'unknown; run as root' % (pid, type(e).__name__))
        for fd in names:
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue  # closed meanwhile
            if target in wanted:
                found.setdefault(int(pid), []).append(target)
    return found
