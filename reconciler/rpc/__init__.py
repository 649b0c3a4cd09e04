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

"""Versioned RPC between the controller, its agents and the API.

The shape of Nova's and Cinder's RPC: oslo.messaging over the transport of
``[DEFAULT] transport_url`` (the RPC transport, separate from the
notification transport of ``[oslo_messaging_notifications]``), one
``Target`` per API with a namespace and a version, a client per API whose
version is capped by ``[upgrade_levels]`` for rolling upgrades, and
payloads as plain, versioned dicts of JSON types.

- :mod:`.api`: the client and endpoint base classes, the transport, the
  server.
- :mod:`.base`: ``ping``, served by every controller and agent.
- :mod:`.controller`: the controller's server on :data:`.controller.TOPIC`
  and the entry point through which other packages add endpoints to it.
"""
