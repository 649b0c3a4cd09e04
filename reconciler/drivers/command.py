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

"""Running an array's command-line tool, bounded and with errors we own.

LVM and the Ceph CLI are local commands, not network APIs: each call runs
through ``oslo_concurrency.processutils`` with a timeout (the process is
killed when it expires), behind an optional command prefix such as Cinder's
root helper, and any way it can fail becomes an
:class:`reconciler.exception.ArrayError` naming the command.
"""

import shlex
import subprocess

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_utils import strutils

from reconciler.drivers import bounded
from reconciler import exception


class CommandFailed(exception.ArrayError):
    """The command ran and exited non-zero; ``stderr`` says why."""

    def __init__(self, message, exit_code, stderr):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


TIMEOUT_OPT = cfg.IntOpt(
    'reconciler_command_timeout', default=120, min=1, max=3600,
    help='Seconds one array command (lvs, tgtadm, rbd...) may run before '
         'it is killed and the pass fails.')


def run(argv, prefix='', timeout=120):
    """Run ``prefix + argv``; return its stdout or raise ArrayError.

    ``prefix`` is a command line such as ``sudo cinder-rootwrap
    /etc/cinder/rootwrap.conf``. It is applied as given, whoever we run as
    (processutils' own root_helper is skipped for root).
    """
    what = argv[0] if argv[0] != 'env' else next(
        a for a in argv[1:] if '=' not in a)
    procs = []
    try:
        out, _err = processutils.execute(
            *(shlex.split(prefix or '') + list(argv)), timeout=timeout,
            on_execute=procs.append)
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
            proc.wait()
        raise exception.ArrayUnreachable('%s: no answer within %ss'
                                         % (what, timeout))
    except processutils.ProcessExecutionError as e:
        stderr = strutils.mask_password((e.stderr or '').strip())
        raise CommandFailed('%s exited with status %s: %s'
                            % (what, e.exit_code, stderr[-500:]),
                            e.exit_code, stderr)
    except OSError as e:
        raise exception.ArrayUnreachable('%s could not run: %s'
                                         % (what, e.strerror))
    bounded.check_size(len(out), what)
    return out
