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

"""How the host inventory runs its read-only commands.

A runner is a callable ``runner(*argv) -> (exit_code, stdout)``. In
production it runs the command through the configured root helper (rootwrap
or sudo, as Nova and Cinder run os-brick's commands); tests give recorded
outputs instead. Only these commands are ever run, and none changes the host
(the shipped rootwrap filters, etc/cinder-reconciler/rootwrap.d/host.filters,
allow exactly these).
"""

import subprocess

from oslo_concurrency import processutils

from reconciler import exception

MULTIPATH_MAPS = ('multipathd', 'show', 'maps', 'json')
ISCSI_SESSIONS = ('iscsiadm', '-m', 'session', '-P', '3')
NVME_SUBSYSTEMS = ('nvme', 'list-subsys', '-o', 'json')
DM_OPEN_COUNTS = ('dmsetup', 'info', '-c', '--noheadings', '-o', 'name,open')
COMMANDS = (MULTIPATH_MAPS, ISCSI_SESSIONS, NVME_SUBSYSTEMS, DM_OPEN_COUNTS)


class RootHelperRunner(object):
    """Runs one of :data:`COMMANDS` as root through ``root_helper``."""

    def __init__(self, root_helper, timeout):
        self.root_helper = root_helper
        self.timeout = timeout

    def __call__(self, *argv):
        if argv not in COMMANDS:
            raise exception.ConfigError('refusing to run %s: not a host '
                                        'scan command' % ' '.join(argv))
        try:
            result = processutils.execute(
                *argv, run_as_root=True, root_helper=self.root_helper,
                check_exit_code=True, timeout=self.timeout)
            return 0, result[0]
        except processutils.ProcessExecutionError as e:
            return e.exit_code, e.stdout or ''
        except (OSError, subprocess.TimeoutExpired) as e:
            raise exception.InventoryError('%s could not run: %s'
                                           % (argv[0], type(e).__name__))
