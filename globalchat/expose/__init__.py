"""
Reachability: asking the local gateway to forward a port to this host
(PCP, NAT-PMP, UPnP IGD) and learning the public address (gateway, STUN).
"""
