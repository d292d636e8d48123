"""
Tests for what C{deploy/} gives an operator: the Prometheus alert rules
(checked and unit-tested with C{promtool}), the Grafana dashboard, and
the systemd unit (checked with C{systemd-analyze verify}), each against
the metrics the exporter really serves.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.process_collector import ProcessCollector
from twisted.internet.task import Clock
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from globalchat.chat.hub import Hub
from globalchat.expose.mapper import PortMapperService
from globalchat.metrics import ChatCollector

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "globalchat.json"
UNIT = DEPLOY / "systemd" / "globalchat.service"

#: A metric name as the rules and the dashboard use them.
METRIC = re.compile(r"\b(?:globalchat|process)_[a-z_]+\b")

#: The sample names each kind of metric family is read under.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def exported() -> set[str]:
    """
    Every sample name the exporter serves, the --expose ones included.
    """
    registry = CollectorRegistry()
    registry.register(ChatCollector(Hub(), PortMapperService(Clock(), []), Clock()))
    ProcessCollector(registry=registry)
    families = text_string_to_metric_families(generate_latest(registry).decode("utf-8"))
    return {family.name + suffix for family in families
            for suffix in SUFFIXES.get(family.type, ("",))}


def needs(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise SkipTest(f"{program} is not installed")
    return found


class AlertTests(SynchronousTestCase):
    """
    deploy/prometheus/alerts.yml.
    """

    def promtool(self, *arguments: str) -> None:
        done = subprocess.run([needs("promtool"), *arguments], cwd=RULES, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_check(self):
        """
        promtool finds the rules well-formed.
        """
        self.promtool("check", "rules", "alerts.yml")

    def test_rules(self):
        """
        Each alert fires on synthetic series of the unusual activity it is
        for, and not on the ordinary series beside them.
        """
        self.promtool("test", "rules", "alerts_test.yml")

    def test_namesExist(self):
        """
        Every metric the rules (and their tests) name is one the exporter
        serves: a renamed metric cannot leave an alert silently dead.
        """
        names = set(METRIC.findall((RULES / "alerts.yml").read_text()))
        names |= set(METRIC.findall((RULES / "alerts_test.yml").read_text()))
        self.assertEqual(names - exported(), set())


class DashboardTests(SynchronousTestCase):
    """
    deploy/grafana/globalchat.json.
    """

    def setUp(self):
        self.dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    def expressions(self) -> list[str]:
        return [target["expr"] for panel in self.dashboard["panels"]
                for target in panel.get("targets", ())]

    def test_namesExist(self):
        """
        Every metric a panel queries is one the exporter serves, and the
        dashboard shows every figure the exporter has.
        """
        names = {name for expr in self.expressions() for name in METRIC.findall(expr)}
        self.assertEqual(names - exported(), set())
        shown = {name.removesuffix("_bucket") for name in names}
        self.assertEqual({name for name in exported() if name.startswith("globalchat_")
                          and not name.endswith(("_count", "_sum", "_bucket"))} - shown, set())

    def test_importable(self):
        """
        The dashboard asks for its Prometheus data source when imported,
        and every panel uses it.
        """
        self.assertEqual(self.dashboard["templating"]["list"][0]["type"], "datasource")
        self.assertEqual({panel["datasource"]["uid"] for panel in self.dashboard["panels"]
                          if panel["type"] != "row"}, {"${datasource}"})


class UnitTests(SynchronousTestCase):
    """
    deploy/systemd/globalchat.service.
    """

    def service(self) -> dict[str, str]:
        """
        The [Service] section's settings.
        """
        section = UNIT.read_text().split("[Service]")[1].split("\n[")[0]
        return dict(line.split("=", 1) for line in section.replace("\\\n", " ").splitlines()
                    if "=" in line and not line.startswith("#"))

    def test_hardened(self):
        """
        It runs as its own user, restarts on failure, and is confined: no
        new privileges, a read-only system, its own state directory and
        /tmp, only the address families it uses, and no capabilities.
        """
        settings = self.service()
        self.assertEqual({key: settings.get(key) for key in [
            "User", "Restart", "NoNewPrivileges", "ProtectSystem", "StateDirectory",
            "PrivateTmp", "RestrictAddressFamilies", "CapabilityBoundingSet",
            "AmbientCapabilities"]}, {
            "User": "globalchat", "Restart": "on-failure", "NoNewPrivileges": "yes",
            "ProtectSystem": "strict", "StateDirectory": "globalchat", "PrivateTmp": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "CapabilityBoundingSet": "", "AmbientCapabilities": ""})
        self.assertIn("--data-dir /var/lib/globalchat", settings["ExecStart"])
        self.assertIn("--metrics tcp:9100:interface=127.0.0.1", settings["ExecStart"])

    def test_verify(self):
        """
        systemd-analyze verify accepts it, without a warning, with its
        twistd where this checkout's is.
        """
        analyze = needs("systemd-analyze")
        unit = Path(self.mktemp())
        unit.mkdir()
        twistd = Path(sys.executable).parent / "twistd"
        (unit / UNIT.name).write_text(
            UNIT.read_text().replace("/opt/globalchat/bin/twistd", str(twistd)))
        done = subprocess.run([analyze, "verify", str(unit / UNIT.name)], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual((done.returncode, done.stdout + done.stderr), (0, ""))
