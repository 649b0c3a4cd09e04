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

"""The personas every rule is made of, on Keystone's default roles.

Keystone's bootstrap makes ``admin`` imply ``member`` and ``member`` imply
``reader``, so a rule naming ``reader`` admits all three.

* **admin**: the ``admin`` role, on a project or on the system. Cinder 29
  takes the admin role on any project as a cloud administrator
  (``context_is_admin``) and sets no scope on its rules; the reconciler
  reports on the whole cloud's storage, so it follows Cinder and accepts a
  system-scoped admin as well.
* **cloud reader**: an admin, or the ``reader`` role on the system (the
  read-only on-call persona of Keystone's default roles): reads every
  finding, run, action and backend summary, acts on nothing.
* **project reader**: the ``reader`` role on a project: reads the findings
  of that project's own volumes and snapshots (those whose project Cinder
  told), without the infrastructure fields (backend, array name, evidence).
  A finding whose project is not known (an array object Cinder has no row
  for) is shown to cloud readers only.
"""

from oslo_policy import policy

ADMIN = 'rule:admin'
CLOUD_READER = 'rule:cloud_reader'
PROJECT_READER = 'rule:project_reader'
CLOUD_OR_PROJECT_READER = 'rule:cloud_reader or rule:project_reader'

#: Every rule accepts project- and system-scoped tokens (see ADMIN).
SCOPES = ['project', 'system']

RULES = [
    policy.RuleDefault(
        'admin', 'role:admin',
        description='A cloud administrator: the admin role on a project '
                    '(as Cinder) or on the system.'),
    policy.RuleDefault(
        'cloud_reader', 'rule:admin or (role:reader and system_scope:all)',
        description="Reads everything the reconciler recorded: "
                    'administrators and system readers.'),
    policy.RuleDefault(
        'project_reader', 'role:reader and project_id:%(project_id)s',
        description="A reader of the project that owns the finding's "
                    'volume or snapshot.'),
]


def list_rules():
    return RULES
