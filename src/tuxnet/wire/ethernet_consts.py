"""Ethernet constants shared by drivers and codecs (include/uapi/linux/if_ether.h)."""

ETH_ALEN = 6
ETH_HLEN = 14
ETH_ZLEN = 60  # minimum frame without FCS; shorter frames are padded on real wires
ETH_DATA_LEN = 1500
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_IPV6 = 0x86DD
