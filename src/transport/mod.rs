//! Transports: they only translate between the outside world and
//! [`crate::request::Request`] / [`crate::request::ReplySink`]; no git or policy logic
//! lives here.
//!
//! - [`cgi`]: environment + stdin/stdout, one request per process.
//! - [`fastcgi`]: a resident FastCGI responder on a socket (or, later, a Windows pipe).
//! - [`serve`]: a small plain-HTTP server for quick starts and tests.

pub mod cgi;
pub mod fastcgi;
pub mod serve;
