"""The accept queue of every TCP listener on a port, summed, every N ms: one line per sample on stdout.

For bench/_load-kernel.ts' acceptQueue: the same Recv-Q `ss -ltnH 'sport = :PORT'` shows for a listener (the
kernel's sock_diag answer, idiag_rqueue: connections completed and not yet accepted), read over one netlink socket
kept open, in place of a new `ss` process per sample. A process per sample cost ~20 ms of CPU (the bench's fork and
ss's own start, measured 5.6 + 15 ms), ten a second on the two cores the service shares: the measuring took a fifth
of a core from the service it measures. Usage: python3 _load-acceptq.py PORT EVERY_MS
"""
import socket
import struct
import sys
import time

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
NLMSG_ERROR = 2
TCP_LISTEN = 10

port = int(sys.argv[1])
every = int(sys.argv[2]) / 1000
diag = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)


def request(family):
    """inet_diag_req_v2 for the TCP listeners of `family` (the kernel dumps them all: the port is matched here)."""
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN) + bytes(48)
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 0, 0) + body


requests = [request(socket.AF_INET), request(socket.AF_INET6)]


def depth():
    """The accept queues of the listeners on `port`, summed."""
    total = 0
    for message in requests:
        diag.send(message)
        done = False
        while not done:
            data = diag.recv(65536)
            at = 0
            while at + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, at)
                if kind == NLMSG_DONE or kind == NLMSG_ERROR:
                    done = True
                    break
                # inet_diag_msg: family, state, timer, retrans (4 bytes), then the socket id opening with sport (be16);
                # expires, rqueue, wqueue follow the 48-byte id.
                (sport,) = struct.unpack_from(">H", data, at + 16 + 4)
                if sport == port:
                    total += struct.unpack_from("=I", data, at + 16 + 4 + 48 + 4)[0]
                at += (length + 3) & ~3
    return total


next_at = time.monotonic()
while True:
    print(depth(), flush=True)
    next_at += every
    time.sleep(max(0.0, next_at - time.monotonic()))
