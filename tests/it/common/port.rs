//! Loopback ports a test holds before it hands them to a server: no port is guessed.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A port on 127.0.0.1 bound by this test and held for as long as the value lives, for a
/// server the test starts to listen on. The socket is bound with SO_REUSEADDR and never
/// listens, so:
/// - the kernel hands the port to no one else: no other `bind(…:0)` (with SO_REUSEADDR or
///   without) and no outgoing connection's local port gets it;
/// - a server given the number binds it explicitly with SO_REUSEADDR, as sshd, `ssh -L` and
///   Python's `http.server` do, and listens there; after a reload (sshd closes its listening
///   socket and binds again when it re-executes on SIGHUP) the port is still held for it.
///
/// Closed on drop (descriptor is close-on-exec: no server inherits it).
pub struct ReservedPort {
    _socket: Socket,
    port: u16,
}

impl ReservedPort {
    pub fn new() -> Self {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket(AF_INET)");
        socket
            .set_reuse_address(true)
            .expect("setsockopt(SO_REUSEADDR)");
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind 127.0.0.1:0");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("local address of a bound socket")
            .port();
        ReservedPort {
            _socket: socket,
            port,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}
