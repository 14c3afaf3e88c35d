//! Python Cookbook recipe 12.6, `LazyConnection`: one object shared by every
//! thread, each thread lazily opening its own connection through it.
//!
//! ```python
//! class LazyConnection:
//!     def __init__(self, address):
//!         self.address = address
//!         self.local = threading.local()
//!     def __enter__(self):
//!         if hasattr(self.local, 'sock'):
//!             raise RuntimeError('Already connected')
//!         self.local.sock = socket(AF_INET, SOCK_STREAM)
//!         self.local.sock.connect(self.address)
//!         return self.local.sock
//!     def __exit__(self, exc_ty, exc_val, tb):
//!         self.local.sock.close()
//!         del self.local.sock
//! ```
//!
//! `threading.local()` becomes a `threadkit::Local<Connection>`, `with conn
//! as s:` becomes a `Session` guard, and the socket a stand-in that prints
//! what happens to it. Run with `cargo run --example lazy_connection`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use threadkit::Local;

fn me() -> String {
    thread::current().name().unwrap_or("?").to_string()
}

/// Stand-in for a connected socket.
struct Connection {
    number: usize,
}

impl Connection {
    fn open(address: &str) -> Connection {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        println!("{:>9}: open connection #{number} to {address}", me());
        Connection { number }
    }

    fn request(&self, path: &str) -> String {
        format!("200 OK for GET {path} (connection #{})", self.number)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        println!("{:>9}: close connection #{}", me(), self.number);
    }
}

/// `RuntimeError('Already connected')`.
#[derive(Debug)]
struct AlreadyConnected;

impl fmt::Display for AlreadyConnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already connected")
    }
}

impl std::error::Error for AlreadyConnected {}

/// One object, shared by every thread; one connection per thread.
struct LazyConnection {
    address: String,
    local: Local<Connection>,
}

/// This thread's open connection (`with conn as s:`); closes it when
/// dropped (`__exit__`). Tied to the thread, like the connection itself.
struct Session<'a> {
    owner: &'a LazyConnection,
    _this_thread: PhantomData<*const ()>,
}

impl LazyConnection {
    fn new(address: &str) -> Self {
        LazyConnection { address: address.to_string(), local: Local::new() }
    }

    /// `__enter__`: opens this thread's connection.
    fn connect(&self) -> Result<Session<'_>, AlreadyConnected> {
        if self.local.is_set() {
            return Err(AlreadyConnected);
        }
        self.local.set(Connection::open(&self.address));
        Ok(Session { owner: self, _this_thread: PhantomData })
    }
}

impl Session<'_> {
    fn request(&self, path: &str) -> String {
        self.owner.local.with(|conn| conn.expect("a session has a connection").request(path))
    }
}

impl Drop for Session<'_> {
    /// `__exit__`: close and forget this thread's connection.
    fn drop(&mut self) {
        drop(self.owner.local.take());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Arc::new(LazyConnection::new("www.python.org:80"));

    let workers: Vec<_> = (1..=3)
        .map(|i| {
            let conn = Arc::clone(&conn);
            thread::Builder::new().name(format!("worker-{i}")).spawn(move || {
                let session = conn.connect().expect("first connect");
                println!("{:>9}: {}", me(), session.request("/"));
                match conn.connect() {
                    Err(e) => println!("{:>9}: connect again inside the session: {e}", me()),
                    Ok(_) => unreachable!("a thread has one connection at a time"),
                }
                drop(session);
                if i == 3 {
                    // Leave without closing: the connection is closed when
                    // this thread exits, before `join` returns.
                    let session = conn.connect().expect("reconnect after close");
                    println!(
                        "{:>9}: {} -- exiting without closing",
                        me(),
                        session.request("/about")
                    );
                    std::mem::forget(session);
                }
            })
        })
        .collect::<Result<_, _>>()?;
    for worker in workers {
        worker.join().expect("worker panicked");
    }

    // The main thread never connected: it starts with nothing of its own.
    let session = conn.connect()?;
    println!("{:>9}: {}", me(), session.request("/downloads"));
    Ok(())
}
