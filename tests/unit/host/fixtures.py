"""The host root simulator (reconciler/simulators/host.py) as a fixture."""

import fixtures

from reconciler.simulators import host


class HostRoot(fixtures.Fixture, host.HostRoot):
    """A fresh host under a temporary directory, for one test."""

    def __init__(self):
        pass  # the host is laid out in _setUp, under a fresh directory

    def _setUp(self):
        host.HostRoot.__init__(self, self.useFixture(fixtures.TempDir()).path)
