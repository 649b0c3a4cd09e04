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

"""Plain values of the cloud scope: Cinder's whole cloud in one pass.

Nova's and Keystone's views are in reconciler.inventory.nova and .keystone.
"""

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    """A Cinder attachment (``/attachments/detail``), never its
    connection_info. ``instance_id`` is None for attachments of other
    services (Glance's cinder store, Ironic...); ``host`` is the connector
    host, which Cinder shows (to admins) for attached ones only.
    """

    id: str
    volume_id: str
    instance_id: str | None
    status: str
    mode: str | None = None
    host: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Backup:
    id: str
    volume_id: str | None
    status: str
    updated_at: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Service:
    """A Cinder service as ``os-services`` shows it."""

    binary: str
    host: str
    state: str          # up or down (from its heartbeats)
    status: str         # enabled or disabled
    cluster: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CinderCloudView:
    """Everything Cinder shows of the cloud, all projects, every page.

    ``now`` is cinder-api's clock (its Date header) when the listing
    began, the reference for the age of a status.
    """

    volumes: tuple        # model.CinderVolume
    snapshots: tuple      # model.CinderSnapshot
    backups: tuple        # Backup
    attachments: tuple    # Attachment
    services: tuple       # Service
    now: float
    seconds: float = 0.0
    requests: int = 0

    def service_of(self, binary, host):
        """The state of ``binary`` on ``host`` (a volume's host@backend or
        cluster@backend), or 'absent'.
        """
        for s in self.services:
            if s.binary == binary and host in (s.host, s.cluster):
                return s
        return None
