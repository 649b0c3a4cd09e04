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

"""``list_opts`` for oslo-config-generator (namespace cinder-reconciler)."""

from reconciler.conf import agents
from reconciler.conf import api
from reconciler.conf import backend
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

_MODULES = (default, reconciler, agents, cinder, cinder_notifications,
            coordination, database, metrics, backend, host_scan,
            upgrade_levels, cloud, nova, keystone)


def list_opts():
    return [(group, opts) for module in _MODULES
            for group, opts in module.list_opts().items()]


def list_api_opts():
    """The API service's file (namespace cinder-reconciler.api): its own
    group and the history database's.
    """
    return list_api_service_opts() + [
        item for module in (database, upgrade_levels)
        for item in module.list_opts().items()]


def list_api_service_opts():
    """``[api]`` alone (namespace cinder-reconciler.api-service)."""
    return list(api.list_opts().items())
