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

"""Nova's fake virt driver whose live migrations can be held (Nova's venv).

Loaded by nova-compute as ``compute_driver =
held_migration.HeldMigrationDriver`` (see sitecustomize.py), never imported
by us. While the file ``$HELD_MIGRATION_FILE`` exists, a
live migration stays where a real one copies memory: the destination's
``pre_live_migration`` has connected the volumes there (Cinder holds an
attachment for each host), the source's are still in use, and the
instance's task is ``migrating``. Removing the file lets it finish.
"""

import os
import time

from nova.virt import fake

# A held migration ends by itself after this long, so a test that failed
# before releasing it leaves no service stuck.
MAX_HOLD = 300


class HeldMigrationDriver(fake.FakeDriver):

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration=False,
                       migrate_data=None):
        hold = os.environ.get('HELD_MIGRATION_FILE')
        deadline = time.monotonic() + MAX_HOLD
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.2)
        super().live_migration(context, instance, dest, post_method,
                               recover_method, block_migration,
                               migrate_data)
