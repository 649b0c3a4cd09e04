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

"""oslo.policy rules with their defaults in code (``list_rules`` is the
``oslo.policy.policies`` entry point the sample generator reads).
"""

import itertools

from reconciler.api.policies import base
from reconciler.api.policies import findings
from reconciler.api.policies import records


def list_rules():
    return list(itertools.chain(base.list_rules(), findings.list_rules(),
                                records.list_rules()))
