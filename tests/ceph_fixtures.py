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

"""The real Ceph cluster (reconciler/simulators/ceph.py) as a test fixture.

A cluster that cannot start here skips the test on a developer's machine
and fails it in CI (tests/servers.py).
"""

import fixtures

from reconciler.simulators import ceph
from tests import servers

CinderRBD = ceph.CinderRBD
_secret = ceph._secret


def check_available():
    """Skip (fail in CI) where the Ceph packages are not installed."""
    reason = ceph.missing()
    if reason:
        servers.unavailable(reason)


class CephCluster(fixtures.Fixture, ceph.Cluster):
    """A cluster under the servers' directory, for one test or class."""

    def __init__(self, cephx=False, pools=('volumes',)):
        fixtures.Fixture.__init__(self)
        ceph.Cluster.__init__(self, servers._BASE, cephx=cephx, pools=pools)

    def _setUp(self):
        check_available()
        self.addCleanup(self.stop)
        self.start()
