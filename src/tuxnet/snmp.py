"""SNMP MIB counters of one namespace: /proc/net/snmp and /proc/net/netstat (net/ipv4/proc.c).

Each MIB is an object with one int attribute per counter, in the order Linux prints them, so hot
paths do ``mib.InReceives += 1`` and ``procfs`` renders the exact Linux layout. ``IcmpMsg`` counts
per ICMP type (``InType3``/``OutType0`` ...) and prints only non-zero entries, as Linux does.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

IP_FIELDS = ("Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos "
             "InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs "
             "ReasmFails FragOKs FragFails FragCreates OutTransmits").split()
ICMP_FIELDS = ("InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs "
               "InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps "
               "OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds "
               "OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps "
               "OutTimestampReps OutAddrMasks OutAddrMaskReps").split()
TCP_FIELDS = ("RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets "
              "CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors").split()
UDP_FIELDS = ("InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors "
              "IgnoredMulti MemErrors").split()
IPEXT_FIELDS = ("InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets "
                "OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors "
                "InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps").split()
TCPEXT_FIELDS = ("SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "EmbryonicRsts", "PruneCalled",
    "RcvPruned", "OfoPruned", "OutOfWindowIcmps", "LockDroppedIcmps", "ArpFilter", "TW", "TWRecycled",
    "TWKilled", "PAWSActive", "PAWSEstab", "BeyondWindow", "TSEcrRejected", "PAWSOldAck",
    "PAWSTimewait", "DelayedACKs", "DelayedACKLocked", "DelayedACKLost", "ListenOverflows",
    "ListenDrops", "TCPHPHits", "TCPPureAcks", "TCPHPAcks", "TCPRenoRecovery", "TCPSackRecovery",
    "TCPSACKReneging", "TCPSACKReorder", "TCPRenoReorder", "TCPTSReorder", "TCPFullUndo",
    "TCPPartialUndo", "TCPDSACKUndo", "TCPLossUndo", "TCPLostRetransmit", "TCPRenoFailures",
    "TCPSackFailures", "TCPLossFailures", "TCPFastRetrans", "TCPSlowStartRetrans", "TCPTimeouts",
    "TCPLossProbes", "TCPLossProbeRecovery", "TCPRenoRecoveryFail", "TCPSackRecoveryFail",
    "TCPRcvCollapsed", "TCPBacklogCoalesce", "TCPDSACKOldSent", "TCPDSACKOfoSent", "TCPDSACKRecv",
    "TCPDSACKOfoRecv", "TCPAbortOnData", "TCPAbortOnClose", "TCPAbortOnMemory", "TCPAbortOnTimeout",
    "TCPAbortOnLinger", "TCPAbortFailed", "TCPMemoryPressures", "TCPMemoryPressuresChrono",
    "TCPSACKDiscard", "TCPDSACKIgnoredOld", "TCPDSACKIgnoredNoUndo", "TCPSpuriousRTOs",
    "TCPMD5NotFound", "TCPMD5Unexpected", "TCPMD5Failure", "TCPSackShifted", "TCPSackMerged",
    "TCPSackShiftFallback", "TCPBacklogDrop", "PFMemallocDrop", "TCPMinTTLDrop", "TCPDeferAcceptDrop",
    "IPReversePathFilter", "TCPTimeWaitOverflow", "TCPReqQFullDoCookies", "TCPReqQFullDrop",
    "TCPRetransFail", "TCPRcvCoalesce", "TCPOFOQueue", "TCPOFODrop", "TCPOFOMerge", "TCPChallengeACK",
    "TCPSYNChallenge", "TCPFastOpenActive", "TCPFastOpenActiveFail", "TCPFastOpenPassive",
    "TCPFastOpenPassiveFail", "TCPFastOpenListenOverflow", "TCPFastOpenCookieReqd",
    "TCPFastOpenBlackhole", "TCPSpuriousRtxHostQueues", "BusyPollRxPackets", "TCPAutoCorking",
    "TCPFromZeroWindowAdv", "TCPToZeroWindowAdv", "TCPWantZeroWindowAdv", "TCPSynRetrans",
    "TCPOrigDataSent", "TCPHystartTrainDetect", "TCPHystartTrainCwnd", "TCPHystartDelayDetect",
    "TCPHystartDelayCwnd", "TCPACKSkippedSynRecv", "TCPACKSkippedPAWS", "TCPACKSkippedSeq",
    "TCPACKSkippedFinWait2", "TCPACKSkippedTimeWait", "TCPACKSkippedChallenge", "TCPWinProbe",
    "TCPKeepAlive", "TCPMTUPFail", "TCPMTUPSuccess", "TCPDelivered", "TCPDeliveredCE",
    "TCPAckCompressed", "TCPZeroWindowDrop", "TCPRcvQDrop", "TCPWqueueTooBig",
    "TCPFastOpenPassiveAltKey", "TcpTimeoutRehash", "TcpDuplicateDataRehash", "TCPDSACKRecvSegs",
    "TCPDSACKIgnoredDubious", "TCPMigrateReqSuccess", "TCPMigrateReqFailure", "TCPPLBRehash",
    "TCPAORequired", "TCPAOBad", "TCPAOKeyNotFound", "TCPAOGood", "TCPAODroppedIcmps",)


class Mib:
    """A fixed set of named counters; subclasses are made by ``_mib`` with __slots__."""

    __slots__ = ()
    FIELDS: tuple[str, ...] = ()
    NAME = ""

    def __init__(self) -> None:
        for f in self.FIELDS:
            setattr(self, f, 0)

    def items(self) -> list[tuple[str, int]]:
        return [(f, getattr(self, f)) for f in self.FIELDS]

    def __getitem__(self, name: str) -> int:
        return getattr(self, name)

    def as_dict(self) -> dict[str, int]:
        return dict(self.items())


def _mib(name: str, fields: list[str] | tuple[str, ...]) -> type[Mib]:
    return type(name + "Mib", (Mib,), {"__slots__": tuple(fields), "FIELDS": tuple(fields), "NAME": name})


IpMib = _mib("Ip", IP_FIELDS)
IcmpMib = _mib("Icmp", ICMP_FIELDS)
TcpMib = _mib("Tcp", TCP_FIELDS)
UdpMib = _mib("Udp", UDP_FIELDS)
IpExtMib = _mib("IpExt", IPEXT_FIELDS)
TcpExtMib = _mib("TcpExt", TCPEXT_FIELDS)


class Mibs:
    """All MIBs of a namespace."""

    __slots__ = ("ip", "icmp", "icmpmsg_in", "icmpmsg_out", "tcp", "udp", "udplite", "ipext", "tcpext")

    def __init__(self) -> None:
        self.ip: Any = IpMib()
        self.ip.Forwarding = 2  # 1 = forwarding, 2 = not (RFC 1213); kept in step with ip_forward
        self.ip.DefaultTTL = 64
        self.icmp: Any = IcmpMib()
        self.icmpmsg_in: Counter[int] = Counter()
        self.icmpmsg_out: Counter[int] = Counter()
        self.tcp: Any = TcpMib()
        self.tcp.RtoAlgorithm = 1
        self.tcp.RtoMin = 200
        self.tcp.RtoMax = 120000
        self.tcp.MaxConn = -1
        self.udp: Any = UdpMib()
        self.udplite: Any = UdpMib()
        self.ipext: Any = IpExtMib()
        self.tcpext: Any = TcpExtMib()
