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

"""The host root simulator (reconciler/simulators/host.py) as a fixture."""

import fixtures

from reconciler.simulators import host


class HostRoot(fixtures.Fixture, host.HostRoot):
    """A fresh host under a temporary directory, for one test."""

    def __init__(self):
        pass  # the host is laid out in _setUp, under a fresh directory

    def _setUp(self):
        host.HostRoot.__init__(self, self.useFixture(fixtures.TempDir()).path)
