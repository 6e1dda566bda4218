"""Prints the kernel's answer to RTM_GETLINK for one link index of the current namespace, as hex.

Run inside a test namespace: `ip netns exec NS python3 scripts/capture-getlink.py IFINDEX`. The
answers in test/fixtures/netlink/getlink-*.hex were captured with it (see the unit test).
"""
import socket, struct, sys
ifindex = int(sys.argv[1])
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
ifi = struct.pack('<BxHiII', 0, 0, ifindex, 0, 0)
msg = struct.pack('<IHHII', 16 + len(ifi), 18, 1, 1, 0) + ifi
s.send(msg)
print(s.recv(65536).hex())
