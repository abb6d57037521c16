//! git-http-backend-rs: a drop-in replacement for git's `git-http-backend`.
//!
//! Data flows one way: a transport ([`transport`]) builds a [`request::Request`];
//! [`handler::handle`] matches a [`routes`] row, resolves the repository ([`repo`]),
//! reads its `http.*` settings ([`config`]), applies the policy ([`policy`]) and runs
//! a service ([`service`]) that answers through a [`request::ReplySink`].

pub mod access_log;
pub mod body;
pub mod child;
pub mod cli;
pub mod config;
pub mod date;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gitnum;
pub mod handler;
pub mod iis;
pub mod limiter;
pub mod logging;
pub mod mode;
pub mod os;
pub mod pktline;
pub mod policy;
pub mod pool;
pub mod repo;
pub mod repo_format;
pub mod request;
pub mod resources;
pub mod routes;
pub mod service;
pub mod transport;
pub mod winpath;
