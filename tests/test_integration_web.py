"""
The browser client end to end: the real C{twistd globalchat} with a line
port and a web port, two pages in headless Chromium (Debian's, driven by
Playwright) and one raw TCP client, as C{nc} would be.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.processes import LISTENING, RawClient, Server

CHROMIUM = "/usr/bin/chromium"

#: Chromium as root needs --no-sandbox; the others keep it off the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

#: Milliseconds any one wait in a page may take.
WAIT = 15_000

XSS = "<img src=x onerror=alert(1)>"


def launchChromium(testCase: SynchronousTestCase):
    """
    A fresh headless Chromium (its own profile), closed after the test.

    @raise SkipTest: when Chromium or Playwright is not installed or
        Chromium cannot start here, saying which.
    """
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise SkipTest("Playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        raise SkipTest(f"no {CHROMIUM}: apt-get install chromium (what .ci/run does)")
    playwright = sync_playwright().start()
    testCase.addCleanup(playwright.stop)
    profile = tempfile.mkdtemp(prefix="gc-chromium-")
    testCase.addCleanup(shutil.rmtree, profile, True)
    try:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            timeout=WAIT, viewport={"width": 1000, "height": 640})
    except Error as e:
        raise SkipTest(f"{CHROMIUM} cannot be launched here: {e.message.splitlines()[0]}")
    testCase.addCleanup(browser.close)
    return browser


class BrowserTests(SynchronousTestCase):
    """
    What the people at the two pages and at the terminal notice.
    """

    def setUp(self):
        browser = launchChromium(self)
        operators = Path(self.mktemp()).resolve()
        operators.write_text("Root\n")
        self.server = Server(self, "--port", "tcp:0:interface=127.0.0.1",
                             "--web", "tcp:0:interface=127.0.0.1", "--operators", str(operators))
        self.webPort = int(self.server.waitFor(LISTENING, 2)[1].group(2))
        self.browser = browser
        self.dialogs = []

    def page(self, name: str, password: str = ""):
        """
        A page logged in as C{name}.
        """
        page = self.browser.new_page()
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"http://127.0.0.1:{self.webPort}/", timeout=WAIT)
        page.fill("#name", name)
        page.fill("#password", password)
        page.press("#password", "Enter")
        page.wait_for_selector("#chat:not([hidden])", timeout=WAIT)
        return page

    def say(self, page, text: str) -> None:
        page.fill("#line", text)
        page.press("#line", "Enter")

    def shows(self, page, text: str, count: int = 1) -> None:
        """
        Wait until C{page}'s open pane shows C{text} C{count} times.
        """
        page.wait_for_function(
            "([text, count]) => [...document.querySelectorAll('.pane:not([hidden]) .line')]"
            ".filter((line) => line.textContent.includes(text)).length >= count",
            arg=[text, count], timeout=WAIT)

    def shown(self, page, text: str) -> int:
        return page.locator(".pane:not([hidden]) .line", has_text=text).count()

    def terminal(self, name: str) -> RawClient:
        raw = RawClient(self, self.server.ports[0])
        raw.send(name.encode() + b"\n")
        self.assertEqual(raw.readLine(), f"Hello Good morning !!!! ::: {name}")
        return raw

    def readUntil(self, raw: RawClient, last: str) -> list[str]:
        lines = [raw.readLine()]
        while lines[-1] != last:
            lines.append(raw.readLine())
        return lines

    def test_chatFromBrowsers(self):
        """
        Two pages and a terminal chat in one room; a private message, a
        line of HTML, the backlog, and a page cut off by the server that
        comes back with what it missed, once.
        """
        root = self.terminal("Root")
        root.send(b"/register root-password\nbefore the pages\n")
        self.readUntil(root, "MSG #lobby <Root> before the pages")
        registering = self.terminal("Bob")
        registering.send(b"/register bob-password\n/quit\n")
        self.readUntil(registering, "OK /quit")

        ann = self.page("Ann")
        self.shows(ann, "before the pages")
        bob = self.page("Bob", "bob-password")
        self.shows(bob, "before the pages")

        self.say(ann, "hello from Ann")
        self.say(bob, XSS)
        self.shows(bob, "hello from Ann")
        self.shows(ann, XSS)
        root.send(b"hi from the terminal\n")
        for page in (ann, bob):
            self.shows(page, "hi from the terminal")
        self.readUntil(root, "MSG #lobby <Root> hi from the terminal")

        # HTML a user typed is text: no element made, nothing run.
        self.assertEqual(ann.locator(".pane img").count(), 0)
        self.assertEqual(self.dialogs, [])

        self.say(ann, "/msg Bob just for Bob")
        self.say(ann, "after the private one")
        bob.click("#people li", timeout=WAIT)
        self.shows(bob, "just for Bob")
        self.assertEqual(bob.inner_text("#title"), "Ann")
        seen = self.readUntil(root, "MSG #lobby <Ann> after the private one")
        self.assertFalse([line for line in seen if "just for Bob" in line])
        bob.click("#rooms li", timeout=WAIT)
        self.shows(bob, "after the private one")
        self.assertEqual(self.shown(bob, "just for Bob"), 0)

        # The server ends Ann's connection; what is said meanwhile reaches
        # her page once it is back, exactly once.
        root.send(b"/kill Ann testing\n")
        ann.wait_for_selector("#banner:not([hidden])", timeout=WAIT)
        self.assertIn("Connection lost", ann.inner_text("#banner"))
        root.send(b"while Ann was away\n")
        self.say(bob, "Bob too, meanwhile")
        ann.wait_for_selector("#banner", state="hidden", timeout=WAIT)
        self.readUntil(root, "JOIN #lobby Ann")
        root.send(b"welcome back\n")
        self.shows(ann, "welcome back")
        for text in ("while Ann was away", "Bob too, meanwhile", "hello from Ann",
                     "hi from the terminal"):
            self.assertEqual(self.shown(ann, text), 1, text)
        self.assertEqual(self.shown(bob, "while Ann was away"), 1)

        screenshot = Path(self.mktemp()).with_suffix(".png")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        bob.screenshot(path=str(screenshot))
        self.assertGreater(screenshot.stat().st_size, 10_000)
