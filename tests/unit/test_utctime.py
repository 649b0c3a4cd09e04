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

"""ISO 8601 in, epoch seconds inside, ISO 8601 out."""

from oslotest import base

from reconciler import utctime

NOON = 1801396800.0     # 2027-01-31T12:00:00Z


class UTCTimeTest(base.BaseTestCase):

    def test_parse_reads_the_forms_cinder_and_operators_write(self):
        for text, epoch in (
                ('2027-01-31T12:00:00Z', NOON),
                ('2027-01-31T12:00:00', NOON),    # Cinder's: naive, UTC
                ('2027-01-31 12:00:00.250000', NOON + 0.25),  # utcnow()
                ('2027-01-31T14:00:00+02:00', NOON),
                ('2027-01-31T12:00:00.000000Z', NOON),
                ('2027-01-31', NOON - 12 * 3600)):
            self.assertEqual(epoch, utctime.parse(text), text)

    def test_parse_refuses_what_is_not_a_time(self):
        for text in ('', 'None', 'tomorrow', '2027-13-01',
                     '2027-01-31T25:00'):
            self.assertRaises(ValueError, utctime.parse, text)

    def test_iso(self):
        self.assertEqual('2027-01-31T12:00:00Z', utctime.iso(NOON + 0.25))
        self.assertEqual('2027-01-31T12:00:00.250000Z',
                         utctime.iso(NOON + 0.25, microseconds=True))
        self.assertEqual(NOON + 0.25, utctime.parse(
            utctime.iso(NOON + 0.25, microseconds=True)))


class UntilTest(base.BaseTestCase):
    """``findings ignore --until``: the operator's time, UTC unless said."""

    def test_a_future_time_in_any_iso_form(self):
        from reconciler.cmd import manage
        for text in ('2999-01-31', '2999-01-31T12:00:00',
                     '2999-01-31T14:00:00+02:00', '2999-01-31 12:00Z'):
            self.assertEqual(utctime.parse('2999-01-31T00:00:00Z') + (
                0 if text == '2999-01-31' else 12 * 3600),
                manage._until(text), text)

    def test_a_past_or_unreadable_time_is_refused(self):
        from reconciler.cmd import manage
        from reconciler import exception
        for text, why in (('2020-01-01T00:00:00', 'is in the past'),
                          ('next tuesday', 'is not an ISO 8601 time')):
            e = self.assertRaises(exception.ConfigError, manage._until, text)
            self.assertIn(why, str(e))
