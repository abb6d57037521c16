//! `serve`: plain HTTP for quick starts and tests. STUB: filled in by the serve work.
