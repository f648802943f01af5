"""vmports' forward handler joins a port's stream to a guest TCP port (the node's sshd).

Run on the host with a socket pair standing in for the virtio-serial device
and a real TCP echo server standing in for sshd: bytes go both ways, and
the handler returns when the port's side ends.
"""

import socket
import threading

from tests.support import vmports


def echo_server():
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = server.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data.upper())
    threading.Thread(target=serve, daemon=True).start()
    return server


def test_forward_carries_both_ways_and_ends_with_the_port():
    server = echo_server()
    port_side, host_side = socket.socketpair()
    handler = vmports.forward_to("127.0.0.1", server.getsockname()[1])
    done = threading.Thread(target=handler, args=(port_side.fileno(),))
    done.start()
    host_side.sendall(b"ssh-2.0 hello\n")
    got = b""
    while len(got) < 14:
        got += host_side.recv(65536)
    assert got == b"SSH-2.0 HELLO\n"
    host_side.shutdown(socket.SHUT_WR)
    done.join(10)
    assert not done.is_alive()
    for sock in (port_side, host_side, server):
        sock.close()
