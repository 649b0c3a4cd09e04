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

"""The controller's side of host agents.

- :mod:`.views`: Cinder's attachments and volume states, listed once per
  cycle for every host, and a host's fresh view when a pass would change
  its findings.
- :mod:`.endpoint`: the ``host`` RPC API agents report to.
- :mod:`.staleness`: which hosts' agents went silent.
- :mod:`.remediation`: host remediation through a host's agent.
"""
