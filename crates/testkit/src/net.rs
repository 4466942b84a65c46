//! Free loopback ports.

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it).
///
/// # Panics
/// When no loopback port can be bound at all.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free ports: all are bound at once before any is released, so
/// the OS cannot hand out the same port twice.
///
/// # Panics
/// When no loopback port can be bound at all.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("cannot bind a free port on 127.0.0.1: {e}"))
        })
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .unwrap_or_else(|e| panic!("bound listener has no address: {e}"))
            .port()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let [a, b, c] = free_ports::<3>();
        assert!(a != b && b != c && a != c);
        let l = TcpListener::bind(("127.0.0.1", free_port()));
        assert!(l.is_ok());
    }
}
