"""pcap writer and reader: round trips, real tcpdump files, foreign byte orders, bad files, and
real tcpdump/tshark reading files we wrote."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_golden import BASIC, GOLDEN, SYN

from tuxnet.wire.errors import WireError
from tuxnet.wire.pcap import LINKTYPE_RAW, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PcapReader, PcapWriter, read_pcap

NS = 1_000_000_000


def write(records, **kw) -> bytes:
    f = io.BytesIO()
    w = PcapWriter(f, **kw)
    for ts, data in records:
        w.write(ts, data)
    return f.getvalue()


def test_global_header_bytes():
    # pcap-savefile(5): magic a1b23c4d (ns) little-endian, 2.4, thiszone 0, sigfigs 0, snaplen, linktype 1.
    assert write([]) == bytes.fromhex("4d3cb2a10200040000000000000000000000040001000000")


def test_record_bytes_and_roundtrip():
    raw = write([(1_700_000_000 * NS + 123_456_789, b"abc"), (5, b"")])
    assert raw[24:40] == struct.pack("<IIII", 1_700_000_000, 123_456_789, 3, 3) and raw[40:43] == b"abc"
    reader = PcapReader(io.BytesIO(raw))
    assert (
        reader.nanosecond and reader.linktype == 1 and reader.snaplen == 262144 and reader.version == (2, 4)
    )
    assert list(reader) == [(1_700_000_000 * NS + 123_456_789, 3, b"abc"), (5, 0, b"")]


def test_snaplen_cuts_and_keeps_orig_len():
    f = io.BytesIO()
    w = PcapWriter(f, snaplen=10, linktype=LINKTYPE_RAW)
    w.write(0, bytes(100))
    w.write(1, bytes(5), orig_len=1500)
    assert w.count == 2
    r = PcapReader(io.BytesIO(f.getvalue()))
    assert r.linktype == LINKTYPE_RAW
    assert list(r) == [(0, 100, bytes(10)), (1, 1500, bytes(5))]


def test_writer_flushes_and_closes():
    class Spy(io.BytesIO):
        flushes = 0

        def flush(self):
            Spy.flushes += 1
            super().flush()

    f = Spy()
    with PcapWriter(f) as w:
        w.write(1, b"x")
        assert Spy.flushes >= 2 and len(f.getvalue()) == 24 + 16 + 1  # visible before close
    assert f.closed
    with pytest.raises(ValueError):
        PcapWriter(io.BytesIO()).write(-1, b"")


def test_reads_tcpdump_microsecond_file():
    # Written by tcpdump 4.99.3 (microsecond magic); first record at 1795440007.594507.
    records = read_pcap(str(GOLDEN / "veth_basic.pcap"))
    assert len(records) == 21
    assert records[0] == (1795440007_594507000, 42, BASIC[0])
    assert [r[2] for r in records] == BASIC


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("magic", [PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC])
def test_both_byte_orders_and_precisions(order, magic):
    head = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(order + "IIII", 10, 999, 4, 60) + b"data"
    r = PcapReader(io.BytesIO(head + rec))
    scale = 1 if magic == PCAP_MAGIC_NSEC else 1000
    assert r.byteorder == order and r.nanosecond == (magic == PCAP_MAGIC_NSEC)
    assert list(r) == [(10 * NS + 999 * scale, 60, b"data")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\xd4\xc3", "too short"),
        (b"GIF89a" + bytes(30), "bad magic"),
        (b"\x0a\x0d\x0d\x0a" + bytes(30), "pcapng"),
        (bytes.fromhex("d4c3b2a1") + bytes(10), "truncated global header"),
        (struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 1, 0, 0, 0, 65535, 1), "unsupported version"),
        (
            struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, 65535, 1) + bytes(7),
            "truncated record header at offset 24",
        ),
        (
            struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, 65535, 1)
            + struct.pack("<IIII", 0, 0, 10, 10)
            + b"abc",
            "truncated record at offset 24",
        ),
        (
            struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, 65535, 1)
            + struct.pack("<IIII", 0, 0, 2**31, 10),
            "claims 2147483648 bytes",
        ),
    ],
)
def test_bad_files(data, message):
    with pytest.raises(WireError, match=message):
        list(PcapReader(io.BytesIO(data)))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_only_raises_wire_error(data):
    for prefix in (b"", struct.pack("<IHHiIII", PCAP_MAGIC_NSEC, 2, 4, 0, 0, 200, 1)):
        try:
            list(PcapReader(io.BytesIO(prefix + data)))
        except WireError:
            pass


@given(st.lists(st.tuples(st.integers(0, 2**32 * NS - 1), st.binary(max_size=64)), max_size=10))
def test_roundtrip_property(records):
    assert list(PcapReader(io.BytesIO(write(records)))) == [(ts, len(d), d) for ts, d in records]


# -- real readers -------------------------------------------------------------------------------
TIMES = [1_700_000_000 * NS + 1, 1_700_000_000 * NS + 999_999_999, 1_700_000_001 * NS]


def written_file(tmp_path):
    path = tmp_path / "tuxnet.pcap"
    path.write_bytes(write(list(zip(TIMES, [BASIC[0], BASIC[SYN], BASIC[19]], strict=True))))
    path.chmod(0o644)
    tmp_path.chmod(0o755)  # tcpdump drops root privileges before reading
    return path


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(
    shutil.which("tcpdump") is None, reason="tcpdump is not installed (apt-get install tcpdump)"
)
def test_tcpdump_reads_our_file(tmp_path):
    path = written_file(tmp_path)
    res = run(["tcpdump", "-nn", "-tt", "--time-stamp-precision=nano", "-r", str(path)])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 3, res.stdout
    assert lines[0].startswith("1700000000.000000001 ARP, Request who-has 10.0.0.2 tell 10.0.0.1")
    assert lines[1].startswith("1700000000.999999999 IP 10.0.0.1.50416 > 10.0.0.2.8080: Flags [S]")
    assert lines[2].startswith("1700000001.000000000 IP 10.0.0.1.57779 > 10.0.0.2.5555: UDP, length 4")
    assert "nanosecond" in res.stderr or "EN10MB" in res.stderr
    verbose = run(["tcpdump", "-nn", "-v", "-r", str(path)])
    assert verbose.returncode == 0 and "cksum 0xa2c7 (correct)" in verbose.stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
def test_tshark_reads_our_file(tmp_path):
    path = written_file(tmp_path)
    res = run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.expert.message",
        ]
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 3, res.stdout
    assert lines[0].startswith("1700000000.000000001\teth:ethertype:arp")
    assert lines[1].startswith("1700000000.999999999\teth:ethertype:ip:tcp")
    assert lines[2].startswith("1700000001.000000000\teth:ethertype:ip:udp")
    assert "appears to have been cut short" not in res.stderr and "isn't" not in res.stderr
