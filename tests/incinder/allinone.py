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

"""cinder-api and cinder-volume services in one process, in Cinder's venv.

Run by :class:`reconciler.simulators.cinder.CinderCloud` with Cinder's own
python, never imported by us. ``transport_url = fake://`` is oslo.messaging's
in-memory driver: the API's RPC calls only reach a volume service that runs
in the same process, which is what the manageable-resources API needs.
Usage: ``python allinone.py --config-file cinder.conf``; every backend of
``enabled_backends`` gets a volume service, as cinder-volume would start it,
and a scheduler serves them (manage requests go through it).
"""

from cinder import monkey_patch
monkey_patch.patch()

import os  # noqa: E402
import sys  # noqa: E402

# The fixture driver next to this file; nothing else lives here, so nothing
# shadows Cinder's own modules.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cinder.common import config  # noqa: E402
from cinder.common import constants  # noqa: E402
from cinder import coordination  # noqa: E402
from cinder import objects  # noqa: E402
from cinder import rpc  # noqa: E402
from cinder import service  # noqa: E402
from cinder import version  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402
from oslo_service import service as oslo_service  # noqa: E402


def main():
    conf = cfg.CONF
    objects.register_all()
    conf(sys.argv[1:], project='cinder', version=version.version_string())
    config.set_middleware_defaults()
    logging.setup(conf, 'cinder')
    coordination.COORDINATOR.start()
    rpc.init(conf)
    launcher = oslo_service.ServiceLauncher(conf)
    for backend in conf.enabled_backends or ():
        conf.register_opt(cfg.StrOpt('backend_host'), group=backend)
        host = '%s@%s' % (conf[backend].backend_host or conf.host, backend)
        launcher.launch_service(service.Service.create(
            host=host, service_name=backend,
            binary=constants.VOLUME_BINARY, coordination=True))
    # The scheduler places managed volumes (Cinder's manage API goes
    # through it) on the volume services above.
    launcher.launch_service(service.Service.create(
        binary=constants.SCHEDULER_BINARY))
    launcher.launch_service(service.WSGIService('osapi_volume'))
    launcher.wait()


if __name__ == '__main__':
    main()
