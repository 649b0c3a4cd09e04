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

"""``cinder-reconciler-agent``: a compute node's host scans, over RPC.

- :mod:`.reporter`: one pass: scan, report to a controller, re-check.
- :mod:`.endpoint`: what a controller may ask of this agent (a scan, a
  disconnect under os-brick's lock).
- :mod:`.service`: the process: a timer and an RPC server.

It reads ``[DEFAULT] transport_url`` and ``[host_scan]`` only: no database,
no Cinder, no array; the controller judges its scans and keeps the history
(reconciler.fleet).
"""
