"""Packet capture on lab interfaces: libpcap files (Ethernet, nanosecond timestamps) and live taps.

A capture is a tap on ``dev.taps`` (dev_queue_xmit_nit / deliver_skb to ptype_all in Linux): it sees
each frame once per direction as it leaves or enters the device, with the loop's virtual time as the
timestamp. ``capture_all(lab, directory)`` writes ``NODE-IFACE.pcap`` for every interface. Frames are
recorded as ``tcpdump -w`` records them (``tap_frame``): checksums left to the "hardware"
(CHECKSUM_PARTIAL) are filled in, so every checksum in a lab capture is the one the wire carries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tuxnet.drivers.netdevice import tap_frame
from tuxnet.wire.pcap import PcapWriter

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.lab.lab import Lab
    from tuxnet.skb import SkBuff


class DeviceCapture:
    """One tap on one device, writing to a pcap file and/or calling a callback per frame."""

    def __init__(self, dev: NetDevice, *, file: BinaryIO | None = None,
                 callback: Callable[[int, bytes, bool], None] | None = None,
                 match: Callable[[bytes], bool] | None = None, snaplen: int = 262144,
                 direction: str = "inout") -> None:
        self.dev = dev
        self.writer = PcapWriter(file, snaplen=snaplen) if file is not None else None
        self.callback = callback
        self.match = match
        self.direction = direction
        self.count = 0
        dev.taps.append(self._tap)

    def _tap(self, skb: SkBuff, outgoing: bool) -> None:
        if self.direction == "in" and outgoing or self.direction == "out" and not outgoing:
            return
        frame = tap_frame(skb)
        if self.match is not None and not self.match(frame):
            return
        self.count += 1
        ts = self.dev.ns.now
        if self.writer is not None:
            self.writer.write(ts, frame)
        if self.callback is not None:
            self.callback(ts, frame, outgoing)

    def close(self) -> None:
        if self._tap in self.dev.taps:
            self.dev.taps.remove(self._tap)
        if self.writer is not None:
            self.writer.flush()


class LabCapture:
    """Captures on every non-loopback interface of a lab into ``directory``."""

    def __init__(self, lab: Lab, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.files: list[BinaryIO] = []
        self.captures: list[DeviceCapture] = []
        for node in lab.hosts.values():
            for dev in node.devices.values():
                if dev.kind == "loopback":
                    continue
                f = open(self.dir / f"{node.name}-{dev.name}.pcap", "wb")  # noqa: SIM115
                self.files.append(f)
                self.captures.append(DeviceCapture(dev, file=f))

    def paths(self) -> list[Path]:
        return [Path(f.name) for f in self.files]

    def flush(self) -> None:
        for c in self.captures:
            if c.writer is not None:
                c.writer.flush()

    def close(self) -> None:
        for c in self.captures:
            c.close()
        for f in self.files:
            f.close()
