"""TCP (net/ipv4/tcp*.c): congestion control, delivery-rate sampling and the pieces TCP builds on."""
