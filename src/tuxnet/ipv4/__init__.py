"""IPv4 (net/ipv4/): each module registers its per-namespace state here, in Linux's init order.

Registration order (lower first): devinet 10 (addresses), fib 20 (tables, rules, routes),
route 25 (route cache/PMTU), nf 28 (netfilter hooks), arp 30 (neighbour table),
ip 40 (input/output/forward/fragments), icmp 45, sockets 48 (the socket table), udp 50, raw 55,
ping 56, tcp 60.
"""

from tuxnet.ipv4.arp import init_arp
from tuxnet.ipv4.devinet import init_devinet
from tuxnet.ipv4.fib import init_fib
from tuxnet.ipv4.icmp import init_icmp
from tuxnet.ipv4.ip_input import init_ip
from tuxnet.ipv4.ping import init_ping
from tuxnet.ipv4.raw import init_raw
from tuxnet.ipv4.route import init_route
from tuxnet.ipv4.tcp.tcp_ipv4 import init_tcp
from tuxnet.ipv4.udp import init_udp
from tuxnet.netfilter.hooks import NfHooks
from tuxnet.netns import register_pernet_subsys
from tuxnet.sock import init_sockets

register_pernet_subsys(10, "devinet", init_devinet)
register_pernet_subsys(20, "fib", init_fib)
register_pernet_subsys(25, "route", init_route)
register_pernet_subsys(28, "nf", NfHooks)
register_pernet_subsys(30, "arp", init_arp)
register_pernet_subsys(40, "ip", init_ip)
register_pernet_subsys(45, "icmp", init_icmp)
register_pernet_subsys(48, "sockets", init_sockets)
register_pernet_subsys(50, "udp", init_udp)
register_pernet_subsys(55, "raw", init_raw)
register_pernet_subsys(56, "ping", init_ping)
register_pernet_subsys(60, "tcp", init_tcp)
