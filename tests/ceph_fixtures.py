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
