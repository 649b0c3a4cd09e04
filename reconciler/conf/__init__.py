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

"""Configuration: one module per option group, registered by ``register``.

Options live in a cinder.conf-compatible layout, so the daemon can be pointed
at /etc/cinder/cinder.conf followed by a small file of its own:
``[DEFAULT] enabled_backends`` names backend groups, each group holds Cinder's
own driver options plus ``reconciler_*`` options (see :mod:`.backend`).
"""

import os
import sys

from oslo_config import cfg
from oslo_log import log as logging

from reconciler.conf import agents
from reconciler.conf import api
from reconciler.conf import cinder
from reconciler.conf import cinder_notifications
from reconciler.conf import cloud
from reconciler.conf import coordination
from reconciler.conf import database
from reconciler.conf import default
from reconciler.conf import host_scan
from reconciler.conf import keystone
from reconciler.conf import metrics
from reconciler.conf import nova
from reconciler.conf import reconciler
from reconciler.conf import upgrade_levels
from reconciler import version

_MODULES = (default, reconciler, agents, cinder, cinder_notifications,
            coordination, database, metrics, host_scan, upgrade_levels,
            cloud, nova, keystone)


def register(conf):
    """Register every static option group on ``conf``."""
    for module in _MODULES:
        module.register_opts(conf)


def register_api(conf):
    """The API service's groups: ``[api]``, the history's database and
    the RPC version caps, none of the daemon's (Cinder, arrays,
    coordination).
    """
    for module in (api, database, upgrade_levels):
        module.register_opts(conf)


#: Bits every file we create lacks, whatever the caller's umask: the SQLite
#: history and log files are at most 0640 (systemd's unit sets 0077).
UMASK = 0o027


def restrict_umask():
    """Add :data:`UMASK` to the process umask before any file is created."""
    os.umask(os.umask(UMASK) | UMASK)


def parse(conf, argv, project='cinder-reconciler'):
    """Parse the command line and config files; a file that is missing,
    unreadable or malformed ends the command with one line, no traceback.
    """
    try:
        conf(argv, project=project, version=version.version_string())
    except cfg.Error as e:
        raise SystemExit('%s: %s' % (os.path.basename(sys.argv[0]) or
                                     project, e))


def prepare(conf, argv, project='cinder-reconciler', stdout_is_output=False):
    """Register, parse the command line and config files, set up logging.

    With ``stdout_is_output`` (commands that print reports or JSON), console
    logging goes to stderr whatever the configuration says.
    """
    restrict_umask()
    register(conf)
    logging.register_options(conf)
    # Alembic says "Context impl SQLiteImpl." at INFO each time a process
    # reads the schema's revision: noise on every command's stderr.
    logging.set_defaults(default_log_levels=(
        logging.get_default_log_levels() + ['alembic=WARN']))
    parse(conf, argv, project)
    if stdout_is_output:
        conf.set_override('use_stderr', True)
    logging.setup(conf, project)
    from reconciler import log_masking
    log_masking.install()
