//! FastCGI responder. STUB: filled in by the FastCGI work.
