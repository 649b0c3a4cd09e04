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

"""A simulated NEC array on 127.0.0.1 and backend options pointing at it."""

import fixtures

from reconciler.simulators import nec

USER = 'admin'
PASSWORD = 'Pa55-w0rd-NEC'


class NecArray(fixtures.Fixture):
    """Starts a :class:`reconciler.simulators.nec.Simulator`, stops it."""

    def __init__(self, array):
        super().__init__()
        self.array = array

    def _setUp(self):
        workdir = self.useFixture(fixtures.TempDir()).path
        self.simulator = nec.Simulator(self.array, workdir,
                                       users={USER: PASSWORD})
        self.simulator.start()
        self.addCleanup(self.simulator.stop)

    def options(self, **overrides):
        """Backend group options for this array (strings, as in a file).

        An override of None leaves the option out.
        """
        options = dict(
            volume_driver='cinder.volume.drivers.nec.volume.'
                          'MStorageISCSIDriver',
            nec_ismcli_fip='127.0.0.1',
            nec_ssh_pool_port_number=str(self.simulator.port),
            nec_ismcli_user=USER, nec_ismcli_password=PASSWORD,
            nec_ssh_known_hosts_file=self.simulator.known_hosts,
            nec_pools='0', nec_backup_pools='1', nec_ismcli_timeout='10')
        options.update(overrides)
        return {k: v for k, v in options.items() if v is not None}
