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

"""Per-backend remediation options, in each backend group (and defaults)."""

from oslo_config import cfg

ACTIONS = ('adopt', 'unexport', 'quarantine', 'reset')

OPTS = [
    cfg.IntOpt('reconciler_remediation_min_age', default=86400, min=0,
               max=365 * 86400,
               help='Seconds a finding must have been confirmed before a '
                    'remediation may act on it.'),
    cfg.IntOpt('reconciler_remediation_max_actions', default=5, min=1,
               max=1000,
               help='Most actions one remediation may take on the backend; '
                    'a plan with more does nothing and says so.'),
    cfg.StrOpt('reconciler_adopt_volume_type',
               help='Volume type of volumes adopted through Cinder\'s '
                    'manage API (unset: the default type).'),
    cfg.StrOpt('reconciler_adopt_project',
               help='Project ID adopted volumes are created in. Cinder '
                    'creates a managed volume in the project of the '
                    'request, so the manage call is sent with the [cinder] '
                    'credentials scoped to this project: their user needs '
                    'the admin role there, and the auth_type must take a '
                    'project_id (password, token, noauth...). Unset: the '
                    "[cinder] credentials' own project."),
    cfg.StrOpt('reconciler_adopt_name_prefix', default='found-',
               help='Name of an adopted volume or snapshot: this prefix '
                    'and the UUID it had.'),
    cfg.ListOpt('reconciler_auto_remediate', default=[],
                item_type=cfg.types.String(
                    choices=['array_only:adopt', 'orphan_export:unexport']),
                help='Actions the daemon may take by itself after each ok '
                     'pass, with the same gates and limit as the command '
                     '(kind:action; at most adoption of array-only volumes '
                     'and removal of orphan exports). Empty: none.'),
]
