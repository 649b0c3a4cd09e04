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

"""Database failures reach the operator as one line, retries as warnings."""

import os
import resource
import signal
import sqlite3
import threading
import time

from reconciler import history
from tests.unit import test_validation


class DatabaseErrorTest(test_validation.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.url = 'sqlite:///%s/r.sqlite' % self.tmp
        history.History(self.url).sync()

    def test_a_database_that_cannot_grow_is_one_line(self):
        def no_room():
            # Like a full disk: writing past the current size fails.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

        result = self.run_cmd('manage', *self.write(), 'check',
                              preexec_fn=no_room)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        self.assertTrue(last.startswith('Error: history database error: '
                                        '(sqlite3.OperationalError)'), last)

    def test_each_retry_of_a_locked_database_is_logged(self):
        argv = self.write()
        locker = sqlite3.connect(os.path.join(self.tmp, 'r.sqlite'),
                                 isolation_level=None,
                                 check_same_thread=False)
        self.addCleanup(locker.close)
        locker.execute('BEGIN EXCLUSIVE')
        released = threading.Timer(15, locker.execute, ['ROLLBACK'])
        released.start()
        self.addCleanup(released.cancel)
        started = time.monotonic()
        result = self.run_cmd('manage', *argv, 'findings', 'list')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertGreaterEqual(time.monotonic() - started, 15)
        retries = [line for line in result.stderr.splitlines()
                   if 'History database busy, the transaction is retried'
                   in line]
        self.assertGreaterEqual(len(retries), 1, result.stderr)
        self.assertIn('WARNING', retries[0])
        self.assertIn('database is locked', retries[0])
