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

"""Start the array of a scenario backend; get the options that reach it.

One entry per driver: ``start(scenario, backend, workdir, stack)`` starts the
simulator on 127.0.0.1 (stopped through the ``contextlib.ExitStack``) and
returns the backend group, written as it would be copied from cinder.conf:
the reconciler derives its driver from ``volume_driver``.
"""

import os

from reconciler.simulators import fake_array
from reconciler.simulators import hpe3par
from reconciler.simulators import lefthand
from reconciler.simulators import nec

# Demo credentials of simulated arrays on loopback, not secrets.
_USER, _PASSWORD = 'demo-admin', 'demo-array-password'


def _fake(scenario, backend, workdir, stack):
    path = os.path.join(workdir, 'array-%s.yaml' % backend)
    fake_array.write(scenario, backend, path)
    return {'volume_driver':
            'cinder.tests.fake_driver.FakeLoggingVolumeDriver',
            'fake_array_file': path}


def _lefthand(scenario, backend, workdir, stack):
    sim = lefthand.LeftHandSimulator.from_scenario(
        scenario, backend, username=_USER, password=_PASSWORD).start()
    stack.callback(sim.stop)
    return {'volume_driver': 'cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                             'HPELeftHandISCSIDriver',
            'hpelefthand_api_url': sim.url, 'hpelefthand_username': _USER,
            'hpelefthand_password': _PASSWORD,
            'hpelefthand_clustername': scenario.backend(backend).pools[0]}


def _hpe3par(scenario, backend, workdir, stack):
    sim = hpe3par.HPE3PARSimulator(scenario, backend, username=_USER,
                                   password=_PASSWORD).start()
    stack.callback(sim.stop)
    return {'volume_driver': 'cinder.volume.drivers.hpe.hpe_3par_iscsi.'
                             'HPE3PARISCSIDriver',
            'hpe3par_api_url': sim.url, 'hpe3par_username': _USER,
            'hpe3par_password': _PASSWORD,
            'hpe3par_cpg': ','.join(scenario.backend(backend).pools)}


def _nec(scenario, backend, workdir, stack):
    pools = scenario.backend(backend).pools
    sim = nec.Simulator(nec.Array.from_scenario(scenario, backend), workdir,
                        users={_USER: _PASSWORD}).start()
    stack.callback(sim.stop)
    return {'volume_driver': 'cinder.volume.drivers.nec.volume.'
                             'MStorageISCSIDriver',
            'nec_ismcli_fip': '127.0.0.1',
            'nec_ssh_pool_port_number': str(sim.port),
            'nec_ismcli_user': _USER, 'nec_ismcli_password': _PASSWORD,
            'nec_ssh_known_hosts_file': sim.known_hosts,
            'nec_pools': ','.join(pools[:-1]), 'nec_backup_pools': pools[-1]}


STARTERS = {'fake': _fake, 'hpelefthand': _lefthand, 'hpe3par': _hpe3par,
            'nec': _nec}


def start(scenario, backend, workdir, stack):
    return STARTERS[scenario.backend(backend).driver](
        scenario, backend, workdir, stack)
