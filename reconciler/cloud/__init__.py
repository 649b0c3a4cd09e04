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

"""The cloud scope: Cinder against Nova and Keystone (scope ``cloud``).

Same pipeline as a backend's or a host's pass, another scope: Cinder's
whole cloud (volumes, snapshots, backups, attachments, services) against
Nova's servers and block device mappings and Keystone's projects ->
compare (pure) -> re-check with point look-ups -> the same history,
lifecycle and notifications. See ``manager.py``.
"""
