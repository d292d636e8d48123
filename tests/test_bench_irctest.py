"""
C{bench.irctest_report}: the conformance figures and the list of tests
that did not pass, read from irctest's JUnit XML.
"""

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from bench.irctest_report import markdown, read

XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="irctest.server_tests.cap.CapTestCase" name="testNoReq"/>
<testcase classname="irctest.server_tests.cap.CapTestCase" name="testReqOne"/>
<testcase classname="irctest.server_tests.whowas.WhowasTestCase" name="testWhowasCount1">
 <failure message="AssertionError: expected command to match 314, got 406">long traceback</failure>
</testcase>
<testcase classname="irctest.server_tests.who.WhoTestCase" name="testWhoxFull">
 <skipped type="pytest.skip" message="Unsupported ISUPPORT token: WHOX">x</skipped>
</testcase>
<testcase classname="irctest.server_tests.who.WhoTestCase" name="testWhoxOneChar[a]">
 <skipped type="pytest.skip" message="Unsupported ISUPPORT token: WHOX">x</skipped>
</testcase>
<testcase classname="irctest.server_tests.regressions.RegressionsTestCase" name="testStarNick">
 <skipped type="pytest.xfail" message="wat">x</skipped>
</testcase>
</testsuite></testsuites>
"""


class ReportTests(SynchronousTestCase):
    def setUp(self):
        self.path = Path(self.mktemp())
        self.path.write_text(XML)

    def test_figures(self):
        """
        Passed, failed, skipped and expected failures are counted apart,
        as pytest's own summary counts them.
        """
        self.assertEqual(read(str(self.path)).figures(),
                         "2 passed, 1 failed, 2 skipped, 1 xfailed")

    def test_everyTestNamedUnderItsReason(self):
        """
        Each reason is given once, followed by each of its tests by name.
        """
        self.assertEqual(markdown("globalchat", read(str(self.path))), [
            "### globalchat: 2 passed, 1 failed, 2 skipped, 1 xfailed", "",
            "- Failed (1): AssertionError: expected command to match 314, got 406",
            "  - `whowas.WhowasTestCase::testWhowasCount1`",
            "- Skipped (2): Unsupported ISUPPORT token: WHOX",
            "  - `who.WhoTestCase::testWhoxFull`",
            "  - `who.WhoTestCase::testWhoxOneChar[a]`",
            "- Expected to fail (xfail) (1): wat",
            "  - `regressions.RegressionsTestCase::testStarNick`",
            "",
        ])
