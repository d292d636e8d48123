"""
irctest's own ngIRCd controller, on 127.0.0.1 only: the peer that
globalchat's IRC conformance figures are measured against.
"""

from typing import Type

from irctest.controllers.ngircd import NgircdController

from bench.irctest_globalchat import LoopbackPorts


class LoopbackNgircdController(LoopbackPorts, NgircdController):
    pass


def get_irctest_controller_class() -> Type[LoopbackNgircdController]:
    return LoopbackNgircdController
