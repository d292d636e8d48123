"""
Tests of the L{globalchat} package as a whole: which of its modules
import which, and which tests each names.
"""

from __future__ import annotations

import ast
import re
from importlib.util import find_spec
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import globalchat

PACKAGE = Path(globalchat.__file__).resolve().parent

#: The Emacs-style header naming a module's tests, for C{trial --testmodule}.
TEST_CASE_NAME = re.compile(r"-\*- test-case-name: (\S+) -\*-")


def modules() -> dict[str, Path]:
    """
    Every module of the package, by dotted name (a package by its own).
    """
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _typeChecking(node: ast.AST) -> bool:
    """
    Whether C{node} is C{if TYPE_CHECKING:} (or C{typing.TYPE_CHECKING}).
    """
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, path: Path, known: dict[str, Path], typeChecking: bool) -> set[str]:
    """
    The modules of C{known} that module C{name} imports anywhere in its
    code: at module level and inside classes and functions, since an
    import in a function is still an import once that function runs.

    @param typeChecking: count imports made only for type checkers too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = set()
    if not typeChecking:
        for guard in filter(_typeChecking, ast.walk(tree)):
            hidden.update(id(node) for statement in guard.body for node in ast.walk(statement))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return found & known.keys()


def importGraph(typeChecking: bool = False) -> dict[str, set[str]]:
    """
    Which modules of the package each of its modules imports.
    """
    known = modules()
    return {name: imports(name, path, known, typeChecking) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """
    The groups of modules that import each other, directly or not.
    """
    reach = {}
    for start in graph:
        seen, todo = set(), [start]
        while todo:
            for following in graph[todo.pop()] - seen:
                seen.add(following)
                todo.append(following)
        reach[start] = seen
    return {frozenset(other for other in reach[name] if name in reach[other])
            for name in graph if name in reach[name]}


def isClient(name: str) -> bool:
    return name == "globalchat.client" or name.startswith("globalchat.client.")


class ImportTests(SynchronousTestCase):
    """
    The server runs without the client, and every module can be imported
    on its own.
    """

    def test_sawEveryModule(self):
        """
        The import graph covers the package, and sees imports of every
        form (here, the server's own).
        """
        graph = importGraph()
        self.assertIn("globalchat.chat.wire", graph)
        self.assertIn("globalchat.chat.wire", graph["globalchat.server"])
        self.assertIn("globalchat.chat.wire", graph["globalchat.client.protocol"])

    def test_serverDoesNotImportClient(self):
        """
        No module outside C{globalchat.client} imports from it, not even
        inside a function or for type checking: what both sides need lives
        where both may import it.
        """
        offenders = sorted(f"{name} imports {imported}"
                           for name, imported in importGraph(typeChecking=True).items()
                           if not isClient(name) for imported in filter(isClient, imported))
        self.assertEqual(offenders, [])

    def test_noCycles(self):
        """
        No modules import each other, directly or through others.
        """
        found = cycles(importGraph())
        self.assertEqual(sorted(sorted(cycle) for cycle in found), [])

    def test_cyclesFound(self):
        """
        A cycle through any number of modules is found, once, and modules
        that only lead to it are not part of it.
        """
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
        self.assertEqual(cycles(graph), {frozenset("abc"), frozenset("e")})


class HeaderTests(SynchronousTestCase):
    """
    The C{test-case-name} headers, which C{trial --testmodule} follows
    to run the tests of the module being edited.
    """

    def test_namedTestsExist(self):
        """
        Every test module a header names exists.
        """
        missing = []
        for name, path in modules().items():
            header = TEST_CASE_NAME.search(path.read_text(encoding="utf-8").partition("\n")[0])
            for test in header.group(1).split(",") if header else ():
                if find_spec(test) is None:
                    missing.append(f"{name} names {test}")
        self.assertEqual(missing, [])
