"""The /proc/sys/net tree of one namespace, typed, with Linux's defaults.

Defaults are those of a fresh network namespace on Linux 6.x (read off a real one), except where
the machine's own choice is not the kernel's: ``tcp_congestion_control`` is ``cubic`` (the kernel
default; distributions may build another in). Per-device trees (``net.ipv4.conf.DEV.*`` and
``net.ipv4.neigh.DEV.*``) are created from ``default`` when a device appears, as devinet_init_net
and neigh_sysctl_register do.

Values are ``int``, a tuple of ints (vectors such as ``ip_local_port_range``) or ``str``. ``get`` is a
dict lookup (hot paths call it); ``set`` parses text the way ``sysctl -w`` passes it and raises
``OSError(EINVAL)`` for a bad value and ``OSError(ENOENT)`` for an unknown key, as writes to /proc do.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import Any

from tuxnet.core.errors import oserror

Value = int | tuple[int, ...] | str

# (default, minimum, maximum) for ints; vectors are (default tuple, length)
_CORE: dict[str, Value] = {
    "net.core.somaxconn": 4096,
    "net.core.netdev_max_backlog": 1000,
    "net.core.netdev_budget": 300,
    "net.core.dev_weight": 64,
    "net.core.rmem_default": 212992,
    "net.core.rmem_max": 4194304,
    "net.core.wmem_default": 212992,
    "net.core.wmem_max": 4194304,
    "net.ipv4.ip_forward": 0,
    "net.ipv4.ip_default_ttl": 64,
    "net.ipv4.ip_local_port_range": (32768, 60999),
    "net.ipv4.ip_local_reserved_ports": "",
    "net.ipv4.ip_no_pmtu_disc": 0,
    "net.ipv4.ip_nonlocal_bind": 0,
    "net.ipv4.ip_unprivileged_port_start": 1024,
    "net.ipv4.ip_forward_use_pmtu": 0,
    "net.ipv4.ip_early_demux": 1,
    "net.ipv4.icmp_echo_ignore_all": 0,
    "net.ipv4.icmp_echo_ignore_broadcasts": 1,
    "net.ipv4.icmp_ignore_bogus_error_responses": 1,
    "net.ipv4.icmp_errors_use_inbound_ifaddr": 0,
    "net.ipv4.icmp_msgs_burst": 50,
    "net.ipv4.icmp_msgs_per_sec": 1000,
    "net.ipv4.icmp_ratelimit": 1000,
    "net.ipv4.icmp_ratemask": 6168,
    "net.ipv4.ipfrag_high_thresh": 4194304,
    "net.ipv4.ipfrag_low_thresh": 3145728,
    "net.ipv4.ipfrag_max_dist": 64,
    "net.ipv4.ipfrag_time": 30,
    "net.ipv4.ping_group_range": (1, 0),
    "net.ipv4.route.min_adv_mss": 256,
    "net.ipv4.route.min_pmtu": 552,
    "net.ipv4.route.mtu_expires": 600,
    "net.ipv4.udp_rmem_min": 4096,
    "net.ipv4.udp_wmem_min": 4096,
    # TCP (used by the TCP layer)
    "net.ipv4.tcp_abort_on_overflow": 0,
    "net.ipv4.tcp_adv_win_scale": 1,
    "net.ipv4.tcp_app_win": 31,
    "net.ipv4.tcp_autocorking": 1,
    "net.ipv4.tcp_base_mss": 1024,
    "net.ipv4.tcp_challenge_ack_limit": 2147483647,
    "net.ipv4.tcp_congestion_control": "cubic",
    "net.ipv4.tcp_available_congestion_control": "reno cubic bbr",
    "net.ipv4.tcp_allowed_congestion_control": "reno cubic",
    "net.ipv4.tcp_dsack": 1,
    "net.ipv4.tcp_early_retrans": 3,
    "net.ipv4.tcp_ecn": 2,
    "net.ipv4.tcp_fin_timeout": 60,
    "net.ipv4.tcp_frto": 2,
    "net.ipv4.tcp_invalid_ratelimit": 500,
    "net.ipv4.tcp_keepalive_intvl": 75,
    "net.ipv4.tcp_keepalive_probes": 9,
    "net.ipv4.tcp_keepalive_time": 7200,
    "net.ipv4.tcp_limit_output_bytes": 4194304,
    "net.ipv4.tcp_max_syn_backlog": 2048,
    "net.ipv4.tcp_max_tw_buckets": 131072,
    "net.ipv4.tcp_min_rtt_wlen": 300,
    "net.ipv4.tcp_min_tso_segs": 2,
    "net.ipv4.tcp_moderate_rcvbuf": 1,
    "net.ipv4.tcp_mtu_probing": 0,
    "net.ipv4.tcp_no_metrics_save": 0,
    "net.ipv4.tcp_notsent_lowat": 4294967295,
    "net.ipv4.tcp_orphan_retries": 0,
    "net.ipv4.tcp_pacing_ca_ratio": 120,
    "net.ipv4.tcp_pacing_ss_ratio": 200,
    "net.ipv4.tcp_recovery": 1,
    "net.ipv4.tcp_reordering": 3,
    "net.ipv4.tcp_retries1": 3,
    "net.ipv4.tcp_retries2": 15,
    "net.ipv4.tcp_rfc1337": 0,
    "net.ipv4.tcp_rmem": (4096, 131072, 6291456),
    "net.ipv4.tcp_sack": 1,
    "net.ipv4.tcp_slow_start_after_idle": 1,
    "net.ipv4.tcp_syn_retries": 6,
    "net.ipv4.tcp_synack_retries": 5,
    "net.ipv4.tcp_syncookies": 1,
    "net.ipv4.tcp_timestamps": 1,
    "net.ipv4.tcp_tw_reuse": 2,
    "net.ipv4.tcp_window_scaling": 1,
    "net.ipv4.tcp_wmem": (4096, 16384, 4194304),
}

_CONF: dict[str, Value] = {
    "accept_local": 0,
    "accept_redirects": 1,
    "accept_source_route": 0,
    "arp_accept": 0,
    "arp_announce": 0,
    "arp_filter": 0,
    "arp_ignore": 0,
    "arp_notify": 0,
    "bc_forwarding": 0,
    "drop_gratuitous_arp": 0,
    "forwarding": 0,
    "ignore_routes_with_linkdown": 0,
    "log_martians": 0,
    "mc_forwarding": 0,
    "promote_secondaries": 0,
    "proxy_arp": 0,
    "route_localnet": 0,
    "rp_filter": 0,
    "secure_redirects": 1,
    "send_redirects": 1,
    "shared_media": 1,
    "src_valid_mark": 0,
}

# net/ipv4/arp.c arp_tbl.parms (times in ms where the name says so, else seconds)
_NEIGH: dict[str, Value] = {
    "anycast_delay": 100,
    "app_solicit": 0,
    "base_reachable_time_ms": 30000,
    "delay_first_probe_time": 5,
    "gc_stale_time": 60,
    "locktime": 100,
    "mcast_resolicit": 0,
    "mcast_solicit": 3,
    "proxy_delay": 80,
    "proxy_qlen": 64,
    "retrans_time_ms": 1000,
    "ucast_solicit": 3,
    "unres_qlen": 101,
    "unres_qlen_bytes": 212992,
    "interval_probe_time_ms": 5000,
}
_NEIGH_GLOBAL: dict[str, Value] = {"gc_interval": 30, "gc_thresh1": 128, "gc_thresh2": 512,
                                   "gc_thresh3": 1024}

# Keys whose write also changes the twin that Linux keeps in step.
_ALIASES = {"net.ipv4.ip_forward": "net.ipv4.conf.all.forwarding"}


def _strtol(text: str) -> int:
    """proc_dointvec's number: simple_strtoul with base 0 (0x hex, a leading 0 octal), a sign."""
    body = text[1:] if text[:1] in "+-" else text
    if body[:2].lower() == "0x":
        val = int(body[2:], 16)
    elif len(body) > 1 and body[0] == "0":
        val = int(body[1:], 8)
    else:
        val = int(body)
    return -val if text[:1] == "-" else val


class Sysctl:
    """One namespace's sysctl values. ``v`` is the plain dict for hot-path reads."""

    __slots__ = ("v", "_watchers", "_validators")

    def __init__(self) -> None:
        self.v: dict[str, Value] = dict(_CORE)
        for scope in ("all", "default"):
            self._add_conf(scope)
        for k, val in _NEIGH.items():
            self.v[f"net.ipv4.neigh.default.{k}"] = val
        for k, val in _NEIGH_GLOBAL.items():
            self.v[f"net.ipv4.neigh.default.{k}"] = val
        self._watchers: dict[str, list[Callable[[str, Value], None]]] = {}
        self._validators: dict[str, Callable[[str], Value]] = {}

    def _add_conf(self, scope: str, src: str | None = None) -> None:
        for k, val in _CONF.items():
            self.v[f"net.ipv4.conf.{scope}.{k}"] = self.v.get(f"net.ipv4.conf.{src}.{k}", val) if src else val

    def add_device(self, dev: str, loopback: bool = False) -> None:
        """devinet_init: per-device conf copied from ``default``; neigh parms from ``default``."""
        self._add_conf(dev, "default")
        if loopback:
            # Linux sets accept_source_route on lo (seen in a fresh namespace)
            self.v[f"net.ipv4.conf.{dev}.accept_source_route"] = 1
        for k in _NEIGH:
            self.v[f"net.ipv4.neigh.{dev}.{k}"] = self.v[f"net.ipv4.neigh.default.{k}"]

    def remove_device(self, dev: str) -> None:
        for prefix in (f"net.ipv4.conf.{dev}.", f"net.ipv4.neigh.{dev}."):
            for k in [k for k in self.v if k.startswith(prefix)]:
                del self.v[k]

    def rename_device(self, old: str, new: str) -> None:
        for prefix in ("net.ipv4.conf.", "net.ipv4.neigh."):
            for k in [k for k in self.v if k.startswith(f"{prefix}{old}.")]:
                self.v[f"{prefix}{new}." + k[len(prefix) + len(old) + 1:]] = self.v.pop(k)

    # ------------------------------------------------------------------
    def get(self, key: str) -> Any:
        return self.v[key]

    def __getitem__(self, key: str) -> Any:
        return self.v[key]

    def conf(self, dev: str, key: str) -> int:
        """IN_DEV_CONF_GET-style per-device value (int)."""
        return self.v.get(f"net.ipv4.conf.{dev}.{key}", self.v[f"net.ipv4.conf.default.{key}"])  # type: ignore[return-value]

    def conf_max(self, dev: str, key: str) -> int:
        """IN_DEV_MAXCONF: max(all, dev) — rp_filter, arp_ignore, ... (include/linux/inetdevice.h)."""
        return max(self.conf("all", key), self.conf(dev, key))

    def conf_and(self, dev: str, key: str) -> bool:
        """IN_DEV_ANDCONF: all && dev — e.g. send_redirects is IN_DEV_ORCONF actually; see callers."""
        return bool(self.conf("all", key)) and bool(self.conf(dev, key))

    def conf_or(self, dev: str, key: str) -> bool:
        return bool(self.conf("all", key)) or bool(self.conf(dev, key))

    def neigh(self, dev: str, key: str) -> int:
        return self.v.get(f"net.ipv4.neigh.{dev}.{key}", self.v[f"net.ipv4.neigh.default.{key}"])  # type: ignore[return-value]

    def sorted_keys(self) -> Iterator[str]:
        return iter(sorted(self.v))

    def watch(self, key: str, fn: Callable[[str, Value], None]) -> None:
        self._watchers.setdefault(key, []).append(fn)

    def validate(self, key: str, fn: Callable[[str], Value]) -> None:
        """A string key's own proc handler: ``fn(text)`` returns the value to store or raises OSError."""
        self._validators[key] = fn

    @staticmethod
    def path_of(key: str) -> str:
        return "/proc/sys/" + key.replace(".", "/")

    @staticmethod
    def format(val: Value) -> str:
        if isinstance(val, tuple):
            return "\t".join(str(x) for x in val)
        return str(val)

    def set(self, key: str, text: str | int | tuple[int, ...]) -> None:
        """Write as ``echo TEXT > /proc/sys/...`` would: parse, validate, store, notify."""
        if key not in self.v:
            raise oserror(errno.ENOENT, f"cannot stat {self.path_of(key)}")
        cur = self.v[key]
        new: Value
        try:
            if isinstance(cur, tuple):
                parts = text if isinstance(text, tuple) else [int(x) for x in str(text).split()]
                if len(parts) != len(cur):
                    raise ValueError
                new = tuple(int(x) for x in parts)
                # ipv4_local_port_range: min <= max, and min not below ip_unprivileged_port_start
                if key == "net.ipv4.ip_local_port_range" and not (
                        int(self.v["net.ipv4.ip_unprivileged_port_start"]) <= new[0] <= new[1] <= 65535):  # type: ignore[call-overload]
                    raise ValueError
            elif isinstance(cur, int):
                new = _strtol(str(text).strip())
                if key == "net.ipv4.tcp_congestion_control":
                    raise ValueError
            elif key in self._validators:
                new = self._validators[key](str(text).strip())
            else:
                new = str(text).strip()
                if key == "net.ipv4.tcp_congestion_control" and new not in str(
                        self.v["net.ipv4.tcp_available_congestion_control"]).split():
                    # Linux: tcp_set_default_congestion_control fails with ENOENT (module not found)
                    raise oserror(errno.ENOENT, f"congestion control '{new}' not available")
        except ValueError:
            raise oserror(errno.EINVAL, f"setting key \"{key}\"") from None
        self.v[key] = new
        alias = _ALIASES.get(key)
        if alias:
            self.v[alias] = new
        if key == "net.ipv4.conf.all.forwarding":
            self.v["net.ipv4.ip_forward"] = new
        if key in ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"):
            # devinet_forward: writing the global value sets every device's forwarding too
            for k in list(self.v):
                if k.startswith("net.ipv4.conf.") and k.endswith(".forwarding"):
                    self.v[k] = new
        for fn in self._watchers.get(key, ()):
            fn(key, new)
